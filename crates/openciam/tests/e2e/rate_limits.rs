//! Request-rate limits (spec §7.1): 429 `temporarily_unavailable` [90055] with `Retry-After`,
//! per client IP and per target account or address, counted in the database (shared by nodes),
//! with windows timed by the server's clock; the client IP comes from a trusted-proxy header only
//! when one is configured. Limits are set low per tenant (`rate_limits.*`) so tests stay short.

use openciam_core::admin::NewApp;
use openciam_core::model::SignInMethod;
use openciam_core::security::rate_limit::ProfileName;
use openciam_testkit::{Options, Resp, TestApp, demo_client};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_openciam");
const EMAIL: &str = "limited@example.com";
const RIGHT: &str = "Correct-Horse-9";
const ORIGIN: &str = "https://app.example";

/// A server with the `serve` profile and `settings` applied to the demo tenant.
async fn serve_app(options: Options, settings: &[&str]) -> TestApp {
    let app = TestApp::spawn_with(Options {
        limits: ProfileName::Serve,
        ..options
    })
    .await;
    configure(&app, settings).await;
    app
}

async fn configure(app: &TestApp, settings: &[&str]) {
    let settings: Vec<String> = settings.iter().map(|s| (*s).to_owned()).collect();
    app.services
        .admin
        .configure_security("demo", &settings)
        .await
        .unwrap();
}

/// POSTs `form` to `{base}/{path}` with extra request headers.
async fn post_with(app: &TestApp, path: &str, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Resp {
    let mut req = app.http.post(format!("{}/{path}", app.base)).form(form);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(serde_json::Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

async fn initiate(app: &TestApp, client: &str, headers: &[(&str, &str)]) -> Resp {
    post_with(
        app,
        "oauth2/v2.0/initiate",
        &[
            ("client_id", client),
            ("username", EMAIL),
            ("challenge_type", "password redirect"),
        ],
        headers,
    )
    .await
}

async fn password_grant(app: &TestApp, ct: &str, password: &str, headers: &[(&str, &str)]) -> Resp {
    let client = demo_client();
    post_with(
        app,
        "oauth2/v2.0/token",
        &[
            ("client_id", &client),
            ("continuation_token", ct),
            ("grant_type", "password"),
            ("password", password),
            ("scope", "openid"),
        ],
        headers,
    )
    .await
}

/// Asserts a 429 of spec §7.1 for `limit`; returns its `Retry-After` seconds.
#[track_caller]
fn assert_limited(r: &Resp, limit: &str) -> u64 {
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["error"], "temporarily_unavailable", "{}", r.body);
    assert_eq!(r.codes(), vec![90055], "{}", r.body);
    let description = r.str("error_description");
    assert!(description.starts_with("AADSTS90055: "), "{description}");
    assert!(
        description.contains(&format!("Rate limit '{limit}' reached")),
        "{description}"
    );
    assert!(
        description.contains("Send the same request again after"),
        "{description}"
    );
    assert!(r.body["trace_id"].is_string() && r.body["correlation_id"].is_string());
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(secs >= 1, "{secs}");
    assert!(
        description.contains(&format!("after {secs} second(s)")),
        "{description}"
    );
    secs
}

#[tokio::test]
async fn per_ip_limit_answers_429_with_retry_after_until_the_window_ends() {
    let app = serve_app(
        Options::default(),
        &["rate_limits.ip.max=3", "rate_limits.ip.window_seconds=3600"],
    )
    .await;
    app.create_user(EMAIL, RIGHT).await;
    // An app with a CORS allow-list: the 429 must be readable by a browser client.
    let web = app
        .services
        .admin
        .create_app(
            "demo",
            NewApp {
                client_id: None,
                display_name: "web".into(),
                method: SignInMethod::EmailPassword,
                native_auth: true,
                cors_origins: vec![ORIGIN.into()],
                identifier_uri: None,
                scopes: vec![],
                signup_attributes: vec![],
                mfa: None,
            },
        )
        .await
        .unwrap()
        .client_id
        .to_string();
    let origin = [("origin", ORIGIN)];
    for _ in 0..3 {
        let r = initiate(&app, &web, &origin).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = initiate(&app, &web, &origin).await;
    let secs = assert_limited(&r, "ip");
    assert!(secs <= 3600, "{secs}");
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(
        r.header("access-control-expose-headers")
            .unwrap()
            .contains("retry-after")
    );
    // Every limited endpoint shares the IP's count.
    let r = app
        .post(
            "signup/v1.0/start",
            &[
                ("client_id", &demo_client()),
                ("username", "new@example.com"),
                ("challenge_type", "oob password redirect"),
            ],
        )
        .await;
    assert_limited(&r, "ip");
    // After the window, requests pass again.
    app.clock.advance(3600);
    let r = initiate(&app, &web, &origin).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn the_continuation_token_works_after_a_429() {
    let app = serve_app(
        Options::default(),
        &[
            "rate_limits.password.max=2",
            "rate_limits.password.window_seconds=300",
        ],
    )
    .await;
    app.create_user(EMAIL, RIGHT).await;
    let ct = app.password_token(EMAIL).await;
    for _ in 0..2 {
        password_grant(&app, &ct, "Wrong-Pass-1", &[])
            .await
            .assert_error("invalid_grant", 50126);
    }
    // The right password, over the limit: refused before anything is checked or counted.
    let r = password_grant(&app, &ct, RIGHT, &[]).await;
    let secs = assert_limited(&r, "password");
    assert!(secs <= 300, "{secs}");
    assert!(r.body.get("continuation_token").is_none());
    app.clock.advance(300);
    let r = password_grant(&app, &ct, RIGHT, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["id_token"].is_string());
}

#[tokio::test]
async fn the_per_account_limit_holds_across_client_ips() {
    let app = serve_app(
        Options {
            trusted_proxy: Some(("x-forwarded-for".into(), 1)),
            ..Options::default()
        },
        &["rate_limits.password.max=2", "rate_limits.ip.max=100"],
    )
    .await;
    app.create_user(EMAIL, RIGHT).await;
    app.create_user("other@example.com", RIGHT).await;
    let ct = app.password_token(EMAIL).await;
    for ip in ["198.51.100.1", "198.51.100.2"] {
        let r = password_grant(&app, &ct, "Wrong-Pass-1", &[("x-forwarded-for", ip)]).await;
        r.assert_error("invalid_grant", 50126);
    }
    // A third client IP, a new flow: the account's count still applies.
    let ct2 = app.password_token(EMAIL).await;
    let r = password_grant(&app, &ct2, RIGHT, &[("x-forwarded-for", "198.51.100.3")]).await;
    assert_limited(&r, "password");
    // Another account from the same IP is not affected.
    let ct3 = app.password_token("other@example.com").await;
    let r = password_grant(&app, &ct3, RIGHT, &[("x-forwarded-for", "198.51.100.3")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_forwarded_for_header_is_ignored_without_a_trusted_proxy() {
    let settings = ["rate_limits.ip.max=2", "rate_limits.ip.window_seconds=3600"];
    let app = serve_app(Options::default(), &settings).await;
    app.create_user(EMAIL, RIGHT).await;
    let client = demo_client();
    // Three "different" clients by header, one peer: the third is refused.
    for ip in ["198.51.100.1", "198.51.100.2"] {
        let r = initiate(&app, &client, &[("x-forwarded-for", ip)]).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = initiate(&app, &client, &[("x-forwarded-for", "198.51.100.3")]).await;
    assert_limited(&r, "ip");
}

#[tokio::test]
async fn a_configured_trusted_proxy_header_names_the_client() {
    let settings = ["rate_limits.ip.max=2", "rate_limits.ip.window_seconds=3600"];
    let app = serve_app(
        Options {
            trusted_proxy: Some(("X-Forwarded-For".into(), 1)),
            ..Options::default()
        },
        &settings,
    )
    .await;
    app.create_user(EMAIL, RIGHT).await;
    let client = demo_client();
    // Each client IP has its own count; a client-supplied entry left of the proxy's is ignored.
    for ip in ["198.51.100.1", "198.51.100.2", "203.0.113.66, 198.51.100.1"] {
        let r = initiate(&app, &client, &[("x-forwarded-for", ip)]).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = initiate(
        &app,
        &client,
        &[("x-forwarded-for", "203.0.113.77, 198.51.100.1")],
    )
    .await;
    assert_limited(&r, "ip");
    let r = initiate(&app, &client, &[("x-forwarded-for", "198.51.100.2")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn sign_up_and_reset_starts_are_limited_per_address() {
    let app = serve_app(
        Options::default(),
        &["rate_limits.signup_start.max=2", "rate_limits.reset_start.max=1"],
    )
    .await;
    app.create_user(EMAIL, RIGHT).await;
    let client = demo_client();
    let signup = |username: &'static str| {
        let client = client.clone();
        let app = &app;
        async move {
            app.post(
                "signup/v1.0/start",
                &[
                    ("client_id", &client),
                    ("username", username),
                    ("challenge_type", "oob password redirect"),
                ],
            )
            .await
        }
    };
    for _ in 0..2 {
        assert_eq!(signup("new@example.com").await.status, 200);
    }
    // The same address in another spelling is the same address.
    assert_limited(&signup("NEW@Example.com").await, "signup_start");
    assert_eq!(signup("someone.else@example.com").await.status, 200);
    let reset = |username: &'static str| {
        let client = client.clone();
        let app = &app;
        async move {
            app.post(
                "resetpassword/v1.0/start",
                &[
                    ("client_id", &client),
                    ("username", username),
                    ("challenge_type", "oob redirect"),
                ],
            )
            .await
        }
    };
    let r = reset(EMAIL).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_limited(&reset(EMAIL).await, "reset_start");
}

#[tokio::test]
async fn a_tenant_can_change_and_turn_off_its_limits() {
    let app = serve_app(
        Options::default(),
        &["rate_limits.ip.max=1", "rate_limits.ip.window_seconds=3600"],
    )
    .await;
    app.create_user(EMAIL, RIGHT).await;
    let client = demo_client();
    assert_eq!(initiate(&app, &client, &[]).await.status, 200);
    assert_limited(&initiate(&app, &client, &[]).await, "ip");
    // The CLI an operator uses; the next request sees the new settings.
    let out = Command::new(BIN)
        .args(["tenant", "security", "demo", "--set", "rate_limits.disabled=true"])
        .args(app.store_args())
        .env("OPENCIAM_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"disabled\": true"));
    for _ in 0..3 {
        assert_eq!(initiate(&app, &client, &[]).await.status, 200);
    }
    // Back on, with a higher number, in a new window.
    configure(&app, &["rate_limits.disabled=false", "rate_limits.ip.max=3"]).await;
    app.clock.advance(3600);
    assert_eq!(initiate(&app, &client, &[]).await.status, 200);
    assert_eq!(initiate(&app, &client, &[]).await.status, 200);
    assert_eq!(initiate(&app, &client, &[]).await.status, 200);
    assert_limited(&initiate(&app, &client, &[]).await, "ip");
    // max = 0 turns one limit off.
    configure(&app, &["rate_limits.ip.max=0"]).await;
    assert_eq!(initiate(&app, &client, &[]).await.status, 200);
}

#[tokio::test]
async fn the_test_profile_has_no_per_ip_limit() {
    let app = TestApp::spawn().await;
    app.create_user(EMAIL, RIGHT).await;
    let client = demo_client();
    for _ in 0..30 {
        assert_eq!(initiate(&app, &client, &[]).await.status, 200);
    }
}

#[tokio::test]
async fn two_nodes_share_the_count() {
    let settings = ["rate_limits.ip.max=3", "rate_limits.ip.window_seconds=3600"];
    let a = serve_app(Options::default(), &settings).await;
    a.create_user(EMAIL, RIGHT).await;
    let b = a
        .another_node(Options {
            limits: ProfileName::Serve,
            ..Options::default()
        })
        .await;
    let client = demo_client();
    assert_eq!(initiate(&a, &client, &[]).await.status, 200);
    assert_eq!(initiate(&b, &client, &[]).await.status, 200);
    assert_eq!(initiate(&a, &client, &[]).await.status, 200);
    assert_limited(&initiate(&b, &client, &[]).await, "ip");
    assert_limited(&initiate(&a, &client, &[]).await, "ip");
}

/// An `openciam serve` process over `app`'s database with `extra` TOML appended; killed on drop.
struct ServeNode {
    child: std::process::Child,
    base: String,
}

impl ServeNode {
    fn start(app: &TestApp, name: &str, extra: &str) -> Self {
        use std::io::{BufRead as _, BufReader};
        let config = app.dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\npublic_url = \"http://login.openciam.test\"\n\
                 master_key_file = \"{}\"\n[database]\nurl = \"{}\"\n\
                 [mail]\nbackend = \"smtp\"\nfrom = \"Demo <no-reply@demo.example>\"\n\
                 [mail.smtp]\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n{extra}",
                app.dir.path().join("master.key").display(),
                app.database_url,
            ),
        )
        .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config)
            .env("OPENCIAM_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let line = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.contains("openciam listening"))
            .unwrap();
        // Keep draining the log so the process never blocks on a full pipe.
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap()
            .trim_matches('"')
            .to_owned();
        Self {
            child,
            base: format!("http://{addr}/demo"),
        }
    }

    async fn initiate(&self, app: &TestApp, forwarded_for: &str) -> Resp {
        let r = app
            .http
            .post(format!("{}/oauth2/v2.0/initiate", self.base))
            .header("x-forwarded-for", forwarded_for)
            .form(&[
                ("client_id", demo_client().as_str()),
                ("username", EMAIL),
                ("challenge_type", "password redirect"),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default();
        Resp {
            status,
            headers,
            body,
        }
    }
}

impl Drop for ServeNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn serve_reads_the_limits_profile_and_the_trusted_proxy_header() {
    let app = TestApp::spawn().await;
    app.create_user(EMAIL, RIGHT).await;
    configure(
        &app,
        &["rate_limits.ip.max=2", "rate_limits.ip.window_seconds=3600"],
    )
    .await;
    // The default profile (serve) and a trusted proxy: each forwarded client has its own count.
    let node = ServeNode::start(
        &app,
        "proxied",
        "[http]\ntrusted_proxy_header = \"x-forwarded-for\"\n",
    );
    for ip in ["198.51.100.1", "198.51.100.1", "198.51.100.2"] {
        let r = node.initiate(&app, ip).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_limited(&node.initiate(&app, "198.51.100.1").await, "ip");
    drop(node);
    // [limits] profile = "off": nothing is limited, whatever the tenant says.
    let node = ServeNode::start(&app, "off", "[limits]\nprofile = \"off\"\n");
    for _ in 0..4 {
        let r = node.initiate(&app, "198.51.100.1").await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[tokio::test]
async fn an_unknown_address_is_limited_like_an_account_under_enumeration_protection() {
    let app = serve_app(
        Options::default(),
        &["enumeration_protection=true", "rate_limits.password.max=2"],
    )
    .await;
    app.create_user(EMAIL, RIGHT).await;
    for email in [EMAIL, "ghost@example.com"] {
        // Each try in a new flow: the count follows the address, not the flow.
        for _ in 0..2 {
            let ct = app.password_token(email).await;
            password_grant(&app, &ct, "Wrong-Pass-1", &[])
                .await
                .assert_error("invalid_grant", 50126);
        }
        let ct = app.password_token(email).await;
        assert_limited(&password_grant(&app, &ct, "Wrong-Pass-1", &[]).await, "password");
    }
}
