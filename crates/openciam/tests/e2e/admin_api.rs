//! The admin REST API on the admin listener (`[http] admin_listen`): refused without the token,
//! with a wrong one, and when none is configured; paging; every write shows in a sign-in; every
//! call in the audit log; the admin OpenAPI document matches the routes; nothing of it on the
//! public listener.

use openciam_core::audit::AuditFilter;
use openciam_testkit::{Options, Resp, TestApp, demo_client};
use reqwest::Method;
use serde_json::json;

const TOKEN: &str = "test-admin-token-0123456789abcdefghijklmnop";
const PW: &str = "Correct-Horse-9";

async fn app() -> TestApp {
    TestApp::spawn_with(Options {
        admin_listen: true,
        admin_token: Some(TOKEN.to_owned()),
        ..Options::default()
    })
    .await
}

async fn call(app: &TestApp, method: Method, path: &str, body: Option<serde_json::Value>) -> Resp {
    app.admin(method, path, Some(TOKEN), body).await
}

#[tokio::test]
async fn refused_without_a_token_with_a_wrong_one_and_when_none_is_configured() {
    let app = app().await;
    let path = "/admin/v1/tenants";
    let r = app.admin(Method::GET, path, None, None).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["error"], "unauthorized");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let r = app
        .admin(
            Method::GET,
            path,
            Some("wrong-token-wrong-token-wrong-token-xx"),
            None,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    // One character short of the real one, and the real one with a character changed.
    let short = &TOKEN[..TOKEN.len() - 1];
    assert_eq!(app.admin(Method::GET, path, Some(short), None).await.status, 401);
    let changed = format!("{}X", short);
    assert_eq!(
        app.admin(Method::GET, path, Some(&changed), None).await.status,
        401
    );
    // A write without the token changes nothing.
    let body = json!({ "email": "sneaky@example.com", "password": PW });
    let r = app
        .admin(Method::POST, "/admin/v1/tenants/demo/users", None, Some(body))
        .await;
    assert_eq!(r.status, 401);
    assert!(
        app.services
            .admin
            .user("demo", "sneaky@example.com")
            .await
            .is_err()
    );
    assert_eq!(call(&app, Method::GET, path, None).await.status, 200);

    // No token configured: every call refused, the right-looking token included.
    let off = TestApp::spawn_with(Options {
        admin_listen: true,
        ..Options::default()
    })
    .await;
    for token in [None, Some(TOKEN)] {
        let r = off.admin(Method::GET, path, token, None).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.body["error"], "admin_api_disabled");
    }
    // Refused calls are audited too.
    let events = app
        .services
        .audit
        .events(&AuditFilter {
            event: Some("admin.api.call".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.details["status"] == 401), "{events:?}");
    assert!(events.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1")));
}

#[tokio::test]
async fn the_admin_api_is_not_on_the_public_listener_and_has_no_cors() {
    let app = app().await;
    let r = app.get(&format!("{}/admin/v1/tenants", app.origin)).await;
    assert_eq!(r.status, 404);
    let r = app.get(&format!("{}/metrics", app.origin)).await;
    assert_eq!(r.status, 404);
    let origin = app.admin_origin.clone().unwrap();
    let r = app
        .http
        .request(Method::OPTIONS, format!("{origin}/admin/v1/tenants"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn users_page_by_cursor_and_search_by_email() {
    let app = app().await;
    for i in 0..7 {
        let body = json!({ "email": format!("pager{i}@example.com"), "password": PW });
        let r = call(&app, Method::POST, "/admin/v1/tenants/demo/users", Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["has_password"], true);
        assert!(r.body.get("password_hash").is_none());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/admin/v1/tenants/demo/users?limit=3&email=PAGER".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = call(&app, Method::GET, &path, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let users = r.body["users"].as_array().unwrap();
        assert!(users.len() <= 3);
        seen.extend(users.iter().map(|u| u["email"].as_str().unwrap().to_owned()));
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).map(|i| format!("pager{i}@example.com")).collect();
    assert_eq!(seen, expected);
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/tenants/demo/users?email=pager3",
        None,
    )
    .await;
    assert_eq!(r.body["users"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["next_cursor"], serde_json::Value::Null);
    for bad in ["limit=0", "limit=201", "limit=x", "nonsense=1"] {
        let r = call(
            &app,
            Method::GET,
            &format!("/admin/v1/tenants/demo/users?{bad}"),
            None,
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.body["error"], "invalid_request");
    }
    let r = call(&app, Method::GET, "/admin/v1/tenants/nope/users", None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn every_user_write_shows_in_a_sign_in() {
    let app = app().await;
    let email = "managed@example.com";
    // Create → can sign in.
    let body = json!({ "email": email, "password": PW, "attributes": { "city": "Oslo" } });
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/tenants/demo/users",
        Some(body.clone()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.str("id").to_owned();
    let r = call(&app, Method::POST, "/admin/v1/tenants/demo/users", Some(body)).await;
    assert_eq!(r.status, 409);
    let signed_in = app.sign_in(email, PW, "openid offline_access").await;
    let refresh = signed_in.str("refresh_token").to_owned();

    // Update attributes → the user as stored (by id and by e-mail).
    let patch = json!({ "attributes": { "city": "Bergen", "displayName": "Manny" } });
    let r = call(
        &app,
        Method::PATCH,
        &format!("/admin/v1/tenants/demo/users/{id}"),
        Some(patch),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &app,
        Method::GET,
        &format!("/admin/v1/tenants/demo/users/{email}"),
        None,
    )
    .await;
    assert_eq!(
        r.body["attributes"],
        json!({ "city": "Bergen", "displayName": "Manny" })
    );
    let r = app.sign_in(email, PW, "openid").await;
    assert_eq!(r.jwt_claims("id_token")["name"], "Manny");
    let patch = json!({ "attributes": { "city": null } });
    let r = call(
        &app,
        Method::PATCH,
        &format!("/admin/v1/tenants/demo/users/{id}"),
        Some(patch),
    )
    .await;
    assert_eq!(r.body["attributes"], json!({ "displayName": "Manny" }));

    // Revoke sessions → the refresh token is refused [50173].
    let r = call(
        &app,
        Method::POST,
        &format!("/admin/v1/tenants/demo/users/{id}/revoke-sessions"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["revoked_sessions"].as_u64().unwrap() >= 1, "{}", r.body);
    app.refresh(&refresh, "openid")
        .await
        .assert_error("invalid_grant", 50173);

    // Disable → sign-in refused [50057]; enable → signs in again.
    let r = call(
        &app,
        Method::POST,
        &format!("/admin/v1/tenants/demo/users/{id}/disable"),
        None,
    )
    .await;
    assert_eq!(r.body["disabled"], true);
    let ct = app.password_token(email).await;
    app.token_password(&ct, PW, "openid")
        .await
        .assert_error("invalid_grant", 50057);
    let r = call(
        &app,
        Method::POST,
        &format!("/admin/v1/tenants/demo/users/{id}/enable"),
        None,
    )
    .await;
    assert_eq!(r.body["disabled"], false);
    app.sign_in(email, PW, "openid").await;

    // Unlock → a lockout is cleared.
    app.services
        .admin
        .configure_security("demo", &["lockout.threshold=2".to_owned()])
        .await
        .unwrap();
    let ct = app.password_token(email).await;
    app.token_password(&ct, "Wrong-Pass-1", "openid")
        .await
        .assert_error("invalid_grant", 50126);
    app.token_password(&ct, "Wrong-Pass-2", "openid")
        .await
        .assert_error("invalid_grant", 50053);
    app.token_password(&ct, PW, "openid")
        .await
        .assert_error("invalid_grant", 50053);
    let r = call(
        &app,
        Method::POST,
        &format!("/admin/v1/tenants/demo/users/{id}/unlock"),
        None,
    )
    .await;
    assert_eq!(r.body["had_failures"], true, "{}", r.body);
    let r = app.token_password(&ct, PW, "openid").await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Delete → sign-in fails (no such user), and the user is gone.
    let r = call(
        &app,
        Method::DELETE,
        &format!("/admin/v1/tenants/demo/users/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = app
        .post(
            "oauth2/v2.0/initiate",
            &[
                ("client_id", &demo_client()),
                ("username", email),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    r.assert_error("user_not_found", 50034);
    let r = call(
        &app,
        Method::GET,
        &format!("/admin/v1/tenants/demo/users/{id}"),
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"], "not_found");

    // Each write is in the audit log under its own event, naming the caller's IP.
    let events = app.services.audit.events(&AuditFilter::default()).await.unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    for name in [
        "admin.user.create",
        "admin.user.update",
        "admin.user.revoke_sessions",
        "admin.user.disable",
        "admin.user.enable",
        "admin.user.unlock",
        "admin.user.delete",
    ] {
        let e = events
            .iter()
            .find(|e| e.event == name)
            .unwrap_or_else(|| panic!("{name} in {names:?}"));
        assert_eq!(e.ip.as_deref(), Some("127.0.0.1"), "{name}");
    }
    let calls = events.iter().filter(|e| e.event == "admin.api.call").count();
    assert!(calls >= 11, "{calls} admin.api.call events");
}

#[tokio::test]
async fn apps_and_tenants_over_the_api() {
    let app = app().await;
    let r = call(&app, Method::GET, "/admin/v1/tenants", None).await;
    assert_eq!(r.body["tenants"][0]["name"], "demo", "{}", r.body);
    let r = call(&app, Method::GET, "/admin/v1/tenants/demo.onmicrosoft.com", None).await;
    let tid = r.str("id").to_owned();
    let r = call(&app, Method::GET, &format!("/admin/v1/tenants/{tid}"), None).await;
    assert_eq!(r.body["name"], "demo");

    // Tenant security settings: all or none.
    let patch = json!({ "security": { "lockout.threshold": 7, "enumeration_protection": true } });
    let r = call(&app, Method::PATCH, "/admin/v1/tenants/demo", Some(patch)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["security"]["lockout"]["threshold"], 7);
    let bad = json!({ "security": { "lockout.threshold": 3, "lockout.nonsense": 1 } });
    let r = call(&app, Method::PATCH, "/admin/v1/tenants/demo", Some(bad)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = call(&app, Method::GET, "/admin/v1/tenants/demo", None).await;
    assert_eq!(r.body["security"]["lockout"]["threshold"], 7);

    // Apps: create → a sign-in with it works; update; delete → its client id is refused.
    let body = json!({ "display_name": "Shop", "cors_origins": ["https://shop.example"] });
    let r = call(&app, Method::POST, "/admin/v1/tenants/demo/apps", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let client = r.str("client_id").to_owned();
    app.create_user("shopper@example.com", PW).await;
    let initiate = |client: String| {
        let app = &app;
        async move {
            app.post(
                "oauth2/v2.0/initiate",
                &[
                    ("client_id", &client),
                    ("username", "shopper@example.com"),
                    ("challenge_type", "password redirect"),
                ],
            )
            .await
        }
    };
    assert_eq!(initiate(client.clone()).await.status, 200);
    let patch = json!({ "display_name": "Shop 2", "scopes": ["read"] });
    let path = format!("/admin/v1/tenants/demo/apps/{client}");
    let r = call(&app, Method::PATCH, &path, Some(patch)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&app, Method::GET, &path, None).await;
    assert_eq!(
        (r.body["display_name"].as_str(), r.body["scopes"].clone()),
        (Some("Shop 2"), json!(["read"]))
    );
    let r = call(&app, Method::GET, "/admin/v1/tenants/demo/apps", None).await;
    assert!(
        r.body["apps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["client_id"] == client.as_str())
    );
    let r = call(&app, Method::DELETE, &path, None).await;
    assert_eq!(r.status, 204);
    initiate(client.clone())
        .await
        .assert_error("unauthorized_client", 700016);
    assert_eq!(call(&app, Method::GET, &path, None).await.status, 404);
    let r = call(
        &app,
        Method::POST,
        "/admin/v1/tenants/demo/apps",
        Some(json!({ "name": "x" })),
    )
    .await;
    assert_eq!(r.status, 400);
}

/// Every operation of the admin OpenAPI document answers (no `not_found` route error), every
/// route answers the same document, and a path not in it is not routed.
#[tokio::test]
async fn the_admin_openapi_document_matches_the_routes() {
    let app = app().await;
    let r = call(&app, Method::GET, "/admin/v1/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let doc = r.body;
    assert_eq!(
        doc,
        serde_json::from_str::<serde_json::Value>(openciam_http::ADMIN_OPENAPI).unwrap()
    );
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{tenant}", "demo")
            .replace("{user}", "nobody@example.com")
            .replace("{client_id}", "00000000-0000-0000-0000-000000000000");
        for (method, _) in item
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "parameters")
        {
            operations += 1;
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = call(&app, m, &concrete, Some(json!({}))).await;
            let unrouted = r.status == 404 && r.body["message"] == "no such admin route";
            assert!(
                !unrouted && r.status != 405,
                "{method} {path}: {} {}",
                r.status,
                r.body
            );
        }
    }
    assert_eq!(operations, 18);
    // Methods and paths outside the document are not routed.
    for (m, p) in [
        (Method::PUT, "/admin/v1/tenants/demo"),
        (Method::DELETE, "/admin/v1/tenants/demo"),
        (Method::GET, "/admin/v1/users"),
        (Method::POST, "/admin/v1/tenants"),
    ] {
        let r = call(&app, m.clone(), p, None).await;
        assert!(r.status == 404 || r.status == 405, "{m} {p}: {}", r.status);
    }
}

/// The CLI's `user update` and `user delete` call the same core service: the API sees their
/// effect, and they are audited under the same events.
#[tokio::test]
async fn the_cli_and_the_api_share_the_admin_service() {
    let app = app().await;
    app.create_user("both@example.com", PW).await;
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_openciam"))
            .args(args)
            .args(app.store_args())
            .env("OPENCIAM_LOG", "warn")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    cli(&[
        "user",
        "update",
        "--tenant",
        "demo",
        "--email",
        "both@example.com",
        "--attr",
        "city=Rome",
    ]);
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/tenants/demo/users/both@example.com",
        None,
    )
    .await;
    assert_eq!(r.body["attributes"], json!({ "city": "Rome" }));
    cli(&[
        "user",
        "update",
        "--tenant",
        "demo",
        "--email",
        "both@example.com",
        "--attr",
        "city=",
    ]);
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/tenants/demo/users/both@example.com",
        None,
    )
    .await;
    assert_eq!(r.body["attributes"], json!({}));
    cli(&[
        "user",
        "delete",
        "--tenant",
        "demo",
        "--email",
        "both@example.com",
    ]);
    let r = call(
        &app,
        Method::GET,
        "/admin/v1/tenants/demo/users/both@example.com",
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    let events = app.services.audit.events(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        events.iter().filter(|e| e.event == "admin.user.update").count(),
        2
    );
    assert_eq!(
        events.iter().filter(|e| e.event == "admin.user.delete").count(),
        1
    );
}

/// `openciam serve` with `[http] admin_listen`, `[admin] token_file` and `[log] format = "json"`:
/// the admin listener answers with the file's token, logs are JSON lines carrying the ids, and
/// a token shorter than 32 characters stops the start.
#[tokio::test]
async fn serve_reads_admin_listen_token_file_and_log_format() {
    use std::io::{BufRead as _, BufReader};
    let app = TestApp::spawn().await;
    let token_file = app.dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let config = |token_file: &std::path::Path| {
        format!(
            "listen = \"127.0.0.1:0\"\npublic_url = \"http://login.openciam.test\"\n\
             master_key_file = \"{}\"\n[database]\nurl = \"{}\"\n\
             [http]\nadmin_listen = \"127.0.0.1:0\"\n[admin]\ntoken_file = \"{}\"\n[log]\nformat = \"json\"\n\
             [mail]\nbackend = \"smtp\"\nfrom = \"Demo <no-reply@demo.example>\"\n\
             [mail.smtp]\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n",
            app.dir.path().join("master.key").display(),
            app.database_url,
            token_file.display(),
        )
    };
    let path = app.dir.path().join("serve-admin.toml");
    std::fs::write(&path, config(&token_file)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_openciam"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("OPENCIAM_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut admin = None;
    let mut public = None;
    for line in lines.by_ref().map_while(Result::ok) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if let Some(bound) = v["fields"]["bound"].as_str() {
            admin = Some(format!("http://{bound}"));
        }
        if let Some(addr) = v["fields"]["addr"].as_str() {
            public = Some(format!("http://{addr}"));
        }
        if admin.is_some() && public.is_some() {
            break;
        }
    }
    let collected = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let (admin, public) = (admin.unwrap(), public.unwrap());
    let r = app
        .http
        .get(format!("{admin}/admin/v1/tenants/demo"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = app
        .http
        .get(format!("{admin}/admin/v1/tenants/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = app.http.get(format!("{admin}/metrics")).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("openciam_http_requests_total"));
    let r = app
        .http
        .post(format!("{public}/demo/oauth2/v2.0/initiate"))
        .header("client-request-id", "serve-json-1")
        .form(&[
            ("client_id", demo_client().as_str()),
            ("username", "x@example.com"),
            ("challenge_type", "password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let _ = child.kill();
    let _ = child.wait();
    let rest = collected.join().unwrap();
    let request_line = rest
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["correlation_id"] == "serve-json-1")
        .unwrap_or_else(|| panic!("no JSON line with the correlation id in {rest:?}"));
    assert!(request_line["fields"]["trace_id"].is_string(), "{request_line}");

    // A short token stops the start with a clear message.
    std::fs::write(&token_file, "short").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_openciam"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 32"), "{stderr}");
}
