//! Second factor (spec §3.3, §3.4): the policy that asks for one, the methods registered on users,
//! and what administrators do with them.

pub mod methods;
pub mod policy;

pub use policy::MfaPolicy;
