//! `openciam keys …`: rotate and list the token-signing keys of a store.
//!
//! A rotated key is published at once (each node re-reads keys every `tokens.key_reload_seconds`)
//! and signs only after `--activate-after`, so relying parties that cache the JWKS for
//! [`JWKS_MAX_AGE`] seconds know it before the first token signed with it reaches them.

use super::store_args::{DEFAULT_DATA_DIR, StoreArgs};
use crate::config::Config;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use openciam_core::audit::{AuditLog, Entry, event};
use openciam_core::clock::{Clock as _, SystemClock};
use openciam_core::crypto::MasterKey;
use openciam_core::token::TokenConfig;
use openciam_core::token::keys::{self, JWKS_MAX_AGE, KeyStatus};
use secrecy::ExposeSecret as _;
use std::path::PathBuf;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a signing key: published in the JWKS at once, signing after --activate-after, when the
    /// current key retires (it stays published for one token lifetime more).
    Rotate(RotateArgs),
    /// List the signing keys: kid, created, activation, retirement, published, signing.
    List(StoreArgs),
}

/// `keys rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Delay before the new key signs, e.g. `30s`, `10m`, `1h`, `1h30m`, `0s`. Keep it above the
    /// JWKS cache time (300 s) plus the key reload interval, so every relying party has the key
    /// before it signs.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub activate_after: Duration,
    /// Store selection.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs a key command.
pub async fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    let clock = SystemClock;
    match cmd {
        KeysCommand::Rotate(a) => {
            let master = master_key(&a.store)?;
            let (store, _) = a.store.open().await?;
            let record = keys::rotate(store.as_ref(), &master, &clock, a.activate_after).await?;
            let rotated = Entry::new(event::KEYS_ROTATED)
                .detail("kid", record.kid.as_str())
                .detail("activate_at", record.activate_at);
            AuditLog::new(store.clone(), std::sync::Arc::new(SystemClock))
                .record(rotated)
                .await;
            if a.activate_after < Duration::from_secs(JWKS_MAX_AGE) {
                eprintln!(
                    "warning: --activate-after is shorter than the JWKS cache time ({JWKS_MAX_AGE} s); \
                     relying parties with a cached JWKS may reject tokens signed with the new key until it expires"
                );
            }
            println!(
                "added key {}: published now, signing from {}",
                record.kid,
                when(record.activate_at)
            );
        }
        KeysCommand::List(store_args) => {
            let retain = token_lifetime(&store_args)?;
            let (store, _) = store_args.open().await?;
            let records = store.signing_keys().await.context("reading signing keys")?;
            for status in keys::key_status(&records, clock.unix(), retain) {
                println!("{}", describe(&status, clock.unix()));
            }
        }
    }
    Ok(())
}

/// One line per key: `kid  created …  activates|activated …  retires|retired …|not retired
/// [published until …]  published|unpublished  signing|not signing`.
fn describe(s: &KeyStatus, now: i64) -> String {
    let activation = if s.activate_at > now {
        "activates"
    } else {
        "activated"
    };
    let retirement = match (s.retired_at, s.unpublish_at) {
        (Some(r), Some(u)) if r > now => format!("retires {} (published until {})", when(r), when(u)),
        (Some(r), Some(u)) => format!("retired {} (published until {})", when(r), when(u)),
        _ => "not retired".to_owned(),
    };
    format!(
        "{}  created {}  {activation} {}  {retirement}  {}  {}",
        s.kid,
        when(s.created_at),
        when(s.activate_at),
        if s.published { "published" } else { "unpublished" },
        if s.signing { "signing" } else { "not signing" },
    )
}

fn when(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// The master key that encrypts the private keys: the dev data directory's `master.key`, or the
/// configuration's `master_key` / `master_key_file` (or `OPENCIAM_MASTER_KEY[_FILE]`).
fn master_key(args: &StoreArgs) -> anyhow::Result<MasterKey> {
    if let Some(path) = &args.config {
        let config = Config::load(path)?;
        let text = match (&config.master_key, &config.master_key_file) {
            (_, Some(file)) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
            (Some(key), None) => key.expose_secret().to_owned(),
            (None, None) => anyhow::bail!(
                "{} has no master_key or master_key_file (nor OPENCIAM_MASTER_KEY[_FILE]); \
                 the new key must be encrypted under the server's master key",
                path.display()
            ),
        };
        return MasterKey::from_base64(text.trim()).context("the configured master key is not valid");
    }
    let dir = args
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let path = dir.join("master.key");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {}; start `openciam dev --data {}` once to create the dev master key",
            path.display(),
            dir.display()
        )
    })?;
    MasterKey::from_base64(text.trim())
        .with_context(|| format!("{} is not a valid master key", path.display()))
}

/// The longest token lifetime: keys stay published this long after retirement.
fn token_lifetime(args: &StoreArgs) -> anyhow::Result<Duration> {
    match &args.config {
        Some(path) => Ok(Duration::from_secs(
            Config::load(path)?.tokens.access_token_lifetime_seconds,
        )),
        None => Ok(TokenConfig::default().access_ttl),
    }
}

/// `--activate-after`: a humane duration (see [`super::duration`]).
fn parse_duration(text: &str) -> Result<Duration, String> {
    super::duration::parse_seconds(text).map(Duration::from_secs)
}
