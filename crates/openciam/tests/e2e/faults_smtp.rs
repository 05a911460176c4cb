//! SMTP down or slow (issue 7), against a real SMTP peer: the repository's aiosmtpd sink
//! (`crates/openciam-mail/tests/smtp_sink.py`) behind a TCP proxy. The server sends over plain
//! SMTP with 1-second timeouts. A refused connection and a relay that accepts and never answers
//! both give the §7.1 answer (503 `temporarily_unavailable`, `Retry-After: 5`) quickly; the flow
//! survives (the same continuation token), and once the relay is back a resend delivers a code
//! that completes the sign-up. (The in-process relay outage of `signup::mail_failure_then_recovery`
//! covers the core's side; this covers the SMTP client's timeouts.)

use openciam_testkit::{Options, Resp, TcpProxy, TestApp, demo_client};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const PW: &str = "Smtp-Fault-2026!";

/// The aiosmtpd sink as a child process; `None` (after a notice) when python3 or aiosmtpd is
/// missing, except under CI=true, where that fails the test.
struct Sink {
    _child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    port: u16,
}

impl Sink {
    async fn start() -> Option<Self> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../openciam-mail/tests/smtp_sink.py");
        let spawned = Command::new("python3")
            .args([script, "--tls", "none"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let missing = |why: String| {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the SMTP sink is required in CI: {why}"
            );
            eprintln!("NOTICE: faults_smtp skipped: {why} (run scripts/python-deps.sh)");
            None
        };
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => return missing(format!("python3: {e}")),
        };
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        let Ok(Ok(Some(first))) = first else {
            return missing("aiosmtpd did not start".to_owned());
        };
        let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
            .as_u64()
            .unwrap();
        Some(Self {
            _child: child,
            lines,
            port: u16::try_from(port).unwrap(),
        })
    }

    /// The code of the next message the sink receives (within 10 s).
    async fn next_code(&mut self) -> String {
        let line = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let msg: Value = serde_json::from_str(&line).unwrap();
        msg["text"]
            .as_str()
            .unwrap()
            .lines()
            .map(str::trim)
            .find(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit()))
            .unwrap()
            .to_owned()
    }
}

async fn challenge(app: &TestApp, ct: &str) -> Resp {
    app.post(
        "signup/v1.0/challenge",
        &[
            ("client_id", &demo_client()),
            ("continuation_token", ct),
            ("challenge_type", "oob password redirect"),
        ],
    )
    .await
}

/// §7.1: mail could not be sent.
#[track_caller]
fn assert_mail_unavailable(r: &Resp) {
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["error"], "temporarily_unavailable", "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("5"), "{:?}", r.headers);
    assert!(
        r.str("error_description").contains("\r\nTrace ID: "),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_refusing_or_silent_relay_answers_503_and_a_resend_works_after_recovery() {
    let Some(mut sink) = Sink::start().await else {
        return;
    };
    let upstream = format!("127.0.0.1:{}", sink.port).parse().unwrap();
    let proxy = TcpProxy::start(upstream).await;
    let app = TestApp::spawn_with(Options {
        smtp_relay: Some(proxy.addr),
        ..Options::default()
    })
    .await;
    let email = "smtp-fault@example.com";
    let r = app
        .post(
            "signup/v1.0/start",
            &[
                ("client_id", &demo_client()),
                ("username", email),
                ("password", PW),
                ("challenge_type", "oob password redirect"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();

    // Down: the connection is refused.
    proxy.cut();
    let started = Instant::now();
    assert_mail_unavailable(&challenge(&app, &ct).await);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Slow: the relay accepts and never answers; the 1 s timeouts end the attempt.
    proxy.stall().await;
    let started = Instant::now();
    assert_mail_unavailable(&challenge(&app, &ct).await);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "{waited:?}"
    );

    // Back: the same continuation token gets a code, a resend another, and the newest one
    // completes the sign-up.
    proxy.restore().await;
    let r = challenge(&app, &ct).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let first = sink.next_code().await;
    let r = challenge(&app, r.str("continuation_token")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let code = sink.next_code().await;
    assert_ne!(first, code);
    let r = app
        .post(
            "signup/v1.0/continue",
            &[
                ("client_id", &demo_client()),
                ("continuation_token", r.str("continuation_token")),
                ("grant_type", "oob"),
                ("oob", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", &demo_client()),
                ("continuation_token", r.str("continuation_token")),
                ("grant_type", "continuation_token"),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.sign_in(email, PW, "openid").await;
}
