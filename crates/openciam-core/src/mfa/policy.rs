//! Whether an app asks for a second factor, and through which channels.
//!
//! A tenant has one policy (`openciam tenant security <t> --set mfa.required=true`); an app may
//! carry its own, which then replaces the tenant's whole (`[[tenants.apps]] mfa = {...}`,
//! `openciam app create --mfa required`).

use crate::model::{App, AuthMethodKind, Tenant};
use serde::{Deserialize, Serialize};

/// A second-factor policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaPolicy {
    /// Every sign-in needs a second factor (and a user without a method registers one first).
    pub required: bool,
    /// Channels allowed as second factor: `email` (a code to the sign-in address or another
    /// one) and `sms`. Registered methods of another channel are not offered.
    pub methods: Vec<AuthMethodKind>,
}

impl Default for MfaPolicy {
    fn default() -> Self {
        Self {
            required: false,
            methods: vec![AuthMethodKind::Email],
        }
    }
}

impl MfaPolicy {
    /// The policy in force for `app`: its own, else its tenant's.
    pub fn effective(tenant: &Tenant, app: &App) -> Self {
        app.mfa.clone().unwrap_or_else(|| tenant.security.mfa.clone())
    }

    /// Whether `kind` may be used (offered, challenged, registered).
    pub fn allows(&self, kind: AuthMethodKind) -> bool {
        self.methods.contains(&kind)
    }

    /// Whether sign-ins need a second factor. A required policy that allows no channel cannot be
    /// met natively; it still counts as required (the client is sent to the browser).
    pub fn requires_second_factor(&self) -> bool {
        self.required
    }

    /// Parses the compact CLI form: `off`, `required`, or `required:email,sms` /
    /// `optional:email` (the channels allowed).
    pub fn parse_compact(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (mode, channels) = raw.split_once(':').unwrap_or((raw, ""));
        let required = match mode.to_ascii_lowercase().as_str() {
            "required" | "on" => true,
            "off" | "optional" => false,
            other => {
                return Err(format!(
                    "MFA policy {other:?}: expected off, optional or required"
                ));
            }
        };
        let mut policy = Self {
            required,
            ..Self::default()
        };
        if !channels.trim().is_empty() {
            policy.methods = channels
                .split(',')
                .map(|c| {
                    AuthMethodKind::parse(c).ok_or_else(|| format!("unknown MFA channel {c:?} (email, sms)"))
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_off_with_email() {
        let p: MfaPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(p, MfaPolicy::default());
        assert!(!p.required);
        assert!(p.allows(AuthMethodKind::Email));
        assert!(!p.allows(AuthMethodKind::Sms));
    }

    #[test]
    fn json_form() {
        let p: MfaPolicy = serde_json::from_str(r#"{"required":true,"methods":["email","sms"]}"#).unwrap();
        assert!(p.required && p.allows(AuthMethodKind::Sms));
        assert!(serde_json::from_str::<MfaPolicy>(r#"{"methods":["fax"]}"#).is_err());
    }

    #[test]
    fn compact_form() {
        assert!(!MfaPolicy::parse_compact("off").unwrap().required);
        let p = MfaPolicy::parse_compact("required:email,sms").unwrap();
        assert!(p.required);
        assert_eq!(p.methods, vec![AuthMethodKind::Email, AuthMethodKind::Sms]);
        assert!(MfaPolicy::parse_compact("sometimes").is_err());
        assert!(MfaPolicy::parse_compact("required:fax").is_err());
    }
}
