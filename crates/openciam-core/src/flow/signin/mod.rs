//! Sign-in, first factor (spec §3.2): `initiate` → `challenge` → `/token` (password or code).
//!
//! ```mermaid
//! stateDiagram-v2
//!     [*] --> Initiated: initiate (user exists; method negotiated, else redirect)
//!     Initiated --> PasswordChallenged: challenge (password user)
//!     Initiated --> CodeSent: challenge (code user: code mailed)
//!     CodeSent --> CodeSent: challenge again (resend; both tokens stay valid)
//!     PasswordChallenged --> PasswordChallenged: token, wrong password (token stays valid)
//!     CodeSent --> CodeSent: token, wrong code (token stays valid)
//!     PasswordChallenged --> Completed: token grant_type=password
//!     CodeSent --> Completed: token grant_type=oob
//!     Completed --> [*]
//! ```

mod service;
mod state;

pub use service::{ChallengeOutcome, InitiateOutcome, SignInService};
pub use state::SignInState;
