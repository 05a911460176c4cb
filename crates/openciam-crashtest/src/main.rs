//! `openciam-crashtest`: starts the real `openciam serve` on SQLite or PostgreSQL, runs concurrent
//! sign-ups (codes from an SMTP sink that outlives the server), password sign-ins and refresh
//! grants, SIGKILLs the server after a random delay, restarts it on the same database, and after
//! every restart checks what the clients were promised:
//!
//! * every sign-up whose client received tokens exists exactly once and can sign in;
//! * no refresh token is accepted twice: every token answered 200 is presented again and must be
//!   refused, and a token of a family revoked by that reuse must be refused too, while every
//!   unused token issued in a 200 must still be accepted;
//! * no code is accepted twice: every accepted sign-up code is submitted again and must fail;
//! * the database is sound: SQLite `integrity_check` = ok and `foreign_key_check` empty, or
//!   `pg_amcheck --heapallindexed` clean.
//!
//! Prints the kills, flows completed and violations; exits non-zero when there is a violation.
//! See docs/reliability.md ("Crash test").

mod db;
mod flows;
mod ledger;
mod server;
mod sink;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use db::Database;
use flows::Client;
use ledger::Ledger;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// SIGKILL a real openciam server under load, restart it, and check nothing was lost or
/// accepted twice.
#[derive(Debug, Parser)]
#[command(name = "openciam-crashtest")]
struct Args {
    /// Database backend.
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// SIGKILLs (each followed by a restart and the checks).
    #[arg(long, default_value_t = 50)]
    kills: u64,
    /// Seed of the random delays and choices (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Concurrent clients.
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Shortest and longest load before a kill, milliseconds.
    #[arg(long, default_value_t = 100)]
    min_delay_ms: u64,
    #[arg(long, default_value_t = 1200)]
    max_delay_ms: u64,
    /// The openciam binary (default: `openciam` next to this one).
    #[arg(long)]
    openciam: Option<PathBuf>,
    /// PostgreSQL server to create the `crashtest_<pid>` database on.
    #[arg(
        long,
        env = "OPENCIAM_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// The aiosmtpd sink script.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../openciam-mail/tests/smtp_sink.py"))]
    smtp_sink: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(0) => std::process::ExitCode::SUCCESS,
        Ok(_) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("openciam-crashtest: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs the test; the number of violations.
async fn run(args: Args) -> anyhow::Result<usize> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let binary = match &args.openciam {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory of the current executable")?
            .join("openciam"),
    };
    sink::check_script(&args.smtp_sink)?;
    let dir = tempfile::tempdir()?;
    let sink = Arc::new(sink::Sink::start(&args.smtp_sink).await?);
    let database = match args.backend {
        Backend::Sqlite => Database::sqlite(dir.path()),
        Backend::Postgres => Database::postgres(&args.postgres_url).await?,
    };
    let spec = server::ServerSpec::write(binary, dir.path(), &database.url(), sink.port)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .build()?;
    let client = Client {
        http: http.clone(),
        base: format!("{}/{}", spec.origin(), server::TENANT),
        sink,
        ledger: Arc::new(Mutex::new(Ledger::default())),
        tag: seed,
    };
    let backend = match args.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    if !args.json {
        println!(
            "crash test: {backend}, {} kills, seed {seed}, {} clients",
            args.kills, args.clients
        );
    }
    let started = Instant::now();
    let result = kill_loop(&args, seed, &spec, &database, &client).await;
    let seconds = started.elapsed().as_secs_f64();
    let _ = database.drop_database().await;
    let kills = result?;
    let ledger = client.ledger();
    let summary = ledger.summary(backend, kills, seconds);
    if args.json {
        println!("{summary}");
    } else {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    if !ledger.violations.is_empty() {
        eprintln!("server log kept at {}", spec.log.display());
        let _ = dir.keep();
    }
    Ok(ledger.violations.len())
}

/// Load, SIGKILL, check, restart, check; `kills` times. Returns the kills done.
async fn kill_loop(
    args: &Args,
    seed: u64,
    spec: &server::ServerSpec,
    database: &Database,
    client: &Client,
) -> anyhow::Result<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut child = spec.start(&client.http).await?;
    for kill in 1..=args.kills {
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..args.clients)
            .map(|i| {
                let client = client.clone();
                let stop = stop.clone();
                let worker_seed = seed ^ (kill << 16) ^ (i as u64);
                tokio::spawn(async move { load(client, stop, worker_seed).await })
            })
            .collect();
        let delay = rng.random_range(args.min_delay_ms..=args.max_delay_ms.max(args.min_delay_ms));
        tokio::time::sleep(Duration::from_millis(delay)).await;
        server::kill(&mut child).await?;
        stop.store(true, Ordering::SeqCst);
        for w in &workers {
            w.abort();
        }
        for w in workers {
            let _ = w.await;
        }
        check_database(database, client).await?;
        child = spec.start(&client.http).await?;
        verify(client, &mut rng).await;
        if !args.json && (kill % 10 == 0 || kill == args.kills) {
            let l = client.ledger();
            println!(
                "  {kill} kills: {} sign-ups, {} sign-ins, {} refreshes, {} violations",
                l.stats.signups,
                l.stats.signins,
                l.stats.refreshes,
                l.violations.len()
            );
        }
    }
    server::kill(&mut child).await?;
    check_database(database, client).await?;
    Ok(args.kills)
}

/// One client: sign-ups, sign-ins and refreshes at random until stopped.
async fn load(client: Client, stop: Arc<AtomicBool>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::SeqCst) {
        let (users, live) = {
            let l = client.ledger();
            (l.users.len(), l.live.len())
        };
        let roll: f64 = rng.random();
        let pick = rng.random::<u32>() as usize;
        if users == 0 || roll < 0.35 {
            client.sign_up().await;
        } else if live > 0 && roll < 0.8 {
            client.refresh_someone(pick).await;
        } else {
            client.sign_in_someone(pick).await;
        }
    }
}

/// With the server down: integrity, and every account that received tokens exists exactly once.
async fn check_database(database: &Database, client: &Client) -> anyhow::Result<()> {
    let problems = database.integrity().await?;
    let accounts = database.accounts().await?;
    let mut l = client.ledger();
    l.stats.integrity_checks += 1;
    for p in problems {
        l.violation(format!("database integrity: {p}"));
    }
    let users = l.users.clone();
    for email in users {
        match accounts.get(&email).copied().unwrap_or(0) {
            1 => {}
            n => l.violation(format!("{email} received tokens at sign-up but exists {n} times")),
        }
    }
    Ok(())
}

/// With the server restarted and idle: new accounts (and two older ones) sign in; accepted codes
/// and rotated refresh tokens are refused when presented again.
async fn verify(client: &Client, rng: &mut StdRng) {
    let (mut emails, codes, rotated) = {
        let mut l = client.ledger();
        let emails: Vec<String> = l.users[l.verified..].to_vec();
        l.verified = l.users.len();
        let codes = std::mem::take(&mut l.codes);
        let mut rotated = std::mem::take(&mut l.rotated);
        // Re-presenting revokes the family; a sample keeps most families alive for the load.
        while rotated.len() > 6 {
            let i = rng.random_range(0..rotated.len());
            rotated.swap_remove(i);
        }
        (emails, codes, rotated)
    };
    {
        let l = client.ledger();
        for _ in 0..2 {
            if l.verified > 0 {
                emails.push(l.users[rng.random_range(0..l.verified)].clone());
            }
        }
    }
    for email in emails {
        match client.sign_in(&email).await {
            Ok(Some(_)) => client.ledger().stats.verified_signins += 1,
            Ok(None) => client
                .ledger()
                .unexpected(format!("sign-in of {email} after restart got no answer")),
            Err(answer) => client.ledger().violation(format!(
                "{email} received tokens at sign-up but cannot sign in after a restart: {answer}"
            )),
        }
    }
    for code in &codes {
        client.resubmit(code).await;
    }
    for rt in rotated {
        match client.present(&rt).await {
            Some((200, _)) => {} // recorded as a violation by `present`
            Some(_) => {
                let mut l = client.ledger();
                l.stats.rotated_rechecked += 1;
                l.revoked.insert(rt.family);
            }
            None => {}
        }
        // Reuse revoked the family: its live token must now be refused as well.
        let sibling = {
            let mut l = client.ledger();
            let i = l.live.iter().position(|t| t.family == rt.family);
            i.map(|i| l.live.swap_remove(i))
        };
        if let Some(sibling) = sibling
            && let Some((200, _)) = client.present(&sibling).await
        {
            // `present` recorded it (a revoked family).
        }
    }
}
