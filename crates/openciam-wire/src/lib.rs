//! Wire types of the Entra External ID native-authentication API (V1).
//!
//! Everything here uses Entra's vocabulary exactly (`continuation_token`, `challenge_type`, `oob`,
//! `suberror`). This crate knows nothing about flows or storage: it parses form bodies into request
//! structs, serialises response bodies, and holds the error catalogue — the only place where Entra's
//! error strings, AADSTS numbers and HTTP statuses appear.
//!
//! Reference: `shared/spec/native-auth-protocol.md` (sections cited on each item).

pub mod discovery;
pub mod error;
pub mod form;
pub mod mfa;
pub mod reset;
pub mod signin;
pub mod signup;
pub mod token;

pub use error::{CatalogueEntry, ErrorBody};
pub use form::{Form, FormError};
