//! The `[sms] provider = "webhook"` sender (issue 9) against a real local HTTPS endpoint whose
//! certificate comes from a CA generated for the test (the `dev --tls` certificate code): the
//! documented JSON body and headers arrive; the CA must be trusted through `extra_ca_file`; every
//! failure (untrusted certificate, 5xx, 429, 4xx, timeout, nothing listening) is an `SmsError`,
//! which the HTTP layer answers with 503.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use openciam_core::FlowError;
use openciam_core::mail::{MailPurpose, MailTenant};
use openciam_core::phone::PhoneNumber;
use openciam_core::sms::{OutboundSms, SmsError, SmsSender};
use openciam_sms::{WebhookConfig, WebhookSms};
use secrecy::SecretString;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the endpoint saw, and what it answers.
#[derive(Default)]
struct Endpoint {
    calls: Mutex<Vec<(HeaderMap, serde_json::Value)>>,
    status: AtomicU16,
    delay_ms: AtomicU64,
}

async fn receive(
    State(ep): State<Arc<Endpoint>>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> StatusCode {
    ep.calls.lock().unwrap().push((headers, body));
    let delay = ep.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    StatusCode::from_u16(ep.status.load(Ordering::SeqCst)).unwrap()
}

/// An HTTPS endpoint on 127.0.0.1 with a certificate from a fresh CA; returns its URL and the
/// CA file.
async fn endpoint(dir: &std::path::Path) -> (String, std::path::PathBuf, Arc<Endpoint>) {
    let certs = openciam::tls::ensure_dev_certificates(dir, time::OffsetDateTime::now_utc()).unwrap();
    let config = openciam::tls::server_config(&certs.server_cert, &certs.server_key).unwrap();
    let ep = Arc::new(Endpoint {
        status: AtomicU16::new(200),
        ..Endpoint::default()
    });
    let router = axum::Router::new()
        .route("/sms/send", axum::routing::post(receive))
        .with_state(ep.clone());
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listener = openciam::tls::TlsListener::new(tcp, config).unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("https://127.0.0.1:{port}/sms/send"), certs.ca_cert, ep)
}

fn message() -> OutboundSms {
    OutboundSms {
        to: PhoneNumber::parse("+1 555 123 4567").unwrap(),
        code: "48151623".into(),
        purpose: MailPurpose::Signin,
        expires_in_minutes: 10,
    }
}

fn tenant() -> MailTenant {
    MailTenant { name: "demo".into() }
}

fn sender(url: &str, ca: Option<&std::path::Path>) -> WebhookSms {
    let mut config = WebhookConfig::new(url);
    config.secret = Some(SecretString::from("Bearer t0p-s3cret"));
    config.extra_ca_file = ca.map(std::path::Path::to_path_buf);
    config.timeout_seconds = 1;
    WebhookSms::new(&config).unwrap()
}

#[tokio::test]
async fn webhook_posts_the_documented_body_over_https_trusting_the_extra_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (url, ca, ep) = endpoint(dir.path()).await;
    sender(&url, Some(&ca)).send(&tenant(), &message()).await.unwrap();

    let calls = ep.calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    let (headers, body) = &calls[0];
    assert_eq!(headers["authorization"], "Bearer t0p-s3cret");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let id = body["id"].as_str().unwrap();
    assert_eq!(headers["idempotency-key"], id);
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(body["to"], "+15551234567");
    assert_eq!(body["code"], "48151623");
    assert_eq!(body["purpose"], "signin");
    assert_eq!(body["expires_in_minutes"], 10);
    assert_eq!(body["tenant"], "demo");
    assert_eq!(body["country_code"], 1);
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("48151623") && text.contains("10 minutes"), "{text}");
    let mut keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "code",
            "country_code",
            "expires_in_minutes",
            "id",
            "purpose",
            "tenant",
            "text",
            "to"
        ],
        "the body documented in docs/deployment.md"
    );
}

#[tokio::test]
async fn without_the_extra_ca_the_endpoint_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _ca, ep) = endpoint(dir.path()).await;
    let err = sender(&url, None).send(&tenant(), &message()).await.unwrap_err();
    assert!(matches!(err, SmsError::Unavailable(_)), "{err:?}");
    assert!(ep.calls.lock().unwrap().is_empty(), "nothing was posted");
    assert!(
        matches!(FlowError::from(err), FlowError::SmsUnavailable(_)),
        "answered 503 temporarily_unavailable"
    );
}

#[tokio::test]
async fn provider_failures_are_sorted_and_all_answer_503() {
    let dir = tempfile::tempdir().unwrap();
    let (url, ca, ep) = endpoint(dir.path()).await;
    let sms = sender(&url, Some(&ca));
    for (status, transient) in [(500, true), (503, true), (429, true), (400, false), (401, false)] {
        ep.status.store(status, Ordering::SeqCst);
        let err = sms.send(&tenant(), &message()).await.unwrap_err();
        assert_eq!(
            matches!(err, SmsError::Unavailable(_)),
            transient,
            "{status}: {err:?}"
        );
        assert!(format!("{:#}", anyhow::Error::from(err)).contains(&status.to_string()));
    }
    // Slower than timeout_seconds = 1.
    ep.status.store(200, Ordering::SeqCst);
    ep.delay_ms.store(2500, Ordering::SeqCst);
    let err = sms.send(&tenant(), &message()).await.unwrap_err();
    assert!(matches!(err, SmsError::Unavailable(_)), "{err:?}");
    ep.delay_ms.store(0, Ordering::SeqCst);
    sms.send(&tenant(), &message()).await.unwrap();

    // Nothing listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = sender(&format!("https://127.0.0.1:{closed}/"), Some(&ca))
        .send(&tenant(), &message())
        .await
        .unwrap_err();
    assert!(matches!(err, SmsError::Unavailable(_)), "{err:?}");
}

#[test]
fn serve_refuses_a_bad_sms_section() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("openciam.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\npublic_url = \"http://login.openciam.test\"\n\
             master_key = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n\
             [mail]\nbackend = \"smtp\"\nfrom = \"Demo <no-reply@demo.example>\"\n\
             [mail.smtp]\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n\
             [database]\nurl = \"sqlite://{}\"\n\
             [sms]\nprovider = \"webhook\"\n[sms.webhook]\nurl = \"http://sms.example.com/send\"\n",
            dir.path().join("db.sqlite").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_openciam"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sms.webhook.url"), "{stderr}");
}

/// POSTs a form to `{origin}/demo/{path}` of a `serve` node.
async fn node_post(
    origin: &str,
    client: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut all = vec![("client_id", client)];
    all.extend_from_slice(form);
    let r = reqwest::Client::new()
        .post(format!("{origin}/demo/{path}"))
        .form(&all)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap())
}

/// initiate → password → `mfa_required` → introspect → challenge with the method id, on a node.
async fn node_mfa_challenge(
    origin: &str,
    client: &str,
    email: &str,
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let types = "oob password redirect";
    let caps = crate::mfa::CAPS;
    let ct = |v: &serde_json::Value| v["continuation_token"].as_str().unwrap().to_owned();
    let (_, _, r) = node_post(
        origin,
        client,
        "oauth2/v2.0/initiate",
        &[
            ("username", email),
            ("challenge_type", types),
            ("capabilities", caps),
        ],
    )
    .await;
    let (_, _, r) = node_post(
        origin,
        client,
        "oauth2/v2.0/challenge",
        &[("continuation_token", &ct(&r)), ("challenge_type", types)],
    )
    .await;
    let form = [
        ("continuation_token", ct(&r)),
        ("grant_type", "password".into()),
        ("password", crate::mfa::PASSWORD.into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, _, r) = node_post(origin, client, "oauth2/v2.0/token", &form).await;
    assert_eq!(r["suberror"], "mfa_required", "{r}");
    let (_, _, r) = node_post(
        origin,
        client,
        "oauth2/v2.0/introspect",
        &[("continuation_token", &ct(&r))],
    )
    .await;
    let id = r["methods"][0]["id"].as_str().unwrap().to_owned();
    node_post(
        origin,
        client,
        "oauth2/v2.0/challenge",
        &[
            ("continuation_token", &ct(&r)),
            ("id", &id),
            ("challenge_type", "oob redirect"),
        ],
    )
    .await
}

#[tokio::test]
async fn serve_texts_second_factor_codes_through_the_webhook_and_answers_503_when_it_fails() {
    use openciam_core::model::AuthMethodKind;
    let app = openciam_testkit::TestApp::spawn().await;
    let client = crate::mfa::mfa_app(&app).await;
    let users = [
        ("hook-a@example.com", "+15551230011"),
        ("hook-b@example.com", "+15551230012"),
    ];
    for (email, phone) in users {
        app.create_user(email, crate::mfa::PASSWORD).await;
        crate::mfa::add_method(&app, email, AuthMethodKind::Sms, phone, 1).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let (url, ca, ep) = endpoint(dir.path()).await;
    let extra = format!(
        "[sms]\nprovider = \"webhook\"\n[sms.webhook]\nurl = \"{url}\"\nsecret = \"Bearer from-serve\"\nextra_ca_file = \"{}\"\n",
        ca.display()
    );
    let node = crate::serve_node::ServeNode::start(&app, "sms-webhook", &extra);

    // The code travels through the webhook, and the code it carried completes the sign-in.
    let (status, _, r) = node_mfa_challenge(&node.origin, &client, users[0].0).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["challenge_channel"], "sms");
    let (code, to, auth) = {
        let calls = ep.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        let (headers, body) = &calls[0];
        (
            body["code"].as_str().unwrap().to_owned(),
            body["to"].as_str().unwrap().to_owned(),
            headers["authorization"].to_str().unwrap().to_owned(),
        )
    };
    assert_eq!(to, users[0].1);
    assert_eq!(auth, "Bearer from-serve");
    let ct = r["continuation_token"].as_str().unwrap();
    let (status, _, r) = node_post(
        &node.origin,
        &client,
        "oauth2/v2.0/token",
        &[
            ("continuation_token", ct),
            ("grant_type", "mfa_oob"),
            ("oob", &code),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert!(r["id_token"].is_string(), "{r}");

    // The provider fails: 503 temporarily_unavailable with Retry-After, as for mail.
    ep.status.store(500, Ordering::SeqCst);
    let (status, headers, r) = node_mfa_challenge(&node.origin, &client, users[1].0).await;
    assert_eq!(status, 503, "{r}");
    assert_eq!(r["error"], "temporarily_unavailable", "{r}");
    assert_eq!(headers["retry-after"], "5");
    assert_eq!(ep.calls.lock().unwrap().len(), 2, "the webhook was called");
}
