//! Form parsing every MSAL client passes, and malformed input that must never give a 5xx.

use openciam_testkit::{Options, Resp, TestApp, demo_client};

const PW: &str = "Correct-Horse-9";

async fn raw(app: &TestApp, path: &str, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> Resp {
    let mut req = app.http.post(format!("{}/{path}", app.base)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(serde_json::Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn media_type_is_compared_case_insensitively_with_parameters() {
    let app = TestApp::spawn().await;
    app.create_user("ana@example.com", PW).await;
    let body = format!(
        "client_id={}&username=ana%40example.com&challenge_type=password%20redirect",
        demo_client()
    );
    for ct in [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded;charset=utf-8",
        "Application/X-WWW-Form-URLEncoded; charset=UTF-8",
    ] {
        let r = raw(&app, "oauth2/v2.0/initiate", Some(ct), body.clone()).await;
        assert_eq!(r.status, 200, "{ct}: {}", r.body);
    }
    let plus = format!(
        "client_id={}&username=ana%40example.com&challenge_type=password+redirect",
        demo_client()
    );
    assert_eq!(
        raw(
            &app,
            "oauth2/v2.0/initiate",
            Some("application/x-www-form-urlencoded"),
            plus
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn non_form_bodies_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let json = format!(r#"{{"client_id":"{}"}}"#, demo_client());
    let r = raw(&app, "oauth2/v2.0/initiate", Some("application/json"), json).await;
    r.assert_error("invalid_request", 900144);
    assert!(
        r.str("error_description")
            .contains("application/x-www-form-urlencoded")
    );
    let r = raw(&app, "oauth2/v2.0/initiate", None, "client_id=x").await;
    r.assert_error("invalid_request", 900144);
}

#[tokio::test]
async fn unknown_parameters_are_ignored_and_duplicates_refused() {
    let app = TestApp::spawn().await;
    app.create_user("ben@example.com", PW).await;
    let url = format!(
        "{}/oauth2/v2.0/initiate?dc=ESTS-PUB&client_id=ignored-in-query",
        app.base
    );
    let r = app
        .post_to(
            &url,
            &[
                ("client_id", demo_client().as_str()),
                ("username", "ben@example.com"),
                ("challenge_type", "password redirect"),
                ("x-client-SKU", "msal.browser"),
                ("claims", "{}"),
                ("capability", "mfa_required,registration_required"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            "oauth2/v2.0/initiate",
            &[
                ("client_id", demo_client().as_str()),
                ("username", "ben@example.com"),
                ("username", "other@example.com"),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    r.assert_error("invalid_request", 90015);
    assert!(r.str("error_description").contains("'username'"));
}

#[tokio::test]
async fn client_info_accepts_true() {
    let app = TestApp::spawn().await;
    app.create_user("cy@example.com", PW).await;
    let ct = app.password_token("cy@example.com").await;
    let r = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", demo_client().as_str()),
                ("continuation_token", &ct),
                ("grant_type", "PASSWORD"),
                ("password", PW),
                ("client_info", "true"),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.str("client_info").is_empty());
}

#[tokio::test]
async fn oversized_bodies_are_400_with_an_envelope() {
    let app = TestApp::spawn_with(Options {
        body_limit: 1024,
        ..Options::default()
    })
    .await;
    let big = format!("client_id={}&username={}", demo_client(), "a".repeat(2048));
    let r = raw(
        &app,
        "oauth2/v2.0/initiate",
        Some("application/x-www-form-urlencoded"),
        big,
    )
    .await;
    r.assert_error("invalid_request", 90011);
    // Chunked (no Content-Length) is capped too: written by hand over TCP.
    let response = chunked_post(&app, 4096).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("AADSTS90011"), "{response}");
}

async fn chunked_post(app: &TestApp, size: usize) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = app.origin.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /demo/oauth2/v2.0/initiate HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = "a".repeat(512);
    for _ in 0..size / 512 {
        // The server may answer and close before reading everything.
        if tcp
            .write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn garbage_never_yields_a_5xx() {
    let app = TestApp::spawn().await;
    let bodies: Vec<Vec<u8>> = vec![
        vec![0xff, 0xfe, 0x00, 0x80],
        b"%%%&&&===".to_vec(),
        b"client_id=%ZZ&grant_type=%".to_vec(),
        format!(
            "client_id={}&continuation_token=%00%0d%0a&grant_type=password",
            demo_client()
        )
        .into_bytes(),
        format!(
            "client_id={}&grant_type=refresh_token&refresh_token=\u{1F600}",
            demo_client()
        )
        .into_bytes(),
    ];
    for path in [
        "oauth2/v2.0/initiate",
        "oauth2/v2.0/challenge",
        "oauth2/v2.0/token",
    ] {
        for body in &bodies {
            let r = raw(
                &app,
                path,
                Some("application/x-www-form-urlencoded"),
                body.clone(),
            )
            .await;
            assert_eq!(r.status, 400, "{path} {body:?}: {}", r.body);
            assert!(r.body["error"].is_string());
        }
    }
}

#[tokio::test]
async fn correlation_ids_are_echoed() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .post(format!("{}/oauth2/v2.0/initiate", app.base))
        .header("client-request-id", "6b0f2c9e-3a41-4d8e-a7c2-1f5e9d3b7c44")
        .form(&[("client_id", "bad")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["client-request-id"],
        "6b0f2c9e-3a41-4d8e-a7c2-1f5e9d3b7c44"
    );
    assert_eq!(
        r.headers()["x-ms-request-id"],
        "6b0f2c9e-3a41-4d8e-a7c2-1f5e9d3b7c44"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["correlation_id"], "6b0f2c9e-3a41-4d8e-a7c2-1f5e9d3b7c44");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Correlation ID: 6b0f2c9e-3a41-4d8e-a7c2-1f5e9d3b7c44")
    );
    // From the query string (MSAL.js refresh requests), else generated.
    let r = app
        .post_to(
            &format!("{}/oauth2/v2.0/token?client-request-id=q-123", app.base),
            &[("client_id", "bad")],
        )
        .await;
    assert_eq!(r.header("client-request-id"), Some("q-123"));
    assert_eq!(r.body["correlation_id"], "q-123");
    let r = app.post("oauth2/v2.0/token", &[("client_id", "bad")]).await;
    assert_eq!(r.header("client-request-id").unwrap().len(), 36);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_an_envelope() {
    let app = TestApp::spawn().await;
    let r = app.post("oauth2/v2.0/nothing", &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"], "invalid_request");
    let r = app.get(&format!("{}/oauth2/v2.0/token", app.base)).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"], "invalid_request");
    let r = app.get(&format!("{}/healthz", app.origin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "ok");
}
