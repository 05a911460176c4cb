//! The raw limits of this machine: argon2id verifications per second with the server's own
//! parameters and hash thread count, and RS256 signatures per second with the server's own
//! signing code. A sign-in costs one verification, a token response one signature per token.

use crate::cli::RawArgs;
use openciam_core::strategy::password::{argon2_parameters, hash_now, verify_now};
use openciam_core::token::SigningKey;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A JWT-sized message (header and payload of an ID token are about this long).
const MESSAGE: &[u8] = &[b'x'; 700];
/// The password the raw windows verify.
const PASSWORD: &str = "Raw-Window-Pass-1";

/// What the raw windows need, made once (a hash to verify, a key to sign with).
pub struct RawSetup {
    threads: usize,
    hash: Arc<String>,
    key: Arc<SigningKey>,
}

impl RawSetup {
    /// Prepares windows of `threads` threads (default: the server's default pool size).
    pub fn new(threads: Option<usize>) -> anyhow::Result<Self> {
        let threads = threads.unwrap_or_else(crate::procfs::cpus).max(1);
        let (key, _) = SigningKey::generate()?;
        Ok(Self {
            threads,
            hash: Arc::new(hash_now(PASSWORD)?),
            key: Arc::new(key),
        })
    }

    /// Threads per window.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// One window: argon2id for `secs`, then RS256 for half as long. Blocks the calling thread.
    pub fn window(&self, secs: f64) -> (f64, f64) {
        let hash = self.hash.clone();
        let argon2 = per_second(self.threads, secs, move || {
            let _ = verify_now(PASSWORD, &hash);
        });
        let key = self.key.clone();
        let rs256 = per_second(self.threads, secs / 2.0, move || {
            let _ = key.sign(MESSAGE);
        });
        (argon2, rs256)
    }
}

/// Runs `work` on `threads` threads for `secs`; completed calls per second, all threads together.
fn per_second<F: Fn() + Send + Sync + Clone + 'static>(threads: usize, secs: f64, work: F) -> f64 {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs.max(0.01));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let work = work.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    work();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// The median of `values` (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The raw figures of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RawFigures {
    /// Threads per window.
    pub threads: usize,
    /// `argon2id m=19456 t=2 p=1` (the server's parameters).
    pub argon2_parameters: String,
    /// argon2id verifications per second, each window.
    pub argon2_windows: Vec<f64>,
    /// Their median.
    pub argon2_per_s: f64,
    /// RS256 signatures per second, each window.
    pub rs256_windows: Vec<f64>,
    /// Their median.
    pub rs256_per_s: f64,
}

impl RawFigures {
    /// Empty figures for `threads`.
    pub fn new(threads: usize) -> Self {
        let (m, t, p) = argon2_parameters();
        Self {
            threads,
            argon2_parameters: format!("argon2id m={m} t={t} p={p}"),
            ..Self::default()
        }
    }

    /// Adds one window's figures and updates the medians.
    pub fn push(&mut self, (argon2, rs256): (f64, f64)) {
        self.argon2_windows.push(argon2);
        self.rs256_windows.push(rs256);
        self.argon2_per_s = median(&self.argon2_windows);
        self.rs256_per_s = median(&self.rs256_windows);
    }

    /// A short table.
    pub fn to_table(&self) -> String {
        let list = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ");
        format!(
            "raw limits ({} threads)\n  {}: {:.1}/s median (windows: {})\n  RS256 sign: {:.0}/s median (windows: {})",
            self.threads,
            self.argon2_parameters,
            self.argon2_per_s,
            list(&self.argon2_windows),
            self.rs256_per_s,
            list(&self.rs256_windows)
        )
    }
}

/// `raw`: the windows back to back.
pub async fn measure(args: &RawArgs) -> anyhow::Result<RawFigures> {
    let threads = args.threads;
    let windows = args.windows.max(1);
    let secs = args.window;
    tokio::task::spawn_blocking(move || {
        let setup = RawSetup::new(threads)?;
        let mut figures = RawFigures::new(setup.threads());
        for _ in 0..windows {
            figures.push(setup.window(secs));
        }
        Ok(figures)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn a_short_window_measures_both() {
        let setup = RawSetup::new(Some(1)).unwrap();
        let (argon2, rs256) = setup.window(0.2);
        assert!(argon2 > 0.0 && rs256 > argon2, "{argon2} {rs256}");
    }
}
