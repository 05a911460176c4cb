//! Sign-in flow state, stored as JSON in the flow record.

use serde::{Deserialize, Serialize};

/// Where a sign-in flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SignInState {
    /// `initiate` found the user.
    Initiated,
    /// The client was asked for the password.
    PasswordChallenged,
    /// Tokens were issued; nothing remains.
    Completed,
}

impl SignInState {
    /// As stored.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
