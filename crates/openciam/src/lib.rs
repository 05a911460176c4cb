//! The openciam binary's library half: configuration, composition of the services, seeding, and
//! the CLI commands. `main.rs` only parses arguments and dispatches; tests and the test kit build
//! servers through [`app`].

pub mod admin_listener;
pub mod app;
pub mod cli;
pub mod config;
pub mod ops_config;
pub mod seed;
pub mod telemetry;
pub mod tls;
