//! The client side: sign-up with an e-mailed code, password sign-in and the refresh grant, each
//! recording in the [`Ledger`] what the server answered.

use crate::ledger::{AcceptedCode, Ledger, Rt};
use crate::server::CLIENT_ID;
use crate::sink::Sink;
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Every account's password.
pub(crate) const PASSWORD: &str = "Crash-Test-Pass-2026!";
const SCOPE: &str = "openid offline_access";

/// What a worker needs.
#[derive(Clone)]
pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    /// `{origin}/{tenant}`.
    pub(crate) base: String,
    pub(crate) sink: Arc<Sink>,
    pub(crate) ledger: Arc<Mutex<Ledger>>,
    pub(crate) tag: u64,
}

/// An answer, or `None` when the request got no complete answer (the server died).
type Answer = Option<(u16, Value)>;

impl Client {
    pub(crate) fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let sent = self
            .http
            .post(format!("{}/{path}", self.base))
            .form(form)
            .send()
            .await;
        let answer = match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(body) => Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null))),
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
        if answer.is_none() {
            self.ledger().stats.lost_requests += 1;
        }
        answer
    }

    /// A 200's string member, or records an unexpected answer.
    fn expect_200(&self, step: &str, answer: &Answer, member: &str) -> Option<String> {
        let (status, body) = answer.as_ref()?;
        match body[member].as_str() {
            Some(v) if *status == 200 => Some(v.to_owned()),
            _ => {
                self.ledger().unexpected(format!("{step}: {status} {body}"));
                None
            }
        }
    }

    /// start → challenge → code from the sink → continue → token. Tokens received: the account
    /// is recorded (it must survive every later crash), as is the accepted code.
    pub(crate) async fn sign_up(&self) {
        let email = {
            let mut l = self.ledger();
            l.next_user += 1;
            format!("u{}-{}@crash.test", l.next_user, self.tag)
        };
        let a = self
            .post(
                "signup/v1.0/start",
                &[
                    ("client_id", CLIENT_ID),
                    ("username", &email),
                    ("password", PASSWORD),
                    ("challenge_type", "oob password redirect"),
                ],
            )
            .await;
        let Some(ct) = self.expect_200("signup start", &a, "continuation_token") else {
            return;
        };
        let a = self
            .post(
                "signup/v1.0/challenge",
                &[
                    ("client_id", CLIENT_ID),
                    ("continuation_token", &ct),
                    ("challenge_type", "oob password redirect"),
                ],
            )
            .await;
        let Some(ct) = self.expect_200("signup challenge", &a, "continuation_token") else {
            return;
        };
        let Some(code) = self.sink.code_for(&email, Duration::from_secs(10)).await else {
            self.ledger().unexpected(format!("no code mailed to {email}"));
            return;
        };
        let a = self
            .post(
                "signup/v1.0/continue",
                &[
                    ("client_id", CLIENT_ID),
                    ("continuation_token", &ct),
                    ("grant_type", "oob"),
                    ("oob", &code),
                ],
            )
            .await;
        let Some(final_ct) = self.expect_200("signup continue", &a, "continuation_token") else {
            return;
        };
        self.ledger().codes.push(AcceptedCode { ct, code });
        let a = self
            .post(
                "oauth2/v2.0/token",
                &[
                    ("client_id", CLIENT_ID),
                    ("continuation_token", &final_ct),
                    ("grant_type", "continuation_token"),
                    ("scope", SCOPE),
                    ("client_info", "1"),
                ],
            )
            .await;
        let Some(rt) = self.expect_200("signup token", &a, "refresh_token") else {
            return;
        };
        let mut l = self.ledger();
        l.stats.signups += 1;
        l.users.push(email);
        let family = l.new_family();
        l.live.push(Rt { token: rt, family });
    }

    /// initiate → challenge → password grant. `Ok(Some(rt))` on tokens, `Ok(None)` when no
    /// complete answer came, `Err(answer)` on a definite refusal.
    pub(crate) async fn sign_in(&self, email: &str) -> Result<Option<String>, String> {
        let refused = |step: &str, a: &Answer| -> Result<Option<String>, String> {
            match a {
                Some((status, body)) => Err(format!("{step}: {status} {body}")),
                None => Ok(None),
            }
        };
        let a = self
            .post(
                "oauth2/v2.0/initiate",
                &[
                    ("client_id", CLIENT_ID),
                    ("username", email),
                    ("challenge_type", "password redirect"),
                ],
            )
            .await;
        let Some(ct) = ok_member(&a, "continuation_token") else {
            return refused("initiate", &a);
        };
        let a = self
            .post(
                "oauth2/v2.0/challenge",
                &[
                    ("client_id", CLIENT_ID),
                    ("continuation_token", &ct),
                    ("challenge_type", "password redirect"),
                ],
            )
            .await;
        let Some(ct) = ok_member(&a, "continuation_token") else {
            return refused("challenge", &a);
        };
        let a = self
            .post(
                "oauth2/v2.0/token",
                &[
                    ("client_id", CLIENT_ID),
                    ("continuation_token", &ct),
                    ("grant_type", "password"),
                    ("password", PASSWORD),
                    ("scope", SCOPE),
                    ("client_info", "1"),
                ],
            )
            .await;
        match ok_member(&a, "refresh_token") {
            Some(rt) => Ok(Some(rt)),
            None => refused("password grant", &a),
        }
    }

    /// A sign-in of a random account that received tokens during the load.
    pub(crate) async fn sign_in_someone(&self, pick: usize) {
        let email = {
            let l = self.ledger();
            if l.users.is_empty() {
                return;
            }
            l.users[pick % l.users.len()].clone()
        };
        match self.sign_in(&email).await {
            Ok(Some(rt)) => {
                let mut l = self.ledger();
                l.stats.signins += 1;
                let family = l.new_family();
                l.live.push(Rt { token: rt, family });
            }
            Ok(None) => {}
            Err(answer) if is_server_error(&answer) => self.ledger().unexpected(answer),
            Err(answer) => self.ledger().violation(format!(
                "{email} received tokens at sign-up but cannot sign in: {answer}"
            )),
        }
    }

    /// Presents one refresh token; `Some(status)` when answered. A 200 for a token that was
    /// accepted before, or of a revoked family, is a violation.
    pub(crate) async fn present(&self, rt: &Rt) -> Option<(u16, Option<String>)> {
        let a = self
            .post(
                "oauth2/v2.0/token",
                &[
                    ("client_id", CLIENT_ID),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &rt.token),
                    ("scope", SCOPE),
                    ("client_info", "1"),
                ],
            )
            .await;
        let (status, body) = a?;
        let next = body["refresh_token"].as_str().map(str::to_owned);
        if status == 200 {
            let mut l = self.ledger();
            if !l.accepted.insert(rt.token.clone()) {
                l.violation(format!("refresh token of family {} accepted twice", rt.family));
            }
            if l.revoked.contains(&rt.family) {
                l.violation(format!("refresh token of revoked family {} accepted", rt.family));
            }
        }
        Some((status, next))
    }

    /// The refresh grant with a random live token: on 200 the old one is kept for a later
    /// re-presentation and the new one goes live.
    pub(crate) async fn refresh_someone(&self, pick: usize) {
        let rt = {
            let mut l = self.ledger();
            if l.live.is_empty() {
                return;
            }
            let i = pick % l.live.len();
            l.live.swap_remove(i)
        };
        match self.present(&rt).await {
            None => {} // no answer: the rotation may or may not have committed; the token is dropped
            Some((200, Some(next))) => {
                let mut l = self.ledger();
                l.stats.refreshes += 1;
                l.live.push(Rt {
                    token: next,
                    family: rt.family,
                });
                l.rotated.push(rt);
            }
            Some((status, _)) => {
                let mut l = self.ledger();
                if l.revoked.contains(&rt.family) {
                    return;
                }
                if status >= 500 {
                    l.unexpected(format!("refresh: {status}"));
                } else {
                    l.violation(format!(
                        "an unused refresh token of family {} (issued in a 200) was refused with {status}",
                        rt.family
                    ));
                }
            }
        }
    }

    /// Re-submits an accepted code with the continuation token it was accepted with; anything
    /// but a refusal is a violation.
    pub(crate) async fn resubmit(&self, accepted: &AcceptedCode) {
        let a = self
            .post(
                "signup/v1.0/continue",
                &[
                    ("client_id", CLIENT_ID),
                    ("continuation_token", &accepted.ct),
                    ("grant_type", "oob"),
                    ("oob", &accepted.code),
                ],
            )
            .await;
        let mut l = self.ledger();
        match a {
            Some((status, _)) if (400..500).contains(&status) => l.stats.codes_rechecked += 1,
            Some((status, body)) => l.violation(format!("an accepted code submitted again: {status} {body}")),
            None => {}
        }
    }
}

fn ok_member(a: &Answer, member: &str) -> Option<String> {
    match a {
        Some((200, body)) => body[member].as_str().map(str::to_owned),
        _ => None,
    }
}

/// "step: 5xx …": the server failed rather than refused.
pub(crate) fn is_server_error(answer: &str) -> bool {
    answer
        .split_whitespace()
        .find(|w| w.len() == 3 && w.bytes().all(|b| b.is_ascii_digit()))
        .is_some_and(|status| status.starts_with('5'))
}
