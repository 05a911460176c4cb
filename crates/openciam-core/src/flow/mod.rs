//! Flows: chains of requests linked by continuation tokens.

pub mod after;
pub mod challenge;
pub mod continuation;
pub mod phantom;
pub mod reset;
pub mod second_factor;
pub mod signin;
pub mod signup;
