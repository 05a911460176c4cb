//! Which store an admin command works on: a dev data directory or a production config.

use crate::config::Config;
use crate::seed;
use anyhow::Context as _;
use clap::Args;
use openciam_core::admin::AdminService;
use openciam_core::clock::SystemClock;
use openciam_core::ports::Store;
use openciam_core::services::Services;
use openciam_core::strategy::password::HasherConfig;
use secrecy::ExposeSecret as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default dev data directory.
pub const DEFAULT_DATA_DIR: &str = "./.openciam";

/// Store selection for admin commands.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Dev data directory (as given to `openciam dev --data`). Default ./.openciam.
    #[arg(long, conflicts_with = "config")]
    pub data: Option<PathBuf>,
    /// Production configuration file (as given to `openciam serve --config`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Database of a dev server started with `openciam dev --database` (instead of the SQLite
    /// file under the data directory).
    #[arg(long, conflicts_with = "config")]
    pub database: Option<String>,
}

/// The SQLite URL of a dev data directory.
pub fn dev_database_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("openciam.db").display())
}

impl StoreArgs {
    /// A dev server's database: `--database`, else the SQLite file under `dir`.
    fn dev_url(&self, dir: &Path) -> String {
        self.database.clone().unwrap_or_else(|| dev_database_url(dir))
    }

    /// The database URL these arguments name (nothing is opened or created).
    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(path) = &self.config {
            let config = Config::load(path)?;
            let url = match (&config.database.url, &config.database.url_file) {
                (_, Some(file)) => {
                    std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
                }
                (Some(url), None) => url.expose_secret().to_owned(),
                (None, None) => anyhow::bail!("{} has no database.url", path.display()),
            };
            return Ok(url.trim().to_owned());
        }
        let dir = self
            .data
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        Ok(self.dev_url(&dir))
    }

    /// Opens the store (migrating it; seeding the demo tenant for a dev directory) and an admin
    /// service over it.
    pub async fn open(&self) -> anyhow::Result<(Arc<dyn Store>, AdminService)> {
        let clock = Arc::new(SystemClock);
        if let Some(path) = &self.config {
            let config = Config::load(path)?;
            let url = match (&config.database.url, &config.database.url_file) {
                (_, Some(file)) => {
                    std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?
                }
                (Some(url), None) => url.expose_secret().to_owned(),
                (None, None) => anyhow::bail!("{} has no database.url", path.display()),
            };
            let store = crate::app::open_store(url.trim()).await?;
            let admin = Services::admin_only(store.clone(), clock, HasherConfig::default())?;
            return Ok((store, admin));
        }
        let dir = self
            .data
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let store = crate::app::open_store(&self.dev_url(&dir)).await?;
        let admin = Services::admin_only(store.clone(), clock, HasherConfig::default())?;
        seed::seed_demo(&admin).await?;
        Ok((store, admin))
    }
}
