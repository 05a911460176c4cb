//! The rate limiter: counts each limited request against the caller's IP and, where the request
//! has one, its target (an address or an account), in counters every node shares through the
//! store ([`RateLimitStore`](crate::ports::RateLimitStore)).
//!
//! The HTTP handlers call [`Limiter::check`] after the tenant and app are known and before the
//! flow service runs, so a refused request changes nothing: no flow advances, no token dies, no
//! code is sent, no password is hashed, and no other counter (lockout, code caps) moves.
//!
//! Buckets are `{tenant id}/{limit}/{subject}`. The subject of the IP limit is the IPv4 address,
//! or the /64 prefix of an IPv6 address (one subscriber usually holds a whole /64). Address
//! subjects are normalised usernames; for requests that carry a continuation token, the subject
//! is the flow's user (`user:{id}`), else its normalised address (`address:{…}`: a sign-up, or
//! an unknown user's flow under enumeration protection), else the flow itself (`flow:{id}`).

use super::rate_limit::{LimitName, LimitProfile, RateLimitOverrides};
use crate::clock::Clock;
use crate::crypto::token_hash;
use crate::directory::ClientContext;
use crate::error::{FlowError, FlowResult};
use crate::flow::phantom::Phantom;
use crate::ids::TenantId;
use crate::phone::PhoneNumber;
use crate::ports::Store;
use crate::request::RequestMeta;
use crate::username::Username;
use std::net::IpAddr;
use std::sync::Arc;

/// What a refused request hit: which limit, its numbers, and when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// The limit reached.
    pub limit: LimitName,
    /// Requests allowed per window.
    pub max: u32,
    /// Window length, seconds.
    pub window_seconds: u32,
    /// Seconds until the window ends (at least 1): the `Retry-After` value.
    pub retry_after: u64,
}

/// What a request is counted against, besides the caller's IP.
#[derive(Debug, Clone, Copy)]
pub enum Check<'a> {
    /// The IP limit only.
    Ip,
    /// `signup/v1.0/start` for `username`.
    SignUpStart(&'a str),
    /// `resetpassword/v1.0/start` for `username`.
    ResetStart(&'a str),
    /// A password check or change in the flow of this continuation token.
    Password(&'a str),
}

/// Applies the server's limit profile and each tenant's overrides.
#[derive(Clone)]
pub struct Limiter {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    profile: LimitProfile,
}

impl Limiter {
    /// A limiter with `profile`'s numbers.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, profile: LimitProfile) -> Self {
        Self {
            store,
            clock,
            profile,
        }
    }

    /// The server-wide profile in force.
    pub fn profile(&self) -> &LimitProfile {
        &self.profile
    }

    /// Counts the current request (its IP from [`RequestMeta::current`]) for `ctx`'s tenant;
    /// `FlowError::RateLimited` when a limit is reached. The IP is counted first; a request the
    /// IP limit refuses is not counted against its target.
    pub async fn check(&self, ctx: &ClientContext, check: Check<'_>) -> FlowResult<()> {
        let overrides = &ctx.tenant.security.rate_limits;
        let tenant = ctx.tenant.id;
        if let Some(ip) = RequestMeta::current().ip {
            self.hit(tenant, overrides, LimitName::Ip, &ip_subject(ip))
                .await?;
        }
        match check {
            Check::Ip => Ok(()),
            Check::SignUpStart(username) => {
                self.hit_address(tenant, overrides, LimitName::SignUpStart, username)
                    .await
            }
            Check::ResetStart(username) => {
                self.hit_address(tenant, overrides, LimitName::ResetStart, username)
                    .await
            }
            Check::Password(token) => {
                if self.profile.effective(LimitName::Password, overrides).is_none() {
                    return Ok(());
                }
                match self.flow_subject(ctx, token).await? {
                    Some(subject) => self.hit(tenant, overrides, LimitName::Password, &subject).await,
                    // Not a live token of this tenant: the flow service refuses it anyway.
                    None => Ok(()),
                }
            }
        }
    }

    async fn hit_address(
        &self,
        tenant: TenantId,
        overrides: &RateLimitOverrides,
        limit: LimitName,
        username: &str,
    ) -> FlowResult<()> {
        // An invalid username is refused by the flow service; there is nothing to count.
        match Username::parse(username) {
            Some(u) => self.hit(tenant, overrides, limit, u.normalized()).await,
            None => Ok(()),
        }
    }

    /// Who a continuation token's flow is about, when the token belongs to this tenant.
    async fn flow_subject(&self, ctx: &ClientContext, token: &str) -> FlowResult<Option<String>> {
        let Some((_, flow)) = self.store.token_with_flow(&token_hash(token)).await? else {
            return Ok(None);
        };
        if flow.tenant_id != ctx.tenant.id {
            return Ok(None);
        }
        // Sign-up flows carry the address; enumeration-protection flows for an unknown user
        // carry theirs as a phantom, so an unknown address is limited like a known account.
        let address = flow
            .state
            .get("email_normalized")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .or_else(|| Phantom::of_state(&flow.state).map(|p| p.normalized));
        Ok(Some(match (flow.user_id, address) {
            (Some(user), _) => format!("user:{}", user.0),
            (None, Some(address)) => format!("address:{address}"),
            (None, None) => format!("flow:{}", flow.id.0),
        }))
    }

    async fn hit(
        &self,
        tenant: TenantId,
        overrides: &RateLimitOverrides,
        limit: LimitName,
        subject: &str,
    ) -> FlowResult<()> {
        let Some(numbers) = self.profile.effective(limit, overrides) else {
            return Ok(());
        };
        let bucket = format!("{}/{}/{subject}", tenant.0, limit.as_str());
        let now = self.clock.unix();
        let hit = self
            .store
            .hit_rate_limit(
                &bucket,
                now,
                i64::from(numbers.window_seconds),
                i64::from(numbers.max),
            )
            .await?;
        if hit.allowed {
            return Ok(());
        }
        Err(FlowError::RateLimited(RateLimited {
            limit,
            max: numbers.max,
            window_seconds: numbers.window_seconds,
            retry_after: u64::try_from(hit.window_ends_at - now).unwrap_or(0).max(1),
        }))
    }

    /// Counts one text message to `to` for `ctx`'s tenant against the toll-fraud limits: per
    /// number, then per country calling code. `FlowError::RateLimited` (429 with Retry-After)
    /// when either is reached. Call it before a code is issued for an SMS, so a refused request
    /// changes nothing (the IP was counted already by [`Limiter::check`]).
    pub async fn check_sms(&self, ctx: &ClientContext, to: &PhoneNumber) -> FlowResult<()> {
        let overrides = &ctx.tenant.security.rate_limits;
        let tenant = ctx.tenant.id;
        self.hit(tenant, overrides, LimitName::SmsNumber, to.e164())
            .await?;
        self.hit(
            tenant,
            overrides,
            LimitName::SmsCountry,
            &format!("+{}", to.country_code()),
        )
        .await
    }

    /// Deletes the counters whose window has ended.
    pub async fn purge(&self) -> FlowResult<u64> {
        Ok(self.store.purge_rate_limits(self.clock.unix()).await?)
    }
}

/// The IP limit's subject: an IPv4 address, or an IPv6 address's /64 prefix (IPv4-mapped IPv6
/// addresses count as their IPv4 address).
pub fn ip_subject(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_subjects() {
        let ip = |s: &str| ip_subject(s.parse().unwrap());
        assert_eq!(ip("192.0.2.7"), "192.0.2.7");
        assert_eq!(ip("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(ip("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(ip("2001:db8:1:2:ffff::1"), ip("2001:db8:1:2::9"));
    }
}
