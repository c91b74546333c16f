//! How the app reaches Aircall: base URL, API id, the user's e-mail — from
//! the environment (`CALLCARD_AIRCALL_*`, as `callcard-sandbox --env-file`
//! writes them) — and the API token, from the keychain. A token given in the
//! environment is used and saved into the keychain; it is never written to
//! any file.

use callcard_secrets::{Keychain, SecretKey};

pub const DEFAULT_AIRCALL_API: &str = "https://api.aircall.io";

#[derive(Clone)]
pub struct AircallConnection {
    pub api_url: String,
    pub api_id: String,
    pub api_token: String,
    pub user_email: String,
}

impl std::fmt::Debug for AircallConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AircallConnection")
            .field("api_url", &self.api_url)
            .field("api_id", &self.api_id)
            .field("user_email", &self.user_email)
            .finish_non_exhaustive()
    }
}

fn token_key(api_id: &str) -> SecretKey {
    SecretKey::new("aircall", format!("api_token:{api_id}"))
}

/// Which API key the connect window saved (its token is under [`token_key`]).
fn api_id_key() -> SecretKey {
    SecretKey::new("aircall", "api_id")
}

/// Saves an Aircall key given in the connect window: both parts in the keychain.
pub fn save_api_key(keychain: &Keychain, api_id: &str, api_token: &str) -> Result<(), String> {
    keychain
        .set(&token_key(api_id), api_token)
        .map_err(|e| e.to_string())?;
    keychain.set(&api_id_key(), api_id).map_err(|e| e.to_string())
}

/// Removes the saved Aircall key (both parts) from the keychain.
pub fn forget_api_key(keychain: &Keychain) -> Result<(), String> {
    if let Some(api_id) = keychain.get(&api_id_key()).map_err(|e| e.to_string())? {
        keychain.delete(&token_key(&api_id)).map_err(|e| e.to_string())?;
    }
    keychain.delete(&api_id_key()).map_err(|e| e.to_string())
}

/// The Aircall API base: the environment's, or Aircall's own.
pub fn api_url(env: impl Fn(&str) -> Option<String>) -> String {
    env("CALLCARD_AIRCALL_API_URL")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_AIRCALL_API.to_owned())
}

/// The connection, or why there is none (shown in the log; the app runs
/// without Aircall until it is connected).
pub fn aircall_from_env(
    env: impl Fn(&str) -> Option<String>,
    keychain: &Keychain,
    settings_email: &str,
) -> Result<AircallConnection, String> {
    let var = |key: &str| env(key).filter(|v| !v.trim().is_empty());
    let api_url = var("CALLCARD_AIRCALL_API_URL").unwrap_or_else(|| DEFAULT_AIRCALL_API.to_owned());
    let api_id = match var("CALLCARD_AIRCALL_API_ID") {
        Some(id) => id,
        // Saved by the connect window; a keychain that cannot be reached means not connected.
        None => keychain
            .get(&api_id_key())
            .ok()
            .flatten()
            .ok_or("Aircall is not connected (no API id)")?,
    };
    let user_email = if settings_email.is_empty() {
        var("CALLCARD_AIRCALL_USER_EMAIL").ok_or("no Aircall user e-mail in the settings")?
    } else {
        settings_email.to_owned()
    };
    let api_token = match var("CALLCARD_AIRCALL_API_TOKEN") {
        Some(token) => {
            if let Err(error) = keychain.set(&token_key(&api_id), &token) {
                tracing::warn!(%error, "the Aircall token from the environment is used but not saved");
            }
            token
        }
        None => keychain
            .get(&token_key(&api_id))
            .map_err(|e| e.to_string())?
            .ok_or("no Aircall API token in the keychain")?,
    };
    Ok(AircallConnection {
        api_url,
        api_id,
        api_token,
        user_email,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn without_an_api_id_aircall_is_not_connected() {
        let env: HashMap<&str, &str> = HashMap::new();
        let err = aircall_from_env(
            |k| env.get(k).map(|v| v.to_string()),
            &Keychain::with_service("callcard-test-none"),
            "",
        )
        .unwrap_err();
        assert!(err.contains("not connected"));
    }

    #[test]
    fn the_token_never_appears_in_debug_output() {
        let connection = AircallConnection {
            api_url: "u".into(),
            api_id: "i".into(),
            api_token: "s3cret-token".into(),
            user_email: "e".into(),
        };
        assert!(!format!("{connection:?}").contains("s3cret-token"));
    }
}
