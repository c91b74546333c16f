//! Helpers shared by the sandbox's integration tests: a running sandbox, an
//! HTTP client with OAuth tokens, and validators built from the vendors'
//! OpenAPI documents in `../shared/specs`.

#![allow(dead_code)]

use base64::Engine;
use callcard_sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

pub struct Harness {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    pub url: String,
}

/// Limits high enough that a test about shapes never meets them.
pub fn relaxed() -> SandboxConfig {
    SandboxConfig {
        limits: callcard_sandbox::LimitsConfig {
            aircall_per_minute: 100_000,
            sellsy_per_second: 100_000,
            sellsy_per_minute: 100_000,
            jobadder_per_minute: 100_000,
            ..Default::default()
        },
        ..SandboxConfig::default()
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(SandboxConfig::default()).await
    }

    pub async fn with(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        let url = sandbox.url();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap();
        Self { sandbox, http, url }
    }

    pub fn aircall(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let c = self.sandbox.credentials();
        self.http
            .request(method, format!("{}/aircall{path}", self.url))
            .basic_auth(c.aircall_api_id, Some(c.aircall_api_token))
    }

    /// `GET` on the Aircall API, answer as JSON.
    pub async fn aircall_json(&self, path: &str) -> Value {
        self.aircall(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}/_sandbox{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "control {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The authorization-code flow against the sandbox's JobAdder identity server.
    pub async fn jobadder_token(&self) -> Value {
        let c = self.sandbox.credentials();
        let redirect = "http://127.0.0.1:9/callback";
        let authorize = self
            .http
            .get(format!("{}/jobadder/id/connect/authorize", self.url))
            .query(&[
                ("response_type", "code"),
                ("client_id", &c.jobadder_client_id),
                ("redirect_uri", redirect),
                ("scope", "read write offline_access"),
                ("state", "xyz"),
            ])
            .send()
            .await
            .unwrap();
        let code = code_from(&authorize, "xyz");
        let token = self
            .http
            .post(format!("{}/jobadder/id/connect/token", self.url))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", &c.jobadder_client_id),
                ("client_secret", &c.jobadder_client_secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), 200);
        token.json().await.unwrap()
    }

    /// The authorization-code flow with PKCE against the sandbox's Sellsy login server.
    pub async fn sellsy_token(&self) -> Value {
        let c = self.sandbox.credentials();
        let redirect = "http://127.0.0.1:9/callback";
        let verifier = "a-verifier-of-enough-length-for-pkce-0123456789";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
        let authorize = self
            .http
            .get(format!("{}/sellsy/login/oauth2/authorization", self.url))
            .query(&[
                ("response_type", "code"),
                ("client_id", &c.sellsy_client_id),
                ("redirect_uri", redirect),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("state", "s1"),
            ])
            .send()
            .await
            .unwrap();
        let code = code_from(&authorize, "s1");
        let token = self
            .http
            .post(format!("{}/sellsy/login/oauth2/access-tokens", self.url))
            .json(
                &json!({"grant_type": "authorization_code", "client_id": c.sellsy_client_id, "code": code,
                          "redirect_uri": redirect, "code_verifier": verifier}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), 200);
        token.json().await.unwrap()
    }

    pub fn bearer(&self, method: reqwest::Method, url: &str, token: &Value) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(token["access_token"].as_str().unwrap())
    }
}

fn code_from(response: &reqwest::Response, state: &str) -> String {
    assert_eq!(response.status(), 303, "authorize redirects back");
    let location = response.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    let get = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(get("state").as_deref(), Some(state), "state comes back unchanged");
    get("code").expect("a code")
}

/// `../shared/specs`, or `None` with a message when the folder is absent (it
/// is on developers' machines and in CI, never on a user's).
pub fn specs_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent; the fidelity checks need the vendors' documents",
            dir.display()
        );
        None
    }
}

/// An OpenAPI 3.0 document turned into something a JSON Schema (draft 4)
/// validator understands: `nullable` becomes a `null` type, and every schema
/// is reached through a `$ref` into the document itself.
pub struct Spec {
    doc: Value,
}

impl Spec {
    pub fn load(file: &str) -> Option<Self> {
        let path = specs_dir()?.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut doc: Value = if file.ends_with(".yaml") {
            serde_yaml::from_str(&text).unwrap()
        } else {
            serde_json::from_str(&text).unwrap()
        };
        nullable_to_null_type(&mut doc);
        Some(Self { doc })
    }

    /// The path as a JSON-pointer token, percent-encoded for use in a URI fragment.
    fn pointer_for(path: &str) -> String {
        escape(path).replace('{', "%7B").replace('}', "%7D")
    }

    /// A validator for the JSON schema at `pointer` (a `#/…` JSON pointer).
    pub fn validator(&self, pointer: &str) -> jsonschema::Validator {
        assert!(
            self.doc.pointer(&decode_ref(&pointer[1..])).is_some(),
            "no schema at {pointer}"
        );
        let mut root = self.doc.clone();
        root["$ref"] = json!(pointer);
        jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("cannot build a validator for {pointer}: {e}"))
    }

    pub fn response(&self, path: &str, method: &str, status: u16) -> jsonschema::Validator {
        self.validator(&format!(
            "#/paths/{}/{method}/responses/{status}/content/application~1json/schema",
            Self::pointer_for(path)
        ))
    }

    pub fn request(&self, path: &str, method: &str) -> jsonschema::Validator {
        self.validator(&format!(
            "#/paths/{}/{method}/requestBody/content/application~1json/schema",
            Self::pointer_for(path)
        ))
    }
}

/// Fails with every error, so a wrong shape is fixed in one go.
pub fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("  at {}: {}", e.instance_path, e))
        .take(15)
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the vendor's document:\n{}\n",
        errors.join("\n")
    );
}

pub fn assert_invalid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    assert!(
        !validator.is_valid(instance),
        "{what} should be refused by the vendor's document"
    );
}

/// OpenAPI's `nullable: true` in JSON Schema terms. A typed schema gets a
/// `null` type. Any other (a `$ref`, an `allOf`) must become "null or that",
/// which moves it: the original goes to `/x-nullable/N`, and every `$ref` that
/// pointed inside it is rewritten to follow.
fn nullable_to_null_type(doc: &mut Value) {
    let mut moved: Vec<String> = Vec::new();
    collect_untyped_nullables(doc, String::new(), &mut moved);
    let mut store = Vec::new();
    let mut renames: Vec<(String, String)> = Vec::new();
    for pointer in moved {
        let Some(node) = doc.pointer_mut(&pointer) else {
            continue;
        };
        let mut original = std::mem::take(node);
        if let Some(map) = original.as_object_mut() {
            map.remove("nullable");
        }
        let target = format!("/x-nullable/{}", store.len());
        *node = json!({"anyOf": [{"type": "null"}, {"$ref": format!("#{target}")}]});
        store.push(original);
        renames.push((pointer, target));
    }
    doc["x-nullable"] = Value::Array(store);
    // Longest first, so a node moved inside a moved node is found first.
    renames.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    rewrite_refs(doc, &renames);
    typed_nullables(doc);
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn collect_untyped_nullables(node: &Value, pointer: String, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                collect_untyped_nullables(value, format!("{pointer}/{}", escape(key)), out);
            }
            // Children first: they are moved before their parent.
            if map.get("nullable") == Some(&Value::Bool(true)) && !map.contains_key("type") {
                out.push(pointer);
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                collect_untyped_nullables(value, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn decode_ref(reference: &str) -> String {
    reference
        .replace("%7B", "{")
        .replace("%7D", "}")
        .replace("%7b", "{")
        .replace("%7d", "}")
}

fn rewrite_refs(node: &mut Value, renames: &[(String, String)]) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                if let Some(pointer) = reference.strip_prefix('#').map(decode_ref) {
                    let hit = renames.iter().find(|(from, _)| {
                        pointer == *from
                            || pointer
                                .strip_prefix(from.as_str())
                                .is_some_and(|rest| rest.starts_with('/'))
                    });
                    if let Some((from, to)) = hit {
                        *reference = format!("#{to}{}", &pointer[from.len()..]);
                    }
                }
            }
            map.values_mut().for_each(|v| rewrite_refs(v, renames));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, renames)),
        _ => {}
    }
}

fn typed_nullables(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                if let Some(Value::Array(values)) = map.get_mut("enum") {
                    values.push(Value::Null);
                }
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
            }
            map.values_mut().for_each(typed_nullables);
        }
        Value::Array(items) => items.iter_mut().for_each(typed_nullables),
        _ => {}
    }
}
