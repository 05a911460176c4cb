//! Request rate limits per client IP and per target account or address.

use serde::{Deserialize, Serialize};

/// A tenant's overrides of the server's rate-limit profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitOverrides {
    /// Turn every rate limit off for this tenant.
    pub disabled: bool,
}
