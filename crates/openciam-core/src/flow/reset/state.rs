//! Reset flow state, stored as JSON in the flow record.

use crate::strategy::email_otp::SendHistory;
use serde::{Deserialize, Serialize};

/// Where a reset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetState {
    /// Codes sent.
    pub codes: SendHistory,
    /// The code was verified.
    pub verified: bool,
    /// The new password is set.
    pub done: bool,
}

impl ResetState {
    /// As stored.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// From the stored JSON.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(v.clone()).ok()
    }
}
