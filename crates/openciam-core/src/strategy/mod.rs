//! Authentication methods, independent of HTTP.

pub mod password;
pub mod password_policy;
