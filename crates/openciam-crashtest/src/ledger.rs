//! What the clients saw: accounts that received tokens, refresh tokens presented and accepted,
//! codes accepted, and every violation found.

use serde_json::json;
use std::collections::HashSet;

/// A refresh token we hold, with the family (our own numbering) it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Rt {
    pub(crate) token: String,
    pub(crate) family: u64,
}

/// An accepted sign-up code and the continuation token it was sent with.
#[derive(Debug, Clone)]
pub(crate) struct AcceptedCode {
    pub(crate) ct: String,
    pub(crate) code: String,
}

/// Counters for the summary.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stats {
    pub(crate) signups: u64,
    pub(crate) signins: u64,
    pub(crate) refreshes: u64,
    pub(crate) lost_requests: u64,
    pub(crate) unexpected_answers: u64,
    pub(crate) verified_signins: u64,
    pub(crate) codes_rechecked: u64,
    pub(crate) rotated_rechecked: u64,
    pub(crate) integrity_checks: u64,
}

/// The shared record, behind a std mutex held only for in-memory work.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub(crate) next_user: u64,
    pub(crate) next_family: u64,
    /// Addresses whose sign-up ended with tokens, in order.
    pub(crate) users: Vec<String>,
    /// `users[..verified]` signed in after a restart already.
    pub(crate) verified: usize,
    /// One unused refresh token per live family.
    pub(crate) live: Vec<Rt>,
    /// Tokens answered 200 once (rotated), not yet presented again.
    pub(crate) rotated: Vec<Rt>,
    /// Every token that was answered 200.
    pub(crate) accepted: HashSet<String>,
    /// Families revoked by the re-presentation of a rotated token.
    pub(crate) revoked: HashSet<u64>,
    /// Codes accepted since the last restart.
    pub(crate) codes: Vec<AcceptedCode>,
    pub(crate) stats: Stats,
    pub(crate) violations: Vec<String>,
    /// A few unexpected answers, for the report.
    pub(crate) samples: Vec<String>,
}

impl Ledger {
    pub(crate) fn violation(&mut self, what: String) {
        if self.violations.len() < 20 {
            eprintln!("VIOLATION: {what}");
        }
        self.violations.push(what);
    }

    pub(crate) fn unexpected(&mut self, what: String) {
        self.stats.unexpected_answers += 1;
        if self.samples.len() < 10 {
            self.samples.push(what);
        }
    }

    pub(crate) fn new_family(&mut self) -> u64 {
        self.next_family += 1;
        self.next_family
    }

    /// The summary as JSON.
    pub(crate) fn summary(&self, backend: &str, kills: u64, seconds: f64) -> serde_json::Value {
        let s = &self.stats;
        json!({
            "backend": backend,
            "kills": kills,
            "seconds": (seconds * 10.0).round() / 10.0,
            "flows": {
                "signups": s.signups,
                "signins": s.signins,
                "refreshes": s.refreshes,
                "total": s.signups + s.signins + s.refreshes,
            },
            "checks": {
                "accounts": self.users.len(),
                "signins_after_restart": s.verified_signins,
                "codes_resubmitted": s.codes_rechecked,
                "rotated_tokens_represented": s.rotated_rechecked,
                "integrity_checks": s.integrity_checks,
            },
            "lost_requests": s.lost_requests,
            "unexpected_answers": s.unexpected_answers,
            "unexpected_samples": self.samples,
            "violations": self.violations.len(),
            "first_violations": self.violations.iter().take(20).collect::<Vec<_>>(),
        })
    }
}
