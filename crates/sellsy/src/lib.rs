//! The Sellsy connector: OAuth2 with PKCE (a public client), contact search
//! by exact phone value, the contacts/companies/individuals change feed for
//! the local phone index, the best open opportunity, and native phone-call
//! activities — behind the core's [`Crm`](callcard_core::crm::Crm) trait.
//!
//! It knows Sellsy's wire format and quotas, nothing about calls or windows.

mod client;
mod links;
mod order;
mod phone_call;
mod plugin;
mod quota;
mod records;

pub use client::{Sellsy, SellsyConfig, SellsyIdentity};
pub use links::SellsyLinks;
pub use order::{order, SellsyMatch};
pub use phone_call::{phone_call, PhoneCall, Related};
pub use quota::Quota;
pub use records::phone_call_write;

pub use plugin::{Plugin, DESCRIPTOR};

use callcard_oauth::OAuthClient;

/// Sellsy's login server and API, as published.
pub const AUTHORIZE_URL: &str = "https://login.sellsy.com/oauth2/authorization";
pub const TOKEN_URL: &str = "https://login.sellsy.com/oauth2/access-tokens";
pub const API_URL: &str = "https://api.sellsy.com/v2";
/// The web app, where records open for a person.
pub const APP_URL: &str = "https://www.sellsy.com";

/// The OAuth client of a Sellsy public app: no secret, PKCE instead.
pub fn oauth_client(authorize_url: &str, token_url: &str, client_id: &str) -> OAuthClient {
    OAuthClient::new(authorize_url, token_url, client_id, None, &[])
}
