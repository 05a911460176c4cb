//! Abuse resistance: the per-tenant security settings and the controls they drive (smart
//! lockout, rate limits, enumeration protection).

pub mod limiter;
pub mod lockout;
pub mod rate_limit;
pub mod settings;

pub use settings::TenantSecurity;
