//! End-to-end tests over real HTTP against a server on an ephemeral port (one test binary).

#![expect(clippy::unwrap_used, reason = "tests and their helpers fail loudly")]

mod admin;
mod audit;
mod code_guessing;
mod cors;
mod dbcopy;
mod dev_console;
mod dev_mailbox_sms;
mod dialects;
mod discovery;
mod enumeration;
mod form;
mod import;
mod input_limits;
mod keys;
mod lockout;
mod mfa;
mod mfa_admin;
mod mfa_registration;
mod multinode;
mod no_secrets_in_logs;
mod openapi;
mod rate_limits;
mod refresh;
mod reset;
mod scopes;
mod signin;
mod signin_code;
mod signup;
mod sms_webhook;
mod tenants;
mod tls;
mod tokens_ct;
mod tokens_props;
