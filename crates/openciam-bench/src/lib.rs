//! The load tool's library: command line ([`cli`]), the flows it drives ([`flows`]), closed- and
//! open-loop load ([`driver`]), latency and error bookkeeping ([`stats`]), the server's CPU and
//! memory from `/proc` ([`procfs`]), the raw argon2id and RS256 limits ([`raw`]), starting and
//! seeding a server of its own ([`server`]) and the report ([`report`]).

pub mod cli;
pub mod driver;
pub mod flows;
pub mod procfs;
pub mod raw;
pub mod report;
pub mod server;
pub mod stats;

use cli::{Cli, Command};
use std::io::Write as _;

/// Runs one command line.
pub async fn main_with(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => {
            let report = driver::run(&args).await?;
            let text = if args.json {
                serde_json::to_string_pretty(&report)?
            } else {
                report.to_table()
            };
            match &args.out {
                Some(path) => std::fs::write(path, format!("{text}\n"))?,
                None => writeln!(std::io::stdout().lock(), "{text}")?,
            }
        }
        Command::Raw(args) => {
            let figures = raw::measure(&args).await?;
            let text = if args.json {
                serde_json::to_string_pretty(&figures)?
            } else {
                figures.to_table()
            };
            writeln!(std::io::stdout().lock(), "{text}")?;
        }
        Command::UsersFile(args) => {
            let file = std::fs::File::create(&args.file)?;
            let mut out = std::io::BufWriter::new(file);
            server::write_users_file(&mut out, args.users, args.code_users, &args.password)?;
            out.flush()?;
        }
    }
    Ok(())
}
