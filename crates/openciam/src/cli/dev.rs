//! `openciam dev`: the embedded development server.

use super::store_args::{DEFAULT_DATA_DIR, dev_database_url};
use crate::app;
use crate::seed::{
    self, DEMO_API_CLIENT_ID, DEMO_ATTRS_CLIENT_ID, DEMO_CLIENT_ID, DEMO_CODE_CLIENT_ID, DEMO_MFA_CLIENT_ID,
    DEMO_TENANT, DEMO_TENANT_ID,
};
use anyhow::Context as _;
use clap::Args;
use openciam_core::clock::SystemClock;
use openciam_core::crypto::MasterKey;
use openciam_core::security::rate_limit::{LimitProfile, ProfileName};
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
    /// Database URL instead of the SQLite file under --data, e.g.
    /// postgres://postgres@127.0.0.1:5432/openciam_dev (the master key stays under --data).
    #[arg(long)]
    pub database: Option<String>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Public base URL, when clients reach the server through another address.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Serve HTTPS with a local CA and server certificate kept under `DATA/tls` (made on first
    /// use; the server certificate covers 127.0.0.1, 10.0.2.2, localhost and openciam.localhost).
    #[arg(long)]
    pub tls: bool,
    /// Request-rate limits: serve (production numbers, the default), test (the automated
    /// suites), bench (the load tool) or off.
    #[arg(long, default_value = "serve")]
    pub limits: ProfileName,
    /// Also serve `/metrics` and the admin REST API `/admin/v1/` on this address (e.g.
    /// 127.0.0.1:9090; port 0 picks a free port). Off by default.
    #[arg(long)]
    pub admin_listen: Option<String>,
    /// The admin API's bearer token (at least 32 characters); with --admin-listen and no token,
    /// a random one is made and printed.
    #[arg(long, env = "OPENCIAM_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// After Ctrl-C or SIGTERM, seconds in-flight requests get to finish before the server
    /// exits (the listener closes at once; `serve` also waits `[http] shutdown_delay_seconds`).
    #[arg(long, default_value_t = 20)]
    pub shutdown_grace: u64,
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
    let url = args
        .database
        .clone()
        .unwrap_or_else(|| dev_database_url(&args.data));
    let store = app::open_store(&url).await?;
    let (listener, addr) = app::bind(&args.listen).await?;
    let certs = if args.tls {
        let now = openciam_core::clock::Clock::now(&SystemClock);
        Some(crate::tls::ensure_dev_certificates(&args.data.join("tls"), now)?)
    } else {
        None
    };
    let scheme = if certs.is_some() { "https" } else { "http" };
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{addr}"));
    let core = CoreConfig {
        tokens: TokenConfig {
            public_url: public_url.trim_end_matches('/').to_owned(),
            ..TokenConfig::default()
        },
        limits: LimitProfile::named(args.limits),
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
        mail.sms_outbox().context("the dev mail backend keeps SMS too")?,
        core,
        http,
    )
    .await?;
    seed::seed_demo(&parts.services.admin).await?;
    app::spawn_purger(parts.services.clone(), Duration::from_secs(600));
    let admin = match &args.admin_listen {
        Some(addr) => {
            // A token made here is printed (the developer needs it); one given is not repeated.
            let (token, shown) = match &args.admin_token {
                Some(t) => {
                    crate::ops_config::check_token(t)?;
                    (t.clone(), "the --admin-token value".to_owned())
                }
                None => {
                    let made = openciam_core::crypto::random_token();
                    (made.clone(), made)
                }
            };
            let secret = secrecy::SecretString::from(token);
            let bound = crate::admin_listener::spawn(addr, parts.services.clone(), Some(&secret)).await?;
            Some((bound, shown))
        }
        None => None,
    };
    let base = public_url.trim_end_matches('/');
    let mut out = std::io::stdout().lock();
    writeln!(out, "openciam dev server listening on {scheme}://{addr}")?;
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
        "  second-factor app:    {DEMO_MFA_CLIENT_ID}  (e-mail + password, then an e-mail or SMS code)"
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
        "  dev console:          {scheme}://{addr}/_dev/  (mailbox, users, latest flows with errors explained)"
    )?;
    writeln!(
        out,
        "  flow trace (JSON):    {scheme}://{addr}/_dev/flows?username=EMAIL  (or ?correlation_id=… or ?flow=…)"
    )?;
    writeln!(
        out,
        "  dev mailbox:          {scheme}://{addr}/_dev/mailbox  (JSON: /_dev/mailbox/latest-code?to=EMAIL or ?to=%2B15551234567 for SMS)"
    )?;
    writeln!(
        out,
        "  rate limits:          {} profile (--limits serve|test|bench|off)",
        args.limits
    )?;
    if let Some((bound, token)) = &admin {
        writeln!(
            out,
            "  metrics:              http://{bound}/metrics  (Prometheus)"
        )?;
        writeln!(
            out,
            "  admin API:            http://{bound}/admin/v1/  (Authorization: Bearer {token}; document: /admin/v1/openapi.json)"
        )?;
    }
    writeln!(out, "  data:                 {}", args.data.display())?;
    writeln!(
        out,
        "  add a user:           openciam user create --data {} --tenant demo --email you@example.com --password-stdin",
        args.data.display()
    )?;
    if let Some(certs) = &certs {
        print_tls_help(&mut out, certs, addr.port())?;
    }
    out.flush()?;
    drop(out);
    let timing = app::ShutdownTiming {
        delay: Duration::ZERO,
        grace: Duration::from_secs(args.shutdown_grace),
    };
    match certs {
        Some(certs) => {
            let config = crate::tls::server_config(&certs.server_cert, &certs.server_key)?;
            crate::tls::serve(listener, config, parts.router, parts.lifecycle, timing).await
        }
        None => app::serve_until_shutdown(listener, parts.router, parts.lifecycle, timing).await,
    }
}

/// The HTTPS addresses and how to make devices and tools trust the local CA.
fn print_tls_help(
    out: &mut impl std::io::Write,
    certs: &crate::tls::DevCertificates,
    port: u16,
) -> std::io::Result<()> {
    let ca = certs.ca_cert.display();
    writeln!(out, "  HTTPS, local CA:      {ca}")?;
    writeln!(
        out,
        "  dotted host (MSAL iOS needs https and a dot): https://openciam.localhost:{port}/{DEMO_TENANT}  (if it does not resolve: add '127.0.0.1 openciam.localhost' to /etc/hosts)"
    )?;
    writeln!(
        out,
        "  Android emulator:     https://10.0.2.2:{port}/{DEMO_TENANT}  (the emulator's name for this machine's 127.0.0.1)"
    )?;
    writeln!(out, "  trust the CA:")?;
    writeln!(
        out,
        "    iOS simulator:      xcrun simctl keychain booted add-root-cert {ca}"
    )?;
    writeln!(
        out,
        "    Android emulator:   adb push {ca} /sdcard/Download/openciam-dev-ca.pem, install it under Settings > Security > Encryption & credentials > Install a certificate > CA certificate, and let a debug build trust user CAs (network_security_config <debug-overrides> with <certificates src=\"user\"/>; see docs/clients.md)"
    )?;
    writeln!(out, "    Node.js:            NODE_EXTRA_CA_CERTS={ca}")?;
    writeln!(out, "    curl:               curl --cacert {ca} ...")?;
    writeln!(
        out,
        "    Chromium (tests):   --ignore-certificate-errors-spki-list={}",
        certs.server_spki_sha256
    )
}
