//! Load shedding (spec §7.1): at most `hash_concurrency` password hashes run at once with at
//! most `hash_queue` requests waiting; beyond that a password request gets 503
//! `temporarily_unavailable` with `Retry-After: 1` at once — before any hash, before the rate
//! limits count it, before the lockout sees it — and its continuation token stays valid. Also
//! the memory bound of the real binary at three times the saturating load.

use crate::serve_node::{ServeNode, fresh_client, password_ct, password_grant};
use openciam_testkit::{Options, Resp, TestApp};
use std::time::{Duration, Instant};

const EMAIL: &str = "busy@example.com";
const RIGHT: &str = "Correct-Horse-9";

/// Asserts the shedding 503 of spec §7.1.
#[track_caller]
fn assert_shed(status: u16, body: &serde_json::Value, retry_after: Option<&str>) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([90033]), "{body}");
    assert_eq!(retry_after, Some("1"), "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with("AADSTS90033: "), "{description}");
    assert!(
        description.contains("continuation_token stays valid"),
        "{description}"
    );
    assert!(body["trace_id"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saturated_pool_sheds_without_hashing_and_the_same_token_then_succeeds() {
    let app = TestApp::spawn_with(Options {
        hash_concurrency: 1,
        hash_queue: 1,
        ..Options::default()
    })
    .await;
    app.create_user(EMAIL, RIGHT).await;
    let mut cts = Vec::new();
    for _ in 0..24 {
        cts.push(app.password_token(EMAIL).await);
    }
    let hashes_before = app.services.passwords.hashes_computed();
    let shed_before = app.services.passwords.shed_count();
    let http = fresh_client();
    let mut tasks = tokio::task::JoinSet::new();
    for ct in cts.clone() {
        let (http, origin) = (http.clone(), app.origin.clone());
        tasks.spawn(async move {
            let started = Instant::now();
            let reply = password_grant(&http, &origin, &ct, RIGHT).await.unwrap();
            (ct, reply, started.elapsed())
        });
    }
    let (mut ok, mut shed) = (0u64, Vec::new());
    while let Some(done) = tasks.join_next().await {
        let (ct, (status, body, retry_after), _took) = done.unwrap();
        match status {
            200 => {
                assert!(body["access_token"].is_string(), "{body}");
                ok += 1;
            }
            _ => {
                assert_shed(status, &body, retry_after.as_deref());
                shed.push(ct);
            }
        }
    }
    assert!(ok >= 2, "the pool served some: {ok}");
    assert!(
        !shed.is_empty(),
        "24 grants at once on 1 slot + 1 queue place shed some"
    );
    assert_eq!(
        app.services.passwords.hashes_computed() - hashes_before,
        ok,
        "one hash per served grant, none for the {} shed ones",
        shed.len()
    );
    assert_eq!(
        app.services.passwords.shed_count() - shed_before,
        shed.len() as u64
    );
    // The same continuation tokens, sent again when the server is idle, sign in.
    for ct in &shed {
        let r = app.token_password(ct, RIGHT, "openid").await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

/// While every place in the pool is taken, wrong passwords are shed: no hash, no lockout
/// failure, no per-account rate-limit hit; afterwards the account signs in at once.
#[tokio::test]
async fn shed_attempts_count_neither_towards_lockout_nor_rate_limits() {
    let app = TestApp::spawn_with(Options {
        hash_concurrency: 1,
        hash_queue: 0,
        ..Options::default()
    })
    .await;
    app.services
        .admin
        .configure_security(
            "demo",
            &[
                "lockout.threshold=2".to_owned(),
                "rate_limits.password.max=2".to_owned(),
                "rate_limits.password.window_seconds=3600".to_owned(),
            ],
        )
        .await
        .unwrap();
    app.create_user(EMAIL, RIGHT).await;
    let ct = app.password_token(EMAIL).await;
    let hashes = app.services.passwords.hashes_computed();
    let held = app.services.passwords.admit().unwrap();
    for i in 0..6 {
        let started = Instant::now();
        let r: Resp = app
            .token_password(&ct, &format!("Wrong-Guess-{i}"), "openid")
            .await;
        assert_shed(r.status, &r.body, r.header("retry-after"));
        assert!(started.elapsed() < Duration::from_secs(2), "shed at once");
    }
    assert_eq!(app.services.passwords.hashes_computed(), hashes, "nothing hashed");
    drop(held);
    // Six wrong passwords were sent; had they counted, the account would be locked (threshold
    // 2) and the per-account limit (2) spent. The same token signs in.
    let r = app.token_password(&ct, RIGHT, "openid").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.services.passwords.hashes_computed(), hashes + 1);
}

/// Peak memory of the real binary stays under 256 MiB (docs/reliability.md) while password
/// grants arrive at three times the rate that saturates its pool for about five seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peak_memory_stays_bounded_at_three_times_the_saturating_load() {
    const BOUND_KIB: u64 = 256 * 1024;
    let app = TestApp::spawn().await;
    app.create_user(EMAIL, RIGHT).await;
    // 2 hashing + 8 queued: 10 concurrent grants saturate the pool; the load keeps 30 in flight.
    let node = ServeNode::start(
        &app,
        "rss",
        "[passwords]\nmax_concurrent_hashes = 2\nmax_queued_hashes = 8\n",
    );
    let saturating = 10;
    let clients = 3 * saturating;
    let http = fresh_client();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (http, origin) = (http.clone(), node.origin.clone());
        tasks.spawn(async move {
            let (mut ok, mut shed, mut other) = (0u32, 0u32, Vec::new());
            while Instant::now() < deadline {
                let ct = password_ct(&http, &origin, EMAIL).await;
                match password_grant(&http, &origin, &ct, RIGHT).await {
                    Ok((200, _, _)) => ok += 1,
                    Ok((503, body, retry)) => {
                        assert_shed(503, &body, retry.as_deref());
                        shed += 1;
                    }
                    Ok((status, body, _)) => other.push(format!("{status} {body}")),
                    Err(e) => other.push(format!("no response: {e}")),
                }
            }
            (ok, shed, other)
        });
    }
    let (mut ok, mut shed, mut other) = (0, 0, Vec::new());
    while let Some(done) = tasks.join_next().await {
        let (o, s, x) = done.unwrap();
        ok += o;
        shed += s;
        other.extend(x);
    }
    let peak = node.vm_hwm_kib();
    println!("rss: {clients} clients for 5 s: {ok} served, {shed} shed, peak VmHWM {peak} KiB");
    assert!(other.is_empty(), "only 200 and 503: {other:?}");
    assert!(ok > 0 && shed > 0, "saturated: {ok} served, {shed} shed");
    assert!(peak < BOUND_KIB, "VmHWM {peak} KiB over {BOUND_KIB} KiB");
}

/// `[http] max_in_flight`: past the cap a request is refused at once with the same 503 — before
/// it is read, so its continuation token stays valid — while `/healthz` still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_past_max_in_flight_are_refused_unread_and_the_same_token_then_succeeds() {
    let app = TestApp::spawn().await;
    app.create_user(EMAIL, RIGHT).await;
    // One hash at a time with room to queue: grants wait in flight, and the cap of 2 refuses.
    let node = ServeNode::start(
        &app,
        "in-flight",
        "[http]\nmax_in_flight = 2\n[passwords]\nmax_concurrent_hashes = 1\nmax_queued_hashes = 64\n",
    );
    let http = fresh_client();
    let mut cts = Vec::new();
    for _ in 0..16 {
        cts.push(password_ct(&http, &node.origin, EMAIL).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for ct in cts {
        let (http, origin) = (http.clone(), node.origin.clone());
        tasks.spawn(async move {
            let reply = password_grant(&http, &origin, &ct, RIGHT).await.unwrap();
            (ct, reply)
        });
    }
    let health = http.get(format!("{}/healthz", node.origin)).send().await.unwrap();
    assert_eq!(health.status(), 200, "liveness is never refused");
    let (mut ok, mut refused) = (0, Vec::new());
    while let Some(done) = tasks.join_next().await {
        let (ct, (status, body, retry_after)) = done.unwrap();
        if status == 200 {
            ok += 1;
            continue;
        }
        assert_shed(status, &body, retry_after.as_deref());
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains("max_in_flight"), "{description}");
        refused.push(ct);
    }
    assert!(
        ok >= 1 && !refused.is_empty(),
        "{ok} served, {} refused",
        refused.len()
    );
    for ct in &refused {
        let (status, body, _) = password_grant(&http, &node.origin, ct, RIGHT).await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
}
