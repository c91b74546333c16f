//! A signed-in session: the current tokens, loaded from and saved to a vault
//! (the keychain), refreshed ahead of expiry and after a 401, one refresh at
//! a time. Every rotated refresh token is saved before it is used.

use crate::tokens::{now_ms, OAuthClient, OAuthError, TokenSet};
use callcard_secrets::{Keychain, SecretKey};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where tokens are kept between runs.
pub trait TokenVault: Send + Sync {
    fn load(&self) -> Result<Option<TokenSet>, OAuthError>;
    fn save(&self, tokens: &TokenSet) -> Result<(), OAuthError>;
    fn clear(&self) -> Result<(), OAuthError>;
}

/// The OS keychain: the only place tokens are written to.
pub struct KeychainVault {
    keychain: Keychain,
    key: SecretKey,
}

impl KeychainVault {
    pub fn new(keychain: Keychain, key: SecretKey) -> Self {
        Self { keychain, key }
    }
}

impl TokenVault for KeychainVault {
    fn load(&self) -> Result<Option<TokenSet>, OAuthError> {
        let stored = self
            .keychain
            .get(&self.key)
            .map_err(|e| OAuthError::Vault(e.to_string()))?;
        // An unreadable entry is as good as none: the user signs in again.
        Ok(stored.and_then(|text| serde_json::from_str(&text).ok()))
    }

    fn save(&self, tokens: &TokenSet) -> Result<(), OAuthError> {
        let text = serde_json::to_string(tokens).map_err(|e| OAuthError::Vault(e.to_string()))?;
        self.keychain
            .set(&self.key, &text)
            .map_err(|e| OAuthError::Vault(e.to_string()))
    }

    fn clear(&self) -> Result<(), OAuthError> {
        self.keychain
            .delete(&self.key)
            .map_err(|e| OAuthError::Vault(e.to_string()))
    }
}

/// Tokens in memory only: tests and the demo mode.
#[derive(Default)]
pub struct MemoryVault {
    tokens: Mutex<Option<TokenSet>>,
}

impl TokenVault for MemoryVault {
    fn load(&self) -> Result<Option<TokenSet>, OAuthError> {
        Ok(self
            .tokens
            .lock()
            .map_err(|_| OAuthError::Vault("poisoned".into()))?
            .clone())
    }

    fn save(&self, tokens: &TokenSet) -> Result<(), OAuthError> {
        *self
            .tokens
            .lock()
            .map_err(|_| OAuthError::Vault("poisoned".into()))? = Some(tokens.clone());
        Ok(())
    }

    fn clear(&self) -> Result<(), OAuthError> {
        *self
            .tokens
            .lock()
            .map_err(|_| OAuthError::Vault("poisoned".into()))? = None;
        Ok(())
    }
}

enum State {
    Unknown,
    Connected(TokenSet),
    /// Refresh failed for good; waits for a new sign-in.
    NeedsReconnect(String),
}

pub struct Session {
    client: OAuthClient,
    vault: Arc<dyn TokenVault>,
    state: tokio::sync::Mutex<State>,
    /// Refresh this long before the access token expires.
    margin: Duration,
    refreshes: std::sync::atomic::AtomicU64,
}

impl Session {
    pub fn new(client: OAuthClient, vault: Arc<dyn TokenVault>) -> Self {
        Self {
            client,
            vault,
            state: tokio::sync::Mutex::new(State::Unknown),
            margin: Duration::from_secs(300),
            refreshes: Default::default(),
        }
    }

    pub fn client(&self) -> &OAuthClient {
        &self.client
    }

    /// How many refreshes this session made (tests, the history window).
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stores tokens from a new sign-in; replaces a reconnect state.
    pub async fn connect(&self, tokens: TokenSet) -> Result<(), OAuthError> {
        self.vault.save(&tokens)?;
        *self.state.lock().await = State::Connected(tokens);
        Ok(())
    }

    /// Forgets the tokens here and in the vault.
    pub async fn disconnect(&self) -> Result<(), OAuthError> {
        self.vault.clear()?;
        *self.state.lock().await = State::NeedsReconnect("disconnected".into());
        Ok(())
    }

    pub async fn is_connected(&self) -> bool {
        self.current().await.is_ok()
    }

    /// The tokens to use now, refreshed first when they expire soon.
    pub async fn current(&self) -> Result<TokenSet, OAuthError> {
        let mut state = self.state.lock().await;
        if let State::Unknown = *state {
            *state = match self.vault.load()? {
                Some(tokens) => State::Connected(tokens),
                None => return Err(OAuthError::NotConnected),
            };
        }
        let tokens = match &*state {
            State::Connected(tokens) => tokens.clone(),
            State::NeedsReconnect(why) => return Err(OAuthError::Revoked(why.clone())),
            State::Unknown => return Err(OAuthError::NotConnected),
        };
        if tokens.expires_at_ms - now_ms() > self.margin.as_millis() as i64 {
            return Ok(tokens);
        }
        self.refresh_locked(&mut state, tokens).await
    }

    /// After a 401 with `stale`: refresh unless another task already did.
    pub async fn refresh_after_rejection(&self, stale: &TokenSet) -> Result<TokenSet, OAuthError> {
        let mut state = self.state.lock().await;
        match &*state {
            State::Connected(tokens) if tokens.access_token != stale.access_token => Ok(tokens.clone()),
            State::Connected(tokens) => {
                let tokens = tokens.clone();
                self.refresh_locked(&mut state, tokens).await
            }
            State::NeedsReconnect(why) => Err(OAuthError::Revoked(why.clone())),
            State::Unknown => Err(OAuthError::NotConnected),
        }
    }

    async fn refresh_locked(&self, state: &mut State, tokens: TokenSet) -> Result<TokenSet, OAuthError> {
        let Some(refresh_token) = tokens.refresh_token.as_deref() else {
            *state = State::NeedsReconnect("no refresh token".into());
            return Err(OAuthError::Revoked("no refresh token".into()));
        };
        match self.client.refresh(refresh_token, tokens.api.as_deref()).await {
            Ok(fresh) => {
                self.refreshes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // The old refresh token is dead now: the new one must survive a crash.
                if let Err(error) = self.vault.save(&fresh) {
                    tracing::error!(%error, "a rotated refresh token could not be saved; it is kept in memory");
                }
                *state = State::Connected(fresh.clone());
                Ok(fresh)
            }
            Err(OAuthError::Revoked(why)) => {
                // Another session on the same keychain entry (the connect
                // window, a second process) may have rotated the token: the
                // new one is in the vault. Only when it is not, or it is
                // refused too, must the user sign in again.
                if let Some(fresh) = self.adopt_rotated(&tokens).await {
                    *state = State::Connected(fresh.clone());
                    return Ok(fresh);
                }
                tracing::warn!(%why, "the refresh token was refused; the user must reconnect");
                *state = State::NeedsReconnect(why.clone());
                Err(OAuthError::Revoked(why))
            }
            Err(other) => Err(other),
        }
    }

    /// The vault's tokens when another session rotated ours: used as they
    /// are while the access token is good, else refreshed once.
    async fn adopt_rotated(&self, refused: &TokenSet) -> Option<TokenSet> {
        let stored = self.vault.load().ok().flatten()?;
        if stored.refresh_token.is_none() || stored.refresh_token == refused.refresh_token {
            return None;
        }
        tracing::info!("the refresh token was rotated by another session; taking the keychain's");
        if stored.expires_at_ms - now_ms() > self.margin.as_millis() as i64 {
            return Some(stored);
        }
        let refresh_token = stored.refresh_token.as_deref()?;
        let fresh = self
            .client
            .refresh(refresh_token, stored.api.as_deref())
            .await
            .ok()?;
        self.refreshes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Err(error) = self.vault.save(&fresh) {
            tracing::error!(%error, "a rotated refresh token could not be saved; it is kept in memory");
        }
        Some(fresh)
    }
}
