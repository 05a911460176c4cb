//! End-to-end tests over real HTTP against a server on an ephemeral port (one test binary).

#![expect(clippy::unwrap_used, reason = "tests and their helpers fail loudly")]

mod admin;
mod admin_api;
mod audit;
mod backup;
mod code_guessing;
mod cors;
mod dbcopy;
mod dev_console;
mod dev_mailbox_sms;
mod dialects;
mod discovery;
mod enumeration;
mod faults_db;
mod faults_smtp;
mod form;
mod import;
mod input_limits;
mod keys;
mod lockout;
mod metrics;
mod mfa;
mod mfa_admin;
mod mfa_registration;
mod multinode;
mod no_secrets_in_logs;
mod openapi;
mod rate_limits;
mod readiness;
mod refresh;
mod reset;
mod scopes;
mod serve_node;
mod shedding;
mod shutdown;
mod signin;
mod signin_code;
mod signup;
mod sms_limits;
mod sms_webhook;
mod sqlite_full;
mod tenants;
mod tls;
mod tokens_ct;
mod tokens_props;
