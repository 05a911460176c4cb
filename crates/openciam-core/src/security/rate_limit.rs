//! Request rate limits per client IP and per target account or address: the limits, the
//! server-wide profiles that set their numbers, and a tenant's overrides of them.
//!
//! Every number lives in this file ([`LimitProfile::serve`] and its siblings). A limit allows
//! `max` requests per window of `window_seconds`; the window is fixed and starts at the first
//! request counted after the previous window ended (see
//! [`crate::ports::RateLimitStore::hit_rate_limit`]).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One limit: at most `max` requests per `window_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed per window (at least 1).
    pub max: u32,
    /// Length of a window, seconds (at least 1).
    pub window_seconds: u32,
}

impl Limit {
    const fn new(max: u32, window_seconds: u32) -> Self {
        Self { max, window_seconds }
    }
}

/// The limits openciam applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitName {
    /// Requests per client IP per tenant, on every native-auth flow endpoint.
    Ip,
    /// Requests that check or set a password, per account or address (the password grant,
    /// sign-up `continue` with a password, reset `submit`).
    Password,
    /// Sign-up starts per address.
    SignUpStart,
    /// Password-reset starts per address.
    ResetStart,
    /// Text messages per phone number (toll fraud: pumping premium numbers).
    SmsNumber,
    /// Text messages per country calling code, per tenant (toll fraud spread over many numbers
    /// of one expensive country).
    SmsCountry,
}

impl LimitName {
    /// Every limit.
    pub const ALL: [Self; 6] = [
        Self::Ip,
        Self::Password,
        Self::SignUpStart,
        Self::ResetStart,
        Self::SmsNumber,
        Self::SmsCountry,
    ];

    /// The name in settings and in the counter keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Password => "password",
            Self::SignUpStart => "signup_start",
            Self::ResetStart => "reset_start",
            Self::SmsNumber => "sms_number",
            Self::SmsCountry => "sms_country",
        }
    }
}

/// The server-wide profiles (`[limits] profile`, `openciam dev --limits`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileName {
    /// Production defaults.
    #[default]
    Serve,
    /// The automated test suites: no per-IP limit (every test shares 127.0.0.1), per-target
    /// limits so high no suite reaches them.
    Test,
    /// The load tool: every limit counted (so the benchmark pays what production pays) but
    /// at numbers no benchmark reaches.
    Bench,
    /// No limit, nothing counted (tenant overrides are ignored too).
    Off,
}

impl ProfileName {
    /// The name as written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Serve => "serve",
            Self::Test => "test",
            Self::Bench => "bench",
            Self::Off => "off",
        }
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProfileName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "serve" => Ok(Self::Serve),
            "test" => Ok(Self::Test),
            "bench" => Ok(Self::Bench),
            "off" => Ok(Self::Off),
            other => Err(format!(
                "unknown limits profile {other:?}; use serve, test, bench or off"
            )),
        }
    }
}

/// The numbers of one profile; `None` is a limit the profile does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitProfile {
    /// Which profile.
    pub name: ProfileName,
    /// Per client IP per tenant.
    pub ip: Option<Limit>,
    /// Password checks per account or address.
    pub password: Option<Limit>,
    /// Sign-up starts per address.
    pub signup_start: Option<Limit>,
    /// Reset starts per address.
    pub reset_start: Option<Limit>,
    /// Text messages per phone number.
    pub sms_number: Option<Limit>,
    /// Text messages per country calling code.
    pub sms_country: Option<Limit>,
}

/// Per-target limits of the `test` and `bench` profiles: far above anything a suite or a load
/// run sends to one account.
const GENEROUS: u32 = 1_000_000;

impl LimitProfile {
    /// Production defaults: 20 requests per second per IP per tenant (Entra's number); 10
    /// password checks per account or address per minute; 10 sign-up starts and 5 reset starts
    /// per address per hour; against SMS toll fraud, 5 text messages per phone number per hour
    /// and 100 per country calling code per tenant per hour.
    pub const fn serve() -> Self {
        Self {
            name: ProfileName::Serve,
            ip: Some(Limit::new(20, 1)),
            password: Some(Limit::new(10, 60)),
            signup_start: Some(Limit::new(10, 3600)),
            reset_start: Some(Limit::new(5, 3600)),
            sms_number: Some(Limit::new(5, 3600)),
            sms_country: Some(Limit::new(100, 3600)),
        }
    }

    /// The test suites: no per-IP limit; per-target limits at 1,000,000 per window.
    pub const fn test() -> Self {
        Self {
            name: ProfileName::Test,
            ip: None,
            password: Some(Limit::new(GENEROUS, 60)),
            signup_start: Some(Limit::new(GENEROUS, 3600)),
            reset_start: Some(Limit::new(GENEROUS, 3600)),
            sms_number: Some(Limit::new(GENEROUS, 3600)),
            sms_country: Some(Limit::new(GENEROUS, 3600)),
        }
    }

    /// The load tool: every limit counted, at 1,000,000 per window.
    pub const fn bench() -> Self {
        Self {
            name: ProfileName::Bench,
            ip: Some(Limit::new(GENEROUS, 1)),
            password: Some(Limit::new(GENEROUS, 60)),
            signup_start: Some(Limit::new(GENEROUS, 3600)),
            reset_start: Some(Limit::new(GENEROUS, 3600)),
            sms_number: Some(Limit::new(GENEROUS, 3600)),
            sms_country: Some(Limit::new(GENEROUS, 3600)),
        }
    }

    /// No limits.
    pub const fn off() -> Self {
        Self {
            name: ProfileName::Off,
            ip: None,
            password: None,
            signup_start: None,
            reset_start: None,
            sms_number: None,
            sms_country: None,
        }
    }

    /// The profile called `name`.
    pub const fn named(name: ProfileName) -> Self {
        match name {
            ProfileName::Serve => Self::serve(),
            ProfileName::Test => Self::test(),
            ProfileName::Bench => Self::bench(),
            ProfileName::Off => Self::off(),
        }
    }

    /// This profile's own value of `limit`.
    pub fn get(&self, limit: LimitName) -> Option<Limit> {
        match limit {
            LimitName::Ip => self.ip,
            LimitName::Password => self.password,
            LimitName::SignUpStart => self.signup_start,
            LimitName::ResetStart => self.reset_start,
            LimitName::SmsNumber => self.sms_number,
            LimitName::SmsCountry => self.sms_country,
        }
    }

    /// The limit in force for a tenant with `overrides`: `None` when it is off. The `off`
    /// profile and `disabled` turn every limit off; otherwise a tenant's `max` and
    /// `window_seconds` replace the profile's (`max = 0` turns the limit off), and a limit the
    /// profile lacks applies when the tenant sets its `max` (window from the `serve` profile
    /// unless given).
    pub fn effective(&self, limit: LimitName, overrides: &RateLimitOverrides) -> Option<Limit> {
        if self.name == ProfileName::Off || overrides.disabled {
            return None;
        }
        let own = overrides.get(limit);
        let base = self.get(limit);
        let max = own.max.or(base.map(|l| l.max))?;
        let window_seconds = own
            .window_seconds
            .or(base.map(|l| l.window_seconds))
            .or(Self::serve().get(limit).map(|l| l.window_seconds))
            .unwrap_or(60);
        (max > 0).then_some(Limit {
            max,
            window_seconds: window_seconds.max(1),
        })
    }
}

impl Default for LimitProfile {
    fn default() -> Self {
        Self::serve()
    }
}

/// A tenant's change to one limit; unset fields keep the profile's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitOverride {
    /// Requests per window; 0 turns this limit off for the tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// Window length, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u32>,
}

impl LimitOverride {
    fn is_unset(&self) -> bool {
        self.max.is_none() && self.window_seconds.is_none()
    }
}

/// A tenant's overrides of the server's rate-limit profile, e.g.
/// `openciam tenant security demo --set rate_limits.password.max=5` or
/// `--set rate_limits.disabled=true`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitOverrides {
    /// Turn every rate limit off for this tenant.
    pub disabled: bool,
    /// Requests per client IP (all flow endpoints).
    #[serde(skip_serializing_if = "LimitOverride::is_unset")]
    pub ip: LimitOverride,
    /// Password checks per account or address.
    #[serde(skip_serializing_if = "LimitOverride::is_unset")]
    pub password: LimitOverride,
    /// Sign-up starts per address.
    #[serde(skip_serializing_if = "LimitOverride::is_unset")]
    pub signup_start: LimitOverride,
    /// Reset starts per address.
    #[serde(skip_serializing_if = "LimitOverride::is_unset")]
    pub reset_start: LimitOverride,
    /// Text messages per phone number.
    #[serde(skip_serializing_if = "LimitOverride::is_unset")]
    pub sms_number: LimitOverride,
    /// Text messages per country calling code.
    #[serde(skip_serializing_if = "LimitOverride::is_unset")]
    pub sms_country: LimitOverride,
}

impl RateLimitOverrides {
    /// The tenant's override of `limit`.
    pub fn get(&self, limit: LimitName) -> LimitOverride {
        match limit {
            LimitName::Ip => self.ip,
            LimitName::Password => self.password,
            LimitName::SignUpStart => self.signup_start,
            LimitName::ResetStart => self.reset_start,
            LimitName::SmsNumber => self.sms_number,
            LimitName::SmsCountry => self.sms_country,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::TenantSecurity;

    #[test]
    fn serve_defaults() {
        let p = LimitProfile::serve();
        let none = RateLimitOverrides::default();
        assert_eq!(p.effective(LimitName::Ip, &none), Some(Limit::new(20, 1)));
        assert_eq!(p.effective(LimitName::Password, &none), Some(Limit::new(10, 60)));
        assert_eq!(
            p.effective(LimitName::SignUpStart, &none),
            Some(Limit::new(10, 3600))
        );
        assert_eq!(
            p.effective(LimitName::ResetStart, &none),
            Some(Limit::new(5, 3600))
        );
        assert_eq!(
            p.effective(LimitName::SmsNumber, &none),
            Some(Limit::new(5, 3600))
        );
        assert_eq!(
            p.effective(LimitName::SmsCountry, &none),
            Some(Limit::new(100, 3600))
        );
    }

    #[test]
    fn sms_limits_take_tenant_overrides() {
        let s = TenantSecurity::default()
            .with_setting("rate_limits.sms_number.max=2")
            .unwrap()
            .with_setting("rate_limits.sms_country.max=3")
            .unwrap()
            .with_setting("rate_limits.sms_country.window_seconds=60")
            .unwrap();
        let p = LimitProfile::test();
        assert_eq!(
            p.effective(LimitName::SmsNumber, &s.rate_limits),
            Some(Limit::new(2, 3600))
        );
        assert_eq!(
            p.effective(LimitName::SmsCountry, &s.rate_limits),
            Some(Limit::new(3, 60))
        );
        let off = s.with_setting("rate_limits.sms_number.max=0").unwrap();
        assert_eq!(p.effective(LimitName::SmsNumber, &off.rate_limits), None);
    }

    #[test]
    fn test_profile_has_no_ip_limit_and_off_has_none() {
        let none = RateLimitOverrides::default();
        assert_eq!(LimitProfile::test().effective(LimitName::Ip, &none), None);
        for limit in LimitName::ALL {
            assert_eq!(LimitProfile::off().effective(limit, &none), None);
            assert!(LimitProfile::bench().effective(limit, &none).unwrap().max >= 1_000_000);
        }
    }

    #[test]
    fn tenant_overrides() {
        let s = TenantSecurity::default()
            .with_setting("rate_limits.password.max=3")
            .unwrap()
            .with_setting("rate_limits.ip.max=0")
            .unwrap();
        let o = &s.rate_limits;
        let p = LimitProfile::serve();
        assert_eq!(p.effective(LimitName::Password, o), Some(Limit::new(3, 60)));
        assert_eq!(p.effective(LimitName::Ip, o), None);
        // A limit the profile lacks applies once the tenant sets it.
        let s = s.with_setting("rate_limits.ip.max=5").unwrap();
        assert_eq!(
            LimitProfile::test().effective(LimitName::Ip, &s.rate_limits),
            Some(Limit::new(5, 1))
        );
        let off = s.with_setting("rate_limits.disabled=true").unwrap();
        assert_eq!(p.effective(LimitName::Password, &off.rate_limits), None);
        // The off profile wins over a tenant's numbers.
        assert_eq!(LimitProfile::off().effective(LimitName::Ip, &s.rate_limits), None);
        assert!(s.with_setting("rate_limits.ip.burst=1").is_err());
        assert!(s.with_setting("rate_limits.ip.max=-1").is_err());
    }

    #[test]
    fn untouched_overrides_serialise_as_before() {
        let json = serde_json::to_string(&RateLimitOverrides::default()).unwrap();
        assert_eq!(json, r#"{"disabled":false}"#);
    }

    #[test]
    fn profile_names() {
        for name in [
            ProfileName::Serve,
            ProfileName::Test,
            ProfileName::Bench,
            ProfileName::Off,
        ] {
            assert_eq!(name.as_str().parse::<ProfileName>().unwrap(), name);
            assert_eq!(LimitProfile::named(name).name, name);
        }
        assert!("fast".parse::<ProfileName>().is_err());
    }
}
