//! The command line: one binary, subcommands for running and administering openciam.

pub mod app;
pub mod audit;
pub mod backup;
pub mod db;
pub mod dev;
pub mod duration;
pub mod keys;
pub mod mail;
pub mod migrate;
pub mod serve;
pub mod store_args;
pub mod tenant;
pub mod user;

use clap::{Parser, Subcommand};

/// openciam: customer identity speaking the Entra External ID native-auth API.
#[derive(Debug, Parser)]
#[command(name = "openciam", version, about)]
pub struct Cli {
    /// Log as JSON lines (default: text). The filter comes from OPENCIAM_LOG (default "info").
    #[arg(long, global = true)]
    pub log_json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a local development server: SQLite under --data, seeded demo tenant, any CORS origin.
    Dev(dev::DevArgs),
    /// Run the production server from a configuration file.
    Serve(serve::ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(migrate::MigrateArgs),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage applications.
    #[command(subcommand)]
    App(app::AppCommand),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Check mail delivery.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Move data between databases.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Rotate and list token-signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Show the security audit log (sign-ins, lockouts, codes, resets, admin actions); `audit
    /// purge` deletes old events.
    Audit(audit::AuditArgs),
    /// Write a consistent copy of the SQLite database while the server runs (PostgreSQL: use
    /// pg_dump).
    Backup(backup::BackupArgs),
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(args) => dev::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Migrate(args) => migrate::run(args).await,
        Command::User(cmd) => user::run(cmd).await,
        Command::App(cmd) => app::run(cmd).await,
        Command::Tenant(cmd) => tenant::run(cmd).await,
        Command::Mail(cmd) => mail::run(cmd).await,
        Command::Db(cmd) => db::run(cmd).await,
        Command::Keys(cmd) => keys::run(cmd).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Backup(args) => backup::run(args).await,
    }
}
