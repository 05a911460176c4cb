//! Latency histograms per step and per flow, completions and errors, recorded only while a
//! measured segment runs.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Why a flow did not complete: the step, and the HTTP status with the Entra `error` and
/// `error_codes` of the answer (or a transport error).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failure {
    /// Step name (`initiate`, `token`, …).
    pub step: &'static str,
    /// `503 temporarily_unavailable [xyz]`, `transport: …`, `dropped: …`.
    pub what: String,
}

fn new_histogram() -> Histogram<u64> {
    // Microseconds from 1 µs to 10 minutes at 3 significant digits; cannot fail.
    Histogram::new_with_bounds(1, 600_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!("3 sigfig is valid")))
}

#[derive(Default)]
struct Inner {
    steps: BTreeMap<&'static str, Histogram<u64>>,
    flows: Option<Histogram<u64>>,
    completed: u64,
    errors: BTreeMap<Failure, u64>,
}

/// Shared by every virtual user.
#[derive(Default)]
pub struct Recorder {
    enabled: AtomicBool,
    inner: Mutex<Inner>,
}

impl Recorder {
    /// Starts or stops recording (warm-up and raw windows are not recorded).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    fn with<F: FnOnce(&mut Inner)>(&self, f: F) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut inner) = self.inner.lock() {
            f(&mut inner);
        }
    }

    /// One answered request of a step (successful or not).
    pub fn step(&self, name: &'static str, took: Duration) {
        self.with(|i| {
            let h = i.steps.entry(name).or_insert_with(new_histogram);
            let _ = h.record(micros(took));
        });
    }

    /// A completed flow and its latency.
    pub fn completed(&self, took: Duration) {
        self.with(|i| {
            i.completed += 1;
            let _ = i.flows.get_or_insert_with(new_histogram).record(micros(took));
        });
    }

    /// A failed flow.
    pub fn failed(&self, failure: Failure) {
        self.with(|i| *i.errors.entry(failure).or_insert(0) += 1);
    }

    /// What was recorded so far.
    pub fn snapshot(&self) -> Recorded {
        let Ok(inner) = self.inner.lock() else {
            return Recorded::default();
        };
        Recorded {
            completed: inner.completed,
            failed: inner.errors.values().sum(),
            flow: inner.flows.as_ref().map(Latency::of),
            steps: inner
                .steps
                .iter()
                .map(|(name, h)| ((*name).to_owned(), Latency::of(h)))
                .collect(),
            errors: inner
                .errors
                .iter()
                .map(|(f, n)| ErrorCount {
                    step: f.step.to_owned(),
                    error: f.what.clone(),
                    count: *n,
                })
                .collect(),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| (us as f64) / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// Failures of one kind.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorCount {
    /// The step that failed.
    pub step: String,
    /// Status with Entra `error` and `error_codes`, or the transport error.
    pub error: String,
    /// How many flows.
    pub count: u64,
}

/// The recorded figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recorded {
    /// Flows completed.
    pub completed: u64,
    /// Flows failed.
    pub failed: u64,
    /// Whole-flow latency of the completed flows.
    pub flow: Option<Latency>,
    /// Per step (every answered request).
    pub steps: BTreeMap<String, Latency>,
    /// Failures by step and error.
    pub errors: Vec<ErrorCount>,
}
