//! Self-service password reset (spec §3.5, §5.11–5.15): `start` → `challenge` → `continue`
//! (code) → `submit` (new password) → `poll_completion` → `/token` with
//! `grant_type=continuation_token`.
//!
//! `submit` performs the reset synchronously (one transaction: password, sessions revoked, the
//! user's other flows killed), so every poll answers `succeeded` with a final token; the submit
//! token stays valid for any number of polls (spec §6.3 decision).
//!
//! ```mermaid
//! stateDiagram-v2
//!     [*] --> Started: start (user has a password)
//!     Started --> CodeSent: challenge (code mailed)
//!     CodeSent --> CodeSent: challenge again (resend) / continue, wrong code
//!     CodeSent --> Verified: continue oob
//!     Verified --> Verified: submit, policy error (token stays valid)
//!     Verified --> Done: submit (password set, sessions revoked)
//!     Done --> Done: poll_completion → succeeded + final token
//!     Done --> [*]: token grant_type=continuation_token (once)
//! ```

mod service;
mod state;

pub use service::{ResetChallengeOutcome, ResetService, ResetStartOutcome};
pub use state::ResetState;
