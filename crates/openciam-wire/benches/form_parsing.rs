//! Parsing a token-request form body and reading its parameters, as every endpoint does.

#![allow(missing_docs, clippy::expect_used, reason = "a benchmark fails loudly")]

use criterion::{Criterion, criterion_group, criterion_main};
use openciam_wire::form::Form;
use std::hint::black_box;

fn parsing(c: &mut Criterion) {
    let token = "A".repeat(700);
    let body = format!(
        "client_id=11111111-1111-1111-1111-111111111111&continuation_token={token}\
         &grant_type=password&password=Correct%20Horse+Battery%21&scope=openid+offline_access\
         &client_info=1&challenge_type=password%20redirect"
    );
    c.bench_function("form_parse_token_request", |b| {
        b.iter(|| {
            let form = Form::parse(black_box(body.as_bytes()));
            form.check_limits().expect("within limits");
            let ct = form.required("continuation_token").expect("present").len();
            let types = form.list(&["challenge_type"]).expect("list").len();
            (ct, types, form.flag("client_info").expect("flag"))
        })
    });
}

criterion_group!(benches, parsing);
criterion_main!(benches);
