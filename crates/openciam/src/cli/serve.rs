//! `openciam serve --config FILE`: the production server.

use crate::app;
use crate::config::Config;
use crate::seed;
use clap::Args;
use openciam_core::clock::SystemClock;
use openciam_core::crypto::MasterKey;
use openciam_core::flow::continuation::ContinuationConfig;
use openciam_core::security::rate_limit::LimitProfile;
use openciam_core::services::CoreConfig;
use openciam_core::strategy::password::HasherConfig;
use openciam_core::token::TokenConfig;
use openciam_http::HttpConfig;
use secrecy::ExposeSecret as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `openciam serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file (values can be overridden by OPENCIAM_* variables).
    #[arg(long, env = "OPENCIAM_CONFIG")]
    pub config: PathBuf,
}

/// The core settings a configuration describes.
pub fn core_config(config: &Config, public_url: &str) -> CoreConfig {
    let t = &config.tokens;
    let p = &config.passwords;
    let defaults = HasherConfig::default();
    let concurrency = if p.max_concurrent_hashes == 0 {
        defaults.concurrency
    } else {
        p.max_concurrent_hashes
    };
    CoreConfig {
        continuation: ContinuationConfig {
            token_ttl: Duration::from_secs(t.continuation_token_lifetime_seconds),
            flow_ttl: Duration::from_secs(t.flow_lifetime_seconds),
        },
        tokens: TokenConfig {
            public_url: public_url.to_owned(),
            access_ttl: Duration::from_secs(t.access_token_lifetime_seconds),
            refresh_ttl: Duration::from_secs(t.refresh_token_lifetime_seconds),
            refresh_absolute_ttl: Duration::from_secs(t.refresh_absolute_lifetime_seconds),
            refresh_reuse_grace: Duration::from_secs(t.refresh_reuse_grace_seconds),
        },
        hasher: HasherConfig {
            concurrency,
            queue: if p.max_queued_hashes == 0 {
                concurrency * 32
            } else {
                p.max_queued_hashes
            },
        },
        otp: config.codes.to_core(),
        limits: LimitProfile::named(config.limits.profile),
        outbox: Default::default(),
        audit: config.audit.to_core(),
    }
}

/// Whether the configuration asks for JSON log lines. A configuration that cannot be read says
/// no here; [`run`] then reports why.
pub fn json_logs_configured(args: &ServeArgs) -> bool {
    Config::load(&args.config).is_ok_and(|c| c.log.format == crate::ops_config::LogFormat::Json)
}

/// Runs the production server.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let resolved = config.resolve()?;
    // A bad [sms] section stops the start before anything else happens.
    let sms = openciam_sms::build(&config.sms)?;
    // Read the certificate first: a bad [tls] stops the start before anything else happens.
    let tls = match &config.tls {
        Some(t) => Some(crate::tls::server_config(&t.cert_file, &t.key_file)?),
        None => None,
    };
    let master = MasterKey::from_base64(resolved.master_key.expose_secret())?;
    let migrate = config.database.migrate_on_start.unwrap_or(true);
    let store = app::open_store_with(
        resolved.database_url.expose_secret(),
        &config.database.store_options(migrate),
    )
    .await?;
    let http = HttpConfig {
        body_limit: config.http.body_limit_bytes,
        cors_any_origin: false,
        request_timeout: Duration::from_secs(config.http.request_timeout_seconds),
        trusted_proxy: config.http.trusted_proxy()?,
        max_in_flight: config.http.max_in_flight,
    };
    let core = core_config(&config, &resolved.public_url);
    if config.mail.backend == openciam_mail::MailBackend::Dev {
        anyhow::bail!(
            "the dev mailbox is for `openciam dev` only; configure [mail] with backend = \"smtp\" and a [mail.smtp] relay"
        );
    }
    let clock = Arc::new(SystemClock);
    let mail = openciam_mail::build(&config.mail, clock.clone())?;
    let parts = app::build(
        store.clone(),
        clock,
        &master,
        (mail.mailer(), None),
        sms,
        core,
        http,
    )
    .await?;
    seed::apply_tenants(&parts.services.admin, store.as_ref(), &config.tenants).await?;
    app::spawn_purger(parts.services.clone(), Duration::from_secs(600));
    let reload_master = MasterKey::from_base64(resolved.master_key.expose_secret())?;
    app::spawn_key_reloader(
        parts.services.clone(),
        reload_master,
        Duration::from_secs(config.tokens.key_reload_seconds.max(1)),
    );
    let (listener, addr) = app::bind(&resolved.listen).await?;
    if let Some(admin_addr) = config
        .http
        .admin_listen
        .as_deref()
        .filter(|a| !a.trim().is_empty())
    {
        let token = config.admin.resolve()?;
        let bound = crate::admin_listener::spawn(admin_addr, parts.services.clone(), token.as_ref()).await?;
        tracing::info!(%bound, admin_api = token.is_some(), "admin listener: /metrics and /admin/v1/");
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, %scheme, public_url = %resolved.public_url, "openciam listening");
    let timing = config.http.shutdown_timing();
    match tls {
        Some(tls) => crate::tls::serve(listener, tls, parts.router, parts.lifecycle, timing).await,
        None => app::serve_until_shutdown(listener, parts.router, parts.lifecycle, timing).await,
    }
}
