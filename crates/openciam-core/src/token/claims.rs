//! Claims of the tokens openciam issues (spec §8.3). `uid == oid` and `utid == tid` always hold,
//! because every client builds the account from them.

use serde::{Deserialize, Serialize};

/// ID token claims (spec §8.3.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdTokenClaims {
    /// `2.0`.
    pub ver: String,
    /// `{public_url}/{tid}/v2.0`.
    pub iss: String,
    /// The client id.
    pub aud: String,
    /// Pairwise subject: stable per user and app.
    pub sub: String,
    /// The user's object id.
    pub oid: String,
    /// The tenant GUID.
    pub tid: String,
    /// The sign-in e-mail as typed at sign-up.
    pub preferred_username: String,
    /// The same address.
    pub email: String,
    /// `displayName` when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unique token id: two tokens issued in the same second still differ.
    pub uti: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
}

/// Access token claims (spec §8.3.4).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessTokenClaims {
    /// `2.0`.
    pub ver: String,
    /// Same issuer as the ID token.
    pub iss: String,
    /// The resource app's client id, or the calling client when only OIDC scopes were asked.
    pub aud: String,
    /// Pairwise subject.
    pub sub: String,
    /// Object id.
    pub oid: String,
    /// Tenant.
    pub tid: String,
    /// The calling client.
    pub azp: String,
    /// Granted resource scopes, space-separated (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// Unique token id.
    pub uti: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
}
