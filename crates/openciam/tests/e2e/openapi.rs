//! `GET /openapi.json` stays true: every route of `router.rs` is in the document and vice versa
//! (the dev-only `/_dev/...` routes are left out on purpose), every operation documents its 200,
//! 400, 429 and 503 responses, form bodies allow additional properties, and responses of real
//! flows validate against the document's schemas (with the `jsonschema` crate).

use openciam_testkit::{Resp, TestApp, demo_client};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const ROUTER: &str = include_str!("../../../openciam-http/src/router.rs");
const PASSWORD: &str = "Correct-Horse-9";

/// `(METHOD, path)` of every `.route("…", get|post(…))` in router.rs, except `/_dev/...`.
fn router_routes() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for piece in ROUTER.split(".route(").skip(1) {
        let mut parts = piece.splitn(3, '"');
        let (_, path, rest) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        let method = rest
            .trim_start_matches(|c: char| c == ',' || c.is_whitespace())
            .split('(')
            .next()
            .unwrap();
        if !path.starts_with("/_dev/") {
            out.insert((method.to_uppercase(), path.to_owned()));
        }
    }
    out
}

async fn document(app: &TestApp) -> Value {
    let r = app.get(&format!("{}/openapi.json", app.origin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(r.body["openapi"], "3.1.0");
    r.body
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_of_the_router() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
            let responses = op["responses"].as_object().unwrap();
            let errors: &[&str] = if path.starts_with("/{tenant}/") {
                &["200", "400", "429", "503"]
            } else {
                &["200", "429", "503"]
            };
            for status in errors {
                let schema = &responses[*status]["content"]["application/json"]["schema"];
                assert!(schema.is_object(), "{method} {path}: no {status} schema");
            }
            if let Some(body) = op.get("requestBody") {
                let form = &body["content"]["application/x-www-form-urlencoded"]["schema"];
                assert_eq!(form["additionalProperties"], true, "{method} {path}");
            }
        }
    }
    let routes = router_routes();
    assert!(routes.len() >= 15, "{routes:?}");
    assert_eq!(documented, routes);
}

/// Validates `r` against the schema the document gives for `path`, `method` and its status.
#[track_caller]
fn check(doc: &Value, method: &str, path: &str, r: &Resp) {
    let responses = &doc["paths"][path][method]["responses"];
    let status = r.status.to_string();
    let response = responses.get(&status).unwrap_or(&responses["default"]);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} {status}: undocumented");
    let wrapper = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::validator_for(&wrapper).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&r.body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\n{}",
        r.body
    );
    for retry in ["429", "503"] {
        if status == retry {
            assert!(r.header("retry-after").is_some());
        }
    }
}

struct Flow<'a> {
    app: &'a TestApp,
    doc: Value,
}

impl Flow<'_> {
    /// POSTs to `/demo/{path}` as `client`, validates the answer.
    async fn post(&self, client: &str, path: &str, form: &[(&str, &str)]) -> Resp {
        let mut full = vec![("client_id", client)];
        full.extend_from_slice(form);
        let r = self.app.post(path, &full).await;
        check(&self.doc, "post", &format!("/{{tenant}}/{path}"), &r);
        r
    }

    async fn get(&self, template: &str, path: &str) -> Resp {
        let r = self.app.get(&format!("{}{path}", self.app.origin)).await;
        check(&self.doc, "get", template, &r);
        r
    }
}

#[tokio::test]
async fn responses_of_real_flows_validate_against_the_document() {
    let app = TestApp::spawn().await;
    let flow = Flow {
        doc: document(&app).await,
        app: &app,
    };
    let c = demo_client();
    let types = "oob password redirect";

    // Sign-up: start, oob challenge, a wrong code (400), the code, then the token.
    let r = flow
        .post(
            &c,
            "signup/v1.0/start",
            &[
                ("username", "oa@example.com"),
                ("challenge_type", types),
                ("password", "Signup-Pass-2026!"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = flow
        .post(
            &c,
            "signup/v1.0/challenge",
            &[
                ("continuation_token", r.str("continuation_token")),
                ("challenge_type", types),
            ],
        )
        .await;
    assert_eq!(r.body["challenge_type"], "oob");
    let ct = r.str("continuation_token").to_owned();
    let r = flow
        .post(
            &c,
            "signup/v1.0/continue",
            &[
                ("continuation_token", &ct),
                ("grant_type", "oob"),
                ("oob", "00000000"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let code = app.latest_code("oa@example.com").unwrap();
    let r = flow
        .post(
            &c,
            "signup/v1.0/continue",
            &[("continuation_token", &ct), ("grant_type", "oob"), ("oob", &code)],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = flow
        .post(
            &c,
            "oauth2/v2.0/token",
            &[
                ("continuation_token", r.str("continuation_token")),
                ("grant_type", "continuation_token"),
                ("scope", "openid offline_access"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);

    // Sign-in with a password: initiate, password challenge, a wrong password, the token,
    // then a refresh.
    app.create_user("ob@example.com", PASSWORD).await;
    let r = flow
        .post(
            &c,
            "oauth2/v2.0/initiate",
            &[
                ("username", "ob@example.com"),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    let r = flow
        .post(
            &c,
            "oauth2/v2.0/challenge",
            &[
                ("continuation_token", r.str("continuation_token")),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    assert_eq!(r.body["challenge_type"], "password");
    let ct = r.str("continuation_token").to_owned();
    let r = flow
        .post(
            &c,
            "oauth2/v2.0/token",
            &[
                ("continuation_token", &ct),
                ("grant_type", "password"),
                ("password", "wrong"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(r.codes(), vec![50126]);
    let r = flow
        .post(
            &c,
            "oauth2/v2.0/token",
            &[
                ("continuation_token", &ct),
                ("grant_type", "password"),
                ("password", PASSWORD),
                ("scope", "openid offline_access"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = flow
        .post(
            &c,
            "oauth2/v2.0/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", r.str("refresh_token")),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);

    // The redirect variant: a client that cannot do what the flow needs.
    let r = flow
        .post(
            &c,
            "oauth2/v2.0/initiate",
            &[("username", "ob@example.com"), ("challenge_type", "oob redirect")],
        )
        .await;
    assert_eq!(r.body["challenge_type"], "redirect", "{}", r.body);
    let r = flow
        .post(
            &c,
            "oauth2/v2.0/initiate",
            &[
                ("username", "ob@example.com"),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    let r = flow
        .post(
            &c,
            "oauth2/v2.0/challenge",
            &[
                ("continuation_token", r.str("continuation_token")),
                ("challenge_type", "redirect"),
            ],
        )
        .await;
    assert_eq!(r.body["challenge_type"], "redirect", "{}", r.body);

    // Password reset, through poll_completion and the token.
    let r = flow
        .post(
            &c,
            "resetpassword/v1.0/start",
            &[("username", "ob@example.com"), ("challenge_type", "oob redirect")],
        )
        .await;
    let r = flow
        .post(
            &c,
            "resetpassword/v1.0/challenge",
            &[
                ("continuation_token", r.str("continuation_token")),
                ("challenge_type", "oob redirect"),
            ],
        )
        .await;
    assert_eq!(r.body["challenge_type"], "oob");
    let code = app.latest_code("ob@example.com").unwrap();
    let r = flow
        .post(
            &c,
            "resetpassword/v1.0/continue",
            &[
                ("continuation_token", r.str("continuation_token")),
                ("grant_type", "oob"),
                ("oob", &code),
            ],
        )
        .await;
    let ct = r.str("continuation_token").to_owned();
    let r = flow
        .post(
            &c,
            "resetpassword/v1.0/submit",
            &[("continuation_token", &ct), ("new_password", "weak")],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = flow
        .post(
            &c,
            "resetpassword/v1.0/submit",
            &[
                ("continuation_token", &ct),
                ("new_password", "Another-Pass-2026!"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = flow
        .post(
            &c,
            "resetpassword/v1.0/poll_completion",
            &[("continuation_token", r.str("continuation_token"))],
        )
        .await;
    assert_eq!(r.body["status"], "succeeded");

    // Errors in the envelope: an unknown tenant, an unknown client, a missing parameter.
    let r = app
        .post_to(
            &format!("{}/nosuch/oauth2/v2.0/initiate", app.origin),
            &[("client_id", &c)],
        )
        .await;
    check(&flow.doc, "post", "/{tenant}/oauth2/v2.0/initiate", &r);
    assert_eq!(r.status, 400);
    let r = flow
        .post(
            "00000000-0000-0000-0000-000000000000",
            "oauth2/v2.0/initiate",
            &[("username", "ob@example.com"), ("challenge_type", types)],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = flow.post(&c, "oauth2/v2.0/token", &[]).await;
    assert_eq!(r.status, 400);

    // The GETs.
    flow.get(
        "/{tenant}/v2.0/.well-known/openid-configuration",
        "/demo/v2.0/.well-known/openid-configuration",
    )
    .await;
    let r = flow
        .get("/{tenant}/discovery/v2.0/keys", "/demo/discovery/v2.0/keys")
        .await;
    assert_eq!(r.status, 200);
    let r = flow.get("/healthz", "/healthz").await;
    assert_eq!(r.status, 200);
    let r = flow.get("/readyz", "/readyz").await;
    assert_eq!(r.status, 200);
    flow.get("/openapi.json", "/openapi.json").await;
}
