//! Smart lockout of accounts after repeated wrong passwords (spec §7.1, "account locked").
//!
//! * Only *distinct* wrong passwords count: the keyed hashes (HMAC-SHA256 under a key derived from
//!   the master key, over the user id and the password) of the last [`RECENT`] distinct wrong
//!   passwords are kept per account, and a wrong password among them is not counted again. A user
//!   whose client retries one stale password cannot lock themself out. The hashes are never
//!   logged; they are keyed, so a database dump does not allow guessing the passwords offline.
//! * After `threshold` counted failures the account locks for `duration_seconds`; every further
//!   lockout without a successful sign-in in between doubles it, up to `max_duration_seconds`
//!   (defaults: 60 s, 120 s, 240 s, 480 s, 900 s, 900 s, …).
//! * While locked no password is hashed and no attempt is counted. A successful sign-in, a
//!   password reset, an administrator's new password and `openciam user unlock` clear it. Failure
//!   state untouched for `forget_after_seconds` starts afresh.
//!
//! The decision ([`LockoutState::record_failure`]) is a pure function; each store adapter runs it
//! under a row lock so that nodes counting failures at once never lose a count.

use crate::audit::{AuditLog, Entry, event};
use crate::clock::Clock;
use crate::error::{FlowError, FlowResult};
use crate::ids::{TenantId, UserId};
use crate::model::User;
use crate::ports::Store;
use crate::secret::Password;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How many distinct wrong passwords are remembered per account.
pub const RECENT: usize = 3;

/// Length of one remembered password MAC (HMAC-SHA256).
pub const MAC_LEN: usize = 32;

/// A tenant's lockout settings (`openciam tenant security T --set lockout.threshold=5`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutSettings {
    /// Failed password attempts (distinct wrong passwords) before the account locks; 0 turns
    /// lockout off.
    pub threshold: u32,
    /// Seconds of the first lockout.
    pub duration_seconds: u64,
    /// Longest lockout: each consecutive lockout doubles the previous one up to this cap.
    pub max_duration_seconds: u64,
    /// Failure state (counts, remembered passwords, lockout streak) untouched this long is
    /// forgotten.
    pub forget_after_seconds: u64,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        Self {
            threshold: 10,
            duration_seconds: 60,
            max_duration_seconds: 900,
            forget_after_seconds: 86_400,
        }
    }
}

impl LockoutSettings {
    /// Seconds of the `nth` consecutive lockout (1-based): `duration · 2^(n-1)`, capped.
    pub fn lock_seconds(&self, nth: u32) -> u64 {
        let doubled = self
            .duration_seconds
            .saturating_mul(1u64 << nth.saturating_sub(1).min(32));
        doubled.min(self.max_duration_seconds.max(self.duration_seconds))
    }
}

/// An account's failure state as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockoutState {
    /// Counted failures since the last lockout or success.
    pub failures: u32,
    /// Consecutive lockouts (sets the next lock's length).
    pub lockouts: u32,
    /// The account is locked while `now < locked_until` (0: never locked).
    pub locked_until: i64,
    /// MACs of the last distinct wrong passwords, oldest first, at most [`RECENT`].
    pub recent: Vec<Vec<u8>>,
    /// When this state last changed (Unix seconds).
    pub updated_at: i64,
}

/// What one wrong password did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Counted: `failures` so far, below the threshold.
    Counted {
        /// Failures so far.
        failures: u32,
    },
    /// One of the last distinct wrong passwords again: not counted.
    Repeated,
    /// This failure reached the threshold: locked until `until` (`nth` consecutive lockout).
    LockedNow {
        /// Unix seconds.
        until: i64,
        /// Consecutive lockouts, this one included.
        nth: u32,
    },
    /// The account was already locked (another request locked it meanwhile): not counted.
    AlreadyLocked {
        /// Unix seconds.
        until: i64,
    },
}

impl LockoutState {
    /// Seconds of lock left at `now`, if locked.
    pub fn locked_for(&self, now: i64) -> Option<u64> {
        (self.locked_until > now).then(|| u64::try_from(self.locked_until - now).unwrap_or(1))
    }

    /// Applies one wrong password (its MAC) at `now`. Pure: the store runs it under a lock.
    pub fn record_failure(&mut self, mac: &[u8], now: i64, settings: &LockoutSettings) -> FailureOutcome {
        if self.locked_until > now {
            return FailureOutcome::AlreadyLocked {
                until: self.locked_until,
            };
        }
        let forget = i64::try_from(settings.forget_after_seconds).unwrap_or(i64::MAX);
        if self.updated_at.saturating_add(forget) <= now {
            *self = Self::default();
        }
        self.updated_at = now;
        if self.recent.iter().any(|seen| constant_time_eq(seen, mac)) {
            return FailureOutcome::Repeated;
        }
        self.recent.push(mac.to_vec());
        if self.recent.len() > RECENT {
            self.recent.remove(0);
        }
        self.failures = self.failures.saturating_add(1);
        if settings.threshold == 0 || self.failures < settings.threshold {
            return FailureOutcome::Counted {
                failures: self.failures,
            };
        }
        self.failures = 0;
        self.lockouts = self.lockouts.saturating_add(1);
        let secs = i64::try_from(settings.lock_seconds(self.lockouts)).unwrap_or(i64::MAX);
        self.locked_until = now.saturating_add(secs);
        FailureOutcome::LockedNow {
            until: self.locked_until,
            nth: self.lockouts,
        }
    }

    /// The remembered MACs as one byte string (storage form).
    pub fn recent_bytes(&self) -> Vec<u8> {
        self.recent.concat()
    }

    /// Splits the storage form of the remembered MACs.
    pub fn recent_from_bytes(bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes.chunks(MAC_LEN).map(<[u8]>::to_vec).collect()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The lockout control the sign-in service calls around a password check; it also writes the
/// password sign-in audit events.
pub struct SmartLockout {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    key: [u8; 32],
    audit: AuditLog,
}

impl SmartLockout {
    /// Creates the control; `key` is the MAC key (`master.derive("lockout")`).
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, key: [u8; 32]) -> Self {
        let audit = AuditLog::new(store.clone(), clock.clone());
        Self {
            store,
            clock,
            key,
            audit,
        }
    }

    /// The audit log it writes to.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Before hashing a password for `user`: `AccountLocked` (audited) while the account is
    /// locked; otherwise its failure state, to clear after a success.
    pub async fn before_password(&self, user: Option<&User>) -> FlowResult<Option<LockoutState>> {
        let Some(user) = user else {
            return Ok(None);
        };
        let checked = self.check(user.tenant_id, user.id).await;
        if let Err(FlowError::AccountLocked { retry_after }) = &checked {
            let entry = Entry::new(event::SIGNIN_PASSWORD_FAILURE)
                .user(user)
                .detail("reason", "locked")
                .detail("locked_for_seconds", *retry_after);
            self.audit.record(entry).await;
        }
        checked
    }

    /// After a wrong password: counts it and returns the error to answer, `InvalidPassword` or
    /// `AccountLocked` when this failure locked the account (or another request did meanwhile).
    pub async fn wrong_password(
        &self,
        user: Option<&User>,
        password: &Password,
        settings: &LockoutSettings,
    ) -> FlowError {
        let Some(user) = user else {
            return FlowError::InvalidPassword;
        };
        let outcome = match self.failed(user.tenant_id, user.id, password, settings).await {
            Ok(outcome) => outcome,
            Err(e) => return e,
        };
        let now = self.clock.unix();
        let failure = Entry::new(event::SIGNIN_PASSWORD_FAILURE).user(user);
        let (failure, answer) = match outcome {
            FailureOutcome::Counted { failures } => (
                failure
                    .detail("reason", "wrong_password")
                    .detail("failures", failures),
                FlowError::InvalidPassword,
            ),
            FailureOutcome::Repeated => (
                failure
                    .detail("reason", "wrong_password")
                    .detail("repeated", true),
                FlowError::InvalidPassword,
            ),
            FailureOutcome::LockedNow { until, nth } => {
                let secs = u64::try_from(until - now).unwrap_or(1);
                let locked = Entry::new(event::ACCOUNT_LOCKED)
                    .user(user)
                    .detail("seconds", secs)
                    .detail("nth", nth);
                self.audit.record(locked).await;
                (
                    failure.detail("reason", "wrong_password").detail("locked", true),
                    FlowError::AccountLocked { retry_after: secs },
                )
            }
            FailureOutcome::AlreadyLocked { until } => {
                let secs = u64::try_from(until - now).unwrap_or(1);
                (
                    failure.detail("reason", "locked"),
                    FlowError::AccountLocked { retry_after: secs },
                )
            }
        };
        self.audit.record(failure).await;
        answer
    }

    /// After the right password: forgets earlier failures (`prior`, from
    /// [`SmartLockout::before_password`]) and audits the sign-in. Best effort: the user is
    /// signed in whatever happens here.
    pub async fn signed_in(&self, user: &User, prior: Option<LockoutState>) {
        if prior.is_some()
            && let Err(e) = self.clear(user.tenant_id, user.id).await
        {
            tracing::warn!(user = %user.id, error = %e, "clearing the failure count after a sign-in failed");
        }
        self.audit
            .record(Entry::new(event::SIGNIN_PASSWORD_SUCCESS).user(user))
            .await;
    }

    /// `AccountLocked` when the account is locked now; the state otherwise (to clear it after a
    /// success). Costs one read and no hash.
    pub async fn check(&self, tenant: TenantId, user: UserId) -> FlowResult<Option<LockoutState>> {
        let state = self.store.lockout_state(tenant, user).await?;
        if let Some(secs) = state.as_ref().and_then(|s| s.locked_for(self.clock.unix())) {
            return Err(FlowError::AccountLocked { retry_after: secs });
        }
        Ok(state)
    }

    /// Counts a wrong password (once per distinct password) and returns the error to answer:
    /// `InvalidPassword`, or `AccountLocked` when this failure locked the account (or another
    /// request did meanwhile).
    pub async fn failed(
        &self,
        tenant: TenantId,
        user: UserId,
        password: &Password,
        settings: &LockoutSettings,
    ) -> FlowResult<FailureOutcome> {
        let now = self.clock.unix();
        let mac = self.mac(user, password);
        Ok(self
            .store
            .record_password_failure(tenant, user, &mac, now, settings)
            .await?)
    }

    /// Forgets the account's failures and lockouts (after a success, reset or unlock).
    pub async fn clear(&self, tenant: TenantId, user: UserId) -> FlowResult<bool> {
        Ok(self.store.clear_lockout(tenant, user).await?)
    }

    /// The lockout key of an address without an account, under enumeration protection: a stable
    /// id derived (keyed) from the tenant and the normalised address, so that wrong passwords for
    /// an unknown address lock it exactly as they would lock an account, and a lockout cannot
    /// tell the two apart.
    pub fn phantom_id(&self, tenant: TenantId, normalized: &str) -> UserId {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.key);
        let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
        ctx.update(b"phantom\0");
        ctx.update(tenant.0.as_bytes());
        ctx.update(b"\0");
        ctx.update(normalized.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&ctx.sign().as_ref()[..16]);
        UserId(uuid::Uuid::from_bytes(id))
    }

    /// [`SmartLockout::wrong_password`] for an address without an account (see
    /// [`SmartLockout::phantom_id`]): counts the failure and answers what an account would,
    /// without auditing a user that does not exist.
    pub async fn wrong_phantom_password(
        &self,
        tenant: TenantId,
        phantom: UserId,
        password: &Password,
        settings: &LockoutSettings,
    ) -> FlowError {
        let now = self.clock.unix();
        match self.failed(tenant, phantom, password, settings).await {
            Ok(FailureOutcome::Counted { .. } | FailureOutcome::Repeated) => FlowError::InvalidPassword,
            Ok(FailureOutcome::LockedNow { until, .. } | FailureOutcome::AlreadyLocked { until }) => {
                FlowError::AccountLocked {
                    retry_after: u64::try_from(until - now).unwrap_or(1),
                }
            }
            Err(e) => e,
        }
    }

    /// HMAC-SHA256 over the user id and the password: equal only for the same password of the
    /// same user.
    fn mac(&self, user: UserId, password: &Password) -> Vec<u8> {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.key);
        let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
        ctx.update(user.0.as_bytes());
        ctx.update(b"\0");
        ctx.update(password.expose().as_bytes());
        ctx.sign().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(threshold: u32) -> LockoutSettings {
        LockoutSettings {
            threshold,
            ..LockoutSettings::default()
        }
    }

    #[test]
    fn lock_length_doubles_up_to_the_cap() {
        let s = LockoutSettings::default();
        let secs: Vec<u64> = (1..=7).map(|n| s.lock_seconds(n)).collect();
        assert_eq!(secs, [60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(s.lock_seconds(200), 900);
    }

    #[test]
    fn distinct_failures_lock_and_repeats_do_not_count() {
        let s = settings(3);
        let mut st = LockoutState::default();
        assert_eq!(
            st.record_failure(&[1; 32], 100, &s),
            FailureOutcome::Counted { failures: 1 }
        );
        assert_eq!(st.record_failure(&[1; 32], 101, &s), FailureOutcome::Repeated);
        assert_eq!(
            st.record_failure(&[2; 32], 102, &s),
            FailureOutcome::Counted { failures: 2 }
        );
        assert_eq!(
            st.record_failure(&[3; 32], 103, &s),
            FailureOutcome::LockedNow { until: 163, nth: 1 }
        );
        assert_eq!(st.locked_for(103), Some(60));
        assert_eq!(
            st.record_failure(&[4; 32], 110, &s),
            FailureOutcome::AlreadyLocked { until: 163 }
        );
        assert_eq!(st.locked_for(163), None);
    }

    #[test]
    fn only_the_last_three_distinct_passwords_are_remembered() {
        let s = settings(100);
        let mut st = LockoutState::default();
        for b in 1..=4u8 {
            st.record_failure(&[b; 32], 100, &s);
        }
        assert_eq!(st.recent.len(), RECENT);
        assert_eq!(
            st.record_failure(&[1; 32], 100, &s),
            FailureOutcome::Counted { failures: 5 }
        );
        assert_eq!(LockoutState::recent_from_bytes(&st.recent_bytes()), st.recent);
    }

    #[test]
    fn second_lock_is_longer_and_old_state_is_forgotten() {
        let s = settings(1);
        let mut st = LockoutState::default();
        assert_eq!(
            st.record_failure(&[1; 32], 0, &s),
            FailureOutcome::LockedNow { until: 60, nth: 1 }
        );
        assert_eq!(
            st.record_failure(&[2; 32], 60, &s),
            FailureOutcome::LockedNow { until: 180, nth: 2 }
        );
        let later = 180 + 86_400;
        assert_eq!(
            st.record_failure(&[3; 32], later, &s),
            FailureOutcome::LockedNow {
                until: later + 60,
                nth: 1
            }
        );
    }

    #[test]
    fn threshold_zero_never_locks() {
        let s = settings(0);
        let mut st = LockoutState::default();
        for b in 1..=50u8 {
            assert!(matches!(
                st.record_failure(&[b; 32], 0, &s),
                FailureOutcome::Counted { .. }
            ));
        }
    }
}
