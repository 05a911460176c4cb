//! `openciam migrate --config FILE`: applies pending migrations and exits. Safe to run while
//! other nodes start (PostgreSQL migrations hold an advisory lock).

use crate::config::Config;
use anyhow::Context as _;
use clap::Args;
use secrecy::ExposeSecret as _;
use std::path::PathBuf;

/// `migrate` arguments.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Production configuration file.
    #[arg(long, env = "OPENCIAM_CONFIG")]
    pub config: PathBuf,
}

/// Runs the migrations.
pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let url = match (&config.database.url, &config.database.url_file) {
        (_, Some(file)) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
        (Some(url), None) => url.expose_secret().to_owned(),
        (None, None) => anyhow::bail!("{} has no database.url", args.config.display()),
    };
    crate::app::open_store_with(url.trim(), &config.database.store_options(true)).await?;
    println!("database migrated");
    Ok(())
}
