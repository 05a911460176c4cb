//! Flows for addresses that have no account, under enumeration protection: sign-in and reset go
//! on as for a real user, so their answers cannot tell whether the account exists. Such a flow
//! has no user; the address as typed is kept in its state JSON (next to the flow's own members,
//! which the flows' state types ignore), for the masked address of `challenge`.
//!
//! Nothing can complete for a phantom: its password is checked against a dummy hash and fails,
//! and its codes are stored but never sent to anyone.

use crate::username::Username;
use serde::{Deserialize, Serialize};
use serde_json::Value;

const KEY: &str = "unknown_user";

/// An address without an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phantom {
    /// As typed.
    pub username: String,
    /// Normalised (for the per-address code cap).
    pub normalized: String,
}

impl Phantom {
    /// The phantom for a parsed username.
    pub fn of(username: &Username) -> Self {
        Self {
            username: username.display().to_owned(),
            normalized: username.normalized().to_owned(),
        }
    }

    /// Adds this phantom to a flow state (a JSON object).
    pub fn mark(&self, mut state: Value) -> Value {
        if let (Value::Object(map), Ok(me)) = (&mut state, serde_json::to_value(self)) {
            map.insert(KEY.to_owned(), me);
        }
        state
    }

    /// The phantom recorded in a flow state, if any.
    pub fn of_state(state: &Value) -> Option<Self> {
        serde_json::from_value(state.get(KEY)?.clone()).ok()
    }
}

/// Marks `state` with `phantom` when there is one.
pub fn mark(phantom: Option<&Phantom>, state: Value) -> Value {
    match phantom {
        Some(p) => p.mark(state),
        None => state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::challenge::Method;
    use crate::flow::reset::ResetState;
    use crate::flow::signin::SignInState;

    fn phantom() -> Phantom {
        Phantom::of(&Username::parse("Nobody@Example.com").unwrap())
    }

    #[test]
    fn marked_states_still_read_as_their_flow_state() {
        let p = phantom();
        for state in [
            SignInState::Initiated {
                method: Method::Password,
            },
            SignInState::PasswordChallenged,
            SignInState::CodeSent {
                codes: Default::default(),
            },
        ] {
            let json = p.mark(state.to_json());
            assert_eq!(SignInState::from_json(&json), Some(state));
            assert_eq!(Phantom::of_state(&json), Some(p.clone()));
        }
        let reset = ResetState {
            codes: Default::default(),
            verified: false,
            done: false,
        };
        let json = p.mark(reset.to_json());
        assert_eq!(ResetState::from_json(&json), Some(reset));
        assert_eq!(Phantom::of_state(&json), Some(p));
    }

    #[test]
    fn unmarked_states_have_no_phantom() {
        assert_eq!(
            Phantom::of_state(&SignInState::PasswordChallenged.to_json()),
            None
        );
        assert_eq!(
            mark(None, serde_json::json!({"a": 1})),
            serde_json::json!({"a": 1})
        );
    }
}
