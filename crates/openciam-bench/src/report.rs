//! The report: a table for people, JSON for scripts.

use crate::cli::FlowKind;
use crate::raw::RawFigures;
use crate::server::ServerFacts;
use crate::stats::Recorded;
use serde::Serialize;
use std::fmt::Write as _;

/// The machine the run happened on, and how busy it was.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `model name` of /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// MemTotal in MiB.
    pub memory_mib: u64,
    /// Load averages (1, 5, 15 min) before the run.
    pub load_before: String,
    /// Load averages after the run.
    pub load_after: String,
}

impl Machine {
    /// This machine now.
    pub fn here(load_before: String) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_mib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024;
        Self {
            cpu_model,
            cpus: crate::procfs::cpus(),
            memory_mib,
            load_before,
            load_after: crate::procfs::load_average(),
        }
    }
}

/// The server's CPU and memory during the measured segments.
#[derive(Debug, Clone, Serialize)]
pub struct ServerUsage {
    /// Process id.
    pub pid: u32,
    /// User + system CPU seconds during the measured segments.
    pub cpu_seconds: f64,
    /// Of all CPUs (1.0 = every core busy).
    pub cpu_share: f64,
    /// Peak resident memory since the process started (VmHWM), KiB.
    pub peak_rss_kib: Option<u64>,
    /// Resident memory at the end (VmRSS), KiB.
    pub rss_end_kib: Option<u64>,
}

/// One run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The flow driven.
    pub flow: FlowKind,
    /// The load shape.
    pub load: String,
    /// Seconds of measured load (segments, draining included).
    pub measured_seconds: f64,
    /// Segments (raw windows between them with --raw).
    pub windows: usize,
    /// Where and how busy.
    pub machine: Machine,
    /// The spawned server (with --spawn).
    pub spawned: Option<ServerFacts>,
    /// The server's CPU and memory (with --spawn or --server-pid).
    pub server: Option<ServerUsage>,
    /// This tool's CPU seconds during the segments.
    pub client_cpu_seconds: f64,
    /// Of all CPUs.
    pub client_cpu_share: f64,
    /// Completed flows per second.
    pub flows_per_s: f64,
    /// Latencies, completions and errors.
    pub recorded: Recorded,
    /// Raw limits measured between the segments (with --raw).
    pub raw: Option<RawFigures>,
    /// Flows per second over the raw argon2id rate (password sign-in and sign-up).
    pub fraction_of_raw_argon2: Option<f64>,
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "-".into())
}

impl Report {
    /// The table.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(
            s,
            "flow {:?}, {}, {:.1} s measured in {} segments",
            self.flow, self.load, self.measured_seconds, self.windows
        );
        let _ = writeln!(
            s,
            "machine: {} x{}, {} MiB; load {} before, {} after",
            m.cpu_model, m.cpus, m.memory_mib, m.load_before, m.load_after
        );
        if let Some(f) = &self.spawned {
            let _ = writeln!(
                s,
                "server: {} ({}), limits {}, synchronous {}, seeded {} + {} code users in {:.1} s",
                f.command,
                f.database,
                f.limits,
                f.sqlite_synchronous.as_deref().unwrap_or("-"),
                f.seeded_users,
                f.seeded_code_users,
                f.seed_seconds
            );
            let _ = writeln!(
                s,
                "ready ({}): {:.0} ms on an empty database, {:.0} ms on the existing one; idle RSS {}",
                f.ready_path,
                f.ready_ms_empty_db,
                f.ready_ms_existing_db,
                mib(f.idle_rss_kib)
            );
        }
        let r = &self.recorded;
        let _ = writeln!(
            s,
            "completed {} flows ({:.1}/s), failed {}",
            r.completed, self.flows_per_s, r.failed
        );
        let _ = writeln!(
            s,
            "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency ms", "count", "p50", "p90", "p99", "max"
        );
        let mut row = |name: &str, l: &crate::stats::Latency| {
            let _ = writeln!(
                s,
                "{name:<18} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
            );
        };
        if let Some(f) = &r.flow {
            row("flow", f);
        }
        for (name, l) in &r.steps {
            row(&format!("  {name}"), l);
        }
        for e in &r.errors {
            let _ = writeln!(s, "error: {} x {} at {}", e.count, e.error, e.step);
        }
        if let Some(u) = &self.server {
            let _ = writeln!(
                s,
                "server pid {}: {:.1} CPU s ({:.0}% of all cores), peak RSS {}, RSS at end {}",
                u.pid,
                u.cpu_seconds,
                u.cpu_share * 100.0,
                mib(u.peak_rss_kib),
                mib(u.rss_end_kib)
            );
        }
        let _ = writeln!(
            s,
            "load tool: {:.1} CPU s ({:.0}% of all cores)",
            self.client_cpu_seconds,
            self.client_cpu_share * 100.0
        );
        if let Some(raw) = &self.raw {
            let _ = writeln!(s, "{}", raw.to_table());
        }
        if let Some(f) = self.fraction_of_raw_argon2 {
            let _ = write!(s, "flows/s over raw argon2id: {:.1}%", f * 100.0);
        }
        s.trim_end().to_owned()
    }
}
