//! `SmtpMailer` against a real SMTP server process: `tests/smtp_sink.py` (aiosmtpd) on 127.0.0.1 and
//! an ephemeral port, started per test and stopped when the test ends. The sink parses what it
//! receives with Python's own `email` package and reports it as JSON lines, so assertions are made
//! on the message as an independent server saw it. TLS tests use a CA and a server certificate
//! generated here, at test time; the CA goes to the mailer as `ca_file`.
//!
//! Needs `python3` with `aiosmtpd` (`scripts/python-deps.sh`). Without it these tests fail when
//! `CI=true` and are skipped with a notice otherwise. The two tests for a dead or silent relay need
//! no Python.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers outside #[test] fns report failure by panicking"
)]

use openciam_core::clock::SystemClock;
use openciam_core::mail::{MailError, MailPurpose, MailTenant, OutboundEmail};
use openciam_mail::{MailConfig, MailSetup};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// Bound on the sink starting (Python start-up plus import) and on any one message arriving.
const WAIT: Duration = Duration::from_secs(20);

/// A running `smtp_sink.py`; killed when dropped.
struct Sink {
    _child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    port: u16,
}

impl Sink {
    /// Starts the sink, or `None` (after a notice) when aiosmtpd is missing outside CI.
    async fn start(args: &[&str]) -> Option<Self> {
        if !aiosmtpd_available() {
            return None;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped()) // the sink exits when this closes
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn python3 smtp_sink.py");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let first = next_json(&mut stdout).await;
        let port = first["port"].as_u64().expect("sink prints its port first") as u16;
        Some(Self {
            _child: child,
            stdout,
            port,
        })
    }

    /// The next message the sink received.
    async fn next_message(&mut self) -> Value {
        next_json(&mut self.stdout).await
    }
}

async fn next_json(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("the SMTP sink answered in time")
        .expect("read the sink's stdout")
        .expect("the SMTP sink is still running");
    serde_json::from_str(&line).expect("the sink prints JSON lines")
}

fn aiosmtpd_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = "python3 with aiosmtpd is needed for the SMTP tests: run scripts/python-deps.sh";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("SKIPPED: {msg}");
    }
    ok
}

/// A test CA and a server certificate for 127.0.0.1 and localhost, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn generate() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "openciam test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let server = server_params.signed_by(&server_key, &ca).unwrap();

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("server.pem"), server.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), server_key.serialize_pem()).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn sink_args(&self, mode: &'static str) -> Vec<String> {
        vec![
            "--tls".into(),
            mode.into(),
            "--cert".into(),
            self.path("server.pem"),
            "--key".into(),
            self.path("server.key"),
        ]
    }
}

/// Builds the SMTP backend from TOML, as the binary would (figment).
fn setup(toml: &str) -> MailSetup {
    use figment::providers::Format as _;
    let config: MailConfig = figment::Figment::from(figment::providers::Toml::string(toml))
        .extract()
        .unwrap();
    openciam_mail::build(&config, Arc::new(SystemClock)).unwrap()
}

fn smtp_toml(port: u16, smtp_extra: &str) -> String {
    format!(
        r#"
        backend = "smtp"
        from = "Contoso <no-reply@contoso.test>"
        product_name = "Contoso"
        [smtp]
        host = "127.0.0.1"
        port = {port}
        timeout_seconds = 5
        {smtp_extra}
        [tenants.fabrikam]
        from = "Fabrikam Accounts <accounts@fabrikam.test>"
        product_name = "Fabrikam"
        "#
    )
}

fn tenant(name: &str) -> MailTenant {
    MailTenant { name: name.into() }
}

fn otp(to: &str, code: &str, purpose: MailPurpose) -> OutboundEmail {
    OutboundEmail::Otp {
        to: to.into(),
        code: code.into(),
        purpose,
        expires_in_minutes: 10,
    }
}

fn header_names(msg: &Value) -> Vec<String> {
    msg["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn plain_smtp_delivers_a_multipart_code_message() {
    let Some(mut sink) = Sink::start(&["--tls", "none"]).await else {
        return;
    };
    let mail = setup(&smtp_toml(sink.port, "tls = \"none\""));

    let sent = otp("Alice@Example.com", "493817", MailPurpose::Signup);
    mail.mailer().send(&tenant("contoso"), &sent).await.unwrap();
    let msg = sink.next_message().await;

    assert_eq!(msg["rcpt_tos"], serde_json::json!(["Alice@Example.com"]));
    assert_eq!(msg["mail_from"], "no-reply@contoso.test");
    assert_eq!(msg["from"], "Contoso <no-reply@contoso.test>");
    assert_eq!(msg["to"], "Alice@Example.com");
    assert_eq!(msg["subject"], "Your Contoso verification code");
    assert_eq!(msg["content_type"], "multipart/alternative");
    assert_eq!(msg["tls"], false);
    let text = msg["text"].as_str().unwrap();
    let html = msg["html"].as_str().unwrap();
    assert!(text.contains("493817") && text.contains("10 minutes"), "{text}");
    assert!(
        html.contains(">493817<") && html.contains("<!DOCTYPE html>"),
        "{html}"
    );
    for h in ["date", "message-id", "mime-version"] {
        assert!(header_names(&msg).contains(&h.to_owned()), "missing {h}");
    }

    // The tenant's own sender and product name.
    let reset = otp("bob@example.com", "000111", MailPurpose::Resetpassword);
    mail.mailer().send(&tenant("fabrikam"), &reset).await.unwrap();
    let msg = sink.next_message().await;
    assert_eq!(msg["mail_from"], "accounts@fabrikam.test");
    assert_eq!(msg["subject"], "Your Fabrikam password reset code");
}

#[tokio::test]
async fn starttls_with_auth_and_an_extra_ca() {
    let pki = Pki::generate();
    let mut args = pki.sink_args("starttls");
    args.extend(["--auth".to_owned(), "mailer:s3cret pass".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(mut sink) = Sink::start(&args).await else {
        return;
    };
    let extra = format!(
        "tls = \"starttls\"\nca_file = {:?}\nusername = \"mailer\"\npassword = \"s3cret pass\"",
        pki.path("ca.pem")
    );
    let mail = setup(&smtp_toml(sink.port, &extra));

    mail.mailer()
        .send(
            &tenant("contoso"),
            &otp("carol@example.com", "777222", MailPurpose::Signin),
        )
        .await
        .unwrap();
    let msg = sink.next_message().await;
    assert_eq!(msg["tls"], true);
    assert_eq!(msg["login"], "mailer");
    assert_eq!(msg["subject"], "Your Contoso sign-in code");
    assert!(msg["text"].as_str().unwrap().contains("777222"));

    let notice = OutboundEmail::PasswordChanged {
        to: "carol@example.com".into(),
    };
    mail.mailer().send(&tenant("contoso"), &notice).await.unwrap();
    let msg = sink.next_message().await;
    assert_eq!(msg["subject"], "Your Contoso password was changed");
    assert!(
        msg["html"]
            .as_str()
            .unwrap()
            .contains("<strong>carol@example.com</strong>")
    );
}

#[tokio::test]
async fn starttls_with_a_wrong_password_is_rejected() {
    let pki = Pki::generate();
    let mut args = pki.sink_args("starttls");
    args.extend(["--auth".to_owned(), "mailer:right".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(_sink) = Sink::start(&args).await else {
        return;
    };
    let extra = format!(
        "tls = \"starttls\"\nca_file = {:?}\nusername = \"mailer\"\npassword = \"wrong\"",
        pki.path("ca.pem")
    );
    let mail = setup(&smtp_toml(_sink.port, &extra));
    let err = mail
        .mailer()
        .send(
            &tenant("contoso"),
            &otp("d@example.com", "1", MailPurpose::Signin),
        )
        .await;
    // 535 authentication failed: permanent until the configuration changes.
    assert!(matches!(err, Err(MailError::Rejected(_))), "{err:?}");
}

#[tokio::test]
async fn implicit_tls_sends_the_test_message() {
    let pki = Pki::generate();
    let args = pki.sink_args("tls");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(mut sink) = Sink::start(&args).await else {
        return;
    };
    let extra = format!("tls = \"tls\"\nca_file = {:?}", pki.path("ca.pem"));
    let mail = setup(&smtp_toml(sink.port, &extra));

    mail.send_test(&tenant("fabrikam"), "ops@example.com")
        .await
        .unwrap();
    let msg = sink.next_message().await;
    assert_eq!(msg["tls"], true);
    assert_eq!(msg["rcpt_tos"], serde_json::json!(["ops@example.com"]));
    assert_eq!(msg["subject"], "Fabrikam test message");
    assert!(msg["text"].as_str().unwrap().contains("ops@example.com"));
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let pki = Pki::generate();
    let args = pki.sink_args("starttls");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(sink) = Sink::start(&args).await else {
        return;
    };
    // No ca_file: the test CA is not among the built-in roots.
    let mail = setup(&smtp_toml(sink.port, "tls = \"starttls\""));
    let err = mail
        .mailer()
        .send(
            &tenant("contoso"),
            &otp("e@example.com", "1", MailPurpose::Signup),
        )
        .await;
    assert!(matches!(err, Err(MailError::Unavailable(_))), "{err:?}");
}

#[tokio::test]
async fn inserted_values_cannot_add_headers_or_markup() {
    let dir = tempfile::tempdir().unwrap();
    let subject = dir.path().join("subject.txt");
    std::fs::write(&subject, "Code {{code}} for {{email}}\n").unwrap();
    let Some(mut sink) = Sink::start(&["--tls", "none"]).await else {
        return;
    };
    let toml = format!(
        "{}\n[templates.signin_code]\nsubject = {:?}\n",
        smtp_toml(sink.port, "tls = \"none\""),
        subject.to_str().unwrap()
    );
    let mail = setup(&toml);

    let evil = "<b>12</b>\r\nBcc: evil@attacker.test\r\nX-Injected: yes\r\n\r\nbody";
    mail.mailer()
        .send(
            &tenant("contoso"),
            &otp("f@example.com", evil, MailPurpose::Signin),
        )
        .await
        .unwrap();
    let msg = sink.next_message().await;

    assert_eq!(
        msg["rcpt_tos"],
        serde_json::json!(["f@example.com"]),
        "no extra recipient"
    );
    let names = header_names(&msg);
    assert!(
        !names.contains(&"x-injected".to_owned()) && !names.contains(&"bcc".to_owned()),
        "{names:?}"
    );
    let subject = msg["subject"].as_str().unwrap();
    assert!(!subject.contains(['\r', '\n']));
    assert!(
        subject.starts_with("Code <b>12</b>Bcc: evil@attacker.test"),
        "{subject}"
    );
    let html = msg["html"].as_str().unwrap();
    assert!(
        html.contains("&lt;b&gt;12&lt;/b&gt;Bcc: evil@attacker.test"),
        "{html}"
    );
    assert!(!html.contains("<b>12</b>"));
}

#[tokio::test]
async fn relay_refusals_are_classified() {
    let Some(sink) = Sink::start(&["--tls", "none"]).await else {
        return;
    };
    let mail = setup(&smtp_toml(sink.port, "tls = \"none\""));
    let permanent = mail
        .mailer()
        .send(
            &tenant("contoso"),
            &otp("bounce@example.com", "1", MailPurpose::Signup),
        )
        .await;
    assert!(
        matches!(permanent, Err(MailError::Rejected(_))),
        "550 → Rejected: {permanent:?}"
    );
    let transient = mail
        .mailer()
        .send(
            &tenant("contoso"),
            &otp("busy@example.com", "1", MailPurpose::Signup),
        )
        .await;
    assert!(
        matches!(transient, Err(MailError::Unavailable(_))),
        "451 → Unavailable: {transient:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_unavailable_at_once() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // dropped: nothing listens there now
    let mail = setup(&smtp_toml(port, "tls = \"none\""));
    let started = Instant::now();
    let err = mail
        .mailer()
        .send(
            &tenant("contoso"),
            &otp("g@example.com", "1", MailPurpose::Signup),
        )
        .await;
    assert!(matches!(err, Err(MailError::Unavailable(_))), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_silent_relay_times_out() {
    // Accepts the connection (kernel backlog) but never sends a greeting.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let toml = smtp_toml(port, "tls = \"none\"").replace("timeout_seconds = 5", "timeout_seconds = 1");
    let mail = setup(&toml);
    let started = Instant::now();
    let err = mail
        .mailer()
        .send(
            &tenant("contoso"),
            &otp("h@example.com", "1", MailPurpose::Signup),
        )
        .await;
    assert!(matches!(err, Err(MailError::Unavailable(_))), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    drop(listener);
}

#[test]
fn bad_settings_fail_at_build() {
    use figment::providers::Format as _;
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let cases = [
        smtp_toml(25, &format!("ca_file = {:?}", path_str(&not_pem))),
        smtp_toml(25, "ca_file = \"/nonexistent/ca.pem\""),
        smtp_toml(25, "password_file = \"/nonexistent/pw\"\nusername = \"u\""),
        smtp_toml(25, "").replace("from = \"Contoso <no-reply@contoso.test>\"", "from = \"Contoso\""),
        "backend = \"smtp\"\nfrom = \"a@b.test\"".to_owned(),
    ];
    for toml in cases {
        let config: MailConfig = figment::Figment::from(figment::providers::Toml::string(&toml))
            .extract()
            .unwrap();
        assert!(config.validate().is_err(), "validate: {toml}");
        assert!(
            openciam_mail::build(&config, Arc::new(SystemClock)).is_err(),
            "build: {toml}"
        );
    }
}

fn path_str(p: &Path) -> String {
    PathBuf::from(p).to_str().unwrap().to_owned()
}
