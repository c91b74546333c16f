//! Two sessions on one keychain entry — the live one and the connect
//! window's, or two processes — against the sandbox's JobAdder, whose
//! refresh tokens rotate: when one refreshes, the other's refresh token dies,
//! and it must take the new one from the keychain instead of asking the user
//! to sign in again.

use callcard_oauth::{MemoryVault, OAuthClient, OAuthError, Proof, Session, TokenVault};
use callcard_sandbox::{Sandbox, SandboxConfig};
use std::sync::Arc;
use std::time::Duration;

async fn signed_in(sandbox: &Sandbox) -> (OAuthClient, callcard_oauth::TokenSet) {
    let client = OAuthClient::new(
        sandbox.var("CALLCARD_JOBADDER_AUTHORIZE_URL"),
        sandbox.var("CALLCARD_JOBADDER_TOKEN_URL"),
        sandbox.var("CALLCARD_JOBADDER_CLIENT_ID"),
        Some(sandbox.var("CALLCARD_JOBADDER_CLIENT_SECRET")),
        &["read", "write", "offline_access"],
    );
    let tokens = callcard_oauth::sign_in(
        &client,
        Proof::ClientSecret,
        0,
        callcard_sandbox::browser(),
        Duration::from_secs(10),
    )
    .await
    .expect("the sandbox's sign-in");
    (client, tokens)
}

#[tokio::test]
async fn the_live_session_keeps_working_when_another_session_rotates_the_token() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let (client, tokens) = signed_in(&sandbox).await;
    let vault: Arc<dyn TokenVault> = Arc::new(MemoryVault::default());
    let live = Session::new(client.clone(), vault.clone());
    live.connect(tokens).await.unwrap();
    let live_tokens = live.current().await.unwrap();

    // The connect window's own session on the same entry refreshes (its
    // access token was refused): the live session's refresh token dies.
    let window = Session::new(client.clone(), vault.clone());
    let stale = window.current().await.unwrap();
    let rotated = window.refresh_after_rejection(&stale).await.unwrap();
    assert_ne!(
        rotated.refresh_token, live_tokens.refresh_token,
        "the token rotated"
    );
    // The old refresh token is refused by the server now.
    let refused = client
        .refresh(
            live_tokens.refresh_token.as_deref().unwrap(),
            live_tokens.api.as_deref(),
        )
        .await;
    assert!(matches!(refused, Err(OAuthError::Revoked(_))), "{refused:?}");

    // The live session's access token is refused next: it refreshes with its
    // dead token, and takes the keychain's instead of asking for a sign-in.
    let after = live.refresh_after_rejection(&live_tokens).await.unwrap();
    assert_eq!(after.refresh_token, rotated.refresh_token);
    assert!(live.is_connected().await);
}

#[tokio::test]
async fn a_refused_token_with_nothing_newer_in_the_keychain_still_asks_for_a_sign_in() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let (client, tokens) = signed_in(&sandbox).await;
    let live = Session::new(client, Arc::new(MemoryVault::default()));
    live.connect(tokens.clone()).await.unwrap();
    sandbox
        .control()
        .call(
            reqwest::Method::POST,
            "/oauth/jobadder/revoke",
            serde_json::json!({}),
        )
        .await
        .unwrap();
    let refused = live.refresh_after_rejection(&tokens).await;
    assert!(matches!(refused, Err(OAuthError::Revoked(_))), "{refused:?}");
    assert!(!live.is_connected().await);
}
