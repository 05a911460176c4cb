//! Sign-in, first factor (spec §3.2): `initiate` → `challenge` → `/token`.
//!
//! ```mermaid
//! stateDiagram-v2
//!     [*] --> Initiated: initiate (user exists)
//!     Initiated --> PasswordChallenged: challenge (client lists password)
//!     Initiated --> [*]: challenge → redirect
//!     PasswordChallenged --> PasswordChallenged: token, wrong password (token stays valid)
//!     PasswordChallenged --> Completed: token, right password
//!     Completed --> [*]
//! ```

mod service;
mod state;

pub use service::{ChallengeOutcome, InitiateOutcome, SignInService};
pub use state::SignInState;
