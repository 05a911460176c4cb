//! An `openciam serve` process for the reliability tests (shutdown, shedding, backup): started on
//! a test app's database and master key, signalled with SIGTERM, its peak memory read from
//! `/proc`. Killed on drop, so a failing test leaves nothing running.

use openciam_testkit::TestApp;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_openciam");

/// A running server process.
pub(crate) struct ServeNode {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// `http://127.0.0.1:PORT`.
    pub(crate) origin: String,
    /// The address it listens on.
    pub(crate) addr: std::net::SocketAddr,
}

impl ServeNode {
    /// `openciam serve` on `app`'s database and master key (the demo tenant is already there),
    /// with `extra` appended to its configuration (e.g. `[passwords]` settings; top-level keys
    /// must come before any section, so `extra` starts with a section header).
    pub(crate) fn start(app: &TestApp, name: &str, extra: &str) -> Self {
        Self::start_on(app, name, &app.database_url, extra)
    }

    /// Like [`ServeNode::start`] on another database URL.
    pub(crate) fn start_on(app: &TestApp, name: &str, database_url: &str, extra: &str) -> Self {
        let dir = app.dir.path();
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\npublic_url = \"http://login.openciam.test\"\nmaster_key_file = \"{}\"\n\
                 [limits]\nprofile = \"off\"\n\
                 [mail]\nbackend = \"smtp\"\nfrom = \"Demo <no-reply@demo.example>\"\n\
                 [mail.smtp]\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n\
                 [database]\nurl = \"{database_url}\"\nmax_connections = 4\n{extra}",
                dir.join("master.key").display()
            ),
        )
        .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config)
            .env("OPENCIAM_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut node = Self {
            child,
            lines,
            origin: String::new(),
            addr: "127.0.0.1:1".parse().unwrap(),
        };
        let line = node.wait_for("openciam listening", Duration::from_secs(30));
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap_or_else(|| panic!("no addr in {line:?}"))
            .trim_matches('"')
            .to_owned();
        node.addr = addr.parse().unwrap();
        node.origin = format!("http://{addr}");
        node
    }

    /// The first log line containing `needle`, within `limit`.
    pub(crate) fn wait_for(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!(
            "no line containing {needle:?} within {limit:?}; saw:\n{}",
            seen.join("\n")
        );
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub(crate) fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits (up to `limit`) for the process to exit.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Peak resident memory (`VmHWM`), KiB.
    pub(crate) fn vm_hwm_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in /proc/{}/status", self.pid()))
    }
}

impl Drop for ServeNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that opens a new connection for every request, so a test sees exactly what each
/// request met (no pooled connection closing under it).
pub(crate) fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// `initiate` + `challenge` for the demo app at `origin`; the password-grant continuation token.
pub(crate) async fn password_ct(http: &reqwest::Client, origin: &str, email: &str) -> String {
    let client = openciam_testkit::demo_client();
    let r = post(
        http,
        &format!("{origin}/demo/oauth2/v2.0/initiate"),
        &[
            ("client_id", &client),
            ("username", email),
            ("challenge_type", "password redirect"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.0, 200, "{}", r.1);
    let ct = r.1["continuation_token"].as_str().unwrap().to_owned();
    let r = post(
        http,
        &format!("{origin}/demo/oauth2/v2.0/challenge"),
        &[
            ("client_id", &client),
            ("continuation_token", &ct),
            ("challenge_type", "password redirect"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.0, 200, "{}", r.1);
    r.1["continuation_token"].as_str().unwrap().to_owned()
}

/// A response as the tests need it: status, body, `Retry-After`.
pub(crate) type Reply = (u16, serde_json::Value, Option<String>);

/// POSTs a form; `Err` when no complete HTTP response came back (refused, reset, cut short).
pub(crate) async fn post(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<Reply, reqwest::Error> {
    let response = http.post(url).form(form).send().await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response.bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Ok((status, body, retry_after))
}

/// The password grant with `ct`.
pub(crate) async fn password_grant(
    http: &reqwest::Client,
    origin: &str,
    ct: &str,
    password: &str,
) -> Result<Reply, reqwest::Error> {
    let client = openciam_testkit::demo_client();
    post(
        http,
        &format!("{origin}/demo/oauth2/v2.0/token"),
        &[
            ("client_id", &client),
            ("continuation_token", ct),
            ("grant_type", "password"),
            ("password", password),
            ("scope", "openid offline_access"),
            ("client_info", "1"),
        ],
    )
    .await
}

/// GETs `{origin}{path}`: status and JSON body.
pub(crate) async fn get(
    http: &reqwest::Client,
    origin: &str,
    path: &str,
) -> Result<(u16, serde_json::Value), reqwest::Error> {
    let response = http.get(format!("{origin}{path}")).send().await?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    ))
}
