//! Password hashing and verification: argon2id at OWASP parameters (19 MiB, t=2, p=1) on tokio's
//! blocking pool, at most `concurrency` at once, with a bounded queue behind them. When the queue
//! is full the request is shed (503 + `Retry-After`, spec §7.1) instead of piling up latency.
//!
//! Verification for a user that does not exist (or vanished mid-flow) runs against a dummy hash,
//! so timing does not reveal whether the account exists.
//!
//! Stored hashes need not be ours: users imported from another system keep their bcrypt, scrypt,
//! PBKDF2 or differently-tuned argon2 hashes ([`formats`] lists exactly which), and
//! [`needs_rehash`] tells the sign-in to replace such a hash once the password is known.

use crate::error::{FlowError, FlowResult};
use crate::secret::Password;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Semaphore;

pub mod formats;
mod memory;

/// argon2id memory for new hashes, in KiB (OWASP: 19 MiB).
const M_COST: u32 = 19 * 1024;
/// argon2id passes for new hashes.
const T_COST: u32 = 2;
/// argon2id lanes for new hashes.
const P_COST: u32 = 1;

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
    /// Hashes computed at once (the semaphore's permits).
    slots: usize,
    /// Places in the pool: `concurrency` hashing plus `queue` waiting.
    places: usize,
    /// Requests holding a place (hashing or waiting for a slot).
    admitted: Arc<AtomicUsize>,
    dummy_hash: String,
    hashes_computed: AtomicU64,
    shed: AtomicU64,
}

tokio::task_local! {
    /// The pool place the current request holds (see [`PasswordHasher::within`]).
    static ADMITTED: Arc<AtomicUsize>;
}

/// A place in the hashing pool, held by one request until dropped.
#[derive(Debug)]
pub struct HashAdmission {
    admitted: Arc<AtomicUsize>,
}

impl Drop for HashAdmission {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::SeqCst);
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP: argon2id, m = 19 MiB, t = 2, p = 1. These parameters cannot be invalid.
    let params = Params::new(M_COST, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Whether a stored hash should be replaced by a new one of the same password: true for every
/// hash that is not argon2id v19 at exactly today's parameters (m=19456, t=2, p=1, 32-byte
/// output, no key id or associated data) — imported formats, and our own older tunings.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let current = parsed.algorithm == Algorithm::Argon2id.ident()
        && parsed.version == Some(Version::V0x13.into())
        && Params::try_from(&parsed).is_ok_and(|p| {
            (p.m_cost(), p.t_cost(), p.p_cost()) == (M_COST, T_COST, P_COST)
                && p.output_len() == Some(Params::DEFAULT_OUTPUT_LEN)
                && p.keyid().is_empty()
                && p.data().is_empty()
        });
    !current
}

/// The argon2id parameters new hashes use: `(m_cost KiB, t_cost, p_cost)`. Public so the load
/// tool's raw mode measures exactly what the server computes.
pub const fn argon2_parameters() -> (u32, u32, u32) {
    (M_COST, T_COST, P_COST)
}

/// Hashes `password` on the calling thread, exactly as the server does for a new password (the
/// server runs this on its bounded pool; see [`PasswordHasher::hash`]). For the load tool's raw
/// mode and for tools that precompute a hash (bulk seeding).
pub fn hash_now(password: &str) -> anyhow::Result<String> {
    hash_blocking(password)
}

/// Verifies `password` against `stored` on the calling thread, as a sign-in does on the pool.
pub fn verify_now(password: &str, stored: &str) -> bool {
    verify_blocking(password, stored)
}

/// A new argon2id hash in PHC form, computed in reused memory ([`memory`]).
fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let failed = |e: argon2::password_hash::Error| anyhow::anyhow!("argon2 hash failed: {e}");
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    let params = argon2().params().clone();
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut salt_bytes).map_err(failed)?;
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        memory::argon2id_into(&params, password.as_bytes(), raw_salt, out).map_err(Into::into)
    })
    .map_err(failed)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// [`hash_blocking`] in memory of its own, freed at once: for the start-up dummy hash, so that an
/// idle server keeps no argon2 buffer (the pool fills only under load).
fn hash_unpooled(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::PasswordHasher as _;
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hash failed: {e}"))
}

/// Our own current hashes are checked in reused memory ([`memory`]); every other format (and
/// older argon2 tunings) through [`formats::verify`].
fn verify_blocking(password: &str, stored: &str) -> bool {
    if !needs_rehash(stored)
        && let Some(ok) = verify_current(password, stored)
    {
        return ok;
    }
    formats::verify(password.as_bytes(), stored)
}

/// Verifies an argon2id hash at today's parameters; `None` when it cannot be read as one.
fn verify_current(password: &str, stored: &str) -> Option<bool> {
    let parsed = PasswordHash::new(stored).ok()?;
    let expected = parsed.hash?;
    let params = Params::try_from(&parsed).ok()?;
    let mut salt_bytes = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt_bytes).ok()?;
    let mut computed = [0u8; Output::MAX_LENGTH];
    let computed = &mut computed[..expected.len()];
    memory::argon2id_into(&params, password.as_bytes(), salt, computed).ok()?;
    // `Output` compares in constant time.
    Some(Output::new(computed).ok()? == expected)
}

impl PasswordHasher {
    /// Creates the pool and computes the dummy hash (once, at start-up).
    pub fn new(config: HasherConfig) -> anyhow::Result<Self> {
        Ok(Self {
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
            slots: config.concurrency.max(1),
            places: config.concurrency.max(1) + config.queue,
            admitted: Arc::new(AtomicUsize::new(0)),
            dummy_hash: hash_unpooled(&crate::crypto::random_token())?,
            hashes_computed: AtomicU64::new(0),
            shed: AtomicU64::new(0),
        })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &Password) -> FlowResult<String> {
        let pw = password.clone();
        self.run(move || hash_blocking(pw.expose()))
            .await?
            .map_err(FlowError::Internal)
    }

    /// Checks `password` against a stored hash in any accepted [`formats`]; with `None` (no such
    /// user, or no password) it checks a dummy hash and returns false, taking the same time.
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

    /// Takes a place in the pool (hashing, or queued for a slot) for a request that will hash,
    /// or `FlowError::Overloaded` at once when every place is taken: the request is shed
    /// before anything else happens. The HTTP layer admits password requests before the rate
    /// limits count them, then runs the flow [`within`](Self::within) the admission, so a shed
    /// request moves no counter, hashes nothing and leaves its continuation token valid.
    pub fn admit(&self) -> FlowResult<HashAdmission> {
        let taken = self
            .admitted
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.places).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(HashAdmission {
                admitted: self.admitted.clone(),
            }),
            Err(_) => {
                self.shed.fetch_add(1, Ordering::Relaxed);
                Err(FlowError::Overloaded)
            }
        }
    }

    /// Runs `work` (a flow step) holding `admission`: its hashes use that place instead of
    /// taking another, so they are never shed.
    pub async fn within<F: std::future::Future>(&self, admission: HashAdmission, work: F) -> F::Output {
        ADMITTED.scope(admission.admitted.clone(), work).await
    }

    /// The pool's load now, `(queued, hashing)`: requests holding a place but no hashing slot
    /// (waiting for one, or between hashes), and hashes being computed; for metrics.
    pub fn load(&self) -> (usize, usize) {
        let hashing = self.slots.saturating_sub(self.permits.available_permits());
        let admitted = self.admitted.load(Ordering::Relaxed);
        (admitted.saturating_sub(hashing), hashing)
    }

    /// Requests shed so far (503 without hashing); for tests and metrics.
    pub fn shed_count(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    async fn run<T, F>(&self, work: F) -> FlowResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let held = ADMITTED
            .try_with(|a| Arc::ptr_eq(a, &self.admitted))
            .unwrap_or(false);
        let _own = if held { None } else { Some(self.admit()?) };
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| FlowError::Internal(e.into()))?;
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

    #[test]
    fn reused_memory_hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let ours = hash_now("Memory-Reuse-1").unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"Memory-Reuse-1", &parsed).is_ok());
        assert!(argon2().verify_password(b"Memory-Reuse-2", &parsed).is_err());
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let theirs = argon2()
            .hash_password(b"Memory-Reuse-1", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now("Memory-Reuse-1", &theirs));
        assert!(!verify_now("Memory-Reuse-2", &theirs));
        assert!(!verify_now(
            "Memory-Reuse-1",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$"
        ));
        assert!(memory::kept() >= 1, "the buffer is kept for the next hash");
    }

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
        assert!(!needs_rehash(&phc), "a hash made today is current");
    }

    #[tokio::test]
    async fn foreign_hashes_verify_on_the_pool_and_need_a_rehash() {
        let h = PasswordHasher::new(HasherConfig {
            concurrency: 1,
            queue: 4,
        })
        .unwrap();
        // passlib 1.7.4, pbkdf2_sha256 at 1000 rounds.
        let passlib =
            "$pbkdf2-sha256$1000$A4AQwnjvXcuZ8z5nTEnp/Q$yY9DgbxTdNwlzCeABnoMALSf843CZ.fyZmJVoHMdjjc";
        let before = h.hashes_computed();
        assert!(
            h.verify(&Password::new("passlib sha256 pw"), Some(passlib))
                .await
                .unwrap()
        );
        assert!(!h.verify(&Password::new("wrong"), Some(passlib)).await.unwrap());
        assert_eq!(h.hashes_computed(), before + 2, "both ran on the bounded pool");
        assert!(needs_rehash(passlib));
        assert!(!h.verify(&Password::new("x"), Some("not a hash")).await.unwrap());
    }

    #[test]
    fn only_argon2id_at_todays_parameters_is_current() {
        let salt = "c2l4dGVlbiBieXRlIHNhbA";
        let out = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        let with = |alg: &str, params: &str| format!("${alg}$v=19${params}${salt}${out}");
        assert!(!needs_rehash(&with("argon2id", "m=19456,t=2,p=1")));
        for stale in [
            with("argon2id", "m=19456,t=3,p=1"),
            with("argon2id", "m=65536,t=2,p=1"),
            with("argon2id", "m=19456,t=2,p=2"),
            with("argon2i", "m=19456,t=2,p=1"),
            with("argon2d", "m=19456,t=2,p=1"),
            with("argon2id", "m=19456,t=2,p=1,data=YWJjZA"),
            format!("$argon2id$v=16$m=19456,t=2,p=1${salt}${out}"),
            format!("$argon2id$v=19$m=19456,t=2,p=1${salt}$aGFzaGhhc2hoYXNoaGFzaA"),
            "$2b$05$ciQngegaapEMRP8vKRRyiOggXEniWkVUuQaXnStrWmnu/3EnptHS6".into(),
            "pbkdf2_sha256$1000$Dj4ngoSa1t$RnNuN6U0codNrrYhBj9NPCNeLrVNC1dQ3Ntu78mkXec=".into(),
            "garbage".into(),
        ] {
            assert!(needs_rehash(&stale), "{stale}");
        }
    }

    #[tokio::test]
    async fn a_full_queue_sheds_and_a_free_slot_serves() {
        let h = PasswordHasher::new(HasherConfig {
            concurrency: 1,
            queue: 0,
        })
        .unwrap();
        let pw = Password::new("x");
        let held = h.admit().unwrap();
        assert!(matches!(h.admit(), Err(FlowError::Overloaded)));
        assert!(matches!(h.hash(&pw).await, Err(FlowError::Overloaded)));
        assert_eq!(h.hashes_computed(), 0, "a shed request hashes nothing");
        assert_eq!(h.shed_count(), 2);
        // The holder's own hashes use its place.
        assert!(h.within(held, h.hash(&pw)).await.is_ok());
        assert_eq!(h.hashes_computed(), 1);
        assert!(h.hash(&pw).await.is_ok(), "the place was given back");
    }

    #[tokio::test]
    async fn queued_requests_wait_for_a_slot_and_the_rest_are_shed() {
        let h = Arc::new(
            PasswordHasher::new(HasherConfig {
                concurrency: 1,
                queue: 2,
            })
            .unwrap(),
        );
        let admissions: Vec<_> = (0..3).map(|_| h.admit().unwrap()).collect();
        assert!(
            matches!(h.admit(), Err(FlowError::Overloaded)),
            "1 hashing + 2 queued"
        );
        let mut done = tokio::task::JoinSet::new();
        for a in admissions {
            let h = h.clone();
            done.spawn(async move { h.within(a, h.hash(&Password::new("y"))).await.is_ok() });
        }
        while let Some(ok) = done.join_next().await {
            assert!(ok.unwrap());
        }
        assert_eq!(h.hashes_computed(), 3);
        assert!(h.admit().is_ok(), "every place is free again");
    }
}
