//! OAuth2 for a desktop app (RFC 8252): the browser signs the user in, the
//! answer comes back to a one-shot listener on 127.0.0.1, the code is traded
//! for tokens, and the tokens are kept in the keychain and refreshed ahead of
//! expiry. JobAdder (client secret) and Sellsy (PKCE) share all of it.

mod loopback;
mod session;
mod tokens;

pub use loopback::{read_answer, Answer as RedirectAnswer, LoopbackError, LoopbackRedirect};
pub use session::{KeychainVault, MemoryVault, Session, TokenVault};
pub use tokens::{OAuthClient, OAuthError, TokenSet};

/// A fresh, unguessable `state` value for one authorization.
pub fn new_state() -> String {
    oauth2::CsrfToken::new_random().secret().clone()
}

/// A PKCE pair (RFC 7636, S256): the verifier stays here, the challenge goes
/// in the authorize URL.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        Self {
            verifier: verifier.secret().clone(),
            challenge: challenge.as_str().to_owned(),
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether the authorization uses PKCE (public clients: Sellsy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    ClientSecret,
    Pkce,
}

/// The whole sign-in: a loopback listener on `port` (0: any free one), the
/// authorize page handed to `open` (the system browser), the code back on
/// 127.0.0.1 with its `state` checked, and the code traded for tokens.
pub async fn sign_in(
    client: &OAuthClient,
    proof: Proof,
    port: u16,
    open: impl FnOnce(&str),
    timeout: std::time::Duration,
) -> Result<TokenSet, SignInError> {
    let redirect = LoopbackRedirect::bind_port(port).await?;
    let redirect_uri = redirect.redirect_uri();
    let state = new_state();
    let pkce = (proof == Proof::Pkce).then(Pkce::new);
    let link = client.authorize_link(&redirect_uri, &state, pkce.as_ref())?;
    open(&link);
    let code = redirect.wait_for_code(&state, timeout).await?;
    Ok(client.exchange_code(&code, &redirect_uri, pkce.as_ref()).await?)
}

/// Why a sign-in did not end with tokens.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Redirect(#[from] LoopbackError),
    #[error(transparent)]
    Token(#[from] OAuthError),
}

#[cfg(test)]
mod tests {
    use super::*;

    use base64::Engine;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_pkce_challenge_is_the_s256_of_the_verifier() {
        let pkce = Pkce::new();
        let expected =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(pkce.verifier.as_bytes()));
        assert_eq!(pkce.challenge, expected);
        assert!((43..=128).contains(&pkce.verifier.len()), "RFC 7636 length");
        assert_ne!(Pkce::new().verifier, pkce.verifier);
    }

    #[test]
    fn states_are_unique() {
        assert_ne!(new_state(), new_state());
    }
}
