//! Two `openciam serve` processes on one PostgreSQL database, mailing through a real SMTP server:
//! a sign-up started on node A finishes on node B, B signs the user in, A refreshes the session,
//! and each node's JWKS verifies the other's tokens. Runs in the PostgreSQL pass of the suite.

use openciam_testkit::{Options, TestApp, demo_client, postgres_url};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_openciam");
const PW: &str = "Two-Nodes-Pass-1!";

/// A child process killed on drop, with its output lines on a channel (also used by `dbcopy`).
pub(crate) struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(mut cmd: Command, from_stderr: bool) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out: Box<dyn std::io::Read + Send> = if from_stderr {
            Box::new(child.stderr.take().unwrap())
        } else {
            Box::new(child.stdout.take().unwrap())
        };
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The first line containing `needle`, within 30 s.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no line containing {needle:?} within 30 s");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An `openciam serve` node on `database_url` with the master key at `key`, mailing through
/// 127.0.0.1:`smtp_port`; returns it and its demo-tenant base URL.
pub(crate) fn node(
    dir: &std::path::Path,
    name: &str,
    database_url: &str,
    smtp_port: u16,
    key: &std::path::Path,
) -> (Proc, String) {
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\npublic_url = \"http://login.openciam.test\"\nmaster_key_file = \"{}\"\n\
             [database]\nurl = \"{database_url}\"\nmax_connections = 4\n\
             [codes]\nresend_interval_seconds = 0\n\
             [mail]\nbackend = \"smtp\"\nfrom = \"Demo <no-reply@demo.example>\"\n\
             [mail.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n",
            key.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--config"])
        .arg(&config)
        .env("OPENCIAM_LOG", "info")
        .env("NO_COLOR", "1");
    let proc = Proc::spawn(cmd, true);
    let line = proc.wait_for("openciam listening");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .unwrap_or_else(|| panic!("no addr in {line:?}"))
        .trim_matches('"')
        .to_owned();
    (proc, format!("http://{addr}/demo"))
}

fn code_for(sink: &Proc, to: &str) -> String {
    loop {
        let line = sink.wait_for(to);
        let msg: serde_json::Value = serde_json::from_str(&line).unwrap();
        let text = msg["message"]["text"]
            .as_str()
            .or_else(|| msg["text"].as_str())
            .unwrap_or_default()
            .to_owned();
        if let Some(code) = text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 8) {
            return code.to_owned();
        }
    }
}

#[tokio::test]
async fn a_flow_moves_between_two_nodes() {
    if postgres_url().is_none() {
        println!("multinode: runs in the PostgreSQL pass (OPENCIAM_TEST_BACKEND=postgres)");
        return;
    }
    // The test app owns a fresh schema (seeded with the demo tenant) and the key both nodes use.
    let app = TestApp::spawn_with(Options::default()).await;
    let key = app.dir.path().join("master.key");
    let sink_script = concat!(env!("CARGO_MANIFEST_DIR"), "/../openciam-mail/tests/smtp_sink.py");
    let mut sink_cmd = Command::new("python3");
    sink_cmd.args([sink_script, "--tls", "none"]);
    let sink = Proc::spawn(sink_cmd, false);
    let port_line = sink.wait_for("\"port\"");
    let port: u16 = serde_json::from_str::<serde_json::Value>(&port_line).unwrap()["port"]
        .as_u64()
        .unwrap() as u16;
    let (_a, base_a) = node(app.dir.path(), "a", &app.database_url, port, &key);
    let (_b, base_b) = node(app.dir.path(), "b", &app.database_url, port, &key);
    let client = demo_client();
    let post = |base: &str, path: &str, form: Vec<(&'static str, String)>| {
        let url = format!("{base}/{path}");
        let mut all = vec![("client_id", client.clone())];
        all.extend(form);
        let app = &app;
        async move {
            app.post_to(
                &url,
                &all.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
            )
            .await
        }
    };
    let email = "twonodes@example.com";
    let types = "oob password redirect".to_owned();
    // Sign-up: start and challenge on A, the code from the real SMTP server, continue on B.
    let r = post(
        &base_a,
        "signup/v1.0/start",
        vec![
            ("username", email.into()),
            ("challenge_type", types.clone()),
            ("password", PW.into()),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(
        &base_a,
        "signup/v1.0/challenge",
        vec![
            ("continuation_token", r.str("continuation_token").into()),
            ("challenge_type", types.clone()),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct = r.str("continuation_token").to_owned();
    let code = code_for(&sink, email);
    let r = post(
        &base_b,
        "signup/v1.0/continue",
        vec![
            ("continuation_token", ct),
            ("grant_type", "oob".into()),
            ("oob", code),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(
        &base_b,
        "oauth2/v2.0/token",
        vec![
            ("continuation_token", r.str("continuation_token").into()),
            ("grant_type", "continuation_token".into()),
            ("scope", "openid".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Sign-in on B; refresh on A.
    let r = post(
        &base_b,
        "oauth2/v2.0/initiate",
        vec![("username", email.into()), ("challenge_type", types.clone())],
    )
    .await;
    let r = post(
        &base_b,
        "oauth2/v2.0/challenge",
        vec![
            ("continuation_token", r.str("continuation_token").into()),
            ("challenge_type", types.clone()),
        ],
    )
    .await;
    let r = post(
        &base_b,
        "oauth2/v2.0/token",
        vec![
            ("continuation_token", r.str("continuation_token").into()),
            ("grant_type", "password".into()),
            ("password", PW.into()),
            ("scope", "openid offline_access".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id_b = r.str("id_token").to_owned();
    let r = post(
        &base_a,
        "oauth2/v2.0/token",
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", r.str("refresh_token").into()),
            ("scope", "openid".into()),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // One key ring: the kid B signed with is published by A, and the other way round.
    let kid = |jwt: &str| {
        use base64::Engine as _;
        let head = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&head).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (base, jwt) in [(&base_a, id_b.as_str()), (&base_b, r.str("id_token"))] {
        let keys = app.get(&format!("{base}/discovery/v2.0/keys")).await;
        let kids: Vec<&str> = keys.body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k["kid"].as_str())
            .collect();
        assert!(kids.contains(&kid(jwt).as_str()), "{kids:?}");
    }
}
