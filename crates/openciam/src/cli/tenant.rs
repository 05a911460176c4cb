//! `openciam tenant …`.

use super::store_args::StoreArgs;
use clap::{Args, Subcommand};
use openciam_core::ids::TenantId;
use openciam_core::strategy::password_policy::PolicyProfile;

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create(CreateArgs),
    /// List tenants.
    List(StoreArgs),
    /// Show a tenant's security settings (lockout, rate limits, enumeration protection) as JSON,
    /// after applying any `--set key=value`.
    Security(SecurityArgs),
}

/// `tenant security`.
#[derive(Debug, Args)]
pub struct SecurityArgs {
    /// Tenant name, domain or GUID.
    pub tenant: String,
    /// A setting to change, e.g. `enumeration_protection=true`, `lockout.threshold=5`,
    /// `rate_limits.disabled=true`. Repeatable; all or none are stored.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Store selection.
    #[command(flatten)]
    pub store: StoreArgs,
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
    /// Password policy: `nist` (minimum length, banned list) or `entra` (Entra's rules).
    #[arg(long, default_value = "nist", value_parser = ["nist", "entra"])]
    pub password_policy: String,
    /// Minimum password length for the `nist` policy (at least 8).
    #[arg(long, default_value_t = 8)]
    pub min_length: usize,
    /// Store selection.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs a tenant command.
pub async fn run(cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create(a) => {
            let policy = match a.password_policy.as_str() {
                "entra" => PolicyProfile::Entra,
                _ if a.min_length < 8 => anyhow::bail!("--min-length must be at least 8"),
                _ => PolicyProfile::Nist {
                    min_length: a.min_length,
                },
            };
            let (_, admin) = a.store.open().await?;
            let t = admin
                .create_tenant(&a.name, a.domain.as_deref(), a.id.map(TenantId), policy)
                .await?;
            println!("{}  {}  {}", t.id, t.name, t.domain);
        }
        TenantCommand::Security(a) => {
            let (_, admin) = a.store.open().await?;
            let t = admin.configure_security(&a.tenant, &a.set).await?;
            println!("{}", serde_json::to_string_pretty(&t.security)?);
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
