//! The `openciam serve` process under test: its configuration, start, readiness and SIGKILL.

use anyhow::{Context as _, bail};
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The tenant the crash test creates.
pub(crate) const TENANT: &str = "crash";
/// Its e-mail + password app.
pub(crate) const CLIENT_ID: &str = "7e57c4a5-0000-4000-8000-000000000001";

/// How to start the server; the same for every restart.
pub(crate) struct ServerSpec {
    pub(crate) binary: PathBuf,
    pub(crate) config: PathBuf,
    pub(crate) log: PathBuf,
    pub(crate) port: u16,
}

impl ServerSpec {
    /// Writes the configuration into `dir`: a fixed port, the database, the sink as SMTP relay,
    /// rate limits off, no refresh-reuse grace, one tenant with one app.
    pub(crate) fn write(
        binary: PathBuf,
        dir: &Path,
        database_url: &str,
        smtp_port: u16,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let key = dir.join("master.key");
        // 32 bytes of base64: every run makes a new key.
        let bytes: [u8; 32] = rand::random();
        std::fs::write(&key, base64::engine::general_purpose::STANDARD.encode(bytes))?;
        let config = dir.join("openciam.toml");
        std::fs::write(
            &config,
            format!(
                r#"listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
master_key_file = "{key}"

[database]
url = "{database_url}"
acquire_timeout_seconds = 5

[limits]
profile = "off"

[codes]
resend_interval_seconds = 0
max_per_address_per_hour = 1000

[tokens]
refresh_reuse_grace_seconds = 0

[mail]
backend = "smtp"
from = "Crash test <no-reply@crash.test>"

[mail.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
timeout_seconds = 5

[[tenants]]
name = "{TENANT}"

[[tenants.apps]]
client_id = "{CLIENT_ID}"
display_name = "crash test"
"#,
                key = key.display(),
            ),
        )?;
        Ok(Self {
            binary,
            config,
            log: dir.join("server.log"),
            port,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits (up to 30 s) until `/healthz` answers 200. Its output is
    /// appended to the log file.
    pub(crate) async fn start(&self, http: &reqwest::Client) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut child = Command::new(&self.binary)
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("OPENCIAM_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let started = Instant::now();
        let url = format!("{}/healthz", self.origin());
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "openciam exited during start ({status}); see {}",
                    self.log.display()
                );
            }
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                // The tenant is applied before the listener opens, so the server is ready.
                return Ok(child);
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.start_kill();
                bail!(
                    "openciam did not answer /healthz within 30 s; see {}",
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// SIGKILL, then reaps the process.
pub(crate) async fn kill(child: &mut Child) -> anyhow::Result<()> {
    child.start_kill().context("SIGKILL")?;
    child.wait().await?;
    Ok(())
}

/// A port nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
