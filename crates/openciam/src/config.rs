//! Configuration of `openciam serve`: defaults, then a TOML file, then `OPENCIAM_…` environment
//! variables (`__` separates levels, e.g. `OPENCIAM_DATABASE__URL`). Secrets may instead be read
//! from files: `master_key_file`, `database.url_file` (or `OPENCIAM_MASTER_KEY_FILE`, …).
//! Validated once, at start-up; a missing required value stops the start with a clear message.

use anyhow::{Context as _, bail};
use figment::Figment;
use figment::providers::{Env, Format as _, Toml};
use openciam_core::model::{AttributeSpec, SignInMethod};
use openciam_core::security::rate_limit::ProfileName;
use openciam_core::strategy::password_policy::PolicyProfile;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use std::path::Path;

/// The whole configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on, e.g. `0.0.0.0:8080`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Base URL clients reach this server at (behind any proxy), e.g. `https://login.example.com`.
    /// Token issuers are `{public_url}/{tenant GUID}/v2.0`. Required.
    pub public_url: Option<String>,
    /// Master key (32 bytes, base64) that encrypts signing keys at rest. Required (or its file).
    pub master_key: Option<SecretString>,
    /// File holding the master key.
    pub master_key_file: Option<String>,
    /// Database.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// HTTP limits.
    #[serde(default)]
    pub http: HttpSection,
    /// Token and flow lifetimes.
    #[serde(default)]
    pub tokens: TokensSection,
    /// Password hashing pool.
    #[serde(default)]
    pub passwords: PasswordsSection,
    /// One-time codes.
    #[serde(default)]
    pub codes: CodesSection,
    /// Request-rate limits.
    #[serde(default)]
    pub limits: LimitsSection,
    /// Audit log.
    #[serde(default)]
    pub audit: AuditSection,
    /// HTTPS served by openciam itself. Leave it out when a reverse proxy in front terminates
    /// TLS; then set `public_url` to the https URL clients use at the proxy.
    #[serde(default)]
    pub tls: Option<TlsSection>,
    /// Log format.
    #[serde(default)]
    pub log: crate::ops_config::LogSection,
    /// The admin REST API's token (served on `[http] admin_listen`).
    #[serde(default)]
    pub admin: crate::ops_config::AdminSection,
    /// Outgoing mail (`backend = "smtp"` in production).
    #[serde(default)]
    pub mail: openciam_mail::MailConfig,
    /// Outgoing text messages (second-factor codes): `provider = "none"` (default) or
    /// `"webhook"` with `[sms.webhook]`.
    #[serde(default)]
    pub sms: openciam_sms::SmsConfig,
    /// Tenants and their apps, created or updated at start.
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

/// `[database]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:5432/db` or `sqlite:///path/openciam.db`. Required (or its
    /// file).
    pub url: Option<SecretString>,
    /// File holding the URL (it may contain a password).
    pub url_file: Option<String>,
    /// PostgreSQL connections per node (default 10).
    pub max_connections: Option<u32>,
    /// Seconds a request waits for a pooled connection before answering 503 (default 5).
    pub acquire_timeout_seconds: Option<u64>,
    /// Apply pending migrations when `serve` starts (default true; set false when migrating
    /// explicitly with `openciam migrate`).
    pub migrate_on_start: Option<bool>,
    /// SQLite's `synchronous` setting (the database always runs in WAL mode): `normal` (the
    /// default) survives a crash of openciam but may lose the last transactions on power loss
    /// or an operating-system crash; `full` syncs every commit to disk and survives those too,
    /// at the cost of write latency. Ignored for PostgreSQL, whose connections always run with
    /// `synchronous_commit = on`.
    pub sqlite_synchronous: Option<crate::app::SqliteSync>,
}

impl DatabaseConfig {
    /// Pool and migration settings.
    pub fn store_options(&self, migrate: bool) -> crate::app::StoreOptions {
        let d = crate::app::StoreOptions::default();
        crate::app::StoreOptions {
            max_connections: self.max_connections.unwrap_or(d.max_connections),
            acquire_timeout: self
                .acquire_timeout_seconds
                .map_or(d.acquire_timeout, std::time::Duration::from_secs),
            migrate,
            sqlite_synchronous: self.sqlite_synchronous.unwrap_or_default(),
        }
    }
}

/// `[http]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Largest request body accepted, bytes.
    pub body_limit_bytes: usize,
    /// Seconds after which a request is abandoned with 503.
    pub request_timeout_seconds: u64,
    /// Most requests answered at once (default 1024); more are refused at once with 503
    /// `temporarily_unavailable` and `Retry-After: 1` instead of queueing (each waiting request
    /// holds memory and only grows everyone's latency). `/healthz` and `/readyz` are exempt.
    pub max_in_flight: usize,
    /// Header a trusted reverse proxy puts the client's IP in (e.g. `x-forwarded-for`); unset
    /// (the default), the peer address is the client IP and such headers are ignored.
    pub trusted_proxy_header: Option<String>,
    /// Trusted proxies in front of openciam that each append to the header: the client IP is
    /// the entry this many places from the right (default 1: the one the nearest proxy added).
    pub trusted_proxy_hops: usize,
    /// A second listener for `/metrics` (Prometheus) and the admin REST API `/admin/v1/`, e.g.
    /// `127.0.0.1:9090`; keep it on a private address. Unset (the default): neither is served.
    pub admin_listen: Option<String>,
    /// After SIGTERM, seconds the listener keeps accepting (with `/readyz` already answering
    /// 503 and every response saying `Connection: close`) so load balancers take this node out
    /// before its connections are refused (default 2; set it to your balancer's health-check
    /// interval times its failure threshold).
    pub shutdown_delay_seconds: u64,
    /// The longest a shutdown may take, counted from SIGTERM: requests still running then are
    /// abandoned and the process exits (default 20).
    pub shutdown_grace_seconds: u64,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            body_limit_bytes: 64 * 1024,
            request_timeout_seconds: 30,
            max_in_flight: 1024,
            trusted_proxy_header: None,
            trusted_proxy_hops: 1,
            admin_listen: None,
            shutdown_delay_seconds: 2,
            shutdown_grace_seconds: 20,
        }
    }
}

impl HttpSection {
    /// How the server stops after SIGTERM.
    pub fn shutdown_timing(&self) -> crate::app::ShutdownTiming {
        crate::app::ShutdownTiming {
            delay: std::time::Duration::from_secs(self.shutdown_delay_seconds),
            grace: std::time::Duration::from_secs(self.shutdown_grace_seconds),
        }
    }

    /// The trusted-proxy setting, checked: a valid header name and at least one hop.
    pub fn trusted_proxy(&self) -> anyhow::Result<Option<openciam_http::TrustedProxy>> {
        let Some(name) = self
            .trusted_proxy_header
            .as_deref()
            .filter(|n| !n.trim().is_empty())
        else {
            return Ok(None);
        };
        openciam_http::TrustedProxy::new(name.trim(), self.trusted_proxy_hops)
            .map(Some)
            .with_context(|| format!("invalid [http] trusted_proxy_header {name:?} / trusted_proxy_hops"))
    }
}

/// `[limits]`: request-rate limits (429). Each tenant can change or turn off every limit with
/// `openciam tenant security <tenant> --set rate_limits.…`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// `serve` (the default: production numbers), `test`, `bench` or `off`.
    pub profile: ProfileName,
}

/// `[tls]`: serve HTTPS directly (rustls). Both files are read once, at start-up.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain, the server certificate first, then intermediates.
    pub cert_file: std::path::PathBuf,
    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    pub key_file: std::path::PathBuf,
}

/// `[tokens]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensSection {
    /// Access and ID token lifetime.
    pub access_token_lifetime_seconds: u64,
    /// Refresh token lifetime (each rotation starts a new one).
    pub refresh_token_lifetime_seconds: u64,
    /// Absolute lifetime of a session's refresh tokens, counted from the sign-in: rotation never
    /// extends a session past it (default 90 days; OWASP ASVS 10.4.8).
    pub refresh_absolute_lifetime_seconds: u64,
    /// Seconds a rotated refresh token may still be used without revoking its family. Default 0:
    /// any reuse revokes. Raise it (e.g. 30) if your users open several tabs that refresh at once.
    pub refresh_reuse_grace_seconds: u64,
    /// One continuation token's lifetime.
    pub continuation_token_lifetime_seconds: u64,
    /// A whole flow's lifetime.
    pub flow_lifetime_seconds: u64,
    /// How often each node re-reads the signing keys, so keys added elsewhere are published
    /// and used everywhere (default 60).
    pub key_reload_seconds: u64,
}

impl Default for TokensSection {
    fn default() -> Self {
        Self {
            access_token_lifetime_seconds: 3600,
            refresh_token_lifetime_seconds: 30 * 24 * 3600,
            refresh_absolute_lifetime_seconds: 90 * 24 * 3600,
            refresh_reuse_grace_seconds: 0,
            continuation_token_lifetime_seconds: 600,
            flow_lifetime_seconds: 3600,
            key_reload_seconds: 60,
        }
    }
}

/// `[passwords]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordsSection {
    /// Hashes computed at once; 0 = CPU count.
    pub max_concurrent_hashes: usize,
    /// Requests that may wait for a hash slot before new ones get 503; 0 = 32 per slot.
    pub max_queued_hashes: usize,
}

/// `[codes]`: e-mail one-time codes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodesSection {
    /// Seconds a code stays valid (shorter than a continuation token).
    pub code_lifetime_seconds: u64,
    /// Wrong tries before a code is burnt.
    pub max_attempts: i64,
    /// Minimum seconds between two codes of one flow (the `interval` clients see).
    pub resend_interval_seconds: u64,
    /// Codes per flow.
    pub max_per_flow: u32,
    /// Codes per address per hour, across flows.
    pub max_per_address_per_hour: i64,
}

impl Default for CodesSection {
    fn default() -> Self {
        let d = openciam_core::strategy::email_otp::OtpConfig::default();
        Self {
            code_lifetime_seconds: d.code_ttl.as_secs(),
            max_attempts: d.max_attempts,
            resend_interval_seconds: d.resend_interval.as_secs(),
            max_per_flow: d.max_per_flow,
            max_per_address_per_hour: d.max_per_address_per_hour,
        }
    }
}

impl CodesSection {
    /// The core's code settings.
    pub fn to_core(&self) -> openciam_core::strategy::email_otp::OtpConfig {
        openciam_core::strategy::email_otp::OtpConfig {
            code_length: 8,
            code_ttl: std::time::Duration::from_secs(self.code_lifetime_seconds),
            max_attempts: self.max_attempts,
            resend_interval: std::time::Duration::from_secs(self.resend_interval_seconds),
            max_per_flow: self.max_per_flow,
            max_per_address_per_hour: self.max_per_address_per_hour,
        }
    }
}

/// `[audit]`: the security audit log (`openciam audit`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSection {
    /// Days events are kept before the periodic purge deletes them; 0 keeps them forever.
    pub retention_days: u32,
}

impl Default for AuditSection {
    fn default() -> Self {
        Self {
            retention_days: openciam_core::audit::AuditConfig::default().retention_days,
        }
    }
}

impl AuditSection {
    /// The core's audit settings.
    pub fn to_core(&self) -> openciam_core::audit::AuditConfig {
        openciam_core::audit::AuditConfig {
            retention_days: self.retention_days,
        }
    }
}

/// `[[tenants]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Short name, e.g. `contoso`.
    pub name: String,
    /// Domain form; default `{name}.onmicrosoft.com`.
    pub domain: Option<String>,
    /// GUID; generated when absent (then fixed in the database).
    pub id: Option<uuid::Uuid>,
    /// `{ profile = "nist", min_length = 8 }` (default) or `{ profile = "entra" }`. Applied when
    /// the tenant is created.
    #[serde(default = "serve_policy")]
    pub password_policy: PolicyProfile,
    /// Apps of the tenant.
    #[serde(default)]
    pub apps: Vec<AppConfig>,
}

/// `[[tenants.apps]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Client id (GUID).
    pub client_id: uuid::Uuid,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// `email_password` (default) or `email_otp`.
    #[serde(default = "default_method")]
    pub method: SignInMethod,
    /// Native auth on (default true).
    #[serde(default = "yes")]
    pub native_auth: bool,
    /// Browser origins allowed to call the API for this app.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Resource identifier (`api://…`) when the app exposes scopes.
    pub identifier_uri: Option<String>,
    /// Exposed scopes, short names.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Attributes sign-up collects: `{ name, type = "string"|"boolean"|"int", required,
    /// min_length, max_length, pattern, allowed_values }`.
    #[serde(default)]
    pub signup_attributes: Vec<AttributeSpec>,
    /// The app's own second-factor policy, `{ required = true, methods = ["email", "sms"] }`;
    /// absent, the app follows its tenant's (`openciam tenant security --set mfa.required=true`).
    #[serde(default)]
    pub mfa: Option<openciam_core::mfa::MfaPolicy>,
}

fn serve_policy() -> PolicyProfile {
    PolicyProfile::SERVE_DEFAULT
}

fn default_method() -> SignInMethod {
    SignInMethod::EmailPassword
}

fn yes() -> bool {
    true
}

/// Values resolved from the config: secrets read, required values present.
#[derive(Debug)]
pub struct Resolved {
    /// Listen address.
    pub listen: String,
    /// Public URL, without trailing slash.
    pub public_url: String,
    /// Master key text.
    pub master_key: SecretString,
    /// Database URL.
    pub database_url: SecretString,
}

impl Config {
    /// Loads `file`, then applies environment overrides.
    pub fn load(file: &Path) -> anyhow::Result<Self> {
        if !file.exists() {
            bail!("config file {} does not exist", file.display());
        }
        Figment::new()
            .merge(Toml::file(file))
            .merge(
                // Variables that are not configuration: the log filter, the config path itself
                // and the test suite's own settings.
                Env::prefixed("OPENCIAM_")
                    .filter(|k| {
                        let k = k.as_str().to_ascii_lowercase();
                        !matches!(k.as_str(), "log" | "config") && !k.starts_with("test_")
                    })
                    .split("__"),
            )
            .extract()
            .with_context(|| {
                format!(
                    "invalid configuration in {} or OPENCIAM_* variables",
                    file.display()
                )
            })
    }

    /// Checks required values and reads secret files.
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let mut missing = Vec::new();
        let public_url = self.public_url.clone().unwrap_or_default();
        if public_url.is_empty() {
            missing
                .push("public_url (e.g. public_url = \"https://login.example.com\", or OPENCIAM_PUBLIC_URL)");
        }
        let master_key = secret_or_file(
            &self.master_key,
            self.master_key_file.as_deref(),
            "master_key_file",
        )?;
        if master_key.is_none() {
            missing.push("master_key or master_key_file (32 random bytes, base64: `openssl rand -base64 32`; or OPENCIAM_MASTER_KEY / OPENCIAM_MASTER_KEY_FILE)");
        }
        let database_url = secret_or_file(
            &self.database.url,
            self.database.url_file.as_deref(),
            "database.url_file",
        )?;
        if database_url.is_none() {
            missing.push(
                "database.url (e.g. \"sqlite:///var/lib/openciam/openciam.db\", or OPENCIAM_DATABASE__URL)",
            );
        }
        if !missing.is_empty() {
            bail!(
                "openciam cannot start; the configuration lacks:\n  - {}",
                missing.join("\n  - ")
            );
        }
        if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
            bail!("public_url must start with https:// (or http:// for local testing), got {public_url:?}");
        }
        Ok(Resolved {
            listen: self.listen.clone(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            master_key: master_key.unwrap_or_else(|| SecretString::from("")),
            database_url: database_url.unwrap_or_else(|| SecretString::from("")),
        })
    }
}

fn secret_or_file(
    inline: &Option<SecretString>,
    file: Option<&str>,
    what: &str,
) -> anyhow::Result<Option<SecretString>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {what} {path}"))?;
        return Ok(Some(SecretString::from(text.trim().to_owned())));
    }
    Ok(inline.clone().filter(|s| !s.expose_secret().is_empty()))
}
