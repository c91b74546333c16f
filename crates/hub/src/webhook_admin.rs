//! Registering the hub with Aircall: `callcard-hub webhook create URL`
//! creates the webhook through Aircall's API for the call, message and AI
//! events and keeps the token Aircall returns in the token file (0600, read
//! again by a running hub when it changes); `show`, `rotate` (a new webhook,
//! then the old one removed) and `remove`. The webhook's id is kept in the
//! hub's database; the token never is, and is never printed.

use crate::store::{self, hub_state, StoreError};
use callcard_aircall::{Aircall, AircallError};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The events the hub takes: calls (with transfers and ringing on agents),
/// SMS, and the AI data that completes a call's log.
pub const EVENTS: &[&str] = &[
    "call.created",
    "call.ringing_on_agent",
    "call.agent_declined",
    "call.answered",
    "call.transferred",
    "call.unsuccessful_transfer",
    "call.hungup",
    "call.ended",
    "call.voicemail_left",
    "call.tagged",
    "call.commented",
    "message.sent",
    "message.received",
    "message.status_updated",
    "summary.created",
    "topics.created",
    "sentiment.created",
    "transcription.created",
];

#[derive(Debug, thiserror::Error)]
pub enum WebhookAdminError {
    #[error("Aircall: {0}")]
    Aircall(#[from] AircallError),
    #[error("the hub's database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the token file {path}: {source}")]
    TokenFile { path: PathBuf, source: std::io::Error },
    #[error("a webhook is registered already ({0}): rotate it, or remove it first")]
    Exists(String),
    #[error("no webhook is registered: create one with `callcard-hub webhook create URL`")]
    None,
    #[error("the webhook URL must be https:// (Aircall delivers only there), or http:// on a loopback address for tests: {0}")]
    Url(String),
}

/// Where the hub keeps which webhook is its own.
struct Registration<'a> {
    conn: Connection,
    token_file: &'a Path,
}

impl<'a> Registration<'a> {
    fn open(database: &Path, token_file: &'a Path) -> Result<Self, WebhookAdminError> {
        let conn = store::open(database)?;
        Ok(Self { conn, token_file })
    }

    fn webhook_id(&self) -> Result<Option<String>, WebhookAdminError> {
        Ok(hub_state::webhook_id(&self.conn)?)
    }

    fn keep(&self, id: Option<&str>) -> Result<(), WebhookAdminError> {
        Ok(hub_state::keep_webhook_id(&self.conn, id)?)
    }

    /// Writes the token beside the file, readable by the owner only, then
    /// moves it in place: a running hub never reads half a token.
    fn save_token(&self, token: &str) -> Result<(), WebhookAdminError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let error = |source| WebhookAdminError::TokenFile {
            path: self.token_file.to_owned(),
            source,
        };
        let partial = self.token_file.with_extension("partial");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .map_err(error)?;
        file.write_all(token.as_bytes()).map_err(error)?;
        file.sync_all().map_err(error)?;
        std::fs::rename(&partial, self.token_file).map_err(error)
    }
}

fn check_url(url: &str) -> Result<(), WebhookAdminError> {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    if url.starts_with("https://") || loopback.iter().any(|l| url.starts_with(l)) {
        Ok(())
    } else {
        Err(WebhookAdminError::Url(url.to_owned()))
    }
}

/// What `show` prints: the webhook as Aircall has it, without the token.
pub struct Shown {
    pub id: String,
    pub url: String,
    pub active: bool,
    pub events: Vec<String>,
}

pub async fn create(
    aircall: &Aircall,
    database: &Path,
    token_file: &Path,
    url: &str,
) -> Result<String, WebhookAdminError> {
    check_url(url)?;
    let registration = Registration::open(database, token_file)?;
    if let Some(id) = registration.webhook_id()? {
        return Err(WebhookAdminError::Exists(id));
    }
    let webhook = aircall.create_webhook(url, EVENTS, "Callcard team hub").await?;
    registration.save_token(&webhook.token)?;
    registration.keep(Some(&webhook.webhook_id))?;
    Ok(webhook.webhook_id)
}

pub async fn show(aircall: &Aircall, database: &Path, token_file: &Path) -> Result<Shown, WebhookAdminError> {
    let registration = Registration::open(database, token_file)?;
    let id = registration.webhook_id()?.ok_or(WebhookAdminError::None)?;
    let webhook = aircall.webhook(&id).await?;
    Ok(Shown {
        id: webhook.webhook_id,
        url: webhook.url,
        active: webhook.active,
        events: webhook.events,
    })
}

/// A new webhook to the same URL with a new token; the old one is removed
/// once the new token is saved (an event in between carries either token).
pub async fn rotate(
    aircall: &Aircall,
    database: &Path,
    token_file: &Path,
) -> Result<String, WebhookAdminError> {
    let registration = Registration::open(database, token_file)?;
    let old = registration.webhook_id()?.ok_or(WebhookAdminError::None)?;
    let url = aircall.webhook(&old).await?.url;
    let fresh = aircall.create_webhook(&url, EVENTS, "Callcard team hub").await?;
    registration.save_token(&fresh.token)?;
    registration.keep(Some(&fresh.webhook_id))?;
    match aircall.delete_webhook(&old).await {
        Ok(()) | Err(AircallError::NotFound) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(fresh.webhook_id)
}

pub async fn remove(
    aircall: &Aircall,
    database: &Path,
    token_file: &Path,
) -> Result<String, WebhookAdminError> {
    let registration = Registration::open(database, token_file)?;
    let id = registration.webhook_id()?.ok_or(WebhookAdminError::None)?;
    match aircall.delete_webhook(&id).await {
        Ok(()) | Err(AircallError::NotFound) => {}
        Err(error) => return Err(error.into()),
    }
    registration.keep(None)?;
    Ok(id)
}
