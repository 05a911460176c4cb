//! Sign-in flow state, stored as JSON in the flow record.

use crate::flow::challenge::Method;
use crate::strategy::email_otp::SendHistory;
use serde::{Deserialize, Serialize};

/// Where a sign-in flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SignInState {
    /// `initiate` found the user and negotiated `method`.
    Initiated {
        /// Password or code.
        method: Method,
    },
    /// The client was asked for the password.
    PasswordChallenged,
    /// A code was mailed (possibly several times).
    CodeSent {
        /// Resend history.
        codes: SendHistory,
    },
    /// Tokens were issued; nothing remains.
    Completed,
}

impl SignInState {
    /// As stored.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// From the stored JSON.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(v.clone()).ok()
    }
}
