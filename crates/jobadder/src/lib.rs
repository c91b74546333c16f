//! The JobAdder connector: OAuth2 (authorization code with the client
//! secret, loopback redirect), phone search, notes on contacts and
//! candidates, and the change feed for the local phone index — behind the
//! core's [`Crm`](callcard_core::crm::Crm) trait.
//!
//! It knows JobAdder's wire format and nothing about calls or windows.

mod client;
mod note;
mod plugin;
mod records;

pub use client::{JobAdder, JobAdderConfig, JobAdderIdentity};
pub use note::{note_for, Note, NOTE_KINDS};
pub use records::NoteTarget;
pub use records::{note_body, note_write};

pub use plugin::{Plugin, DESCRIPTOR};

use callcard_oauth::OAuthClient;

/// JobAdder's identity server, as published.
pub const AUTHORIZE_URL: &str = "https://id.jobadder.com/connect/authorize";
pub const TOKEN_URL: &str = "https://id.jobadder.com/connect/token";
/// The API for accounts whose token answer names no regional host.
pub const API_URL: &str = "https://api.jobadder.com/v2";
/// Where records open for a person (the web app, not the API).
pub const APP_URL: &str = "https://app.jobadder.com";
pub const SCOPES: &[&str] = &["read", "write", "offline_access"];

/// The OAuth client for the deployer's JobAdder partner app.
pub fn oauth_client(
    authorize_url: &str,
    token_url: &str,
    client_id: &str,
    client_secret: &str,
) -> OAuthClient {
    OAuthClient::new(
        authorize_url,
        token_url,
        client_id,
        Some(client_secret.to_owned()),
        SCOPES,
    )
}
