//! Sign-up flow state, stored as JSON in the flow record. It holds no secret: the password only as
//! its hash.

use crate::strategy::email_otp::SendHistory;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a sign-up is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignUpState {
    /// Address as typed.
    pub email: String,
    /// Normalised address.
    pub email_normalized: String,
    /// argon2id hash of the chosen password, once given.
    pub password_hash: Option<String>,
    /// Accepted attribute values.
    pub attributes: Map<String, Value>,
    /// The code was verified.
    pub verified: bool,
    /// Codes sent.
    pub codes: SendHistory,
}

impl SignUpState {
    /// As stored.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// From the stored JSON.
    pub fn from_json(v: &Value) -> Option<Self> {
        serde_json::from_value(v.clone()).ok()
    }
}
