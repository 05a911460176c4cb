//! `openciam dev --tls` (issue 11): the real binary makes a local CA and a server certificate under
//! its data directory and serves HTTPS; a client that trusts only that CA signs in with a password
//! by IP address and by the dotted name `openciam.localhost` (the form MSAL iOS requires), while a
//! client that does not trust it, or speaks plain HTTP, gets nothing.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

const BIN: &str = env!("CARGO_BIN_EXE_openciam");
const DEMO: &str = "11111111-1111-1111-1111-111111111111";
const EMAIL: &str = "tls-user@example.com";
const PASSWORD: &str = "Tls-Sign-In-2026!";

/// The dev server process; killed when dropped, so a failing test leaves nothing running.
struct DevTls {
    child: Child,
    /// `https://127.0.0.1:PORT`, read from the "listening on" line.
    origin: String,
    /// Everything printed before the server went quiet on stdout.
    banner: String,
}

impl Drop for DevTls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &std::path::Path) -> DevTls {
    let mut child = Command::new(BIN)
        .args(["dev", "--tls", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut origin, mut banner, mut line) = (None, String::new(), String::new());
    // The banner ends with the Chromium line of the trust instructions.
    while stdout.read_line(&mut line).unwrap() > 0 {
        banner.push_str(&line);
        if let Some(at) = line.find("listening on ") {
            origin = Some(line[at + "listening on ".len()..].trim().to_owned());
        }
        if line.contains("--ignore-certificate-errors-spki-list") {
            break;
        }
        line.clear();
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let origin = origin.unwrap_or_else(|| panic!("no 'listening on' line in:\n{banner}"));
    DevTls {
        child,
        origin,
        banner,
    }
}

fn create_user(data: &std::path::Path) {
    let out = Command::new(BIN)
        .args([
            "user",
            "create",
            "--tenant",
            "demo",
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--data",
        ])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A rustls client configuration whose only trust anchor is the certificate(s) in `ca_pem`.
fn trusting(ca_pem: &[u8]) -> rustls::ClientConfig {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// An HTTPS client for one server: TCP to `addr`, TLS with `host` as the server name (so a name
/// can be "resolved" to 127.0.0.1 the way /etc/hosts would), trusting what `config` trusts.
struct Https {
    config: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    host: String,
}

impl Https {
    fn new(config: rustls::ClientConfig, port: u16, host: &str) -> Self {
        Self {
            config: Arc::new(config),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            host: host.to_owned(),
        }
    }

    /// One request on a fresh connection; `Err` when the connection or the handshake fails.
    async fn send(
        &self,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Result<(u16, serde_json::Value), String> {
        use http_body_util::BodyExt as _;
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from(self.host.clone()).unwrap();
        let tls = tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let host = format!("{}:{}", self.host, self.addr.port());
        let request = http::Request::builder().uri(path).header("host", host);
        let request = match form {
            Some(form) => {
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish();
                request
                    .method("POST")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            }
            None => request
                .method("GET")
                .body(http_body_util::Full::new(bytes::Bytes::new())),
        };
        let response = sender
            .send_request(request.unwrap())
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Ok((
            status,
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        ))
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let (status, body) = self.send(path, Some(form)).await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

/// initiate, challenge, password grant; returns the token response.
async fn sign_in(http: &Https) -> serde_json::Value {
    let r = http
        .post(
            "/demo/oauth2/v2.0/initiate",
            &[
                ("client_id", DEMO),
                ("username", EMAIL),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    let ct = r["continuation_token"].as_str().unwrap().to_owned();
    let r = http
        .post(
            "/demo/oauth2/v2.0/challenge",
            &[
                ("client_id", DEMO),
                ("continuation_token", &ct),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    assert_eq!(r["challenge_type"], "password", "{r}");
    let ct = r["continuation_token"].as_str().unwrap().to_owned();
    http.post(
        "/demo/oauth2/v2.0/token",
        &[
            ("client_id", DEMO),
            ("continuation_token", &ct),
            ("grant_type", "password"),
            ("password", PASSWORD),
            ("scope", "openid offline_access"),
            ("client_info", "true"),
        ],
    )
    .await
}

#[tokio::test]
async fn dev_tls_serves_https_that_only_the_generated_ca_vouches_for() {
    let dir = tempfile::tempdir().unwrap();
    create_user(dir.path());
    let server = start(dir.path());
    assert!(
        server.origin.starts_with("https://127.0.0.1:"),
        "{}",
        server.banner
    );
    let ca_path = dir.path().join("tls").join("ca.pem");
    for expected in [
        format!("xcrun simctl keychain booted add-root-cert {}", ca_path.display()),
        "https://openciam.localhost:".to_owned(),
        "network_security_config".to_owned(),
    ] {
        assert!(
            server.banner.contains(&expected),
            "banner lacks {expected:?}:\n{}",
            server.banner
        );
    }
    let port: u16 = server.origin.rsplit(':').next().unwrap().parse().unwrap();
    let ca = std::fs::read(&ca_path).unwrap();

    // By IP address, trusting only the generated CA.
    let tokens = sign_in(&Https::new(trusting(&ca), port, "127.0.0.1")).await;
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    assert!(
        tokens["client_info"].as_str().is_some_and(|s| !s.is_empty()),
        "{tokens}"
    );
    let id = tokens["id_token"].as_str().unwrap().to_owned();
    let claims = id.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    assert!(
        claims["iss"].as_str().unwrap().starts_with(&server.origin),
        "issuer on the https public URL: {claims}"
    );

    // By the dotted name, mapped to 127.0.0.1 here as /etc/hosts would on a Mac, and by localhost.
    for host in ["openciam.localhost", "localhost"] {
        let tokens = sign_in(&Https::new(trusting(&ca), port, host)).await;
        assert_eq!(tokens["token_type"], "Bearer", "{host}: {tokens}");
    }

    // A name the certificate does not carry is refused, CA or not.
    let err = Https::new(trusting(&ca), port, "openciam.example")
        .send("/demo/v2.0/.well-known/openid-configuration", None)
        .await
        .unwrap_err();
    assert!(
        err.contains("NotValidForName") || err.contains("not valid for"),
        "{err}"
    );

    // A client that trusts other roots (here: only a stranger's self-signed certificate) is refused.
    let stranger = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let err = Https::new(trusting(stranger.cert.pem().as_bytes()), port, "localhost")
        .send("/demo/v2.0/.well-known/openid-configuration", None)
        .await
        .unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");

    // Plain HTTP on the same port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/demo/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
}

#[tokio::test]
async fn a_restart_keeps_the_ca_so_devices_keep_trusting_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("tls").join("ca.pem");
    let first = start(dir.path());
    let ca = std::fs::read(&ca_path).unwrap();
    drop(first);
    std::fs::remove_file(dir.path().join("tls").join("server.pem")).unwrap();
    let second = start(dir.path());
    assert_eq!(std::fs::read(&ca_path).unwrap(), ca, "same CA after a restart");
    let port: u16 = second.origin.rsplit(':').next().unwrap().parse().unwrap();
    let (status, body) = Https::new(trusting(&ca), port, "openciam.localhost")
        .send("/demo/v2.0/.well-known/openid-configuration", None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
}

/// A `serve` configuration with `[tls]` naming `cert` and `key`, in `dir`.
fn serve_config(dir: &std::path::Path, cert: &std::path::Path, key: &std::path::Path) -> std::path::PathBuf {
    let master = dir.join("master.key");
    std::fs::write(&master, openciam_core::crypto::MasterKey::generate_base64()).unwrap();
    let config = dir.join("openciam.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\npublic_url = \"https://openciam.localhost\"\nmaster_key_file = {master:?}\n\
             [database]\nurl = \"sqlite://{}?mode=rwc\"\n\
             [tls]\ncert_file = {cert:?}\nkey_file = {key:?}\n\
             [mail]\nbackend = \"smtp\"\nfrom = \"Contoso <no-reply@contoso.example>\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\n\
             [[tenants]]\nname = \"contoso\"\n[[tenants.apps]]\nclient_id = \"aaaaaaaa-0000-4000-8000-000000000001\"\n",
            dir.join("serve.db").display()
        ),
    )
    .unwrap();
    config
}

#[tokio::test]
async fn serve_with_a_tls_section_serves_https() {
    let dir = tempfile::tempdir().unwrap();
    let certs =
        openciam::tls::ensure_dev_certificates(&dir.path().join("tls"), time::OffsetDateTime::now_utc())
            .unwrap();
    let config = serve_config(dir.path(), &certs.server_cert, &certs.server_key);
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("OPENCIAM_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let (mut line, mut seen) = (String::new(), String::new());
    let addr = loop {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _ = child.kill();
            panic!("serve stopped before listening:\n{seen}");
        }
        seen.push_str(&line);
        if line.contains("openciam listening") {
            let addr = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .unwrap();
            break addr.parse::<SocketAddr>().unwrap();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    assert!(seen.contains("scheme=https"), "{seen}");
    let ca = std::fs::read(&certs.ca_cert).unwrap();
    let result = Https::new(trusting(&ca), addr.port(), "openciam.localhost")
        .send("/contoso/v2.0/.well-known/openid-configuration", None)
        .await;
    let _ = child.kill();
    let _ = child.wait();
    let (status, body) = result.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body["issuer"]
            .as_str()
            .unwrap()
            .starts_with("https://openciam.localhost/"),
        "{body}"
    );
}

#[test]
fn serve_refuses_a_key_that_does_not_match_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certs =
        openciam::tls::ensure_dev_certificates(&dir.path().join("tls"), time::OffsetDateTime::now_utc())
            .unwrap();
    let wrong_key = dir.path().join("tls").join("ca.key");
    let config = serve_config(dir.path(), &certs.server_cert, &wrong_key);
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not match") && err.contains("ca.key"), "{err}");
}
