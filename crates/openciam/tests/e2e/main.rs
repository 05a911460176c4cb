//! End-to-end tests over real HTTP against a server on an ephemeral port (one test binary).

mod admin;
mod cors;
mod discovery;
mod form;
mod refresh;
mod scopes;
mod signin;
mod signup;
mod tenants;
mod tokens_ct;
