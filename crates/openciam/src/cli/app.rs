//! `openciam app …`.

use super::store_args::StoreArgs;
use clap::{Args, Subcommand, ValueEnum};
use openciam_core::admin::NewApp;
use openciam_core::ids::ClientId;
use openciam_core::mfa::MfaPolicy;
use openciam_core::model::{App, SignInMethod};

fn parse_mfa(raw: &str) -> Result<MfaPolicy, String> {
    MfaPolicy::parse_compact(raw)
}

/// App commands.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an app.
    Create(CreateArgs),
    /// List a tenant's apps.
    List(ListArgs),
}

/// User-flow method.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Method {
    /// E-mail and password.
    EmailPassword,
    /// E-mail one-time code.
    EmailOtp,
}

/// `app create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// Client id (GUID); generated when absent.
    #[arg(long)]
    pub client_id: Option<String>,
    /// Sign-in method of the app's user flow.
    #[arg(long, value_enum, default_value = "email-password")]
    pub method: Method,
    /// Browser origin allowed to call the API (repeatable).
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
    /// Resource identifier, e.g. api://orders, when the app exposes scopes.
    #[arg(long)]
    pub identifier_uri: Option<String>,
    /// Exposed scope, short name (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Register without native authentication (e.g. an API-only app).
    #[arg(long)]
    pub no_native_auth: bool,
    /// The app's own second-factor policy: `off`, `required`, or with the channels allowed,
    /// `required:email,sms`. Absent, the app follows the tenant's policy.
    #[arg(long, value_parser = parse_mfa)]
    pub mfa: Option<MfaPolicy>,
    /// Tenant name, domain or GUID.
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// Store selection.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `app list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Tenant name, domain or GUID.
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// Store selection.
    #[command(flatten)]
    pub store: StoreArgs,
}

fn print_app(a: &App) {
    let method = match a.method {
        SignInMethod::EmailPassword => "email+password",
        SignInMethod::EmailOtp => "email-code",
    };
    let native = if a.native_auth {
        "native-auth"
    } else {
        "no-native-auth"
    };
    let scopes: Vec<String> = a
        .scopes
        .iter()
        .map(|s| {
            format!(
                "{}/{s}",
                a.identifier_uri.as_deref().unwrap_or(a.client_id.as_str())
            )
        })
        .collect();
    let mfa = match &a.mfa {
        None => "mfa=tenant".to_owned(),
        Some(p) => {
            let channels: Vec<&str> = p.methods.iter().map(|m| m.as_str()).collect();
            let mode = if p.required { "required" } else { "off" };
            format!("mfa={mode}:{}", channels.join(","))
        }
    };
    println!(
        "{}  {}  {method}  {native}  {mfa}  cors={:?}  scopes={:?}",
        a.client_id, a.display_name, a.cors_origins, scopes
    );
}

/// Runs an app command.
pub async fn run(cmd: AppCommand) -> anyhow::Result<()> {
    match cmd {
        AppCommand::Create(a) => {
            let client_id = match &a.client_id {
                Some(raw) => {
                    Some(ClientId::parse(raw).ok_or_else(|| anyhow::anyhow!("--client-id must be a GUID"))?)
                }
                None => None,
            };
            let (_, admin) = a.store.open().await?;
            let method = match a.method {
                Method::EmailPassword => SignInMethod::EmailPassword,
                Method::EmailOtp => SignInMethod::EmailOtp,
            };
            let app = admin
                .create_app(
                    &a.tenant,
                    NewApp {
                        client_id,
                        display_name: a.name,
                        method,
                        native_auth: !a.no_native_auth,
                        cors_origins: a.cors_origins,
                        identifier_uri: a.identifier_uri,
                        scopes: a.scopes,
                        signup_attributes: vec![],
                        mfa: a.mfa,
                    },
                )
                .await?;
            print_app(&app);
        }
        AppCommand::List(l) => {
            let (_, admin) = l.store.open().await?;
            for app in admin.list_apps(&l.tenant).await? {
                print_app(&app);
            }
        }
    }
    Ok(())
}
