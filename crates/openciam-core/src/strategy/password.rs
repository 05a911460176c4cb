//! Password hashing and verification: argon2id at OWASP parameters (19 MiB, t=2, p=1) on tokio's
//! blocking pool, at most `concurrency` at once, with a bounded queue behind them. When the queue
//! is full the request is shed (503 + `Retry-After`, spec §7.1) instead of piling up latency.
//!
//! Verification for a user that does not exist (or vanished mid-flow) runs against a dummy hash,
//! so timing does not reveal whether the account exists.

use crate::error::{FlowError, FlowResult};
use crate::secret::Password;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// Sizing of the hashing pool.
#[derive(Debug, Clone, Copy)]
pub struct HasherConfig {
    /// Hashes computed at once (default: CPU count).
    pub concurrency: usize,
    /// Requests allowed to wait for a slot before new ones are shed.
    pub queue: usize,
}

impl Default for HasherConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self {
            concurrency: cpus,
            queue: cpus * 32,
        }
    }
}

/// The password hasher.
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    queue: usize,
    waiting: AtomicUsize,
    dummy_hash: String,
    hashes_computed: AtomicU64,
}

fn argon2() -> Argon2<'static> {
    // OWASP: argon2id, m = 19 MiB, t = 2, p = 1. These parameters cannot be invalid.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hash failed: {e}"))
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        // Verification uses the parameters recorded in the hash, so older hashes keep working.
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

impl PasswordHasher {
    /// Creates the pool and computes the dummy hash (once, at start-up).
    pub fn new(config: HasherConfig) -> anyhow::Result<Self> {
        Ok(Self {
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            queue: config.queue,
            waiting: AtomicUsize::new(0),
            dummy_hash: hash_blocking(&crate::crypto::random_token())?,
            hashes_computed: AtomicU64::new(0),
        })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &Password) -> FlowResult<String> {
        let pw = password.clone();
        self.run(move || hash_blocking(pw.expose()))
            .await?
            .map_err(FlowError::Internal)
    }

    /// Checks `password` against `phc`; with `None` (no such user, or no password) it checks a
    /// dummy hash and returns false, taking the same time.
    pub async fn verify(&self, password: &Password, phc: Option<&str>) -> FlowResult<bool> {
        let pw = password.clone();
        let (target, real) = match phc {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.clone(), false),
        };
        let ok = self.run(move || verify_blocking(pw.expose(), &target)).await?;
        Ok(ok && real)
    }

    /// How many hashes (including verifications) this process computed; exposed for tests and
    /// metrics.
    pub fn hashes_computed(&self) -> u64 {
        self.hashes_computed.load(Ordering::Relaxed)
    }

    async fn run<T, F>(&self, work: F) -> FlowResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(FlowError::Overloaded);
                }
                let acquired = self.permits.clone().acquire_owned().await;
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                acquired.map_err(|e| FlowError::Internal(e.into()))?
            }
        };
        self.hashes_computed.fetch_add(1, Ordering::Relaxed);
        let out = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| FlowError::Internal(anyhow::anyhow!("hash task failed: {e}")))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = PasswordHasher::new(HasherConfig {
            concurrency: 1,
            queue: 4,
        })
        .unwrap();
        let pw = Password::new("Correct-Horse-9");
        let phc = h.hash(&pw).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify(&pw, Some(&phc)).await.unwrap());
        assert!(!h.verify(&Password::new("wrong"), Some(&phc)).await.unwrap());
        assert!(!h.verify(&pw, None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_sheds_and_a_free_slot_serves() {
        let h = PasswordHasher::new(HasherConfig {
            concurrency: 1,
            queue: 0,
        })
        .unwrap();
        let pw = Password::new("x");
        let held = h.permits.clone().try_acquire_owned().unwrap();
        assert!(matches!(h.hash(&pw).await, Err(FlowError::Overloaded)));
        drop(held);
        assert!(h.hash(&pw).await.is_ok());
    }
}
