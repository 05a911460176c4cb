//! `openciam tenant …`.

use super::store_args::StoreArgs;
use clap::{Args, Subcommand};
use openciam_core::ids::TenantId;

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create(CreateArgs),
    /// List tenants.
    List(StoreArgs),
}

/// `tenant create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Short name (letters, digits, '-').
    #[arg(long)]
    pub name: String,
    /// Domain; default {name}.onmicrosoft.com.
    #[arg(long)]
    pub domain: Option<String>,
    /// GUID; generated when absent.
    #[arg(long)]
    pub id: Option<uuid::Uuid>,
    /// Store selection.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs a tenant command.
pub async fn run(cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create(a) => {
            let (_, admin) = a.store.open().await?;
            let t = admin
                .create_tenant(&a.name, a.domain.as_deref(), a.id.map(TenantId))
                .await?;
            println!("{}  {}  {}", t.id, t.name, t.domain);
        }
        TenantCommand::List(store) => {
            let (_, admin) = store.open().await?;
            for t in admin.list_tenants().await? {
                println!("{}  {}  {}", t.id, t.name, t.domain);
            }
        }
    }
    Ok(())
}
