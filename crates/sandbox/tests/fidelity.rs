//! The simulators against the vendors' own documents: every answer of every
//! operation the app uses validates against JobAdder's and Sellsy's OpenAPI
//! schemas; the request bodies the sandbox accepts validate too, and bodies
//! the real API would refuse are refused with the same status. Aircall has no
//! OpenAPI document: its answers are compared with the reference samples.

mod common;

use common::{assert_invalid, assert_valid, relaxed, specs_dir, Harness, Spec};
use reqwest::Method;
use serde_json::{json, Value};

async fn body(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn jobadder_answers_and_accepted_bodies_follow_the_openapi_document() {
    let Some(spec) = Spec::load("jobadder-v2.openapi.json") else {
        return;
    };
    let h = Harness::with(relaxed()).await;
    let token = h.jobadder_token().await;
    let api = token["api"]
        .as_str()
        .expect("the token answer names the account's API")
        .to_owned();
    assert_eq!(api, format!("{}/jobadder/v2", h.url));
    let get = |path: &str| h.bearer(Method::GET, &format!("{api}{path}"), &token);

    let state = h.control(Method::GET, "/state", None).await;
    let candidate = &state["jobadder"]["candidates"][0];
    let contact = &state["jobadder"]["contacts"][0];
    let (cand_id, contact_id) = (candidate["id"].as_i64().unwrap(), contact["id"].as_i64().unwrap());

    // A number stored in national format is found by its E.164 form.
    let national = h
        .control(
            Method::POST,
            "/records",
            Some(json!({"crm": "jobadder", "type": "candidate",
        "fields": {"firstName": "Nat", "lastName": "Ional", "mobile": "07400 123456"}, "region": "GB"})),
        )
        .await;
    let found = body(
        get("/search/phonenumber")
            .query(&[("E164", "+447400123456")])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_valid(
        &spec.response("/search/phonenumber", "get", 200),
        &found,
        "GET /search/phonenumber",
    );
    assert_eq!(found["candidates"][0]["candidateId"], national["id"]);
    assert_eq!(found["quality"], "National");
    assert_eq!(found["candidates"][0]["match"]["normalized"], "+447400123456");

    let list = body(
        get("/contacts").query(&[("Limit", "5")]).send().await.unwrap(),
        200,
    )
    .await;
    assert_valid(&spec.response("/contacts", "get", 200), &list, "GET /contacts");
    assert!(list["links"]["next"].is_string(), "paging link to the next page");
    let list = body(
        get("/candidates")
            .query(&[("UpdatedAt", ">2000-01-01T00:00:00Z"), ("Limit", "3")])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_valid(
        &spec.response("/candidates", "get", 200),
        &list,
        "GET /candidates",
    );
    let one = body(get(&format!("/contacts/{contact_id}")).send().await.unwrap(), 200).await;
    assert_valid(
        &spec.response("/contacts/{contactId}", "get", 200),
        &one,
        "GET /contacts/{id}",
    );
    let one = body(get(&format!("/candidates/{cand_id}")).send().await.unwrap(), 200).await;
    assert_valid(
        &spec.response("/candidates/{candidateId}", "get", 200),
        &one,
        "GET /candidates/{id}",
    );
    let users = body(get("/users").send().await.unwrap(), 200).await;
    assert_valid(&spec.response("/users", "get", 200), &users, "GET /users");
    let me = body(get("/users/current").send().await.unwrap(), 200).await;
    assert_valid(
        &spec.response("/users/current", "get", 200),
        &me,
        "GET /users/current",
    );
    assert_eq!(me["accountName"], callcard_sandbox::JOBADDER_ACCOUNT_NAME);

    // Notes: the body the app sends, the answer, the update.
    let note = json!({"type": "Phone call", "text": "Inbound call, answered (3 min 20 s)\nCall id 12345",
                      "reference": "aircall-call:12345", "createdBy": {"email": "alex.martin@callcard.test"}});
    assert_valid(
        &spec.request("/contacts/{contactId}/notes", "post"),
        &note,
        "the note body",
    );
    let created = body(
        h.bearer(
            Method::POST,
            &format!("{api}/contacts/{contact_id}/notes"),
            &token,
        )
        .json(&note)
        .send()
        .await
        .unwrap(),
        201,
    )
    .await;
    assert_valid(
        &spec.response("/contacts/{contactId}/notes", "post", 201),
        &created,
        "POST /contacts/{id}/notes",
    );
    assert_eq!(
        created["createdBy"]["email"], "alex.martin@callcard.test",
        "attributed to the agent"
    );
    assert_valid(
        &spec.request("/candidates/{candidateId}/notes", "post"),
        &note,
        "the candidate note body",
    );
    let on_candidate = body(
        h.bearer(Method::POST, &format!("{api}/candidates/{cand_id}/notes"), &token)
            .json(&note)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_valid(
        &spec.response("/candidates/{candidateId}/notes", "post", 201),
        &on_candidate,
        "POST /candidates/{id}/notes",
    );
    let note_id = created["noteId"].as_str().unwrap();
    let update = json!({"text": "Inbound call, answered\nAI summary: …"});
    assert_valid(
        &spec.request("/notes/{noteId}", "put"),
        &update,
        "the note update body",
    );
    let response = h
        .bearer(Method::PUT, &format!("{api}/notes/{note_id}"), &token)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let fetched = body(get(&format!("/notes/{note_id}")).send().await.unwrap(), 200).await;
    assert_valid(
        &spec.response("/notes/{noteId}", "get", 200),
        &fetched,
        "GET /notes/{id}",
    );
    assert_eq!(fetched["text"], update["text"]);

    // What the real API refuses, the sandbox refuses, with the same status.
    let schema = spec.request("/contacts/{contactId}/notes", "post");
    for (what, bad) in [
        (
            "a reference over 200 characters",
            json!({"text": "x", "reference": "r".repeat(201)}),
        ),
        ("a note without text", json!({"type": "Call"})),
        (
            "a type over 50 characters",
            json!({"text": "x", "type": "t".repeat(51)}),
        ),
    ] {
        assert_invalid(&schema, &bad, what);
        let refused = h
            .bearer(
                Method::POST,
                &format!("{api}/contacts/{contact_id}/notes"),
                &token,
            )
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{what}");
        assert_valid(
            &spec.validator("#/components/schemas/ErrorModel"),
            &refused.json().await.unwrap(),
            "the error",
        );
    }
}

#[tokio::test]
async fn sellsy_answers_and_accepted_bodies_follow_the_openapi_document() {
    let Some(spec) = Spec::load("sellsy-v2.openapi.yaml") else {
        return;
    };
    let h = Harness::with(relaxed()).await;
    let token = h.sellsy_token().await;
    let api = format!("{}/sellsy/v2", h.url);
    let call = |m: Method, path: &str| h.bearer(m, &format!("{api}{path}"), &token);

    let state = h.control(Method::GET, "/state", None).await;
    let contact = state["sellsy"]["contacts"][0].clone();
    let contact_id = contact["id"].as_i64().unwrap();
    let company_id = state["sellsy"]["companies"][0]["id"].as_i64().unwrap();
    let individual_id = state["sellsy"]["individuals"][0]["id"].as_i64().unwrap();
    let opportunity_id = state["sellsy"]["opportunities"][0]["id"].as_i64().unwrap();

    let search = json!({"filters": {"phone_number": contact["phone_number"]}});
    assert_valid(
        &spec.request("/contacts/search", "post"),
        &search,
        "the contact search body",
    );
    let found = body(
        call(Method::POST, "/contacts/search")
            .json(&search)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_valid(
        &spec.response("/contacts/search", "post", 200),
        &found,
        "POST /contacts/search",
    );
    assert!(
        found["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == contact_id),
        "exact phone match"
    );
    let since = json!({"filters": {"updated": {"start": "2000-01-01T00:00:00Z"}}});
    assert_valid(
        &spec.request("/contacts/search", "post"),
        &since,
        "the incremental search body",
    );
    let page = body(
        call(Method::POST, "/contacts/search?limit=10")
            .json(&since)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_valid(
        &spec.response("/contacts/search", "post", 200),
        &page,
        "POST /contacts/search (updated)",
    );
    assert_eq!(page["pagination"]["count"], 10);

    for (path, schema_path) in [
        ("/contacts?limit=5".to_owned(), "/contacts"),
        (format!("/contacts/{contact_id}"), "/contacts/{id}"),
        ("/companies?limit=5".to_owned(), "/companies"),
        (format!("/companies/{company_id}"), "/companies/{id}"),
        ("/individuals?limit=5".to_owned(), "/individuals"),
        (format!("/individuals/{individual_id}"), "/individuals/{id}"),
        ("/staffs".to_owned(), "/staffs"),
    ] {
        let answer = body(call(Method::GET, &path).send().await.unwrap(), 200).await;
        assert_valid(
            &spec.response(schema_path, "get", 200),
            &answer,
            &format!("GET {path}"),
        );
    }
    let linked = body(
        call(Method::GET, &format!("/contacts/{contact_id}/companies"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_valid(
        &spec.response("/contacts/{id}/companies", "get", 200),
        &linked,
        "GET /contacts/{id}/companies",
    );
    let since_at = json!({"filters": {"updated_at": {"start": "2000-01-01T00:00:00Z"}}});
    for path in ["/companies/search", "/individuals/search"] {
        assert_valid(&spec.request(path, "post"), &since_at, path);
        let answer = body(
            call(Method::POST, path).json(&since_at).send().await.unwrap(),
            200,
        )
        .await;
        assert_valid(&spec.response(path, "post", 200), &answer, path);
    }
    let opportunities = json!({"filters": {"related_objects": [{"type": "company", "id": company_id}], "statuses": ["open"]}});
    assert_valid(
        &spec.request("/opportunities/search", "post"),
        &opportunities,
        "the opportunity search body",
    );
    let answer = body(
        call(Method::POST, "/opportunities/search")
            .json(&opportunities)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_valid(
        &spec.response("/opportunities/search", "post", 200),
        &answer,
        "POST /opportunities/search",
    );
    // staffs/me has no schema in the document: it must at least be a staff.
    let me = body(call(Method::GET, "/staffs/me").send().await.unwrap(), 200).await;
    assert!(
        me["id"].is_i64() && me["email"].is_string() && me["account_id"].is_i64(),
        "{me}"
    );

    let owner = state["sellsy"]["contacts"][0]["owner"]["id"].as_i64().unwrap();
    let phone_call = json!({
        "owner_id": owner, "date": "2026-11-21T10:00:00Z", "result": "connected", "source": "outcoming",
        "duration": 245, "description": "Call 12345 — Paris office",
        "related": [{"type": "contact", "id": contact_id}, {"type": "opportunity", "id": opportunity_id}],
    });
    assert_valid(
        &spec.request("/phone-calls", "post"),
        &phone_call,
        "the phone-call body",
    );
    let created = body(
        call(Method::POST, "/phone-calls")
            .json(&phone_call)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_valid(
        &spec.response("/phone-calls", "post", 201),
        &created,
        "POST /phone-calls",
    );
    let id = created["id"].as_i64().unwrap();
    let update = json!({"description": "Call 12345 — with AI summary"});
    assert_valid(
        &spec.request("/phone-calls/{id}", "put"),
        &update,
        "the phone-call update body",
    );
    let updated = body(
        call(Method::PUT, &format!("/phone-calls/{id}"))
            .json(&update)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_valid(
        &spec.response("/phone-calls/{id}", "put", 200),
        &updated,
        "PUT /phone-calls/{id}",
    );
    let fetched = body(
        call(Method::GET, &format!("/phone-calls/{id}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_valid(
        &spec.response("/phone-calls/{id}", "get", 200),
        &fetched,
        "GET /phone-calls/{id}",
    );
    let search = json!({"filters": {"related_objects": [{"type": "contact", "id": contact_id}]}});
    assert_valid(
        &spec.request("/phone-calls/search", "post"),
        &search,
        "the phone-call search body",
    );
    let found = body(
        call(Method::POST, "/phone-calls/search")
            .json(&search)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_valid(
        &spec.response("/phone-calls/search", "post", 200),
        &found,
        "POST /phone-calls/search",
    );
    assert_eq!(found["pagination"]["total"], 1);

    let schema = spec.request("/phone-calls", "post");
    let mut outgoing = phone_call.clone();
    outgoing["source"] = json!("outgoing");
    let mut no_owner = phone_call.clone();
    no_owner.as_object_mut().unwrap().remove("owner_id");
    let mut bad_result = phone_call.clone();
    bad_result["result"] = json!("answered");
    for (what, bad) in [
        ("source outgoing (Sellsy says outcoming)", outgoing),
        ("no owner_id", no_owner),
        ("result answered", bad_result),
    ] {
        assert_invalid(&schema, &bad, what);
        let refused = call(Method::POST, "/phone-calls")
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{what}");
    }
}

/// Every key of the sample, with the same JSON type where the sample is not null.
fn assert_like_sample(ours: &Value, sample: &Value, what: &str) {
    let (Some(ours), Some(sample)) = (ours.as_object(), sample.as_object()) else {
        panic!("{what}: both must be objects");
    };
    for (key, value) in sample {
        let Some(mine) = ours.get(key) else {
            panic!("{what}: the sandbox lacks `{key}`");
        };
        let kind = |v: &Value| match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !value.is_null() && !mine.is_null() {
            assert_eq!(kind(mine), kind(value), "{what}.{key}: {mine} vs sample {value}");
        }
        // Nested objects too (the comment's author, a team's users…), so
        // that a client library's models accept them whole.
        match (value, mine) {
            (Value::Object(_), Value::Object(_)) => assert_like_sample(mine, value, &format!("{what}.{key}")),
            (Value::Array(theirs), Value::Array(ours)) => {
                if let (Some(first @ Value::Object(_)), Some(mine @ Value::Object(_))) =
                    (theirs.first(), ours.first())
                {
                    assert_like_sample(mine, first, &format!("{what}.{key}[0]"));
                }
            }
            _ => {}
        }
    }
}

fn sample(name: &str) -> Value {
    let dir = specs_dir().expect("checked by the caller");
    serde_json::from_str(&std::fs::read_to_string(dir.join("aircall").join(name)).unwrap()).unwrap()
}

#[tokio::test]
async fn aircall_answers_have_the_shapes_of_the_reference_samples() {
    if specs_dir().is_none() {
        return;
    }
    let h = Harness::with(relaxed()).await;
    let ringing = h
        .control(
            Method::POST,
            "/calls",
            Some(json!({"direction": "inbound", "external_number": "+33 6 12 34 56 78", "number_id": 1001})),
        )
        .await;
    let id = ringing["id"].as_i64().unwrap();
    h.control(
        Method::POST,
        &format!("/calls/{id}/answer"),
        Some(json!({"user_id": 2001})),
    )
    .await;
    h.control(
        Method::POST,
        &format!("/calls/{id}/comments"),
        Some(json!({"content": "Call back Tuesday"})),
    )
    .await;
    h.control(Method::POST, &format!("/calls/{id}/hangup"), None)
        .await;

    let call: Value = h.aircall_json(&format!("/v1/calls/{id}")).await;
    assert_like_sample(&call["call"], &sample("call.json")["call"], "call");
    assert_like_sample(
        &call["call"]["user"],
        &sample("call.json")["call"]["user"],
        "call.user",
    );
    assert_like_sample(
        &call["call"]["number"],
        &sample("call.json")["call"]["number"],
        "call.number",
    );
    assert_like_sample(
        &call["call"]["comments"][0],
        &sample("call.json")["call"]["comments"][0],
        "call.comments[0]",
    );
    let page: Value = h.aircall_json("/v1/calls?per_page=5").await;
    let reference = sample("calls-page.json");
    assert_like_sample(&page, &reference, "calls page");
    assert_like_sample(&page["meta"], &reference["meta"], "calls page meta");
    assert_like_sample(&page["calls"][0], &reference["calls"][0], "calls page item");

    let user: Value = h.aircall_json("/v2/users/alex.martin@callcard.test").await;
    assert_like_sample(&user["user"], &sample("user.json")["user"], "user");
    let number: Value = h.aircall_json("/v1/numbers/1001").await;
    assert_like_sample(&number["number"], &sample("number.json")["number"], "number");
    let teams: Value = h.aircall_json("/v1/teams").await;
    assert_like_sample(&teams["teams"][0], &sample("team.json")["team"], "team");
    assert_like_sample(
        &teams["teams"][0]["users"][0],
        &sample("team.json")["team"]["users"][0],
        "team.users[0]",
    );
    let tags: Value = h.aircall_json("/v1/tags").await;
    assert_like_sample(&tags["tags"][0], &sample("tag.json")["tag"], "tag");

    let contact = h
        .aircall(Method::POST, "/v1/contacts")
        .json(&json!({"first_name": "Nathan", "last_name": "Melka", "company_name": "Aircall", "information": "jobadder:42",
                      "phone_numbers": [{"label": "Work", "value": "+33 1 76 11 11 11"}], "emails": [{"label": "Work", "value": "n@example.com"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(contact.status(), 201);
    let contact: Value = contact.json().await.unwrap();
    assert_like_sample(&contact["contact"], &sample("contact.json")["contact"], "contact");
    assert_like_sample(
        &contact["contact"]["phone_numbers"][0],
        &sample("contact.json")["contact"]["phone_numbers"][0],
        "contact phone",
    );

    // SMS arrive as webhooks; their message has the sample's fields.
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", receiver.local_addr().unwrap());
    h.control(
        Method::POST,
        "/webhooks",
        Some(json!({"url": url, "token": "hook-token"})),
    )
    .await;
    h.control(Method::POST, "/sms", Some(json!({"direction": "outbound", "external_number": "+33612345678", "number_id": 1001, "body": "See you at 3"}))).await;
    let envelope = read_one_post(receiver).await;
    assert_eq!(envelope["event"], "message.sent");
    assert_eq!(envelope["token"], "hook-token");
    assert_like_sample(
        &envelope["data"],
        &sample("message-sent.json"),
        "message.sent data",
    );
}

/// Accepts one HTTP request, answers 200, returns its JSON body.
async fn read_one_post(listener: tokio::net::TcpListener) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut stream, _) = tokio::time::timeout(std::time::Duration::from_secs(5), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
                return serde_json::from_str(body).unwrap();
            }
        }
        assert!(n > 0, "connection closed early");
    }
}
