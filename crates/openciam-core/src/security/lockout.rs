//! Smart lockout of accounts after repeated wrong passwords.

use serde::{Deserialize, Serialize};

/// A tenant's lockout settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutSettings {
    /// Failed password attempts (distinct wrong passwords) before the account locks.
    pub threshold: u32,
    /// Seconds of the first lockout.
    pub duration_seconds: u64,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        Self {
            threshold: 10,
            duration_seconds: 60,
        }
    }
}
