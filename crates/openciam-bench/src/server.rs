//! `--spawn`: starts the `openciam` binary on a data directory of its own, seeds users through
//! the bulk import path (`openciam user import`, every password user sharing one precomputed
//! argon2id hash), restarts it on the now-existing database and measures how soon it is ready.

use crate::cli::{DEV_CLIENT_ID, DEV_CODE_CLIENT_ID, DEV_TENANT, RunArgs, SpawnMode};
use crate::flows::{code_user, password_user};
use anyhow::Context as _;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tenant `--spawn serve` configures.
pub const SERVE_TENANT: &str = "bench";
/// Its app (e-mail + password).
pub const SERVE_CLIENT_ID: &str = "bbbbbbbb-0000-4000-8000-00000000b001";

/// Writes `openciam user import` lines: `users` password users sharing one hash of `password`
/// and `code_users` code-only users.
pub fn write_users_file(
    out: &mut impl Write,
    users: usize,
    code_users: usize,
    password: &str,
) -> anyhow::Result<()> {
    let hash = openciam_core::strategy::password::hash_now(password)?;
    for i in 0..users {
        writeln!(
            out,
            "{{\"email\":\"{}\",\"password_hash\":\"{hash}\"}}",
            password_user(i)
        )?;
    }
    for i in 0..code_users {
        writeln!(out, "{{\"email\":\"{}\"}}", code_user(i))?;
    }
    Ok(())
}

/// Facts about the spawned server for the report.
#[derive(Debug, Clone, Serialize)]
pub struct ServerFacts {
    /// `dev` or `serve`.
    pub mode: SpawnMode,
    /// The command line.
    pub command: String,
    /// `sqlite (file)` or the PostgreSQL URL without credentials.
    pub database: String,
    /// Limits profile.
    pub limits: String,
    /// SQLite `synchronous` (the store sets NORMAL in WAL mode); none on PostgreSQL.
    pub sqlite_synchronous: Option<String>,
    /// The path polled for readiness.
    pub ready_path: String,
    /// Milliseconds from spawn to the first 200, on an empty database (migrations, keys, seed).
    pub ready_ms_empty_db: f64,
    /// The same on the existing, seeded database (the start that is measured).
    pub ready_ms_existing_db: f64,
    /// Users imported and the import's wall time.
    pub seeded_users: usize,
    /// Code-only users imported.
    pub seeded_code_users: usize,
    /// Seconds `openciam user import` took.
    pub seed_seconds: f64,
    /// Resident memory one second after the measured start, before any load.
    pub idle_rss_kib: Option<u64>,
}

/// A server started by the tool; stopped when dropped.
pub struct Spawned {
    child: Child,
    /// Its process id.
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// Tenant path segment.
    pub tenant: String,
    /// Password app.
    pub client_id: String,
    /// E-mail-code app (dev only).
    pub code_client_id: String,
    /// For the report.
    pub facts: ServerFacts,
    _temp: Option<tempfile::TempDir>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn default_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().context("the tool's own directory")?;
    Ok(dir.join("openciam"))
}

/// The URL without its user and password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

struct Plan {
    binary: PathBuf,
    mode: SpawnMode,
    data: PathBuf,
    port: u16,
    config: Option<PathBuf>,
    /// `--database` of a dev server (PostgreSQL instead of its SQLite file).
    dev_database: Option<String>,
}

impl Plan {
    fn server_command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        match self.mode {
            SpawnMode::Dev => {
                c.arg("dev")
                    .arg("--data")
                    .arg(&self.data)
                    .arg("--listen")
                    .arg(format!("127.0.0.1:{}", self.port))
                    .arg("--limits")
                    .arg("bench");
                if let Some(url) = &self.dev_database {
                    c.arg("--database").arg(url);
                }
            }
            SpawnMode::Serve => {
                c.arg("serve")
                    .arg("--config")
                    .arg(self.config.as_deref().unwrap_or(Path::new("")));
            }
        }
        c
    }

    fn store_args(&self, c: &mut Command) {
        match &self.config {
            Some(cfg) => c.arg("--config").arg(cfg),
            None => c.arg("--data").arg(&self.data),
        };
        if let Some(url) = &self.dev_database {
            c.arg("--database").arg(url);
        }
    }

    fn start(&self) -> anyhow::Result<(Child, Instant)> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.join("server.log"))?;
        let started = Instant::now();
        let child = self
            .server_command()
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        Ok((child, started))
    }
}

/// Polls `url` until it answers 200; milliseconds since `started`.
async fn wait_ready(
    http: &reqwest::Client,
    url: &str,
    started: Instant,
    child: &mut Child,
) -> anyhow::Result<f64> {
    let deadline = started + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status().as_u16() == 200
        {
            return Ok(started.elapsed().as_secs_f64() * 1000.0);
        }
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("the server exited ({status}) before it was ready; see its server.log");
        }
        anyhow::ensure!(Instant::now() < deadline, "the server was not ready within 60 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn serve_config(data: &Path, port: u16, database: &str) -> String {
    format!(
        r#"listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
master_key_file = "{key}"

[database]
url = "{database}"

[limits]
profile = "bench"

# Password and refresh flows send no mail; serve refuses the dev mailbox, so a relay that is
# never used is named.
[mail]
backend = "smtp"
from = "bench <bench@bench.example>"
[mail.smtp]
host = "127.0.0.1"
port = 9
tls = "none"

[[tenants]]
name = "{SERVE_TENANT}"
[[tenants.apps]]
client_id = "{SERVE_CLIENT_ID}"
display_name = "openciam-bench"
"#,
        key = data.join("master.key").display(),
    )
}

/// Starts, seeds, restarts and measures the server `args` describe.
pub async fn spawn(args: &RunArgs, mode: SpawnMode) -> anyhow::Result<Spawned> {
    let (data, temp) = match &args.data {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            (d.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new().prefix("openciam-bench-").tempdir()?;
            (t.path().to_owned(), Some(t))
        }
    };
    let binary = match &args.openciam {
        Some(b) => b.clone(),
        None => default_binary()?,
    };
    anyhow::ensure!(
        binary.exists(),
        "{} not found: build it (cargo build --release -p openciam) or pass --openciam",
        binary.display()
    );
    let port = free_port()?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data.join("openciam.db").display()));
    let config = match mode {
        SpawnMode::Dev => None,
        SpawnMode::Serve => {
            std::fs::write(
                data.join("master.key"),
                format!("{}\n", openciam_core::crypto::MasterKey::generate_base64()),
            )?;
            let path = data.join("openciam.toml");
            std::fs::write(&path, serve_config(&data, port, &database))?;
            Some(path)
        }
    };
    let plan = Plan {
        binary,
        mode,
        data: data.clone(),
        port,
        config,
        dev_database: match mode {
            SpawnMode::Dev => args.database.clone(),
            SpawnMode::Serve => None,
        },
    };
    let origin = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;

    // First start: an empty database (migrations, signing key, tenants).
    let (mut child, started) = plan.start()?;
    let first = wait_ready(&http, &format!("{origin}/healthz"), started, &mut child).await;
    let ready_path = match http.get(format!("{origin}/readyz")).send().await {
        Ok(r) if r.status().as_u16() != 404 => "/readyz",
        _ => "/healthz",
    };
    stop(&mut child);
    let ready_ms_empty_db = first?;

    // Seed through the bulk import path.
    let (users, code_users) = match mode {
        SpawnMode::Dev => (args.users, args.code_users),
        SpawnMode::Serve => (args.users, 0),
    };
    let file = data.join("users.jsonl");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        write_users_file(&mut out, users, code_users, &args.password)?;
        out.flush()?;
    }
    let tenant = match mode {
        SpawnMode::Dev => DEV_TENANT,
        SpawnMode::Serve => SERVE_TENANT,
    };
    let seed_started = Instant::now();
    let mut import = Command::new(&plan.binary);
    import
        .args(["user", "import", "--tenant", tenant, "--file"])
        .arg(&file);
    plan.store_args(&mut import);
    let out = import.output().context("running openciam user import")?;
    anyhow::ensure!(
        out.status.success(),
        "openciam user import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seed_seconds = seed_started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&file);

    // The measured start: the database exists and is seeded.
    let (mut child, started) = plan.start()?;
    let ready = wait_ready(&http, &format!("{origin}{ready_path}"), started, &mut child).await;
    let ready_ms_existing_db = match ready {
        Ok(ms) => ms,
        Err(e) => {
            stop(&mut child);
            return Err(e);
        }
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.id();
    let idle_rss_kib = crate::procfs::status_kib(pid, "VmRSS");
    let command = format!("{:?}", plan.server_command())
        .replace('"', "")
        .replace(&data.display().to_string(), "DATA")
        .replace(&database, &redact(&database));
    let postgres = database.starts_with("postgres");
    Ok(Spawned {
        child,
        pid,
        origin,
        tenant: tenant.to_owned(),
        client_id: match mode {
            SpawnMode::Dev => DEV_CLIENT_ID.to_owned(),
            SpawnMode::Serve => SERVE_CLIENT_ID.to_owned(),
        },
        code_client_id: DEV_CODE_CLIENT_ID.to_owned(),
        facts: ServerFacts {
            mode,
            command,
            database: if postgres {
                redact(&database)
            } else {
                "sqlite (file in DATA)".to_owned()
            },
            limits: "bench".to_owned(),
            sqlite_synchronous: (!postgres).then(|| "NORMAL (WAL)".to_owned()),
            ready_path: ready_path.to_owned(),
            ready_ms_empty_db,
            ready_ms_existing_db,
            seeded_users: users,
            seeded_code_users: code_users,
            seed_seconds,
            idle_rss_kib,
        },
        _temp: temp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_file_lines_share_one_hash() {
        let mut out = Vec::new();
        write_users_file(&mut out, 2, 1, "Pw-Bench-1").unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["email"], "pw0@bench.example");
        assert_eq!(lines[0]["password_hash"], lines[1]["password_hash"]);
        assert_eq!(lines[2], serde_json::json!({"email": "code0@bench.example"}));
    }

    #[test]
    fn database_urls_lose_their_credentials() {
        assert_eq!(redact("postgres://u:p@h:5432/db"), "postgres://…@h:5432/db");
        assert_eq!(redact("sqlite:///x.db"), "sqlite:///x.db");
    }
}
