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
    Ok(Some(HubConnection { url, token }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_appears_in_debug_output_and_a_stray_paste_is_refused() {
        let hub = HubConnection {
            url: "https://hub".into(),
            token: "cch_s3cret".into(),
        };
        assert!(!format!("{hub:?}").contains("s3cret"));
        let refused = save_hub_token(&Keychain::with_service("callcard-test-none"), "hello");
        assert!(refused.unwrap_err().contains("cch_"));
    }
}
