//! `openciam user …`.

use super::store_args::StoreArgs;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use openciam_core::admin::AdminError;
use openciam_core::ids::AuthMethodId;
use openciam_core::model::{AuthMethod, User};
use openciam_core::secret::Password;
use std::io::Read as _;
use std::path::PathBuf;

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create(CreateArgs),
    /// List a tenant's users.
    List(TenantArgs),
    /// Show one user.
    Show(UserArgs),
    /// Disable a user (revokes their sessions).
    Disable(UserArgs),
    /// Enable a user.
    Enable(UserArgs),
    /// Set a user's password (revokes their sessions).
    SetPassword(PasswordArgs),
    /// Revoke every refresh token of a user.
    RevokeSessions(UserArgs),
    /// Import users from another system, keeping their password hashes (all or none).
    Import(ImportArgs),
    /// End a smart lockout now and forget the user's failed passwords.
    Unlock(UserArgs),
    /// Set (NAME=VALUE) or remove (NAME=) some of a user's attributes; the others are kept.
    Update(UpdateArgs),
    /// Delete a user with their sessions, open flows and lockout state (audit-logged).
    Delete(UserArgs),
    /// List a user's second-factor methods (id, channel, target, when added, when last used).
    Methods(UserArgs),
    /// Remove one of a user's second-factor methods (audit-logged).
    RemoveMethod(RemoveMethodArgs),
    /// Remove every second-factor method of a user: under a policy that requires a second
    /// factor they register a new one at their next sign-in (audit-logged).
    ResetMfa(UserArgs),
}

/// `user remove-method`.
#[derive(Debug, Args)]
pub struct RemoveMethodArgs {
    /// The method's id, as `user methods` lists it.
    #[arg(long)]
    pub id: String,
    /// The user.
    #[command(flatten)]
    pub user: UserArgs,
}

/// `user import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// JSON lines, one user each: {"email": …, "password_hash": … (optional; argon2, bcrypt,
    /// scrypt or PBKDF2-SHA256/512 in PHC, passlib or Django form), "attributes": {…} (optional),
    /// "disabled": false (optional)}. Blank lines are skipped.
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
    /// Tenant and store.
    #[command(flatten)]
    pub tenant: TenantArgs,
}

/// `--tenant` plus the store.
#[derive(Debug, Args)]
pub struct TenantArgs {
    /// Tenant name, domain or GUID.
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// Store selection.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// One user.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// The user's e-mail.
    #[arg(long)]
    pub email: String,
    /// Tenant and store.
    #[command(flatten)]
    pub tenant: TenantArgs,
}

/// A password, from the command line or stdin.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct PasswordSource {
    /// The password (visible in the process list; prefer --password-stdin).
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
}

impl PasswordSource {
    fn read(&self) -> anyhow::Result<Option<Password>> {
        if self.password_stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the password from stdin")?;
            let line = text.lines().next().unwrap_or_default().to_owned();
            return Ok(Some(Password::new(line)));
        }
        Ok(self.password.clone().map(Password::new))
    }
}

/// `user create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The user's e-mail.
    #[arg(long)]
    pub email: String,
    /// Password source (omit for a code-only account).
    #[command(flatten)]
    pub password: PasswordSource,
    /// Attribute, as name=value (repeatable), e.g. --attr displayName="Jane Doe".
    #[arg(long = "attr", value_name = "NAME=VALUE")]
    pub attrs: Vec<String>,
    /// Tenant and store.
    #[command(flatten)]
    pub tenant: TenantArgs,
}

/// `user update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Attribute, as NAME=VALUE (repeatable); an empty value removes the attribute.
    #[arg(long = "attr", value_name = "NAME=VALUE", required = true)]
    pub attrs: Vec<String>,
    /// The user.
    #[command(flatten)]
    pub user: UserArgs,
}

/// `user set-password`.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The user.
    #[command(flatten)]
    pub user: UserArgs,
    /// The new password.
    #[command(flatten)]
    pub password: PasswordSource,
}

fn print_user(u: &User) {
    let status = if u.disabled { "disabled" } else { "enabled" };
    let password = if u.password_hash.is_some() {
        "password"
    } else {
        "no password"
    };
    println!(
        "{}  {}  {status}  {password}  {}",
        u.id,
        u.username,
        serde_json::Value::Object(u.attributes.clone())
    );
}

fn print_method(m: &AuthMethod) {
    let when = |unix: i64| {
        time::OffsetDateTime::from_unix_timestamp(unix)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| unix.to_string())
    };
    let last = m.last_used_at.map(when).unwrap_or_else(|| "never".to_owned());
    println!(
        "{}  {}  {}  added {}  last used {last}",
        m.id,
        m.kind.as_str(),
        m.target,
        when(m.created_at)
    );
}

/// Runs a user command.
pub async fn run(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create(a) => {
            let mut attrs = serde_json::Map::new();
            for kv in &a.attrs {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("--attr {kv:?} is not NAME=VALUE"))?;
                attrs.insert(k.trim().to_owned(), serde_json::Value::String(v.to_owned()));
            }
            let password = a.password.read()?;
            let (_, admin) = a.tenant.store.open().await?;
            let user = admin
                .create_user(&a.tenant.tenant, &a.email, password.as_ref(), attrs)
                .await?;
            print_user(&user);
        }
        UserCommand::List(t) => {
            let (_, admin) = t.store.open().await?;
            for u in admin.list_users(&t.tenant).await? {
                print_user(&u);
            }
        }
        UserCommand::Show(u) => {
            let (_, admin) = u.tenant.store.open().await?;
            print_user(&admin.user(&u.tenant.tenant, &u.email).await?);
        }
        UserCommand::Disable(u) => {
            let (_, admin) = u.tenant.store.open().await?;
            print_user(&admin.set_disabled(&u.tenant.tenant, &u.email, true).await?);
        }
        UserCommand::Enable(u) => {
            let (_, admin) = u.tenant.store.open().await?;
            print_user(&admin.set_disabled(&u.tenant.tenant, &u.email, false).await?);
        }
        UserCommand::SetPassword(p) => {
            let password = p
                .password
                .read()?
                .context("give --password or --password-stdin")?;
            let (_, admin) = p.user.tenant.store.open().await?;
            admin
                .set_password(&p.user.tenant.tenant, &p.user.email, &password)
                .await?;
            println!("password changed; sessions of {} revoked", p.user.email);
        }
        UserCommand::RevokeSessions(u) => {
            let (_, admin) = u.tenant.store.open().await?;
            let n = admin.revoke_sessions(&u.tenant.tenant, &u.email).await?;
            println!("revoked {n} session(s) of {}", u.email);
        }
        UserCommand::Import(i) => import(i).await?,
        UserCommand::Methods(u) => {
            let (_, admin) = u.tenant.store.open().await?;
            let methods = admin.auth_methods(&u.tenant.tenant, &u.email).await?;
            if methods.is_empty() {
                println!("{} has no second-factor method", u.email);
            }
            for m in &methods {
                print_method(m);
            }
        }
        UserCommand::RemoveMethod(r) => {
            let id = uuid::Uuid::parse_str(r.id.trim())
                .map(AuthMethodId)
                .with_context(|| {
                    format!("--id {:?} is not a method id (a GUID from `user methods`)", r.id)
                })?;
            let (_, admin) = r.user.tenant.store.open().await?;
            admin
                .remove_auth_method(&r.user.tenant.tenant, &r.user.email, id)
                .await?;
            println!("removed method {id} of {}", r.user.email);
        }
        UserCommand::ResetMfa(u) => {
            let (_, admin) = u.tenant.store.open().await?;
            let n = admin.reset_mfa(&u.tenant.tenant, &u.email).await?;
            println!(
                "removed {n} second-factor method(s) of {}; a sign-in that needs one registers a new one",
                u.email
            );
        }
        UserCommand::Update(a) => {
            let mut changes = serde_json::Map::new();
            for kv in &a.attrs {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("--attr {kv:?} is not NAME=VALUE"))?;
                let value = if v.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::Value::String(v.to_owned())
                };
                changes.insert(k.trim().to_owned(), value);
            }
            let (_, admin) = a.user.tenant.store.open().await?;
            print_user(
                &admin
                    .update_attributes(&a.user.tenant.tenant, &a.user.email, changes)
                    .await?,
            );
        }
        UserCommand::Delete(u) => {
            let (_, admin) = u.tenant.store.open().await?;
            let user = admin.delete_user(&u.tenant.tenant, &u.email).await?;
            println!("deleted {} ({})", user.username, user.id);
        }
        UserCommand::Unlock(u) => {
            let (_, admin) = u.tenant.store.open().await?;
            if admin.unlock(&u.tenant.tenant, &u.email).await? {
                println!("unlocked {}: failed sign-ins forgotten", u.email);
            } else {
                println!("{} was not locked and had no failed sign-ins", u.email);
            }
        }
    }
    Ok(())
}

/// Prints `imported N users`, or every bad line (`line 7: …`) and fails.
async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let lines =
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let (_, admin) = args.tenant.store.open().await?;
    match admin.import_users(&args.tenant.tenant, &lines).await {
        Ok(report) => {
            println!(
                "imported {} users ({} password hashes become argon2id at their next sign-in)",
                report.imported, report.to_rehash
            );
            Ok(())
        }
        Err(AdminError::ImportRejected(bad)) => {
            for line in &bad {
                eprintln!("{line}");
            }
            anyhow::bail!(
                "{} bad line(s) in {}; nothing imported",
                bad.len(),
                args.file.display()
            )
        }
        Err(other) => Err(other.into()),
    }
}
