//! A tenant's security settings, stored as one JSON document on the tenant so that a new control
//! adds a field, not a column. Every field has a default; an empty document (`{}`) is the
//! default for every control.

use super::lockout::LockoutSettings;
use super::rate_limit::RateLimitOverrides;
use crate::mfa::MfaPolicy;
use serde::{Deserialize, Serialize};

/// Per-tenant security settings (`openciam tenant security <tenant> --set key=value`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSecurity {
    /// Hide whether an account exists (off by default, as in Entra).
    pub enumeration_protection: bool,
    /// Smart lockout of accounts after failed passwords.
    pub lockout: LockoutSettings,
    /// Overrides of the server's rate-limit profile for this tenant.
    pub rate_limits: RateLimitOverrides,
    /// Second factor for the tenant's apps (an app's own policy replaces it).
    pub mfa: MfaPolicy,
}

impl TenantSecurity {
    /// Applies `path=value` (e.g. `lockout.threshold=5`, `enumeration_protection=true`) to the
    /// settings as JSON and checks the result; the value is parsed as JSON when it is valid JSON
    /// (numbers, booleans, `null`, quoted strings, objects) and taken as a string otherwise.
    pub fn with_setting(&self, assignment: &str) -> Result<Self, String> {
        let (path, raw) = assignment
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, got {assignment:?}"))?;
        let mut doc = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let value = serde_json::from_str(raw.trim())
            .unwrap_or_else(|_| serde_json::Value::String(raw.trim().to_owned()));
        let mut node = &mut doc;
        let keys: Vec<&str> = path.trim().split('.').collect();
        for (i, key) in keys.iter().enumerate() {
            let object = node
                .as_object_mut()
                .ok_or_else(|| format!("{:?} is not a section", keys[..i].join(".")))?;
            if i + 1 == keys.len() {
                object.insert((*key).to_owned(), value);
                break;
            }
            node = object
                .entry((*key).to_owned())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
        }
        serde_json::from_value(doc).map_err(|e| format!("{path}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_is_the_default() {
        let parsed: TenantSecurity = serde_json::from_str("{}").unwrap();
        assert_eq!(parsed, TenantSecurity::default());
        assert!(!parsed.enumeration_protection);
    }

    #[test]
    fn settings_by_path() {
        let s = TenantSecurity::default()
            .with_setting("enumeration_protection=true")
            .unwrap();
        assert!(s.enumeration_protection);
        assert!(s.with_setting("no_such_control=1").is_err());
        assert!(s.with_setting("enumeration_protection=maybe").is_err());
        assert!(s.with_setting("missing-equals").is_err());
    }
}
