//! Command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;

/// The demo tenant `openciam dev` seeds.
pub const DEV_TENANT: &str = "demo";
/// The demo app (e-mail + password) `openciam dev` seeds.
pub const DEV_CLIENT_ID: &str = "11111111-1111-1111-1111-111111111111";
/// The demo app for e-mail-code sign-in `openciam dev` seeds.
pub const DEV_CODE_CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
/// The password every seeded user has.
pub const DEFAULT_PASSWORD: &str = "Bench-Pass-2026!";

/// openciam-bench: complete native-auth flows against an openciam server.
#[derive(Debug, Parser)]
#[command(name = "openciam-bench", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Drive one flow for a while (against `--url`, or a server started with `--spawn`).
    Run(Box<RunArgs>),
    /// Only the raw limits: argon2id verifications and RS256 signatures per second.
    Raw(RawArgs),
    /// Write a `openciam user import` file of bench users (they share one precomputed hash).
    UsersFile(UsersFileArgs),
}

/// Which flow a run drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowKind {
    /// initiate → challenge → token (password grant).
    PasswordSignin,
    /// initiate → challenge (code mailed) → dev mailbox latest-code → token (oob grant).
    CodeSignin,
    /// signup start (with password) → challenge → continue (oob) → token (continuation_token).
    Signup,
    /// token (refresh_token grant), rotating each session's refresh token.
    Refresh,
}

impl FlowKind {
    /// Whether the flow reads codes from the dev mailbox (only `openciam dev` has one).
    pub fn needs_mailbox(self) -> bool {
        matches!(self, Self::CodeSignin | Self::Signup)
    }
}

/// How `--spawn` starts the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpawnMode {
    /// `openciam dev --limits bench` on a data directory (SQLite; has the dev mailbox).
    Dev,
    /// `openciam serve` with a generated config (SQLite file, or `--database`), limits `bench`.
    Serve,
}

/// `run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The flow to drive.
    #[arg(long, value_enum)]
    pub flow: FlowKind,
    /// Server origin, e.g. http://127.0.0.1:8080 (not with --spawn).
    #[arg(long, required_unless_present = "spawn", conflicts_with = "spawn")]
    pub url: Option<String>,
    /// Tenant path segment (default: `demo` for dev servers, `bench` for --spawn serve).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Client id of the password app (default: the dev demo app / the --spawn serve app).
    #[arg(long)]
    pub client_id: Option<String>,
    /// Client id of the e-mail-code app (default: the dev demo code app).
    #[arg(long)]
    pub code_client_id: Option<String>,
    /// Password of the seeded users.
    #[arg(long, default_value = DEFAULT_PASSWORD)]
    pub password: String,
    /// Process id of the server, for its CPU seconds and peak RSS (known with --spawn).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Start the server: `dev` (dev --limits bench) or `serve` (serve on a SQLite file or --database).
    #[arg(long, value_enum)]
    pub spawn: Option<SpawnMode>,
    /// The openciam binary for --spawn (default: `openciam` beside this binary).
    #[arg(long)]
    pub openciam: Option<PathBuf>,
    /// Data directory for --spawn (default: a fresh temporary directory, removed afterwards).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Database URL for --spawn serve or dev (default: SQLite file in the data directory). Must be empty.
    #[arg(long)]
    pub database: Option<String>,
    /// Users with a password to seed (--spawn), named pw{i}@bench.example; sign-in uses them in turn.
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Code-only users to seed (--spawn), named code{i}@bench.example (codes are capped per address).
    #[arg(long, default_value_t = 20_000)]
    pub code_users: usize,
    /// Sessions (refresh tokens) signed in before a refresh run.
    #[arg(long, default_value_t = 256)]
    pub sessions: usize,
    /// Closed loop: this many virtual users, each starting its next flow when one ends.
    #[arg(long, conflicts_with = "rate")]
    pub concurrency: Option<usize>,
    /// Open loop: start flows at this fixed rate per second (latency counted from the due time).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Flows allowed in flight in open-loop mode; beyond it a due flow is counted as dropped.
    #[arg(long, default_value_t = 4096)]
    pub max_in_flight: usize,
    /// Measured seconds of load (split into --windows segments).
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Unmeasured seconds of load first.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Also measure the raw argon2id and RS256 limits, in windows interleaved with the load.
    #[arg(long)]
    pub raw: bool,
    /// Segments of load (and raw windows between them, with --raw).
    #[arg(long, default_value_t = 5)]
    pub windows: usize,
    /// Seconds of each raw window.
    #[arg(long, default_value_t = 1.0)]
    pub raw_window: f64,
    /// Threads of the raw windows (default: the server's default hash pool size, the CPU count).
    #[arg(long)]
    pub hash_threads: Option<usize>,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `raw`.
#[derive(Debug, Clone, Args)]
pub struct RawArgs {
    /// Threads (default: the server's default hash pool size, the CPU count).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Windows; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub windows: usize,
    /// Seconds per window.
    #[arg(long, default_value_t = 1.0)]
    pub window: f64,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `users-file`.
#[derive(Debug, Clone, Args)]
pub struct UsersFileArgs {
    /// Output file (JSON lines for `openciam user import`).
    #[arg(long)]
    pub file: PathBuf,
    /// Users with a password (pw{i}@bench.example).
    #[arg(long, default_value_t = 1000)]
    pub users: usize,
    /// Code-only users (code{i}@bench.example).
    #[arg(long, default_value_t = 0)]
    pub code_users: usize,
    /// Their password.
    #[arg(long, default_value = DEFAULT_PASSWORD)]
    pub password: String,
}
