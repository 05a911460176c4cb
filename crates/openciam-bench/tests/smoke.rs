//! The load tool against a real server (a TestApp on an ephemeral port) for a second per flow:
//! every flow completes end to end without an error, and the report carries its figures.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use clap::Parser as _;
use openciam_bench::cli::{Cli, Command, DEFAULT_PASSWORD, DEV_CLIENT_ID, DEV_CODE_CLIENT_ID, DEV_TENANT};
use openciam_bench::report::Report;
use openciam_testkit::TestApp;

async fn run(app: &TestApp, flow: &str, extra: &[&str]) -> Report {
    let mut argv = vec![
        "openciam-bench",
        "run",
        "--url",
        &app.origin,
        "--flow",
        flow,
        "--users",
        "4",
        // Codes are capped per address (20 an hour in tests): plenty of addresses.
        "--code-users",
        "400",
        "--sessions",
        "2",
        "--duration",
        "1",
        "--warmup",
        "0",
        "--windows",
        "2",
        "--server-pid",
    ];
    let pid = std::process::id().to_string();
    argv.push(&pid);
    argv.extend_from_slice(extra);
    let Command::Run(args) = Cli::try_parse_from(argv).unwrap().command else {
        panic!("not a run")
    };
    openciam_bench::driver::run(&args).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_completes_against_a_real_server() {
    // The tool's defaults name the demo tenant and apps `openciam dev` seeds.
    assert_eq!(DEV_TENANT, openciam::seed::DEMO_TENANT);
    assert_eq!(DEV_CLIENT_ID, openciam::seed::DEMO_CLIENT_ID.to_string());
    assert_eq!(
        DEV_CODE_CLIENT_ID,
        openciam::seed::DEMO_CODE_CLIENT_ID.to_string()
    );

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let app = TestApp::spawn().await;
    let mut file = Vec::new();
    openciam_bench::server::write_users_file(&mut file, 4, 400, DEFAULT_PASSWORD).unwrap();
    let report = app
        .services
        .admin
        .import_users(DEV_TENANT, &String::from_utf8(file).unwrap())
        .await
        .unwrap();
    assert_eq!(report.imported, 404);

    for (flow, steps) in [
        ("password-signin", &["initiate", "challenge", "token"][..]),
        ("code-signin", &["initiate", "challenge", "mailbox", "token"][..]),
        (
            "signup",
            &[
                "signup_start",
                "signup_challenge",
                "mailbox",
                "signup_continue",
                "token",
            ][..],
        ),
        ("refresh", &["token"][..]),
    ] {
        let r = run(
            &app,
            flow,
            &[
                "--concurrency",
                "2",
                "--raw",
                "--raw-window",
                "0.1",
                "--hash-threads",
                "1",
            ],
        )
        .await;
        let text = r.to_table();
        assert!(r.recorded.completed > 0, "{text}");
        assert_eq!(r.recorded.failed, 0, "{text}");
        assert!(r.flows_per_s > 0.0);
        for step in steps {
            assert!(
                r.recorded.steps.contains_key(*step),
                "{flow}: no {step} in {text}"
            );
        }
        let flow_latency = r.recorded.flow.as_ref().unwrap();
        assert!(flow_latency.p50_ms > 0.0 && flow_latency.p99_ms >= flow_latency.p50_ms);
        let raw = r.raw.as_ref().unwrap();
        assert_eq!(raw.argon2_windows.len(), 2);
        assert!(raw.argon2_per_s > 0.0 && raw.rs256_per_s > 0.0);
        let server = r.server.as_ref().unwrap();
        assert!(server.cpu_seconds > 0.0 && server.peak_rss_kib.unwrap() > 0);
        assert!(text.contains("completed"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert!(json["recorded"]["flow"]["p99_ms"].is_number(), "{json}");
    }

    // Open loop at a fixed rate, and a wrong password: failures are named by status and code.
    let r = run(
        &app,
        "password-signin",
        &["--rate", "10", "--password", "Wrong-Pass-0"],
    )
    .await;
    assert_eq!(r.recorded.completed, 0);
    assert!(r.recorded.failed >= 5, "{}", r.to_table());
    assert!(
        r.recorded
            .errors
            .iter()
            .all(|e| e.step == "token" && e.error.starts_with("400 invalid_grant")),
        "{}",
        r.to_table()
    );
}
