//! Property tests of continuation and refresh tokens (issue 6, spec §6.2, §6.3, §7.1).
//!
//! Core level, many cases, against the real store of a test app: mutated tokens (random,
//! truncated, bit-flipped, extended) are unrecognised; a token is accepted exactly where spec §6.2
//! says, by its own tenant and client only; tokens die when their flow advances and when they
//! expire. HTTP level, fewer cases: mutated tokens at every endpoint are the 55200 envelope (or the
//! named length limit), never a 5xx; tokens of one flow at another flow's endpoints name where
//! they belong; refresh-token replay anywhere in a rotation chain revokes the whole family.

use openciam_core::admin::NewApp;
use openciam_core::directory::ClientContext;
use openciam_core::error::{FlowError, TokenProblem};
use openciam_core::flow::continuation::{
    ContinuationConfig, ContinuationTokens, Endpoint, NewFlow, Step, Usage,
};
use openciam_core::model::{FlowKind, SignInMethod};
use openciam_core::strategy::password_policy::PolicyProfile;
use openciam_testkit::{Resp, TestApp, demo_client};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tokio::runtime::Runtime;

const PW: &str = "Correct-Horse-9";
const TTL: i64 = 600;
/// The fake clock runs on top of real time, so a token presented `TTL - 1` seconds after issue may
/// see a second tick by; live tokens are presented at least this much before their expiry.
const MARGIN: i64 = 5;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Every place a token can be presented: endpoint and grant (spec §5, §6.2).
fn usages() -> Vec<Usage> {
    use Endpoint as E;
    let mut all = vec![
        Usage::at(E::SignInChallenge),
        Usage::at(E::SignUpChallenge),
        Usage::at(E::ResetChallenge),
        Usage::at(E::ResetSubmit),
        Usage::at(E::ResetPoll),
        Usage::with_grant(E::ResetContinue, "oob"),
    ];
    for g in ["password", "oob", "continuation_token", "refresh_token"] {
        all.push(Usage::with_grant(E::Token, g));
    }
    for g in ["oob", "password", "attributes"] {
        all.push(Usage::with_grant(E::SignUpContinue, g));
    }
    all
}

/// The flow kinds each endpoint loads (what the services pass).
fn kinds_at(usage: &Usage) -> &'static [FlowKind] {
    use Endpoint as E;
    match (usage.endpoint, usage.grant.as_deref()) {
        (E::Token, Some("continuation_token")) => &[FlowKind::SignUp, FlowKind::ResetPassword],
        (E::SignInChallenge | E::Token, _) => &[FlowKind::SignIn],
        (E::SignUpChallenge | E::SignUpContinue, _) => &[FlowKind::SignUp],
        _ => &[FlowKind::ResetPassword],
    }
}

/// Spec §6.2, written out independently of `Step::accepts`: where a token of `step` is accepted.
fn spec_accepts(step: Step, usage: &Usage) -> bool {
    use Endpoint as E;
    let g = usage.grant.as_deref();
    match (step, usage.endpoint) {
        (Step::SignInChallenge, E::SignInChallenge) => true,
        (Step::SignInPassword, E::Token) => g == Some("password"),
        (Step::SignInOob, E::SignInChallenge) => true,
        (Step::SignInOob, E::Token) => g == Some("oob"),
        (Step::SignUpChallenge, E::SignUpChallenge) => true,
        (Step::SignUpOob, E::SignUpChallenge) => true,
        (Step::SignUpOob, E::SignUpContinue) => g == Some("oob"),
        (Step::SignUpPassword, E::SignUpContinue) => g == Some("password"),
        (Step::SignUpAttributes, E::SignUpContinue) => g == Some("attributes"),
        (Step::SignInAfterFlow, E::Token) => g == Some("continuation_token"),
        (Step::ResetChallenge, E::ResetChallenge) => true,
        (Step::ResetOob, E::ResetChallenge) => true,
        (Step::ResetOob, E::ResetContinue) => g == Some("oob"),
        (Step::ResetSubmit, E::ResetSubmit) => true,
        (Step::ResetPoll, E::ResetPoll) => true,
        _ => false,
    }
}

/// Every step with the flow kind that issues it.
const STEPS: [(Step, FlowKind); 13] = [
    (Step::SignInChallenge, FlowKind::SignIn),
    (Step::SignInPassword, FlowKind::SignIn),
    (Step::SignInOob, FlowKind::SignIn),
    (Step::SignUpChallenge, FlowKind::SignUp),
    (Step::SignUpOob, FlowKind::SignUp),
    (Step::SignUpPassword, FlowKind::SignUp),
    (Step::SignUpAttributes, FlowKind::SignUp),
    (Step::SignInAfterFlow, FlowKind::SignUp),
    (Step::SignInAfterFlow, FlowKind::ResetPassword),
    (Step::ResetChallenge, FlowKind::ResetPassword),
    (Step::ResetOob, FlowKind::ResetPassword),
    (Step::ResetSubmit, FlowKind::ResetPassword),
    (Step::ResetPoll, FlowKind::ResetPassword),
];

/// The demo app, another app of the demo tenant, and an app of another tenant.
struct Clients {
    own: ClientContext,
    other_client: ClientContext,
    other_tenant: ClientContext,
}

fn new_app(name: &str) -> NewApp {
    NewApp {
        client_id: None,
        display_name: name.into(),
        method: SignInMethod::EmailPassword,
        native_auth: true,
        cors_origins: vec![],
        identifier_uri: None,
        scopes: vec![],
        signup_attributes: vec![],
        mfa: None,
    }
}

async fn clients(app: &TestApp) -> Clients {
    let s = &app.services;
    let demo = s.directory.tenant("demo").await.unwrap();
    let own = s.directory.client(&demo, &demo_client()).await.unwrap();
    let other = s.admin.create_app("demo", new_app("other")).await.unwrap();
    let other_client = s.directory.client(&demo, other.client_id.as_str()).await.unwrap();
    s.admin
        .create_tenant("contoso", None, None, PolicyProfile::Entra)
        .await
        .unwrap();
    let contoso = s.directory.tenant("contoso").await.unwrap();
    let foreign = s.admin.create_app("contoso", new_app("foreign")).await.unwrap();
    let other_tenant = s
        .directory
        .client(&contoso, foreign.client_id.as_str())
        .await
        .unwrap();
    Clients {
        own,
        other_client,
        other_tenant,
    }
}

fn engine(app: &TestApp) -> ContinuationTokens {
    ContinuationTokens::new(
        app.services.store.clone(),
        app.services.clock.clone(),
        ContinuationConfig::default(),
    )
}

async fn start(tokens: &ContinuationTokens, ctx: &ClientContext, kind: FlowKind, step: Step) -> String {
    let issued = tokens
        .start(
            ctx,
            NewFlow {
                kind,
                user_id: None,
                state: serde_json::json!({}),
                challenge_types: vec!["oob".into(), "password".into(), "redirect".into()],
                capabilities: vec![],
                first_step: step,
            },
        )
        .await
        .unwrap();
    issued.token.expose().to_owned()
}

/// A way to damage a token.
#[derive(Debug, Clone)]
enum Mutation {
    Random(String),
    Truncate(usize),
    FlipBit(usize, u8),
    Replace(usize, char),
    Append(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<String>().prop_map(Mutation::Random),
        "[A-Za-z0-9_-]{43}".prop_map(Mutation::Random),
        (0usize..43).prop_map(Mutation::Truncate),
        (0usize..43, 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (0usize..43, any::<char>()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        "[A-Za-z0-9_=%-]{1,8}".prop_map(Mutation::Append),
    ]
}

fn mutate(token: &str, m: &Mutation) -> String {
    match m {
        Mutation::Random(s) => s.clone(),
        Mutation::Truncate(n) => token[..*n].to_owned(),
        Mutation::FlipBit(i, bit) => {
            let mut bytes = token.as_bytes().to_vec();
            bytes[*i] ^= 1 << bit;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Mutation::Replace(i, c) => {
            let mut s: String = token.chars().take(*i).collect();
            s.push(*c);
            s.extend(token.chars().skip(i + 1));
            s
        }
        Mutation::Append(tail) => format!("{token}{tail}"),
    }
}

#[test]
fn core_mutated_tokens_are_unrecognised_and_the_original_survives() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    let tokens = engine(&app);
    let ctx = rt.block_on(clients(&app)).own;
    let usage = Usage::with_grant(Endpoint::Token, "password");
    let token = rt.block_on(start(&tokens, &ctx, FlowKind::SignIn, Step::SignInPassword));
    runner(512)
        .run(&mutation(), |m| {
            let bad = mutate(&token, &m);
            prop_assume!(bad != token);
            let got = rt.block_on(tokens.load(&ctx, &[FlowKind::SignIn], &bad, &usage));
            prop_assert!(
                matches!(got, Err(FlowError::TokenInvalid(TokenProblem::Unrecognised))),
                "{m:?} -> {got:?}"
            );
            Ok(())
        })
        .unwrap();
    rt.block_on(tokens.load(&ctx, &[FlowKind::SignIn], &token, &usage))
        .unwrap();
    rt.block_on(async move { drop(app) });
}

#[test]
fn core_tokens_are_accepted_exactly_where_spec_6_2_says_by_their_own_client() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    let tokens = engine(&app);
    let c = rt.block_on(clients(&app));
    // One live token per (step, kind), issued to the demo app.
    let pool: Vec<(Step, FlowKind, String)> = STEPS
        .iter()
        .map(|&(step, kind)| (step, kind, rt.block_on(start(&tokens, &c.own, kind, step))))
        .collect();
    let all = usages();
    let case = (0..pool.len(), 0..all.len(), 0u8..3);
    runner(1024)
        .run(&case, |(t, u, who)| {
            let (step, kind, token) = &pool[t];
            let usage = &all[u];
            let ctx = [&c.own, &c.other_client, &c.other_tenant][usize::from(who)];
            let got = rt.block_on(tokens.load(ctx, kinds_at(usage), token, usage));
            let accepted = spec_accepts(*step, usage) && kinds_at(usage).contains(kind);
            match (who, got) {
                (1, Err(FlowError::TokenInvalid(TokenProblem::OtherClient)))
                | (2, Err(FlowError::TokenInvalid(TokenProblem::OtherTenant))) => {}
                (0, Ok(_)) => prop_assert!(accepted, "{step:?} accepted at {usage:?}"),
                (0, Err(FlowError::TokenInvalid(TokenProblem::WrongUse { belongs, used }))) => {
                    prop_assert!(!accepted, "{step:?} refused at {usage:?}");
                    prop_assert_eq!(belongs, step.belongs());
                    prop_assert!(used.starts_with(usage.endpoint.path()));
                }
                (_, other) => prop_assert!(false, "{step:?} at {usage:?} by {who}: {other:?}"),
            }
            Ok(())
        })
        .unwrap();
    rt.block_on(async move { drop(app) });
}

/// What happens to a flow between issuing its first token and presenting it.
#[derive(Debug, Clone)]
struct Life {
    /// Resends (same generation) before the presentation.
    resends: usize,
    /// Whether the flow advanced after the token was issued.
    advanced: bool,
    /// Seconds that pass before the presentation.
    wait: i64,
}

fn life() -> impl Strategy<Value = Life> {
    (
        0usize..3,
        any::<bool>(),
        prop_oneof![0i64..=TTL - MARGIN, Just(TTL - MARGIN), TTL..TTL * 2, Just(TTL)],
    )
        .prop_map(|(resends, advanced, wait)| Life {
            resends,
            advanced,
            wait,
        })
}

#[test]
fn core_tokens_die_when_their_flow_advances_or_they_expire() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    let tokens = engine(&app);
    let ctx = rt.block_on(clients(&app)).own;
    let resend = Usage::at(Endpoint::SignUpChallenge);
    runner(128)
        .run(&life(), |life| {
            rt.block_on(async {
                let first = start(&tokens, &ctx, FlowKind::SignUp, Step::SignUpOob).await;
                let kinds = [FlowKind::SignUp];
                let loaded = tokens.load(&ctx, &kinds, &first, &resend).await.unwrap();
                let state = serde_json::json!({});
                let mut all = vec![first];
                for _ in 0..life.resends {
                    let t = tokens.reissue(&loaded, &state, Step::SignUpOob).await.unwrap();
                    all.push(t.token.expose().to_owned());
                }
                let next = if life.advanced {
                    let t = tokens
                        .advance(&loaded, &state, None, Some(Step::SignUpPassword))
                        .await;
                    Some(t.unwrap().unwrap().token.expose().to_owned())
                } else {
                    None
                };
                app.clock.advance(life.wait);
                let expired = life.wait >= TTL;
                for t in &all {
                    let got = tokens.load(&ctx, &kinds, t, &resend).await;
                    match got {
                        Err(FlowError::TokenInvalid(TokenProblem::Superseded)) => {
                            prop_assert!(life.advanced, "{life:?}");
                        }
                        Err(FlowError::TokenExpired) => {
                            prop_assert!(expired && !life.advanced, "{life:?}");
                        }
                        Ok(_) => prop_assert!(!expired && !life.advanced, "{life:?}"),
                        other => prop_assert!(false, "{life:?}: {other:?}"),
                    }
                }
                if let Some(next) = next {
                    let usage = Usage::with_grant(Endpoint::SignUpContinue, "password");
                    let got = tokens.load(&ctx, &kinds, &next, &usage).await;
                    prop_assert_eq!(got.is_ok(), !expired, "{:?}: {:?}", life, got);
                }
                Ok(())
            })
        })
        .unwrap();
    rt.block_on(async move { drop(app) });
}

/// Every endpoint that takes a continuation token, with the other parameters it needs.
const CT_ENDPOINTS: [(&str, &[(&str, &str)]); 9] = [
    (
        "oauth2/v2.0/challenge",
        &[("challenge_type", "oob password redirect")],
    ),
    (
        "oauth2/v2.0/token",
        &[("grant_type", "password"), ("password", PW)],
    ),
    ("oauth2/v2.0/token", &[("grant_type", "oob"), ("oob", "12345678")]),
    ("oauth2/v2.0/token", &[("grant_type", "continuation_token")]),
    (
        "signup/v1.0/challenge",
        &[("challenge_type", "oob password redirect")],
    ),
    (
        "signup/v1.0/continue",
        &[("grant_type", "oob"), ("oob", "12345678")],
    ),
    (
        "resetpassword/v1.0/challenge",
        &[("challenge_type", "oob redirect")],
    ),
    (
        "resetpassword/v1.0/submit",
        &[("new_password", "Brand-New-Pass-42")],
    ),
    ("resetpassword/v1.0/poll_completion", &[]),
];

async fn present(app: &TestApp, client: &str, at: usize, ct: &str) -> Resp {
    let (path, extra) = CT_ENDPOINTS[at];
    let mut form = vec![("client_id", client), ("continuation_token", ct)];
    form.extend_from_slice(extra);
    app.post(path, &form).await
}

/// The Entra envelope, complete, with a 400.
fn assert_envelope(r: &Resp) {
    assert_eq!(r.status, 400, "{}", r.body);
    for key in [
        "error",
        "error_description",
        "timestamp",
        "trace_id",
        "correlation_id",
    ] {
        assert!(r.body[key].is_string(), "{key} missing: {}", r.body);
    }
    assert!(!r.codes().is_empty(), "{}", r.body);
}

#[test]
fn http_mutated_tokens_are_55200_at_every_endpoint_never_5xx() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    rt.block_on(app.create_user("prop@example.com", PW));
    let token = rt.block_on(app.password_token("prop@example.com"));
    let client = demo_client();
    runner(64)
        .run(&(mutation(), 0..CT_ENDPOINTS.len()), |(m, at)| {
            let bad = mutate(&token, &m);
            prop_assume!(bad != token);
            let r = rt.block_on(present(&app, &client, at, &bad));
            assert_envelope(&r);
            let expected = if bad.is_empty() {
                900144
            } else if bad.len() > 4096 {
                90011
            } else {
                55200
            };
            prop_assert_eq!(r.body["error"].as_str(), Some("invalid_request"), "{}", r.body);
            prop_assert_eq!(r.codes()[0], expected, "{}", r.body);
            Ok(())
        })
        .unwrap();
    // None of that touched the real token.
    assert_eq!(rt.block_on(app.token_password(&token, PW, "openid")).status, 200);
    rt.block_on(async move { drop(app) });
}

/// One live token of each flow and step a client meets first, by where it was issued.
async fn first_tokens(app: &TestApp) -> Vec<(&'static str, String)> {
    let client = demo_client();
    app.create_user("cross@example.com", PW).await;
    let post = |path: &'static str, user: &'static str, types: &'static str| {
        let client = client.clone();
        async move {
            let r = app
                .post(
                    path,
                    &[
                        ("client_id", &client),
                        ("username", user),
                        ("challenge_type", types),
                    ],
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.str("continuation_token").to_owned()
        }
    };
    vec![
        (
            "oauth2/v2.0/challenge",
            post("oauth2/v2.0/initiate", "cross@example.com", "password redirect").await,
        ),
        (
            "signup/v1.0/challenge",
            post("signup/v1.0/start", "new@example.com", "oob password redirect").await,
        ),
        (
            "resetpassword/v1.0/challenge",
            post("resetpassword/v1.0/start", "cross@example.com", "oob redirect").await,
        ),
        ("oauth2/v2.0/token", app.password_token("cross@example.com").await),
    ]
}

#[tokio::test]
async fn http_cross_flow_cross_client_and_cross_tenant_tokens_name_where_they_belong() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let pool = first_tokens(&app).await;
    for (belongs, ct) in &pool {
        for (at, &(path, extra)) in CT_ENDPOINTS.iter().enumerate() {
            let right_grant = extra.first().is_some_and(|(_, g)| *g == "password");
            if path == *belongs && (path != "oauth2/v2.0/token" || right_grant) {
                continue;
            }
            let r = present(&app, &client, at, ct).await;
            assert_envelope(&r);
            r.assert_error("invalid_request", 55200);
            let d = r.str("error_description");
            assert!(d.contains(&format!("belongs to {belongs}")), "{path}: {d}");
        }
    }
    // Another client of the tenant, and an app of another tenant, at the right endpoint.
    let other = app
        .services
        .admin
        .create_app("demo", new_app("other"))
        .await
        .unwrap();
    app.services
        .admin
        .create_tenant("contoso", None, None, PolicyProfile::Entra)
        .await
        .unwrap();
    let foreign = app
        .services
        .admin
        .create_app("contoso", new_app("f"))
        .await
        .unwrap();
    let (_, ct) = &pool[0];
    let form = |client: &str| {
        vec![
            ("client_id".to_owned(), client.to_owned()),
            ("continuation_token".to_owned(), ct.clone()),
            ("challenge_type".to_owned(), "password redirect".to_owned()),
        ]
    };
    let send = |url: String, f: Vec<(String, String)>| {
        let app = &app;
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.post_to(&url, &f).await
        }
    };
    let demo_url = format!("{}/oauth2/v2.0/challenge", app.base);
    let r = send(demo_url.clone(), form(other.client_id.as_str())).await;
    r.assert_error("invalid_request", 55200);
    assert!(
        r.str("error_description").contains("another client_id"),
        "{}",
        r.body
    );
    let contoso_url = format!("{}/contoso/oauth2/v2.0/challenge", app.origin);
    let r = send(contoso_url, form(foreign.client_id.as_str())).await;
    r.assert_error("invalid_request", 55200);
    // The rightful client still can, after all of that.
    assert_eq!(send(demo_url, form(&client)).await.status, 200);
}

/// A way to damage a refresh token.
fn rt_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<String>().prop_map(Mutation::Random),
        (0usize..20).prop_map(Mutation::Truncate),
        (0usize..20, 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (0usize..20, any::<char>()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        "[A-Za-z0-9_.=%-]{1,8}".prop_map(Mutation::Append),
    ]
}

#[test]
fn http_mutated_refresh_tokens_are_invalid_grant_70000_never_5xx() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    rt.block_on(app.create_user("rt@example.com", PW));
    let session = rt.block_on(app.sign_in("rt@example.com", PW, "openid offline_access"));
    let token = session.str("refresh_token").to_owned();
    runner(64)
        .run(&rt_mutation(), |m| {
            let bad = mutate(&token, &m);
            prop_assume!(bad != token);
            let r = rt.block_on(app.refresh(&bad, "openid"));
            assert_envelope(&r);
            if bad.is_empty() {
                prop_assert_eq!(r.codes()[0], 900144, "{}", r.body);
            } else if bad.len() > 4096 {
                prop_assert_eq!(r.codes()[0], 90011, "{}", r.body);
            } else {
                prop_assert_eq!(r.body["error"].as_str(), Some("invalid_grant"), "{}", r.body);
                prop_assert_eq!(r.codes()[0], 70000, "{}", r.body);
            }
            Ok(())
        })
        .unwrap();
    // Guessing did not revoke the real session.
    assert_eq!(rt.block_on(app.refresh(&token, "openid")).status, 200);
    rt.block_on(async move { drop(app) });
}

#[test]
fn http_replaying_any_rotated_refresh_token_revokes_the_whole_family() {
    let rt = runtime();
    let app = rt.block_on(TestApp::spawn());
    rt.block_on(app.create_user("fam@example.com", PW));
    runner(12)
        .run(
            &(1usize..5).prop_flat_map(|n| (Just(n), 0..n)),
            |(rotations, replay)| {
                rt.block_on(async {
                    let first = app.sign_in("fam@example.com", PW, "openid").await;
                    let mut chain = vec![first.str("refresh_token").to_owned()];
                    for _ in 0..rotations {
                        let r = app.refresh(chain.last().unwrap(), "openid").await;
                        prop_assert_eq!(r.status, 200, "{}", r.body);
                        chain.push(r.str("refresh_token").to_owned());
                    }
                    // An old one is replayed: it and every member of the chain are revoked [50173].
                    let r = app.refresh(&chain[replay], "openid").await;
                    prop_assert_eq!(r.codes(), vec![50173], "{}", r.body);
                    for t in &chain {
                        let r = app.refresh(t, "openid").await;
                        prop_assert_eq!(r.body["error"].as_str(), Some("invalid_grant"));
                        prop_assert_eq!(r.codes(), vec![50173], "{}", r.body);
                    }
                    Ok(())
                })
            },
        )
        .unwrap();
    rt.block_on(async move { drop(app) });
}
