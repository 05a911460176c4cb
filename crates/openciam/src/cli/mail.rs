//! `openciam mail test --to EMAIL --config FILE`: sends a test message with the configured
//! settings, so an operator can check the relay before users depend on it.

use crate::config::Config;
use clap::{Args, Subcommand};
use openciam_core::clock::SystemClock;
use openciam_core::mail::MailTenant;
use std::path::PathBuf;
use std::sync::Arc;

/// Mail commands.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a test message through the configured relay.
    Test(TestArgs),
}

/// `mail test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Recipient.
    #[arg(long)]
    pub to: String,
    /// Tenant whose sender and product name to use.
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// Production configuration file (its [mail] section).
    #[arg(long, env = "OPENCIAM_CONFIG")]
    pub config: PathBuf,
}

/// Runs a mail command.
pub async fn run(cmd: MailCommand) -> anyhow::Result<()> {
    match cmd {
        MailCommand::Test(a) => {
            let config = Config::load(&a.config)?;
            let setup = openciam_mail::build(&config.mail, Arc::new(SystemClock))?;
            if setup.backend() == openciam_mail::MailBackend::Dev {
                anyhow::bail!(
                    "[mail] uses the dev backend, which sends nothing; configure backend = \"smtp\""
                );
            }
            setup
                .send_test(
                    &MailTenant {
                        name: a.tenant.clone(),
                    },
                    &a.to,
                )
                .await
                .map_err(anyhow::Error::from)?;
            println!("test mail sent to {}", a.to);
        }
    }
    Ok(())
}
