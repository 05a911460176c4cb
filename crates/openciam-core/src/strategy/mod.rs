//! Authentication methods, independent of HTTP.

pub mod email_otp;
pub mod password;
pub mod password_policy;
