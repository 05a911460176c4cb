//! Authentication methods, independent of HTTP.

pub mod password;
