//! Load: closed loop (a fixed number of virtual users) or open loop (flows started at a fixed
//! rate, latency counted from each flow's due time so a slow server cannot hide its queue), in
//! measured segments with the raw windows between them.

use crate::cli::{DEV_CLIENT_ID, DEV_CODE_CLIENT_ID, DEV_TENANT, FlowKind, RunArgs, SpawnMode};
use crate::flows::{Flows, Target};
use crate::procfs;
use crate::raw::{RawFigures, RawSetup};
use crate::report::{Machine, Report, ServerUsage};
use crate::stats::{Failure, Recorder};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The load shape.
#[derive(Debug, Clone, Copy)]
pub enum Load {
    /// Virtual users.
    Concurrency(usize),
    /// Flows started per second.
    Rate(f64),
}

impl Load {
    fn describe(self) -> String {
        match self {
            Self::Concurrency(n) => format!("closed loop, {n} virtual users"),
            Self::Rate(r) => format!("open loop, {r} flows/s"),
        }
    }
}

/// Runs `kind` under `load` for `secs`; returns when every started flow has ended.
pub async fn segment(
    flows: &Arc<Flows>,
    recorder: &Arc<Recorder>,
    kind: FlowKind,
    load: Load,
    secs: f64,
    max_in_flight: usize,
) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs.max(0.0));
    let mut tasks = tokio::task::JoinSet::new();
    match load {
        Load::Concurrency(n) => {
            for _ in 0..n.max(1) {
                let flows = flows.clone();
                let recorder = recorder.clone();
                tasks.spawn(async move {
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        match flows.run(kind).await {
                            Ok(()) => recorder.completed(t.elapsed()),
                            Err(f) => {
                                recorder.failed(f);
                                // Do not spin on a server that refuses at once.
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                        }
                    }
                });
            }
        }
        Load::Rate(rate) => {
            let rate = rate.max(0.001);
            let in_flight = Arc::new(AtomicUsize::new(0));
            let mut i: u64 = 0;
            loop {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                if due >= deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                i += 1;
                while tasks.try_join_next().is_some() {}
                if in_flight.load(Ordering::Relaxed) >= max_in_flight {
                    recorder.failed(Failure {
                        step: "start",
                        what: "dropped: --max-in-flight flows already running".into(),
                    });
                    continue;
                }
                in_flight.fetch_add(1, Ordering::Relaxed);
                let flows = flows.clone();
                let recorder = recorder.clone();
                let in_flight = in_flight.clone();
                tasks.spawn(async move {
                    match flows.run(kind).await {
                        Ok(()) => recorder.completed(due.elapsed()),
                        Err(f) => recorder.failed(f),
                    }
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                });
            }
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// `run`: optionally spawns and seeds a server, warms up, then alternates raw windows and
/// measured load segments, and reports.
pub async fn run(args: &RunArgs) -> anyhow::Result<Report> {
    let load_before = procfs::load_average();
    if args.spawn == Some(SpawnMode::Serve) && args.flow.needs_mailbox() {
        anyhow::bail!(
            "{:?} reads codes from the dev mailbox, which only `openciam dev` has: use --spawn dev",
            args.flow
        );
    }
    let spawned = match args.spawn {
        Some(mode) => Some(crate::server::spawn(args, mode).await?),
        None => None,
    };
    let target = match &spawned {
        Some(s) => Target {
            origin: s.origin.clone(),
            tenant: args.tenant.clone().unwrap_or_else(|| s.tenant.clone()),
            client_id: args.client_id.clone().unwrap_or_else(|| s.client_id.clone()),
            code_client_id: args
                .code_client_id
                .clone()
                .unwrap_or_else(|| s.code_client_id.clone()),
            password: args.password.clone(),
            users: args.users,
            code_users: args.code_users,
        },
        None => Target {
            origin: args
                .url
                .clone()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned(),
            tenant: args.tenant.clone().unwrap_or_else(|| DEV_TENANT.to_owned()),
            client_id: args.client_id.clone().unwrap_or_else(|| DEV_CLIENT_ID.to_owned()),
            code_client_id: args
                .code_client_id
                .clone()
                .unwrap_or_else(|| DEV_CODE_CLIENT_ID.to_owned()),
            password: args.password.clone(),
            users: args.users,
            code_users: args.code_users,
        },
    };
    let server_pid = spawned.as_ref().map(|s| s.pid).or(args.server_pid);
    let recorder = Arc::new(Recorder::default());
    let flows = Arc::new(Flows::new(target, recorder.clone())?);
    if args.flow == FlowKind::Refresh {
        flows.open_sessions(args.sessions, 16).await?;
    }
    let load = match (args.rate, args.concurrency) {
        (Some(r), _) => Load::Rate(r),
        (None, Some(c)) => Load::Concurrency(c),
        (None, None) => Load::Concurrency(32),
    };
    let threads = args.hash_threads;
    let raw_setup = if args.raw {
        Some(Arc::new(
            tokio::task::spawn_blocking(move || RawSetup::new(threads)).await??,
        ))
    } else {
        None
    };
    if args.warmup > 0.0 {
        segment(
            &flows,
            &recorder,
            args.flow,
            load,
            args.warmup,
            args.max_in_flight,
        )
        .await;
    }
    let windows = args.windows.max(1);
    let per_segment = args.duration / windows as f64;
    let mut raw = raw_setup.as_ref().map(|s| RawFigures::new(s.threads()));
    let mut measured = 0.0;
    let mut server_cpu = 0.0;
    let mut client_cpu = 0.0;
    for _ in 0..windows {
        if let (Some(setup), Some(figures)) = (&raw_setup, raw.as_mut()) {
            let setup = setup.clone();
            let secs = args.raw_window;
            figures.push(tokio::task::spawn_blocking(move || setup.window(secs)).await?);
        }
        let server0 = server_pid.and_then(|p| procfs::cpu_seconds(Some(p)));
        let client0 = procfs::cpu_seconds(None);
        recorder.set_enabled(true);
        let t = Instant::now();
        segment(
            &flows,
            &recorder,
            args.flow,
            load,
            per_segment,
            args.max_in_flight,
        )
        .await;
        measured += t.elapsed().as_secs_f64();
        recorder.set_enabled(false);
        if let (Some(a), Some(b)) = (server0, server_pid.and_then(|p| procfs::cpu_seconds(Some(p)))) {
            server_cpu += b - a;
        }
        if let (Some(a), Some(b)) = (client0, procfs::cpu_seconds(None)) {
            client_cpu += b - a;
        }
    }
    let cpus = procfs::cpus() as f64;
    let recorded = recorder.snapshot();
    let flows_per_s = recorded.completed as f64 / measured.max(1e-9);
    let server = server_pid.map(|pid| ServerUsage {
        pid,
        cpu_seconds: server_cpu,
        cpu_share: server_cpu / measured.max(1e-9) / cpus,
        peak_rss_kib: procfs::status_kib(pid, "VmHWM"),
        rss_end_kib: procfs::status_kib(pid, "VmRSS"),
    });
    let fraction_of_raw_argon2 = match (&raw, args.flow) {
        (Some(r), FlowKind::PasswordSignin | FlowKind::Signup) if r.argon2_per_s > 0.0 => {
            Some(flows_per_s / r.argon2_per_s)
        }
        _ => None,
    };
    Ok(Report {
        flow: args.flow,
        load: load.describe(),
        measured_seconds: measured,
        windows,
        machine: Machine::here(load_before),
        spawned: spawned.as_ref().map(|s| s.facts.clone()),
        server,
        client_cpu_seconds: client_cpu,
        client_cpu_share: client_cpu / measured.max(1e-9) / cpus,
        flows_per_s,
        recorded,
        raw,
        fraction_of_raw_argon2,
    })
}
