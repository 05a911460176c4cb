//! No secret in any log line (issue 6): the real `openciam dev` binary runs every flow, the refresh
//! grant and admin CLI calls with every target logging at `trace` (sqlx and tower-http included);
//! then everything the server and the CLI wrote is searched for each password, code and token
//! used, as sent and as URL-encoded. None may appear.

use serde_json::Value;
use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const BIN: &str = env!("CARGO_BIN_EXE_openciam");
const DEMO: &str = "11111111-1111-1111-1111-111111111111";
const CODE_APP: &str = "22222222-2222-2222-2222-222222222222";
const ADMIN_TOKEN: &str = "no-secrets-admin-token-0123456789abcdefgh";
const TRACE: [(&str, &str); 2] = [("OPENCIAM_LOG", "trace"), ("RUST_LOG", "trace")];

/// Everything a process wrote to one stream, collected by a thread.
fn collect(stream: impl Read + Send + 'static, out: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            out.lock().unwrap().push_str(&line);
            line.clear();
        }
    })
}

/// The dev server, its output collected; its base URL read from its first lines.
struct Server {
    child: Child,
    threads: Vec<JoinHandle<()>>,
    origin: String,
}

impl Server {
    fn start(data: &std::path::Path, log: &Arc<Mutex<String>>, json: bool) -> Self {
        let format: &[&str] = if json { &["--log-json"] } else { &[] };
        let mut child = Command::new(BIN)
            .args(["dev", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .args(["--admin-token", ADMIN_TOKEN])
            .args(format)
            .arg("--data")
            .arg(data)
            .envs(TRACE)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = collect(child.stderr.take().unwrap(), log.clone());
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut origin = None;
        let mut line = String::new();
        while origin.is_none() && stdout.read_line(&mut line).unwrap() > 0 {
            log.lock().unwrap().push_str(&line);
            if let Some(at) = line.find("listening on http://") {
                let url = line[at + "listening on ".len()..].trim();
                origin = Some(url.split('/').take(3).collect::<Vec<_>>().join("/"));
            }
            line.clear();
        }
        let Some(origin) = origin else {
            panic!("dev printed no 'listening on' line")
        };
        let out = collect(stdout, log.clone());
        Self {
            child,
            threads: vec![err, out],
            origin,
        }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

/// A client that remembers every secret it sends or receives.
struct Client {
    http: reqwest::Client,
    base: String,
    origin: String,
    secrets: Vec<String>,
}

impl Client {
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Value {
        let r = self
            .http
            .post(format!("{}/{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        for (name, value) in form {
            if matches!(
                *name,
                "password" | "new_password" | "oob" | "continuation_token" | "refresh_token"
            ) {
                self.secrets.push((*value).to_owned());
            }
        }
        for key in ["continuation_token", "refresh_token", "access_token", "id_token"] {
            if let Some(v) = body[key].as_str() {
                self.secrets.push(v.to_owned());
            }
        }
        body
    }

    /// POSTs and returns the `continuation_token` of a 200 (or 400 next-step) answer.
    async fn ct(&mut self, path: &str, form: &[(&str, &str)]) -> String {
        let body = self.post(path, form).await;
        body["continuation_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {body}"))
            .to_owned()
    }

    async fn code(&mut self, to: &str, purpose: &str) -> String {
        let url = format!(
            "{}/_dev/mailbox/latest-code?to={to}&purpose={purpose}",
            self.origin
        );
        let body: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        let code = body["code"].as_str().unwrap().to_owned();
        self.secrets.push(code.clone());
        code
    }

    async fn tokens(&mut self, form: &[(&str, &str)]) -> Value {
        let body = self.post("oauth2/v2.0/token", form).await;
        assert!(body["access_token"].is_string(), "{body}");
        assert!(body["refresh_token"].is_string(), "{body}");
        body
    }
}

fn cli(data: &std::path::Path, args: &[&str], stdin: Option<&str>, log: &Arc<Mutex<String>>) {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(data)
        .envs(TRACE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    let mut log = log.lock().unwrap();
    log.push_str(&String::from_utf8_lossy(&out.stdout));
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{args:?} failed:\n{log}");
}

/// `s` percent-encoded as a form or URL would carry it (upper- and lower-case hex, `+` or `%20`).
fn encodings(s: &str) -> Vec<String> {
    let enc = |upper: bool, space_plus: bool| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' if space_plus => "+".to_owned(),
                _ if upper => format!("%{b:02X}"),
                _ => format!("%{b:02x}"),
            })
            .collect::<String>()
    };
    let mut all = vec![s.to_owned(), enc(true, true), enc(false, false), enc(true, false)];
    all.dedup();
    all
}

/// Whether `needle` occurs in `hay` outside a longer run of digits (an 8-digit code inside a
/// timestamp is not a leak).
fn occurs(hay: &str, needle: &str) -> bool {
    let digits = needle.bytes().all(|b| b.is_ascii_digit());
    hay.match_indices(needle).any(|(at, _)| {
        if !digits {
            return true;
        }
        let before = hay[..at].bytes().next_back();
        let after = hay[at + needle.len()..].bytes().next();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    })
}

const ALICE_PW: &str = "Trace Pass+1/=?&%x";
const ALICE_PW2: &str = "Second#Pass 2;@";
const BOB_PW: &str = "Bob's Sign-up Pass 3!";
const ALICE_PW3: &str = "Reset: Pass 4 & more";

/// The admin listener's origin, from the line `openciam dev` prints about it.
async fn admin_origin(log: &Arc<Mutex<String>>) -> String {
    for _ in 0..500 {
        let found = log.lock().unwrap().lines().find_map(|l| {
            let at = l.find("admin API:")?;
            let url = l[at..].split_whitespace().nth(2)?;
            Some(url.trim_end_matches("/admin/v1/").to_owned())
        });
        if let Some(origin) = found {
            return origin;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("dev printed no admin API line")
}

/// Admin API calls (a user created with a password, another call with the token), remembering
/// the password and the token as secrets.
async fn admin_calls(c: &mut Client, admin: &str) {
    let password = "Admin-Made-Pass-77";
    c.secrets.push(password.to_owned());
    c.secrets.push(ADMIN_TOKEN.to_owned());
    let r = c
        .http
        .post(format!("{admin}/admin/v1/tenants/demo/users"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({ "email": "dora-admin@example.com", "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = c
        .http
        .get(format!("{admin}/admin/v1/tenants/demo/users?email=dora-admin"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // A wrong token is not logged either.
    let wrong = "wrong-admin-token-abcdefghijklmnopqrstuvwxyz";
    c.secrets.push(wrong.to_owned());
    let r = c
        .http
        .get(format!("{admin}/admin/v1/tenants"))
        .bearer_auth(wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn no_password_code_or_token_is_ever_logged() {
    every_flow_logs_no_secret(false).await;
}

/// The same with JSON log lines (`--log-json`, `[log] format = "json"`): every line is JSON, and
/// every request line carries the trace and correlation ids.
#[tokio::test]
async fn no_secret_is_logged_in_json_lines_either() {
    every_flow_logs_no_secret(true).await;
}

async fn every_flow_logs_no_secret(json: bool) {
    let data = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let server = Server::start(data.path(), &log, json);
    let admin = admin_origin(&log).await;
    let d = data.path();
    // Admin CLI against the running server's store.
    cli(
        d,
        &[
            "user",
            "create",
            "--tenant",
            "demo",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        Some(&format!("{ALICE_PW}\n")),
        &log,
    );
    cli(
        d,
        &[
            "user",
            "set-password",
            "--tenant",
            "demo",
            "--email",
            "alice@example.com",
            "--password-stdin",
        ],
        Some(&format!("{ALICE_PW2}\n")),
        &log,
    );
    cli(
        d,
        &[
            "user",
            "create",
            "--tenant",
            "demo",
            "--email",
            "carol@example.com",
        ],
        None,
        &log,
    );
    let mut c = Client {
        http: reqwest::Client::new(),
        base: format!("{}/demo", server.origin),
        origin: server.origin.clone(),
        secrets: vec![ALICE_PW.into(), ALICE_PW2.into(), BOB_PW.into(), ALICE_PW3.into()],
    };
    let types = "oob password redirect";
    let scope = "openid offline_access api://demo/read";

    // Password sign-in, a wrong password first; then the refresh grant.
    let ct = c
        .ct(
            "oauth2/v2.0/initiate",
            &[
                ("client_id", DEMO),
                ("username", "alice@example.com"),
                ("challenge_type", types),
            ],
        )
        .await;
    let ct = c
        .ct(
            "oauth2/v2.0/challenge",
            &[
                ("client_id", DEMO),
                ("continuation_token", &ct),
                ("challenge_type", types),
            ],
        )
        .await;
    let wrong = c
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", DEMO),
                ("continuation_token", &ct),
                ("grant_type", "password"),
                ("password", ALICE_PW),
            ],
        )
        .await;
    assert_eq!(wrong["error_codes"][0], 50126, "{wrong}");
    let t = c
        .tokens(&[
            ("client_id", DEMO),
            ("continuation_token", &ct),
            ("grant_type", "password"),
            ("password", ALICE_PW2),
            ("scope", scope),
            ("client_info", "1"),
        ])
        .await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    c.tokens(&[
        ("client_id", DEMO),
        ("grant_type", "refresh_token"),
        ("refresh_token", &rt),
        ("scope", scope),
    ])
    .await;

    // Code sign-in, a wrong code first.
    let ct = c
        .ct(
            "oauth2/v2.0/initiate",
            &[
                ("client_id", CODE_APP),
                ("username", "carol@example.com"),
                ("challenge_type", "oob redirect"),
            ],
        )
        .await;
    let ct = c
        .ct(
            "oauth2/v2.0/challenge",
            &[
                ("client_id", CODE_APP),
                ("continuation_token", &ct),
                ("challenge_type", "oob redirect"),
            ],
        )
        .await;
    let code = c.code("carol@example.com", "signin").await;
    let wrong_code = if code == "87654321" {
        "12345678"
    } else {
        "87654321"
    };
    c.post(
        "oauth2/v2.0/token",
        &[
            ("client_id", CODE_APP),
            ("continuation_token", &ct),
            ("grant_type", "oob"),
            ("oob", wrong_code),
        ],
    )
    .await;
    c.tokens(&[
        ("client_id", CODE_APP),
        ("continuation_token", &ct),
        ("grant_type", "oob"),
        ("oob", &code),
        ("scope", scope),
    ])
    .await;

    // Sign-up with code and password, then the continuation-token grant.
    let ct = c
        .ct(
            "signup/v1.0/start",
            &[
                ("client_id", DEMO),
                ("username", "bob@example.com"),
                ("password", BOB_PW),
                ("challenge_type", types),
            ],
        )
        .await;
    let ct = c
        .ct(
            "signup/v1.0/challenge",
            &[
                ("client_id", DEMO),
                ("continuation_token", &ct),
                ("challenge_type", types),
            ],
        )
        .await;
    let code = c.code("bob@example.com", "signup").await;
    let ct = c
        .ct(
            "signup/v1.0/continue",
            &[
                ("client_id", DEMO),
                ("continuation_token", &ct),
                ("grant_type", "oob"),
                ("oob", &code),
            ],
        )
        .await;
    c.tokens(&[
        ("client_id", DEMO),
        ("continuation_token", &ct),
        ("grant_type", "continuation_token"),
        ("scope", scope),
    ])
    .await;

    // Password reset to the end, then the continuation-token grant.
    let ct = c
        .ct(
            "resetpassword/v1.0/start",
            &[
                ("client_id", DEMO),
                ("username", "alice@example.com"),
                ("challenge_type", "oob redirect"),
            ],
        )
        .await;
    let ct = c
        .ct(
            "resetpassword/v1.0/challenge",
            &[
                ("client_id", DEMO),
                ("continuation_token", &ct),
                ("challenge_type", "oob redirect"),
            ],
        )
        .await;
    let code = c.code("alice@example.com", "resetpassword").await;
    let ct = c
        .ct(
            "resetpassword/v1.0/continue",
            &[
                ("client_id", DEMO),
                ("continuation_token", &ct),
                ("grant_type", "oob"),
                ("oob", &code),
            ],
        )
        .await;
    let ct = c
        .ct(
            "resetpassword/v1.0/submit",
            &[
                ("client_id", DEMO),
                ("continuation_token", &ct),
                ("new_password", ALICE_PW3),
            ],
        )
        .await;
    let ct = c
        .ct(
            "resetpassword/v1.0/poll_completion",
            &[("client_id", DEMO), ("continuation_token", &ct)],
        )
        .await;
    c.tokens(&[
        ("client_id", DEMO),
        ("continuation_token", &ct),
        ("grant_type", "continuation_token"),
        ("scope", scope),
    ])
    .await;

    // More admin calls while the server runs.
    cli(d, &["user", "list", "--tenant", "demo"], None, &log);
    cli(
        d,
        &["user", "show", "--tenant", "demo", "--email", "alice@example.com"],
        None,
        &log,
    );
    cli(
        d,
        &[
            "user",
            "revoke-sessions",
            "--tenant",
            "demo",
            "--email",
            "bob@example.com",
        ],
        None,
        &log,
    );
    admin_calls(&mut c, &admin).await;
    server.stop();

    let log = log.lock().unwrap();
    check_request_lines(&log, json);
    assert!(log.contains("sqlx::query"), "no sqlx statement lines captured");
    // The capture worked: every request and every SQL statement left a line. (The router has no
    // tower-http trace layer; were one added, its lines would be searched the same way.)
    assert!(log.contains("request served"), "no request lines captured");
    // 4 passwords, 4 codes (one wrong), 18 continuation tokens, 5 token responses of 3 each.
    assert!(
        c.secrets.len() >= 40,
        "only {} secrets collected",
        c.secrets.len()
    );
    assert!(occurs(&log, "alice@example.com"), "the search sees the log");
    let mut leaks = Vec::new();
    for secret in &c.secrets {
        for form in encodings(secret) {
            if occurs(&log, &form) {
                let at = log.find(&form).unwrap();
                let line_start = log[..at].rfind('\n').map_or(0, |i| i + 1);
                let line_end = log[at..].find('\n').map_or(log.len(), |i| at + i);
                leaks.push(format!("{form:?} in: {}", &log[line_start..line_end]));
            }
        }
    }
    assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
}

/// Request lines carry `trace_id` and `correlation_id`; in JSON mode every stderr line is a JSON
/// object and the SQL run for a request carries the request's span.
fn check_request_lines(log: &str, json: bool) {
    let served: Vec<&str> = log.lines().filter(|l| l.contains("request served")).collect();
    assert!(served.len() > 10, "{} request lines", served.len());
    for line in &served {
        assert!(
            line.contains("trace_id") && line.contains("correlation_id"),
            "{line}"
        );
    }
    if !json {
        return;
    }
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() > 100, "{} JSON lines", lines.len());
    for v in lines
        .iter()
        .filter(|v| v["fields"]["message"] == "request served")
    {
        assert!(
            v["fields"]["trace_id"].is_string() && v["fields"]["correlation_id"].is_string(),
            "{v}"
        );
    }
    let in_span = lines
        .iter()
        .filter(|v| v["target"].as_str().is_some_and(|t| t.starts_with("sqlx")))
        .filter(|v| v["span"]["correlation_id"].is_string() && v["span"]["trace_id"].is_string())
        .count();
    assert!(in_span > 10, "{in_span} SQL lines inside a request span");
    // The server's lines are JSON (the admin CLI runs, logged in the same capture, write text).
    for l in log
        .lines()
        .filter(|l| l.contains("request served") || l.contains("admin call"))
    {
        assert!(l.starts_with('{'), "text line from the server in JSON mode: {l}");
    }
}

#[test]
fn the_search_finds_codes_and_encoded_secrets_but_not_digits_inside_numbers() {
    assert!(occurs("form: oob=12345678&x", "12345678"));
    assert!(!occurs("at 1764268123456789 ms", "12345678"));
    let pw = "a b+c/&";
    let logged = format!("body: password={}", encodings(pw)[1]);
    assert_eq!(logged, "body: password=a+b%2Bc%2F%26");
    assert!(encodings(pw).iter().any(|e| occurs(&logged, e)));
    assert!(encodings(pw).contains(&"a%20b%2bc%2f%26".to_owned()));
}
