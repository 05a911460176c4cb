//! `openciam db copy --from URL --to URL [--force]`: moves a deployment to another database
//! (typically from the embedded SQLite file to PostgreSQL when adding nodes).
//!
//! Both databases are opened by URL scheme and migrated first. What is copied and what is not is
//! decided in [`openciam_core::admin_copy`]; this command prints the counts and says plainly what
//! was left behind.

use clap::{Args, Subcommand};
use openciam_core::admin_copy::{CopyReport, copy_store};

/// Database commands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy tenants, apps, users (with password hashes), signing keys and refresh tokens
    /// (users stay signed in) into another database. Flows and one-time codes are not copied.
    /// Serve the target with the same master key.
    Copy(CopyArgs),
}

/// `db copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source database: `sqlite://PATH?mode=rwc`, a file path, or `postgres://…`.
    #[arg(long, env = "OPENCIAM_DB_COPY_FROM", hide_env_values = true)]
    pub from: String,
    /// Target database, same forms. Must be empty unless --force.
    #[arg(long, env = "OPENCIAM_DB_COPY_TO", hide_env_values = true)]
    pub to: String,
    /// Delete everything in a non-empty target before copying.
    #[arg(long)]
    pub force: bool,
}

/// Said after every copy: what a user caught mid-flow will see.
pub const NOT_COPIED: &str =
    "flows, continuation tokens and one-time codes are not copied: users mid-flow start again";

/// Runs a database command.
pub async fn run(cmd: DbCommand) -> anyhow::Result<()> {
    match cmd {
        DbCommand::Copy(args) => copy(args).await,
    }
}

async fn copy(args: CopyArgs) -> anyhow::Result<()> {
    if args.from.trim() == args.to.trim() {
        anyhow::bail!("--from and --to name the same database");
    }
    let from = crate::app::open_store(args.from.trim()).await?;
    let to = crate::app::open_store(args.to.trim()).await?;
    let report = copy_store(from.as_ref(), to.as_ref(), args.force).await?;
    print!("{}", summary(&report));
    Ok(())
}

/// The lines printed after a copy.
fn summary(report: &CopyReport) -> String {
    let rows = [
        ("tenants", report.tenants),
        ("apps", report.apps),
        ("users", report.users),
        ("signing keys", report.signing_keys),
        ("refresh-token families", report.refresh_families),
        ("refresh tokens", report.refresh_tokens),
    ];
    let mut out = String::from("copied:\n");
    for (kind, count) in rows {
        out.push_str(&format!("  {kind:<24}{count}\n"));
    }
    out.push_str(NOT_COPIED);
    out.push('\n');
    out.push_str("serve the target with the same master key: signing keys are copied encrypted under it\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_every_kind_and_what_was_left_behind() {
        let report = CopyReport {
            tenants: 1,
            apps: 2,
            users: 3,
            signing_keys: 4,
            refresh_families: 5,
            refresh_tokens: 6,
        };
        let text = summary(&report);
        assert!(text.contains("  users                   3\n"), "{text}");
        assert!(text.contains("  refresh tokens          6\n"), "{text}");
        assert!(text.contains(NOT_COPIED), "{text}");
    }
}
