//! `openciam-bench`: drives complete native-auth flows against an openciam server and reports
//! flows per second, latency percentiles, errors, the server's CPU and memory, and the raw
//! argon2id / RS256 limits of the machine. See `openciam-bench --help` and docs/benchmarks.md.

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = openciam_bench::cli::Cli::parse();
    openciam_bench::main_with(cli).await
}
