//! `openciam backup --to FILE`: a consistent copy of the SQLite database, taken while the server
//! runs (`VACUUM INTO`), checked, and ready to serve: point `[database] url` (or a dev data
//! directory's `openciam.db`) at it to restore. PostgreSQL deployments use `pg_dump`.

use super::store_args::StoreArgs;
use anyhow::Context as _;
use clap::Args;
use openciam_store::SqliteStore;
use std::path::PathBuf;

/// `openciam backup` arguments.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Which database to back up.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The backup file to write; it must not exist yet.
    #[arg(long)]
    pub to: PathBuf,
}

/// Runs `backup`.
pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    let url = args.store.database_url()?;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        anyhow::bail!(
            "`openciam backup` copies SQLite databases only; back up PostgreSQL with its own tools, e.g. `pg_dump --format=custom --file openciam.dump DBNAME` (restore with pg_restore)"
        );
    }
    if args.to.exists() {
        anyhow::bail!(
            "{} already exists; choose a new file name (a backup never overwrites)",
            args.to.display()
        );
    }
    let source_file = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(&url);
    let source_file = source_file.split('?').next().unwrap_or(source_file);
    if !std::path::Path::new(source_file).exists() {
        anyhow::bail!("no database at {source_file}: nothing to back up");
    }
    // Not migrated: a backup copies the database as the running server has it.
    let source = SqliteStore::open(&url)
        .await
        .context("opening the database to back up")?;
    source.backup_into(&args.to).await?;
    source.close().await;
    let copy = SqliteStore::open(&format!("sqlite://{}", args.to.display()))
        .await
        .context("opening the backup to check it")?;
    let checked = copy.check_integrity().await;
    copy.close().await;
    checked.with_context(|| format!("the backup {} failed its check", args.to.display()))?;
    println!(
        "backup written to {} (integrity_check ok, foreign_key_check ok)",
        args.to.display()
    );
    println!(
        "restore: stop openciam, put the file in place of the database (or point [database] url at it), start openciam"
    );
    Ok(())
}
