//! `openciam dev`: the embedded development server.

use super::store_args::{DEFAULT_DATA_DIR, dev_database_url};
use crate::app;
use crate::seed::{
    self, DEMO_API_CLIENT_ID, DEMO_ATTRS_CLIENT_ID, DEMO_CLIENT_ID, DEMO_CODE_CLIENT_ID, DEMO_TENANT,
    DEMO_TENANT_ID,
};
use anyhow::Context as _;
use clap::Args;
use openciam_core::clock::SystemClock;
use openciam_core::crypto::MasterKey;
use openciam_core::services::CoreConfig;
use openciam_core::token::TokenConfig;
use openciam_http::HttpConfig;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `openciam dev` arguments.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Data directory (SQLite database and master key). Created when missing.
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    pub data: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Public base URL, when clients reach the server through another address.
    #[arg(long)]
    pub public_url: Option<String>,
}

/// Reads the dev master key, creating it (mode 0600) on first start.
fn dev_master_key(dir: &Path) -> anyhow::Result<MasterKey> {
    let path = dir.join("master.key");
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        writeln!(file, "{}", MasterKey::generate_base64())?;
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    MasterKey::from_base64(&text).with_context(|| format!("{} is not a valid master key", path.display()))
}

/// Runs the dev server.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data).with_context(|| format!("creating {}", args.data.display()))?;
    let master = dev_master_key(&args.data)?;
    let store = app::open_store(&dev_database_url(&args.data)).await?;
    let (listener, addr) = app::bind(&args.listen).await?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let core = CoreConfig {
        tokens: TokenConfig {
            public_url: public_url.trim_end_matches('/').to_owned(),
            ..TokenConfig::default()
        },
        ..CoreConfig::default()
    };
    let http = HttpConfig {
        cors_any_origin: true,
        ..HttpConfig::default()
    };
    let clock = Arc::new(SystemClock);
    let mail = openciam_mail::build(&openciam_mail::MailConfig::default(), clock.clone())?;
    let parts = app::build(
        store,
        clock,
        &master,
        (mail.mailer(), mail.mailbox_reader()),
        core,
        http,
    )
    .await?;
    seed::seed_demo(&parts.services.admin).await?;
    app::spawn_purger(parts.services.clone(), Duration::from_secs(600));
    let base = public_url.trim_end_matches('/');
    let mut out = std::io::stdout().lock();
    writeln!(out, "openciam dev server listening on http://{addr}")?;
    writeln!(out, "  authority (base URL): {base}/{DEMO_TENANT}")?;
    writeln!(
        out,
        "  tenant:               {DEMO_TENANT} (demo.onmicrosoft.com, {DEMO_TENANT_ID})"
    )?;
    writeln!(
        out,
        "  client id:            {DEMO_CLIENT_ID}  (e-mail + password)"
    )?;
    writeln!(
        out,
        "  API scopes:           api://demo/read api://demo/write  (app {DEMO_API_CLIENT_ID})"
    )?;
    writeln!(
        out,
        "  sign-up apps:         {DEMO_CODE_CLIENT_ID} (e-mail code only), {DEMO_ATTRS_CLIENT_ID} (password + displayName, city)"
    )?;
    writeln!(
        out,
        "  dev mailbox:          http://{addr}/_dev/mailbox  (JSON: /_dev/mailbox/latest-code?to=EMAIL)"
    )?;
    writeln!(out, "  data:                 {}", args.data.display())?;
    writeln!(
        out,
        "  add a user:           openciam user create --data {} --tenant demo --email you@example.com --password-stdin",
        args.data.display()
    )?;
    out.flush()?;
    drop(out);
    app::serve(listener, parts.router).await
}
