//! The team hub this computer follows: its address (the settings, or
//! `CALLCARD_HUB_URL`) and this computer's token, kept in the keychain (a
//! token given as `CALLCARD_HUB_TOKEN` is used and saved there, never in a
//! file).

use crate::environment::Environment;
use callcard_core::Settings;
use callcard_secrets::{Keychain, SecretKey};

#[derive(Clone)]
pub struct HubConnection {
    pub url: String,
    pub token: String,
    /// How long a claim to write something lasts before another computer
    /// may take it over (`CALLCARD_CLAIM_LEASE_SECS`; see `callcard_core::claims`).
    pub claim_lease: std::time::Duration,
    /// How long writes wait for a hub that does not answer claims before
    /// following the rules without a hub (`CALLCARD_HUB_WAIT_SECS`).
    pub claims_wait: std::time::Duration,
}

/// Long enough for a write through a slow CRM, short enough that a computer
/// closed mid-write holds nothing up for long.
pub const CLAIM_LEASE: std::time::Duration = std::time::Duration::from_secs(120);

/// A hub restarting or briefly away delays logs rather than risk a second
/// copy; one away for longer than this no longer holds them up.
pub const CLAIMS_WAIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl HubConnection {
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: token.into(),
            claim_lease: CLAIM_LEASE,
            claims_wait: CLAIMS_WAIT,
        }
    }
}

impl std::fmt::Debug for HubConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConnection")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn token_key() -> SecretKey {
    SecretKey::new("hub", "token")
}

/// Saves this computer's hub token (from the settings window).
pub fn save_hub_token(keychain: &Keychain, token: &str) -> Result<(), String> {
    let token = token.trim();
    if !token.starts_with("cch_") {
        return Err(
            "a team hub token starts with cch_ (the hub's admin prints it with `callcard-hub user add`)"
                .into(),
        );
    }
    keychain.set(&token_key(), token).map_err(|e| e.to_string())
}

pub fn forget_hub_token(keychain: &Keychain) -> Result<(), String> {
    keychain.delete(&token_key()).map_err(|e| e.to_string())
}

pub fn has_hub_token(keychain: &Keychain) -> bool {
    keychain.get(&token_key()).ok().flatten().is_some()
}

/// The hub to follow, `Ok(None)` when none is set, or why it cannot be
/// followed (then calls are polled, and the log says why).
pub fn hub_connection(
    env: &Environment,
    settings: &Settings,
    keychain: &Keychain,
) -> Result<Option<HubConnection>, String> {
    let var = |key: &str| env.var(key).filter(|v| !v.trim().is_empty());
    let url = match var("CALLCARD_HUB_URL") {
        Some(url) => url,
        None if settings.team_hub_url.trim().is_empty() => return Ok(None),
        None => settings.team_hub_url.trim().to_owned(),
    };
    let token = match var("CALLCARD_HUB_TOKEN") {
        Some(token) => {
            if let Err(error) = keychain.set(&token_key(), token.trim()) {
                tracing::warn!(%error, "the hub token from the environment is used but not saved");
            }
            token.trim().to_owned()
        }
        None => keychain
            .get(&token_key())
            .map_err(|e| e.to_string())?
            .ok_or("the team hub is set but this computer has no token for it")?,
    };
    let mut connection = HubConnection::new(url, token);
    if let Some(secs) = var("CALLCARD_CLAIM_LEASE_SECS").and_then(|v| v.trim().parse::<u64>().ok()) {
        connection.claim_lease = std::time::Duration::from_secs(secs.max(1));
    }
    if let Some(secs) = var("CALLCARD_HUB_WAIT_SECS").and_then(|v| v.trim().parse::<u64>().ok()) {
        connection.claims_wait = std::time::Duration::from_secs(secs);
    }
    Ok(Some(connection))
}

/// The team hub as the settings window shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HubView {
    /// The hub's address, empty for none.
    pub url: String,
    /// This computer has its token (in the keychain or the environment).
    pub has_token: bool,
    /// Set by this computer's environment (`CALLCARD_HUB_URL`): not changed here.
    pub set_by_environment: bool,
    /// Where calls come from now.
    pub source: callcard_core::CallSource,
}

pub fn hub_view(service: &callcard_core::Service, env: &Environment, keychain: &Keychain) -> HubView {
    let from_env = env.var("CALLCARD_HUB_URL").filter(|v| !v.trim().is_empty());
    HubView {
        url: from_env
            .clone()
            .unwrap_or_else(|| service.settings().team_hub_url),
        has_token: env.var("CALLCARD_HUB_TOKEN").is_some() || has_hub_token(keychain),
        set_by_environment: from_env.is_some(),
        source: service.call_source(),
    }
}

/// Follows a team hub: the token is tried against it first (a wrong one is
/// refused here, not discovered later), then kept in the keychain and the
/// address in the settings; watching starts again with the hub.
pub async fn connect_hub(
    service: &callcard_core::Service,
    env: &Environment,
    url: &str,
    token: &str,
) -> Result<(), crate::EngineError> {
    use crate::EngineError;
    if env.var("CALLCARD_HUB_URL").is_some() {
        return Err(EngineError::SetByEnvironment("The team hub"));
    }
    let keychain = Keychain::app();
    let token = match token.trim() {
        // A blank token keeps the saved one (changing only the address).
        "" => keychain
            .get(&token_key())
            .map_err(|e| EngineError::Keychain(e.to_string()))?
            .ok_or_else(|| EngineError::HubToken("Paste this computer's token for the hub.".into()))?,
        pasted => pasted.to_owned(),
    };
    if !token.starts_with("cch_") {
        return Err(EngineError::HubToken(
            "A team hub token starts with cch_ (the hub's admin prints it with `callcard-hub user add`)."
                .into(),
        ));
    }
    let client = callcard_aircall::hub::HubClient::new(url, &token)?;
    // One page of nothing: the hub answers, and takes this token.
    client.page(i64::MAX - 1, 1).await?;
    keychain
        .set(&token_key(), &token)
        .map_err(|e| EngineError::Keychain(e.to_string()))?;
    let mut settings = service.settings();
    settings.team_hub_url = client.base().to_owned();
    service.save_settings(&settings)?;
    service.accounts_changed();
    Ok(())
}

/// Stops following the hub: its token leaves the keychain, calls are polled.
pub fn disconnect_hub(service: &callcard_core::Service, env: &Environment) -> Result<(), crate::EngineError> {
    use crate::EngineError;
    if env.var("CALLCARD_HUB_URL").is_some() {
        return Err(EngineError::SetByEnvironment("The team hub"));
    }
    forget_hub_token(&Keychain::app()).map_err(EngineError::Keychain)?;
    let mut settings = service.settings();
    settings.team_hub_url.clear();
    service.save_settings(&settings)?;
    service.accounts_changed();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_appears_in_debug_output_and_a_stray_paste_is_refused() {
        let hub = HubConnection::new("https://hub", "cch_s3cret");
        assert!(!format!("{hub:?}").contains("s3cret"));
        let refused = save_hub_token(&Keychain::with_service("callcard-test-none"), "hello");
        assert!(refused.unwrap_err().contains("cch_"));
    }
}
