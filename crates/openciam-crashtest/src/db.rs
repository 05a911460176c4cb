//! The database under test, read directly while the server is down: integrity checks and the
//! number of accounts per address.

use anyhow::{Context as _, bail};
use sqlx::{Connection as _, Row as _};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

/// Which database the server runs on.
pub(crate) enum Database {
    /// A file in the run's temporary directory.
    Sqlite { file: PathBuf },
    /// A database of its own (`crashtest_<pid>`) on a shared server, dropped at the end.
    Postgres {
        admin_url: String,
        url: reqwest::Url,
        name: String,
    },
}

impl Database {
    /// A new SQLite file in `dir`.
    pub(crate) fn sqlite(dir: &Path) -> Self {
        Self::Sqlite {
            file: dir.join("openciam.db"),
        }
    }

    /// Creates `crashtest_<pid>` on the server `admin_url` names, with the amcheck extension.
    pub(crate) async fn postgres(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!("crashtest_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {admin_url}"))?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let mut url = reqwest::Url::parse(admin_url).context("invalid PostgreSQL URL")?;
        url.set_path(&format!("/{name}"));
        let mut conn = sqlx::PgConnection::connect(url.as_str()).await?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS amcheck")
            .execute(&mut conn)
            .await
            .context("CREATE EXTENSION amcheck")?;
        conn.close().await?;
        Ok(Self::Postgres {
            admin_url: admin_url.to_owned(),
            url,
            name,
        })
    }

    /// The URL the server is configured with.
    pub(crate) fn url(&self) -> String {
        match self {
            Self::Sqlite { file } => format!("sqlite://{}?mode=rwc", file.display()),
            Self::Postgres { url, .. } => url.to_string(),
        }
    }

    /// Integrity problems, empty when the database is sound: SQLite's `integrity_check` (must be
    /// `ok`) and `foreign_key_check` (must be empty); `pg_amcheck` on PostgreSQL (must exit 0
    /// and report nothing).
    pub(crate) async fn integrity(&self) -> anyhow::Result<Vec<String>> {
        match self {
            Self::Sqlite { file } => {
                let mut conn = sqlx::SqliteConnection::connect_with(
                    &sqlx::sqlite::SqliteConnectOptions::new().filename(file),
                )
                .await?;
                let mut problems = Vec::new();
                let rows = sqlx::query("PRAGMA integrity_check").fetch_all(&mut conn).await?;
                let results: Vec<String> = rows.iter().filter_map(|r| r.try_get(0).ok()).collect();
                if results != ["ok"] {
                    problems.push(format!("integrity_check: {results:?}"));
                }
                let rows = sqlx::query("PRAGMA foreign_key_check")
                    .fetch_all(&mut conn)
                    .await?;
                if !rows.is_empty() {
                    let tables: Vec<String> = rows.iter().filter_map(|r| r.try_get(0).ok()).collect();
                    problems.push(format!("foreign_key_check: {} rows ({tables:?})", rows.len()));
                }
                conn.close().await?;
                Ok(problems)
            }
            Self::Postgres { url, name, .. } => {
                let binary = pg_amcheck()?;
                let mut cmd = tokio::process::Command::new(&binary);
                cmd.args(["--no-password", "--heapallindexed", "-d", name])
                    .args(["-h", url.host_str().unwrap_or("127.0.0.1")])
                    .args(["-p", &url.port().unwrap_or(5432).to_string()]);
                if !url.username().is_empty() {
                    cmd.args(["-U", url.username()]);
                }
                if let Some(password) = url.password() {
                    cmd.env("PGPASSWORD", password);
                }
                let out = cmd
                    .output()
                    .await
                    .with_context(|| format!("running {}", binary.display()))?;
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                if out.status.success() && text.trim().is_empty() {
                    Ok(Vec::new())
                } else {
                    Ok(vec![format!("pg_amcheck ({}): {}", out.status, text.trim())])
                }
            }
        }
    }

    /// Accounts per normalised address in the crash tenant.
    pub(crate) async fn accounts(&self) -> anyhow::Result<HashMap<String, i64>> {
        const SQL: &str = "SELECT username_normalized, COUNT(*) AS n FROM users GROUP BY username_normalized";
        let rows = match self {
            Self::Sqlite { file } => {
                let mut conn = sqlx::SqliteConnection::connect_with(
                    &sqlx::sqlite::SqliteConnectOptions::new().filename(file),
                )
                .await?;
                let rows = sqlx::query(SQL).fetch_all(&mut conn).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()?
            }
            Self::Postgres { url, .. } => {
                let options = sqlx::postgres::PgConnectOptions::from_str(url.as_str())?;
                let mut conn = sqlx::PgConnection::connect_with(&options).await?;
                let rows = sqlx::query(SQL).fetch_all(&mut conn).await?;
                rows.iter()
                    .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()?
            }
        };
        Ok(rows.into_iter().collect())
    }

    /// Drops the PostgreSQL database (nothing to do for SQLite: the directory goes).
    pub(crate) async fn drop_database(&self) -> anyhow::Result<()> {
        if let Self::Postgres { admin_url, name, .. } = self {
            let mut conn = sqlx::PgConnection::connect(admin_url).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut conn)
                .await?;
        }
        Ok(())
    }
}

/// `pg_amcheck` on PATH, else the newest under /usr/lib/postgresql/*/bin.
fn pg_amcheck() -> anyhow::Result<PathBuf> {
    if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("pg_amcheck"))
            .find(|p| p.exists())
    }) {
        return Ok(found);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin/pg_amcheck");
            bin.exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!("pg_amcheck not found on PATH or under /usr/lib/postgresql/*/bin"),
    }
}
