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
        save_secret(self.token_file, token)
    }

    /// Keeps the token being replaced beside the file, so that Aircall's
    /// retries of deliveries signed with it are still taken for 12 hours
    /// (`crate::server::PREVIOUS_TOKEN_GRACE`).
    fn keep_previous_token(&self) -> Result<(), WebhookAdminError> {
        match std::fs::read_to_string(self.token_file) {
            Ok(token) => save_secret(&crate::server::previous_token_file(self.token_file), token.trim()),
            // No token file (set in the environment instead): nothing to keep.
            Err(_) => Ok(()),
        }
    }

    fn forget_previous_token(&self) {
        let _ = std::fs::remove_file(crate::server::previous_token_file(self.token_file));
    }
}

/// Writes `secret` to `path`, readable by this user only, whole or not at all.
fn save_secret(path: &Path, secret: &str) -> Result<(), WebhookAdminError> {
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let error = |source| WebhookAdminError::TokenFile {
            path: path.to_owned(),
            source,
        };
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .map_err(error)?;
        file.write_all(secret.as_bytes()).map_err(error)?;
        file.sync_all().map_err(error)?;
        std::fs::rename(&partial, path).map_err(error)
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
    let saved = registration
        .save_token(&webhook.token)
        .and_then(|()| registration.keep(Some(&webhook.webhook_id)));
    if let Err(error) = saved {
        undo_create(aircall, &webhook.webhook_id).await;
        return Err(error);
    }
    Ok(webhook.webhook_id)
}

/// A webhook whose token could not be kept would deliver events the hub
/// refuses (and Aircall would disable it): removed again, so that nothing
/// is left half made. Run the command as the service's user (see docs/hub.md).
async fn undo_create(aircall: &Aircall, webhook_id: &str) {
    match aircall.delete_webhook(webhook_id).await {
        Ok(()) | Err(AircallError::NotFound) => {
            tracing::warn!(
                webhook_id,
                "the token could not be kept: the webhook just created was removed again"
            )
        }
        Err(error) => tracing::error!(
            webhook_id,
            %error,
            "the token could not be kept and the webhook just created could not be removed: remove it in Aircall"
        ),
    }
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
    registration.keep_previous_token()?;
    let fresh = aircall.create_webhook(&url, EVENTS, "Callcard team hub").await?;
    let saved = registration
        .save_token(&fresh.token)
        .and_then(|()| registration.keep(Some(&fresh.webhook_id)));
    if let Err(error) = saved {
        undo_create(aircall, &fresh.webhook_id).await;
        return Err(error);
    }
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
    registration.forget_previous_token();
    Ok(id)
}
