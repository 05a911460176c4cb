//! The `openciam` command.

use clap::Parser as _;
use openciam::cli::{Cli, run};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` may ask for JSON lines in its configuration ([log] format = "json").
    let json_in_config = match &cli.command {
        openciam::cli::Command::Serve(args) => openciam::cli::serve::json_logs_configured(args),
        _ => false,
    };
    openciam::telemetry::init(cli.log_json || json_in_config);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
