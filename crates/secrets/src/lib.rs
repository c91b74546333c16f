//! Credentials in the OS keychain, and nowhere else.
//!
//! Every secret Callcard holds (the Aircall API token, OAuth access and refresh
//! tokens) goes through [`Keychain`]. On Linux that is the Secret Service
//! (GNOME Keyring, KWallet). When no keychain is reachable the error says so;
//! there is deliberately no plain-text fallback.
//!
//! This crate does not decide *which* secrets exist: callers name them with a
//! [`SecretKey`], e.g. `("jobadder", "refresh_token:acme")`.

use std::fmt;

/// Names a secret: the kind of credential and whose it is. Neither part is
/// secret, so both may appear in logs and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKey {
    pub kind: String,
    pub account: String,
}

impl SecretKey {
    pub fn new(kind: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            account: account.into(),
        }
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.account)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "no keychain is reachable ({reason}). Callcard keeps credentials only in the system \
         keychain: start GNOME Keyring or KWallet (a Secret Service provider) and try again"
    )]
    Unavailable { reason: String },
    #[error("the keychain is locked or refused access to {key}: {reason}")]
    Denied { key: SecretKey, reason: String },
    #[error("the keychain entry {key} is not valid text")]
    Unreadable { key: SecretKey },
    #[error("the keychain failed on {key}: {reason}")]
    Other { key: SecretKey, reason: String },
}

/// A keychain namespace. Production uses [`Keychain::app`]; tests use their
/// own service name so that they never touch the user's real credentials.
#[derive(Debug, Clone)]
pub struct Keychain {
    service: String,
}

pub const APP_SERVICE: &str = "io.callcard.desktop";

impl Keychain {
    /// The app's entries; `CALLCARD_KEYCHAIN_SERVICE` names another group
    /// (tests and side-by-side installs keep their secrets apart).
    pub fn app() -> Self {
        match std::env::var("CALLCARD_KEYCHAIN_SERVICE") {
            Ok(service) if !service.trim().is_empty() => Self::with_service(service),
            _ => Self::with_service(APP_SERVICE),
        }
    }

    pub fn with_service(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    /// The group these entries are kept under.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, key: &SecretKey) -> Result<keyring::Entry, SecretError> {
        // The "user" of a keyring entry is our key; the service groups them.
        keyring::Entry::new(&self.service, &key.to_string()).map_err(|e| classify(key, e))
    }

    /// Stores or replaces a secret.
    pub fn set(&self, key: &SecretKey, secret: &str) -> Result<(), SecretError> {
        self.entry(key)?
            .set_password(secret)
            .map_err(|e| classify(key, e))?;
        tracing::debug!(%key, "secret stored in the keychain");
        Ok(())
    }

    /// The secret, or `None` when there is none under that key.
    pub fn get(&self, key: &SecretKey) -> Result<Option<String>, SecretError> {
        match self.entry(key)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(key, e)),
        }
    }

    /// Removes a secret; removing one that is not there is not an error.
    pub fn delete(&self, key: &SecretKey) -> Result<(), SecretError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(classify(key, e)),
        }
    }

    /// Checks that a keychain answers, without touching any secret: the
    /// first-run wizard and the self-test call this before asking for tokens.
    pub fn probe(&self) -> Result<(), SecretError> {
        self.get(&SecretKey::new("probe", "reachable")).map(|_| ())
    }
}

fn classify(key: &SecretKey, error: keyring::Error) -> SecretError {
    use keyring::Error as E;
    // The keyring error texts never contain the secret itself.
    match error {
        E::PlatformFailure(e) => SecretError::Unavailable {
            reason: e.to_string(),
        },
        E::NoStorageAccess(e) => SecretError::Denied {
            key: key.clone(),
            reason: e.to_string(),
        },
        E::BadEncoding(_) => SecretError::Unreadable { key: key.clone() },
        other => SecretError::Other {
            key: key.clone(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_as_kind_slash_account() {
        assert_eq!(
            SecretKey::new("jobadder", "refresh:acme").to_string(),
            "jobadder/refresh:acme"
        );
    }

    #[test]
    fn an_unreachable_keychain_explains_what_to_do() {
        let err = SecretError::Unavailable {
            reason: "no session bus".into(),
        };
        let text = err.to_string();
        assert!(text.contains("no keychain is reachable"));
        assert!(text.contains("GNOME Keyring"));
    }
}
