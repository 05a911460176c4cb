//! Tokens: signing keys, claims, issuance and refresh-token rotation.

pub mod claims;
pub mod issuer;
pub mod keys;

pub use issuer::{TokenConfig, TokenIssuer, TokenSet};
pub use keys::{KeyRing, KeyStatus, SigningKey};
