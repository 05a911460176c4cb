//! Client-dialect conformance (issue 11): every file under `tests/dialects/<client>/*.json`
//! describes, as data, the requests one client version sends in one flow (body encoding, key
//! order, extra parameters, headers) and the response members and types that client requires
//! (spec §2–§5, §8.1). Each file is replayed against a fresh test server; a new client version is
//! one new file. The file format is described in `tests/dialects/README.md`.

use openciam_core::secret::Password;
use openciam_testkit::TestApp;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The directories the runner knows; a directory outside this list fails `every_client_directory_is_replayed`.
const CLIENTS: [&str; 3] = ["android", "ios", "msal-js"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    /// The client and version this file models, e.g. "MSAL iOS 2.x native auth".
    client: String,
    /// Where the request shapes come from (spec sections, client source files).
    #[expect(dead_code, reason = "read by people, not by the runner")]
    source: String,
    /// Which seeded app: `password` (1111), `code` (2222) or `attributes` (3333).
    app: String,
    /// Users to create first (their e-mail is `{{email}}`).
    #[serde(default)]
    user: Option<User>,
    /// How a space is written in bodies: "+" or "%20".
    space: String,
    /// Headers sent on every request (values may use placeholders).
    #[serde(default)]
    headers: BTreeMap<String, String>,
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct User {
    /// Give the user the password `{{password}}` (else a code-only account).
    password: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    /// What this step is, for failure messages.
    name: String,
    /// Path below the tenant base, e.g. `oauth2/v2.0/initiate`.
    path: String,
    /// Body parameters, sent in this order, values with placeholders.
    body: Vec<(String, String)>,
    /// Expected HTTP status.
    status: u16,
    /// Required response members: member name → check (see `check`).
    #[serde(default)]
    members: BTreeMap<String, Value>,
    /// Required response headers: name → exact value (placeholders allowed), or `absent`.
    #[serde(default)]
    response_headers: BTreeMap<String, String>,
    /// Keep the answer's `continuation_token` as `{{continuation_token}}` (default: when status is 200).
    #[serde(default)]
    keep_token: Option<bool>,
}

/// Placeholder values of one replay.
struct Vars {
    client_id: String,
    email: String,
    continuation_token: String,
    refresh_token: String,
    request_id: String,
}

const PASSWORD: &str = "Dialect-Pass-2026!";
const NEW_PASSWORD: &str = "Dialect-New-Pass-2026!";

fn client_id(app: &str) -> &'static str {
    match app {
        "password" => "11111111-1111-1111-1111-111111111111",
        "code" => "22222222-2222-2222-2222-222222222222",
        "attributes" => "33333333-3333-3333-3333-333333333333",
        other => panic!("unknown app {other:?}: use password, code or attributes"),
    }
}

/// `application/x-www-form-urlencoded` as clients write it: unreserved characters as they are,
/// space as `space` ("+" or "%20"), everything else percent-encoded.
fn encode(value: &str, space: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' => out.push_str(space),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

async fn fill(app: &TestApp, text: &str, vars: &Vars) -> String {
    let mut out = text
        .replace("{{client_id}}", &vars.client_id)
        .replace("{{email}}", &vars.email)
        .replace("{{password}}", PASSWORD)
        .replace("{{new_password}}", NEW_PASSWORD)
        .replace("{{continuation_token}}", &vars.continuation_token)
        .replace("{{refresh_token}}", &vars.refresh_token)
        .replace("{{request_id}}", &vars.request_id);
    if out.contains("{{code}}") {
        out = out.replace("{{code}}", &mailed_code(app, &vars.email).await);
    }
    assert!(!out.contains("{{"), "unknown placeholder in {text:?}");
    out
}

/// The newest code mailed to `email`; mail may leave through an outbox, so wait for it a little.
async fn mailed_code(app: &TestApp, email: &str) -> String {
    for _ in 0..250 {
        if let Some(code) = app.latest_code(email) {
            return code;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no code mailed to {email}");
}

/// Checks one member against its expectation; returns what is wrong.
fn check(member: &str, value: Option<&Value>, want: &Value) -> Option<String> {
    let ok = match (want, value) {
        (Value::String(kind), v) if kind == "absent" => v.is_none(),
        (_, None) => return Some(format!("`{member}` is missing")),
        (Value::String(kind), Some(v)) => match kind.as_str() {
            "string" => v.is_string(),
            "non-empty string" => v.as_str().is_some_and(|s| !s.is_empty()),
            "lowercase string" => v.as_str().is_some_and(|s| !s.is_empty() && s == s.to_lowercase()),
            "integer" => v.is_u64() || v.is_i64(),
            "positive integer" => v.as_u64().is_some_and(|n| n > 0),
            "non-empty integer array" => v
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x.is_u64())),
            "jwt" => v.as_str().is_some_and(|s| s.split('.').count() == 3),
            other => panic!("unknown check {other:?} for `{member}`"),
        },
        (Value::Object(o), Some(v)) if o.contains_key("equals") => o.get("equals") == Some(v),
        (Value::Object(o), Some(v)) if o.contains_key("first") => {
            v.as_array().and_then(|a| a.first()) == o.get("first")
        }
        (other, _) => panic!("unknown check {other} for `{member}`"),
    };
    (!ok).then(|| {
        format!(
            "`{member}` = {} does not satisfy {want}",
            value.map_or("(missing)".into(), |v| v.to_string())
        )
    })
}

/// Replays one fixture file against a fresh server; returns every mismatch found.
async fn replay(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let fixture: Fixture = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let app = TestApp::spawn().await;
    let mut vars = Vars {
        client_id: client_id(&fixture.app).to_owned(),
        email: "dialect.user@example.com".to_owned(),
        continuation_token: String::new(),
        refresh_token: String::new(),
        request_id: String::new(),
    };
    if let Some(user) = &fixture.user {
        let password = user.password.then(|| Password::new(PASSWORD));
        app.services
            .admin
            .create_user("demo", &vars.email, password.as_ref(), serde_json::Map::new())
            .await
            .unwrap();
    }
    let mut problems = Vec::new();
    for step in &fixture.steps {
        vars.request_id = uuid::Uuid::new_v4().to_string();
        let mut body = Vec::new();
        for (key, value) in &step.body {
            let value = fill(&app, value, &vars).await;
            body.push(format!(
                "{}={}",
                encode(key, &fixture.space),
                encode(&value, &fixture.space)
            ));
        }
        let mut request = app
            .http
            .post(format!("{}/{}", app.base, step.path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"));
        for (name, value) in &fixture.headers {
            request = request.header(name.as_str(), fill(&app, value, &vars).await);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        let at = format!("{} ({}): step `{}`", fixture.client, path.display(), step.name);
        if status != step.status {
            problems.push(format!("{at}: status {status}, expected {}: {json}", step.status));
            break;
        }
        for (member, want) in &step.members {
            if let Some(p) = check(member, json.get(member), want) {
                problems.push(format!("{at}: {p} in {json}"));
            }
        }
        for (name, want) in &step.response_headers {
            let want = fill(&app, want, &vars).await;
            let got = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
            let ok = if want == "absent" {
                got.is_none()
            } else {
                got == Some(want.as_str())
            };
            if !ok {
                problems.push(format!("{at}: header {name} = {got:?}, expected {want:?}"));
            }
        }
        if step.keep_token.unwrap_or(status == 200)
            && let Some(ct) = json["continuation_token"].as_str()
        {
            vars.continuation_token = ct.to_owned();
        }
        if let Some(rt) = json["refresh_token"].as_str() {
            vars.refresh_token = rt.to_owned();
        }
    }
    problems
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("dialects")
}

/// Replays every `*.json` of one client directory; at least one file must exist.
async fn replay_client(client: &str) {
    let dir = fixture_dir().join(client);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    let mut problems = Vec::new();
    for file in &files {
        problems.extend(replay(file).await);
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[tokio::test]
async fn android() {
    replay_client("android").await;
}

#[tokio::test]
async fn ios() {
    replay_client("ios").await;
}

#[tokio::test]
async fn msal_js() {
    replay_client("msal-js").await;
}

#[test]
fn every_client_directory_is_replayed() {
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                CLIENTS.contains(&name.as_str()),
                "tests/dialects/{name} has no test in dialects.rs"
            );
        }
    }
}

#[test]
fn the_runner_catches_a_wrong_type() {
    // A string where a client needs a JSON number, an empty label, an empty code list.
    let cases = [
        (
            "code_length",
            serde_json::json!("8"),
            serde_json::json!("integer"),
        ),
        (
            "challenge_target_label",
            serde_json::json!(""),
            serde_json::json!("non-empty string"),
        ),
        (
            "error_codes",
            serde_json::json!([]),
            serde_json::json!("non-empty integer array"),
        ),
        (
            "challenge_type",
            serde_json::json!("OOB"),
            serde_json::json!({"equals": "oob"}),
        ),
        (
            "error_codes",
            serde_json::json!([50053]),
            serde_json::json!({"first": 50126}),
        ),
    ];
    for (member, value, want) in cases {
        assert!(
            check(member, Some(&value), &want).is_some(),
            "{member}: {value} passed {want}"
        );
    }
    assert!(check("code_length", None, &serde_json::json!("integer")).is_some());
    assert!(
        check(
            "code_length",
            Some(&serde_json::json!(8)),
            &serde_json::json!("integer")
        )
        .is_none()
    );
}
