//! The JobAdder token broker against the sandbox's JobAdder, which refuses
//! a token request without the partner app's secret: a desktop without the
//! secret trades its code and refreshes through the hub; the hub keeps none
//! of the tokens, and a desktop without a hub token gets nothing.

use callcard_hub::broker::JobAdderClient;
use callcard_hub::{Desktops, EventLog, Hub, SqliteEventLog, WebhookToken};
use callcard_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_without_the_secret_signs_in_and_refreshes_through_the_hub() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.sqlite3");
    let log: Arc<dyn EventLog> = Arc::new(SqliteEventLog::open(&path).unwrap());
    let desktops = Arc::new(Desktops::open(&path).unwrap());
    let (_, desktop_token) = desktops.add("alex@example.com", 2001, &[1001], 0).unwrap();
    let client_id = sandbox.var("CALLCARD_JOBADDER_CLIENT_ID");
    let hub = Hub::new(log, desktops, WebhookToken::new("t")).with_jobadder(JobAdderClient {
        token_url: sandbox.var("CALLCARD_JOBADDER_TOKEN_URL"),
        client_id: client_id.clone(),
        client_secret: sandbox.var("CALLCARD_JOBADDER_CLIENT_SECRET"),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hub.router()).await });

    // The browser's part: JobAdder sends it back to the desktop with a code.
    let redirect_uri = "http://127.0.0.1:47615/callback";
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = browser
        .get(sandbox.var("CALLCARD_JOBADDER_AUTHORIZE_URL"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("state", "s1"),
        ])
        .send()
        .await
        .unwrap();
    let location = authorize.headers()["location"].to_str().unwrap().to_owned();
    let code = url_query(&location, "code");

    let http = reqwest::Client::new();
    let token_request = |form: Vec<(&'static str, String)>, bearer: Option<String>| {
        let mut request = http.post(format!("{base}/v1/jobadder/token")).form(&form);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let refused = token_request(vec![("grant_type", "authorization_code".into())], None)
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401, "only a desktop of this hub");
    let own = callcard_hub_contract::paths::BROKER_OWN_ERROR;
    assert!(
        refused.headers().contains_key(own),
        "the hub's own refusal says so"
    );

    let exchanged = token_request(
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", redirect_uri.into()),
            ("client_id", client_id.clone()),
        ],
        Some(desktop_token.clone()),
    )
    .await
    .unwrap();
    assert_eq!(exchanged.status().as_u16(), 200);
    let tokens: Value = exchanged.json().await.unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert!(tokens["api"].as_str().unwrap().ends_with("/jobadder/v2"));

    let refreshed = token_request(
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh.clone()),
        ],
        Some(desktop_token.clone()),
    )
    .await
    .unwrap();
    assert_eq!(refreshed.status().as_u16(), 200);
    assert!(
        !refreshed.headers().contains_key(own),
        "JobAdder's answer, as it came"
    );
    let fresh: Value = refreshed.json().await.unwrap();
    assert_ne!(fresh["access_token"], tokens["access_token"]);

    let other_grant = token_request(
        vec![("grant_type", "client_credentials".into())],
        Some(desktop_token),
    )
    .await
    .unwrap();
    assert_eq!(other_grant.status().as_u16(), 400);
    assert!(other_grant.headers().contains_key(own));

    // The hub kept none of them.
    let file = std::fs::read(&path).unwrap();
    for token in [tokens["access_token"].as_str().unwrap(), &refresh] {
        assert!(!file.windows(token.len()).any(|w| w == token.as_bytes()));
    }
}

fn url_query(url: &str, key: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_owned()
}
