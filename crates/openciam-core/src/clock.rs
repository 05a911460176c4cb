//! Time, behind a trait so tests can move it (token and flow expiry).

use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// The source of "now" for every expiry decision.
pub trait Clock: Send + Sync + 'static {
    /// Current time, UTC.
    fn now(&self) -> OffsetDateTime;

    /// Current time as Unix seconds.
    fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that follows real time plus an offset the test moves forward.
#[derive(Debug, Default)]
pub struct FakeClock {
    offset_secs: AtomicI64,
}

impl FakeClock {
    /// Moves time forward by `secs` seconds.
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }
}
