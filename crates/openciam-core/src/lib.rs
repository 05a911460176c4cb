//! openciam's business rules, free of HTTP, SQL and SMTP.
//!
//! * [`ports`] declares what the core needs from the outside world (storage, clock); adapters in
//!   other crates implement it.
//! * [`flow`] holds the continuation-token engine and the flows built on it.
//! * [`strategy`] holds authentication methods (passwords).
//! * [`token`] issues and refreshes tokens.
//! * [`directory`] resolves tenants, apps and scopes; [`admin`] is what the CLI calls.

pub mod admin;
pub mod admin_copy;
pub mod audit;
pub mod clock;
pub mod crypto;
pub mod directory;
pub mod error;
pub mod flow;
pub mod ids;
pub mod mail;
pub mod mfa;
pub mod model;
pub mod observe;
pub mod phone;
pub mod ports;
pub mod request;
pub mod secret;
pub mod security;
pub mod services;
pub mod sms;
pub mod strategy;
pub mod token;
pub mod username;

pub use error::FlowError;
