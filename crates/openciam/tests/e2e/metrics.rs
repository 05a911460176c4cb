//! `/metrics` on the admin listener (Prometheus text): after a few flows it counts requests by
//! route template (never the raw path: a tenant's name or a user's address never becomes a
//! label value), tenant GUID, status and Entra `error`; flow starts and completions; lockouts;
//! mails; latency histograms; the hashing and database pools.

use openciam::seed::DEMO_TENANT_ID;
use openciam_testkit::{Options, TestApp, demo_client};

const PW: &str = "Correct-Horse-9";

/// The value of the sample whose line starts with `name{` and contains every `label="value"`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_after_a_few_flows() {
    let app = TestApp::spawn_with(Options {
        admin_listen: true,
        ..Options::default()
    })
    .await;
    let tid = DEMO_TENANT_ID.to_string();
    let user = "metered@example.com";
    app.create_user(user, PW).await;
    app.services
        .admin
        .configure_security("demo", &["lockout.threshold=2".to_owned()])
        .await
        .unwrap();
    // Two sign-ins (one through the tenant's GUID path), a wrong password, then a lockout.
    app.sign_in(user, PW, "openid").await;
    let ct = app.password_token(user).await;
    app.token_password(&ct, "Wrong-Pass-1", "openid")
        .await
        .assert_error("invalid_grant", 50126);
    app.token_password(&ct, "Wrong-Pass-2", "openid")
        .await
        .assert_error("invalid_grant", 50053);
    // A sign-up start that mails a code.
    let r = app
        .post(
            "signup/v1.0/start",
            &[
                ("client_id", &demo_client()),
                ("username", "newbie@example.com"),
                ("challenge_type", "oob password redirect"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    let r = app
        .post(
            "signup/v1.0/challenge",
            &[
                ("client_id", &demo_client()),
                ("continuation_token", &ct),
                ("challenge_type", "oob password redirect"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Unknown tenant and unknown path.
    let r = app
        .post_to(
            &format!("{}/secret-tenant-name/oauth2/v2.0/initiate", app.origin),
            &[
                ("client_id", &demo_client()),
                ("username", user),
                ("challenge_type", "password"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let error = r.str("error").to_owned();
    app.get(&format!("{}/no/such/path/{user}", app.origin)).await;
    let r = app
        .get(&format!(
            "{}/{tid}/v2.0/.well-known/openid-configuration",
            app.origin
        ))
        .await;
    assert_eq!(r.status, 200);

    let text = app.metrics_text().await;
    std::fs::write(
        std::env::temp_dir().join("openciam-metrics-excerpt.txt"),
        text.lines()
            .filter(|l| l.starts_with("openciam_"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let token_route = ("route", "/{tenant}/oauth2/v2.0/token");
    let ok = sample(
        &text,
        "openciam_http_requests_total",
        &[token_route, ("tenant", &tid), ("status", "200"), ("error", "")],
    );
    assert_eq!(ok, Some(1.0), "{text}");
    let bad = sample(
        &text,
        "openciam_http_requests_total",
        &[
            token_route,
            ("tenant", &tid),
            ("status", "400"),
            ("error", "invalid_grant"),
        ],
    );
    assert_eq!(bad, Some(2.0), "{text}");
    let unknown = sample(
        &text,
        "openciam_http_requests_total",
        &[
            ("route", "/{tenant}/oauth2/v2.0/initiate"),
            ("tenant", ""),
            ("error", &error),
        ],
    );
    assert_eq!(unknown, Some(1.0), "{text}");
    assert!(
        sample(
            &text,
            "openciam_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        )
        .is_some(),
        "{text}"
    );
    // No raw path, tenant name or address is a label value.
    for raw in ["secret-tenant-name", "/demo/", "no/such/path", user, "newbie@"] {
        assert!(!text.contains(raw), "{raw} in:\n{text}");
    }
    // Latency histograms per route.
    let count = sample(
        &text,
        "openciam_http_request_duration_seconds_count",
        &[token_route],
    );
    assert_eq!(count, Some(3.0), "{text}");
    assert!(
        text.contains("openciam_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    // Flows, completions, lockouts, mail.
    let started = sample(
        &text,
        "openciam_flows_started_total",
        &[("flow", "sign_in"), ("tenant", &tid)],
    );
    assert_eq!(started, Some(2.0), "{text}");
    assert_eq!(
        sample(&text, "openciam_flows_started_total", &[("flow", "sign_up")]),
        Some(1.0),
        "{text}"
    );
    let done = sample(
        &text,
        "openciam_flows_completed_total",
        &[("flow", "sign_in"), ("outcome", "success")],
    );
    assert_eq!(done, Some(1.0), "{text}");
    let failed = sample(
        &text,
        "openciam_flows_completed_total",
        &[("flow", "sign_in"), ("outcome", "failure")],
    );
    assert!(failed.is_some_and(|n| n >= 1.0), "{text}");
    assert_eq!(
        sample(&text, "openciam_lockouts_total", &[("tenant", &tid)]),
        Some(1.0),
        "{text}"
    );
    app.wait_for_code("newbie@example.com").await.unwrap();
    let text = app.metrics_text().await;
    assert_eq!(
        sample(&text, "openciam_mails_total", &[("result", "sent")]),
        Some(1.0),
        "{text}"
    );
    // Gauges sampled at scrape time.
    assert_eq!(
        sample(&text, "openciam_password_hash_queue_depth", &[]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "openciam_password_hash_in_progress", &[]),
        Some(0.0),
        "{text}"
    );
    let max = sample(&text, "openciam_db_pool_max_connections", &[]).unwrap();
    let size = sample(&text, "openciam_db_pool_connections", &[]).unwrap();
    let idle = sample(&text, "openciam_db_pool_idle_connections", &[]).unwrap();
    assert!(max >= 1.0 && size >= 1.0 && size <= max && idle <= size, "{text}");
}

#[tokio::test]
async fn a_failed_mail_is_counted() {
    let app = TestApp::spawn_with(Options {
        admin_listen: true,
        ..Options::default()
    })
    .await;
    app.mail_down.store(true, std::sync::atomic::Ordering::SeqCst);
    let r = app
        .post(
            "signup/v1.0/start",
            &[
                ("client_id", &demo_client()),
                ("username", "nomail@example.com"),
                ("challenge_type", "oob password redirect"),
            ],
        )
        .await;
    let ct = r.str("continuation_token").to_owned();
    let r = app
        .post(
            "signup/v1.0/challenge",
            &[
                ("client_id", &demo_client()),
                ("continuation_token", &ct),
                ("challenge_type", "oob password redirect"),
            ],
        )
        .await;
    assert_ne!(r.status, 200, "{}", r.body);
    let text = app.metrics_text().await;
    assert_eq!(
        sample(&text, "openciam_mails_total", &[("result", "failed")]),
        Some(1.0),
        "{text}"
    );
}
