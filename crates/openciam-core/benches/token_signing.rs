//! RS256 signing with the server's key code (aws-lc-rs): one signature per token a response
//! carries. Compare with the raw mode of `openciam-bench`, which runs it on every core.

#![allow(missing_docs, clippy::expect_used, reason = "a benchmark fails loudly")]

use criterion::{Criterion, criterion_group, criterion_main};
use openciam_core::token::SigningKey;
use std::hint::black_box;

fn signing(c: &mut Criterion) {
    let (key, _) = SigningKey::generate().expect("RSA key");
    // About the length of an ID token's header and payload, base64url-encoded.
    let message = vec![b'e'; 700];
    c.bench_function("rs256_sign_700_bytes", |b| {
        b.iter(|| key.sign(black_box(&message)).expect("sign"))
    });
}

criterion_group!(benches, signing);
criterion_main!(benches);
