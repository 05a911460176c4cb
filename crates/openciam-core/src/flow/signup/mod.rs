//! Sign-up (spec §3.1, §5.1–5.3): `start` → `challenge` → `continue` (code, password,
//! attributes) → `/token` with `grant_type=continuation_token`.
//!
//! ```mermaid
//! stateDiagram-v2
//!     [*] --> Started: start
//!     Started --> CodeSent: challenge (code mailed)
//!     CodeSent --> CodeSent: challenge again (resend: both tokens stay valid)
//!     CodeSent --> CodeSent: continue oob, wrong code (token stays valid)
//!     CodeSent --> NeedsPassword: continue oob → 400 credential_required
//!     NeedsPassword --> PasswordAsked: challenge → password
//!     PasswordAsked --> NeedsAttributes: continue password → 400 attributes_required
//!     CodeSent --> NeedsAttributes: continue oob → 400 attributes_required
//!     NeedsAttributes --> NeedsAttributes: continue attributes, still missing
//!     CodeSent --> Completed: continue oob (nothing missing) → account created
//!     PasswordAsked --> Completed: continue password → account created
//!     NeedsAttributes --> Completed: continue attributes → account created
//!     Completed --> [*]: token grant_type=continuation_token (once)
//! ```

pub mod attributes;
mod service;
mod state;

pub use service::{
    ContinueInput, ContinueOutcome, SignUpChallengeOutcome, SignUpService, StartOutcome, mask_email,
};
pub use state::SignUpState;
