//! Building and serialising an Entra error envelope (the body of every 400).

#![allow(missing_docs, clippy::expect_used, reason = "a benchmark fails loudly")]

use criterion::{Criterion, criterion_group, criterion_main};
use openciam_wire::error::{Correlation, ErrorBody, catalogue};
use std::hint::black_box;

fn rendering(c: &mut Criterion) {
    let corr = Correlation {
        trace_id: "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".into(),
        correlation_id: "f0e9d8c7-b6a5-9483-7261-504f3e2d1c0b".into(),
        timestamp: "2026-11-27 21:40:00Z".into(),
    };
    c.bench_function("error_envelope_missing_parameter", |b| {
        b.iter(|| {
            let body = ErrorBody::new(
                &catalogue::MISSING_PARAMETER,
                &[black_box("continuation_token")],
                "Send the continuation_token of the previous answer.",
                &corr,
            );
            serde_json::to_vec(&body).expect("serialises")
        })
    });
}

criterion_group!(benches, rendering);
criterion_main!(benches);
