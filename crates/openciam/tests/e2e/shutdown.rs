//! Graceful shutdown of the real binary: SIGTERM turns `/readyz` to 503 at once, the listener
//! closes after `[http] shutdown_delay_seconds`, requests in flight finish, and the process exits
//! 0. A rolling restart of two nodes on one database, behind a test load balancer that polls
//! `/readyz`, loses no request.

use crate::serve_node::{ServeNode, fresh_client, get, password_ct, password_grant, post};
use openciam_testkit::{TestApp, demo_client};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PW: &str = "Correct-Horse-9";
/// Password grants in flight when SIGTERM arrives.
const GRANTS: usize = 100;

/// One slot, a long queue and a one-second delay: a hundred password grants keep the node busy
/// for longer than the delay.
const DRAINING: &str = "[http]\nshutdown_delay_seconds = 1\nshutdown_grace_seconds = 20\n\
                        [passwords]\nmax_concurrent_hashes = 1\nmax_queued_hashes = 200\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_requests_in_flight_then_exits_zero() {
    let app = TestApp::spawn().await;
    let email = "drain@example.com";
    app.create_user(email, PW).await;
    let mut node = ServeNode::start(&app, "drain", DRAINING);
    let http = fresh_client();
    let mut cts = Vec::new();
    for _ in 0..GRANTS {
        cts.push(password_ct(&http, &node.origin, email).await);
    }
    let finished = Arc::new(AtomicUsize::new(0));
    let mut grants = tokio::task::JoinSet::new();
    for ct in cts {
        let (http, origin, finished) = (http.clone(), node.origin.clone(), finished.clone());
        grants.spawn(async move {
            let reply = password_grant(&http, &origin, &ct, PW).await;
            finished.fetch_add(1, Ordering::SeqCst);
            reply
        });
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.sigterm();
    let signalled = Instant::now();
    // At once (as soon as the process has handled the signal): not ready, and the answer asks
    // the client to close the connection.
    let mut r = http.get(format!("{}/readyz", node.origin)).send().await.unwrap();
    while r.status() == 200 && signalled.elapsed() < Duration::from_millis(500) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        r = http.get(format!("{}/readyz", node.origin)).send().await.unwrap();
    }
    assert_eq!(
        r.status(),
        503,
        "still ready {:?} after SIGTERM",
        signalled.elapsed()
    );
    assert_eq!(r.headers()["connection"], "close");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "not_ready", "reason": "shutting_down"})
    );
    // After the delay the listener is closed while the queued grants still drain.
    node.wait_for("no longer accepting connections", Duration::from_secs(10));
    // (The listener is dropped just after that line is logged.)
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(node.addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done_when_refused = finished.load(Ordering::SeqCst);
    assert!(refused, "new connections were still accepted while draining");
    assert!(
        done_when_refused < GRANTS,
        "the drain had not finished when connections were refused ({done_when_refused}/{GRANTS} done)"
    );
    // Every request accepted before the signal got its complete answer.
    while let Some(reply) = grants.join_next().await {
        let (status, body, _) = reply.unwrap().expect("a complete response");
        assert_eq!(status, 200, "{body}");
        assert!(body["access_token"].is_string(), "{body}");
    }
    let status = node
        .wait_exit(Duration::from_secs(25))
        .expect("exited within the grace");
    assert!(status.success(), "{status:?}");
    node.wait_for("all requests finished", Duration::from_secs(5));
    println!(
        "shutdown: {done_when_refused}/{GRANTS} grants done when connections were refused; exited {:?} after SIGTERM",
        signalled.elapsed()
    );
}

/// What the test load balancer knows of one node.
struct Backend {
    origin: Mutex<Option<String>>,
    ready: AtomicBool,
}

/// The load balancer: polls `/readyz` of every node every 50 ms; sends only to ready nodes.
struct Balancer {
    backends: Vec<Backend>,
    next: AtomicUsize,
}

impl Balancer {
    fn pick(&self) -> Option<String> {
        for _ in 0..self.backends.len() {
            let i = self.next.fetch_add(1, Ordering::SeqCst) % self.backends.len();
            let b = &self.backends[i];
            if b.ready.load(Ordering::SeqCst)
                && let Some(o) = b.origin.lock().unwrap().clone()
            {
                return Some(o);
            }
        }
        None
    }

    fn set(&self, i: usize, origin: Option<String>) {
        self.backends[i].ready.store(false, Ordering::SeqCst);
        *self.backends[i].origin.lock().unwrap() = origin;
    }

    async fn poll(self: Arc<Self>, stop: Arc<AtomicBool>) {
        let http = fresh_client();
        while !stop.load(Ordering::SeqCst) {
            for b in &self.backends {
                let origin = b.origin.lock().unwrap().clone();
                let ready = match origin {
                    Some(o) => matches!(get(&http, &o, "/readyz").await, Ok((200, _))),
                    None => false,
                };
                b.ready.store(ready, Ordering::SeqCst);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.backends[i].ready.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "node {i} never became ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Sign-in then refreshes, each request through the balancer; every request must get a
/// complete 200.
async fn session_load(lb: Arc<Balancer>, email: String, stop: Arc<AtomicBool>) -> (usize, Vec<String>) {
    let http = fresh_client();
    let client = demo_client();
    let (mut sent, mut failures) = (0, Vec::new());
    let mut refresh: Option<String> = None;
    let mut ct: Option<String> = None;
    let mut step = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let Some(origin) = lb.pick() else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let url = |path: &str| format!("{origin}/demo/{path}");
        let reply = match (&refresh, &ct, step) {
            (Some(rt), _, _) => {
                post(
                    &http,
                    &url("oauth2/v2.0/token"),
                    &[
                        ("client_id", &client),
                        ("grant_type", "refresh_token"),
                        ("refresh_token", rt),
                        ("scope", "openid offline_access"),
                    ],
                )
                .await
            }
            (None, None, _) => {
                post(
                    &http,
                    &url("oauth2/v2.0/initiate"),
                    &[
                        ("client_id", &client),
                        ("username", &email),
                        ("challenge_type", "password redirect"),
                    ],
                )
                .await
            }
            (None, Some(c), 1) => {
                post(
                    &http,
                    &url("oauth2/v2.0/challenge"),
                    &[
                        ("client_id", &client),
                        ("continuation_token", c),
                        ("challenge_type", "password redirect"),
                    ],
                )
                .await
            }
            (None, Some(c), _) => password_grant(&http, &origin, c, PW).await,
        };
        sent += 1;
        match reply {
            Ok((200, body, _)) => {
                if let Some(rt) = body["refresh_token"].as_str() {
                    // Signed in, or rotated: every fourth refresh starts a new sign-in.
                    refresh = (sent % 4 != 0).then(|| rt.to_owned());
                    ct = None;
                    step = 0;
                } else {
                    ct = body["continuation_token"].as_str().map(str::to_owned);
                    step += 1;
                }
            }
            Ok((status, body, _)) => {
                failures.push(format!("{origin}: {status} {body}"));
                (refresh, ct, step) = (None, None, 0);
            }
            Err(e) => {
                failures.push(format!("{origin}: no complete response: {e}"));
                (refresh, ct, step) = (None, None, 0);
            }
        }
    }
    (sent, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_restart_of_two_nodes_under_load_loses_no_request() {
    let app = TestApp::spawn().await;
    let users: Vec<String> = (0..4).map(|i| format!("roll{i}@example.com")).collect();
    for u in &users {
        app.create_user(u, PW).await;
    }
    let config = "[http]\nshutdown_delay_seconds = 1\nshutdown_grace_seconds = 20\n";
    let mut nodes = [
        ServeNode::start(&app, "node1", config),
        ServeNode::start(&app, "node2", config),
    ];
    let lb = Arc::new(Balancer {
        backends: nodes
            .iter()
            .map(|n| Backend {
                origin: Mutex::new(Some(n.origin.clone())),
                ready: AtomicBool::new(false),
            })
            .collect(),
        next: AtomicUsize::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let poller = tokio::spawn(lb.clone().poll(stop.clone()));
    lb.wait_ready(0).await;
    lb.wait_ready(1).await;
    let mut load = tokio::task::JoinSet::new();
    for u in &users {
        load.spawn(session_load(lb.clone(), u.clone(), stop.clone()));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (i, node) in nodes.iter_mut().enumerate() {
        node.sigterm();
        let status = node
            .wait_exit(Duration::from_secs(25))
            .unwrap_or_else(|| panic!("node {i} did not exit"));
        assert!(status.success(), "node {i}: {status:?}");
        lb.set(i, None);
        // Only the other node serves for a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        *node = ServeNode::start(&app, &format!("node{}", i + 1), config);
        lb.set(i, Some(node.origin.clone()));
        lb.wait_ready(i).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let (mut sent, mut failures) = (0, Vec::new());
    while let Some(done) = load.join_next().await {
        let (s, f) = done.unwrap();
        sent += s;
        failures.extend(f);
    }
    poller.await.unwrap();
    println!(
        "rolling restart: {sent} requests through the balancer, {} failed",
        failures.len()
    );
    assert!(sent >= 40, "the load ran: {sent} requests");
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {failures:#?}",
        failures.len()
    );
}
