//! `openciam audit …`: read the security audit log, and purge old events.
//!
//! `openciam audit [--since 2026-11-01|1h] [--user EMAIL] [--tenant T] [--event NAME] [--json]`
//! prints matching events oldest first, one per line; `openciam audit purge [--older-than 90d]`
//! deletes events older than that (the server also purges past `[audit] retention_days`).

use super::store_args::StoreArgs;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use openciam_core::audit::{AuditFilter, AuditRecord};
use openciam_core::clock::{Clock as _, SystemClock};
use openciam_core::username::Username;
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `audit`: list events, or a subcommand.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    /// `purge`.
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Which events to list.
    #[command(flatten)]
    pub list: ListArgs,
}

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Delete events older than --older-than (default 90d).
    Purge(PurgeArgs),
}

/// `audit` (listing).
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Events at or after this moment: a UTC date (2026-11-01), or an age such as 30m, 1h, 7d.
    #[arg(long, value_parser = parse_since)]
    pub since: Option<Since>,
    /// Events of this user (e-mail address).
    #[arg(long)]
    pub user: Option<String>,
    /// Events of this tenant (name, domain or GUID).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Events with this name, e.g. signin.password.failure (see docs/security.md).
    #[arg(long)]
    pub event: Option<String>,
    /// At most this many events (the newest).
    #[arg(long)]
    pub limit: Option<i64>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Store selection.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `audit purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Age beyond which events are deleted, e.g. 90d, 12h.
    #[arg(long, default_value = "90d", value_parser = parse_age)]
    pub older_than: u64,
    /// Store selection.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// A `--since` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// A Unix time.
    At(i64),
    /// Seconds before now.
    Ago(u64),
}

/// Runs an audit command.
pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    match args.command {
        Some(AuditCommand::Purge(p)) => {
            let (_, admin) = p.store.open().await?;
            let age = i64::try_from(p.older_than).context("--older-than is too large")?;
            let n = admin.audit().purge_older_than(age).await?;
            println!("purged {n} audit event(s) older than {} s", p.older_than);
            Ok(())
        }
        None => list(args.list).await,
    }
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let (_, admin) = args.store.open().await?;
    let tenant_id = match &args.tenant {
        Some(t) => Some(admin.tenant(t).await?.id),
        None => None,
    };
    let username = match &args.user {
        Some(u) => Some(
            Username::parse(u)
                .with_context(|| format!("--user {u:?} is not an e-mail address"))?
                .normalized()
                .to_owned(),
        ),
        None => None,
    };
    let since = args.since.map(|s| match s {
        Since::At(t) => t,
        Since::Ago(secs) => SystemClock
            .unix()
            .saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX)),
    });
    let filter = AuditFilter {
        since,
        tenant_id,
        username,
        event: args.event.clone(),
        limit: args.limit,
    };
    let events = admin.audit().events(&filter).await?;
    let names: HashMap<_, _> = admin
        .list_tenants()
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    for e in &events {
        let tenant = e.tenant_id.and_then(|id| names.get(&id).cloned());
        if args.json {
            println!("{}", as_json(e, tenant.as_deref()));
        } else {
            println!("{}", as_text(e, tenant.as_deref()));
        }
    }
    Ok(())
}

fn when(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn as_text(e: &AuditRecord, tenant: Option<&str>) -> String {
    let dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
    format!(
        "{}  {}  tenant={}  user={}  ip={}  correlation_id={}  user_agent={:?}  {}",
        when(e.at),
        e.event,
        dash(tenant),
        dash(e.username.as_deref()),
        dash(e.ip.as_deref()),
        dash(e.correlation_id.as_deref()),
        e.user_agent.as_deref().unwrap_or(""),
        e.details
    )
}

fn as_json(e: &AuditRecord, tenant: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "time": when(e.at),
        "event": e.event,
        "tenant": tenant,
        "tenant_id": e.tenant_id.map(|t| t.to_string()),
        "user_id": e.user_id.map(|u| u.to_string()),
        "user": e.username,
        "details": e.details,
        "ip": e.ip,
        "user_agent": e.user_agent,
        "correlation_id": e.correlation_id,
    })
}

/// `2026-11-01` (midnight UTC) or an age (`30m`, `1h`, `7d`, `1d12h`).
fn parse_since(text: &str) -> Result<Since, String> {
    if let Some(date) = parse_date(text.trim()) {
        return Ok(Since::At(date));
    }
    parse_age(text)
        .map(Since::Ago)
        .map_err(|_| format!("'{text}' is neither a date (2026-11-01) nor an age (30m, 1h, 7d)"))
}

fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

/// An age (see [`super::duration`]).
fn parse_age(text: &str) -> Result<u64, String> {
    super::duration::parse_seconds(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_dates_and_ages() {
        assert_eq!(parse_since("2026-11-01"), Ok(Since::At(1_793_491_200)));
        assert_eq!(parse_since("1h"), Ok(Since::Ago(3600)));
        assert_eq!(parse_since("1d12h"), Ok(Since::Ago(129_600)));
        assert!(parse_since("yesterday").is_err());
        assert!(parse_since("2026-13-01").is_err());
        assert!(parse_since("10").is_err());
    }
}
