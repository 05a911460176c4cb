//! The dev flow trace (only in `openciam dev`): every protocol call, with its secrets masked,
//! grouped into flows by the continuation tokens that link them.
//!
//! A call that presents a continuation token an earlier response issued joins that earlier call's
//! flow; any other call (`initiate`, `signup/start`, `resetpassword/start`, a refresh) starts a
//! new flow. Tokens are never kept: only their SHA-256, and a short fingerprint of it for people
//! to compare. The trace keeps the most recently active [`MAX_FLOWS`] flows and forgets the rest,
//! so its memory stays bounded however long the dev server runs. `openciam serve` never mounts it.

use crate::ctx::RequestIds;
use crate::explain::{ErrorFacts, explain};
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use openciam_core::clock::Clock;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use time::macros::format_description;

/// How many flows the trace keeps (the most recently active ones).
pub(crate) const MAX_FLOWS: usize = 200;
/// How many calls one flow keeps: its first call, then the latest ones.
const MAX_CALLS: usize = 100;
/// Longest parameter value shown, in characters.
const MAX_VALUE_CHARS: usize = 300;
/// Largest response body read for the trace (native-auth responses are a few KiB).
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Form parameters whose values are never shown, only their length.
const HIDDEN_PARAMS: [&str; 5] = ["password", "new_password", "oob", "code", "client_secret"];
/// Response members whose values are never shown, only their length.
const HIDDEN_MEMBERS: [&str; 2] = ["access_token", "id_token"];

/// One protocol call as the trace shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Call {
    /// When the call was answered (`yyyy-mm-dd hh:mm:ss.mmmZ`).
    pub(crate) at: String,
    /// HTTP method.
    pub(crate) method: String,
    /// The route template, e.g. `/{tenant}/signup/v1.0/start`; the raw path when no route matched.
    pub(crate) endpoint: String,
    /// The request path as sent.
    pub(crate) path: String,
    /// The tenant segment of the path.
    pub(crate) tenant: Option<String>,
    /// The `client_id` sent.
    pub(crate) client_id: Option<String>,
    /// The caller's `client-request-id`.
    pub(crate) correlation_id: String,
    /// This request's trace id.
    pub(crate) trace_id: String,
    /// Form parameters, secrets masked.
    pub(crate) params: BTreeMap<String, String>,
    /// HTTP status of the answer.
    pub(crate) status: u16,
    /// The answer's JSON body, secrets masked.
    pub(crate) response: Value,
    /// For an error answer: what was wrong and what to send instead, in plain words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) explanation: Option<String>,
}

impl Call {
    /// The `error` member of an error answer.
    pub(crate) fn error(&self) -> Option<&str> {
        self.response.get("error").and_then(Value::as_str)
    }
}

/// A chain of calls linked by continuation tokens.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Flow {
    /// Stable id for look-ups (`/_dev/flows?flow=…`).
    pub(crate) id: String,
    /// sign-up, sign-in, password reset, refresh, or the endpoint of the first call.
    pub(crate) kind: String,
    /// The tenant segment of the first call.
    pub(crate) tenant: Option<String>,
    /// The `client_id` of the first call.
    pub(crate) client_id: Option<String>,
    /// The username sent with the first call.
    pub(crate) username: Option<String>,
    /// When the first call was answered.
    pub(crate) started_at: String,
    /// The calls, oldest first.
    pub(crate) calls: Vec<Call>,
    /// Calls dropped from the middle of a very long flow.
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) calls_dropped: usize,
    #[serde(skip)]
    tokens: Vec<[u8; 32]>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What a look-up asks for; every given field must match.
#[derive(Debug, Default, Clone)]
pub(crate) struct FlowQuery {
    /// A call of the flow carried this `client-request-id`.
    pub(crate) correlation_id: Option<String>,
    /// The flow's username (case-insensitive).
    pub(crate) username: Option<String>,
    /// The flow id.
    pub(crate) flow: Option<String>,
}

impl FlowQuery {
    fn matches(&self, f: &Flow) -> bool {
        let by_corr = self
            .correlation_id
            .as_deref()
            .is_none_or(|c| f.calls.iter().any(|call| call.correlation_id == c));
        let by_user = self.username.as_deref().is_none_or(|u| {
            f.username
                .as_deref()
                .is_some_and(|fu| fu.trim().eq_ignore_ascii_case(u.trim()))
        });
        let by_id = self.flow.as_deref().is_none_or(|id| f.id == id);
        by_corr && by_user && by_id
    }
}

/// Where a continuation token came from.
#[derive(Debug, Clone)]
struct Issued {
    flow: u64,
    endpoint: String,
    status: u16,
}

struct Inner {
    /// Oldest activity first.
    flows: VecDeque<(u64, Flow)>,
    tokens: HashMap<[u8; 32], Issued>,
    next: u64,
}

/// The in-memory trace.
pub(crate) struct FlowTrace {
    inner: Mutex<Inner>,
    limit: usize,
    clock: Arc<dyn Clock>,
    body_limit: usize,
}

impl FlowTrace {
    /// An empty trace keeping at most `limit` flows.
    pub(crate) fn new(limit: usize, clock: Arc<dyn Clock>, body_limit: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                flows: VecDeque::new(),
                tokens: HashMap::new(),
                next: 1,
            }),
            limit: limit.max(1),
            clock,
            body_limit,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves a trace that is still consistent enough
        // to read: every update below is a push or a removal.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Matching flows, most recently active first; at most `max`.
    pub(crate) fn flows(&self, query: &FlowQuery, max: usize) -> Vec<Flow> {
        let inner = self.lock();
        inner
            .flows
            .iter()
            .rev()
            .filter(|(_, f)| query.matches(f))
            .take(max)
            .map(|(_, f)| f.clone())
            .collect()
    }

    /// How many flows are kept.
    pub(crate) fn len(&self) -> usize {
        self.lock().flows.len()
    }

    /// The most flows kept.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    fn record(&self, seen: Seen) {
        let Seen {
            mut call,
            presented,
            issued,
            username,
            grant_type,
        } = seen;
        let mut inner = self.lock();
        let origin = presented.and_then(|h| inner.tokens.get(&h).cloned());
        let joined = origin
            .as_ref()
            .and_then(|o| inner.flows.iter().position(|(seq, _)| *seq == o.flow));
        // A redirect answer is no error, but it is the one a developer most needs explained.
        let redirect = call.response.get("challenge_type").and_then(Value::as_str) == Some("redirect");
        if let Some(error) = call.error().or(redirect.then_some("redirect")) {
            let code = call
                .response
                .get("error_codes")
                .and_then(|c| c.get(0))
                .and_then(Value::as_u64);
            let facts = ErrorFacts {
                error,
                suberror: call.response.get("suberror").and_then(Value::as_str),
                code,
                endpoint: &call.endpoint,
                grant_type: grant_type.as_deref(),
                token_from: origin.as_ref().map(|o| (o.endpoint.as_str(), o.status)),
                token_unknown: presented.is_some() && origin.is_none(),
            };
            call.explanation = Some(explain(&facts));
        }
        let (seq, mut flow) = match joined.and_then(|i| inner.flows.remove(i)) {
            Some(found) => found,
            None => {
                let seq = inner.next;
                inner.next += 1;
                let flow = Flow {
                    id: format!("flow-{seq}"),
                    kind: flow_kind(&call.endpoint, grant_type.as_deref()),
                    tenant: call.tenant.clone(),
                    client_id: call.client_id.clone(),
                    username: None,
                    started_at: call.at.clone(),
                    calls: Vec::new(),
                    calls_dropped: 0,
                    tokens: Vec::new(),
                };
                (seq, flow)
            }
        };
        if flow.username.is_none() {
            flow.username = username;
        }
        if flow.calls.len() >= MAX_CALLS {
            flow.calls.remove(1);
            flow.calls_dropped += 1;
        }
        for hash in issued {
            inner.tokens.insert(
                hash,
                Issued {
                    flow: seq,
                    endpoint: call.endpoint.clone(),
                    status: call.status,
                },
            );
            flow.tokens.push(hash);
        }
        flow.calls.push(call);
        inner.flows.push_back((seq, flow));
        while inner.flows.len() > self.limit {
            if let Some((_, old)) = inner.flows.pop_front() {
                for hash in old.tokens {
                    inner.tokens.remove(&hash);
                }
            }
        }
    }
}

/// What one call left for the trace.
struct Seen {
    call: Call,
    presented: Option<[u8; 32]>,
    issued: Vec<[u8; 32]>,
    username: Option<String>,
    grant_type: Option<String>,
}

fn flow_kind(endpoint: &str, grant_type: Option<&str>) -> String {
    if endpoint.contains("/signup/") {
        "sign-up".into()
    } else if endpoint.contains("/resetpassword/") {
        "password reset".into()
    } else if endpoint.ends_with("/oauth2/v2.0/token") && grant_type == Some("refresh_token") {
        "refresh".into()
    } else if endpoint.contains("/oauth2/") {
        "sign-in".into()
    } else {
        endpoint.to_owned()
    }
}

fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The short stable fingerprint people compare: 8 hex digits of the token's SHA-256.
fn fingerprint(hash: &[u8; 32]) -> String {
    hash.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

fn hidden(value: &str) -> String {
    format!("(hidden, {} characters)", value.chars().count())
}

fn masked_token(kind: &str, value: &str) -> String {
    format!("{kind}#{}", fingerprint(&sha256(value)))
}

fn mask_param(name: &str, value: &str) -> String {
    if HIDDEN_PARAMS.contains(&name) || HIDDEN_MEMBERS.contains(&name) {
        hidden(value)
    } else if name == "continuation_token" {
        masked_token("ct", value)
    } else if name == "refresh_token" {
        masked_token("rt", value)
    } else if value.chars().count() > MAX_VALUE_CHARS {
        let cut: String = value.chars().take(MAX_VALUE_CHARS).collect();
        format!("{cut}… ({} characters)", value.chars().count())
    } else {
        value.to_owned()
    }
}

/// Masks tokens in a response body, at any depth.
fn mask_value(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(s) if k == "continuation_token" => *s = masked_token("ct", s),
                    Value::String(s) if k == "refresh_token" => *s = masked_token("rt", s),
                    Value::String(s) if HIDDEN_MEMBERS.contains(&k.as_str()) => *s = hidden(s),
                    other => mask_value(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_value),
        _ => {}
    }
}

fn is_traced(method: &Method, path: &str) -> bool {
    method == Method::POST && !path.starts_with("/_dev/")
}

/// The middleware: records each protocol call (POSTs outside `/_dev/`) with its answer.
pub(crate) async fn record(State(trace): State<Arc<FlowTrace>>, req: Request, next: Next) -> Response {
    if !is_traced(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |m| m.as_str().to_owned());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let (parts, body) = req.into_parts();
    let (bytes, body) = if declared.is_some_and(|n| n > trace.body_limit) {
        (None, body)
    } else {
        match axum::body::to_bytes(body, trace.body_limit).await {
            Ok(bytes) => (Some(bytes.clone()), Body::from(bytes)),
            // Over the cap: the handler's own read of a body this size fails the same way, so
            // hand it one byte more than the cap and let it answer as it always does.
            Err(_) => (None, Body::from(vec![b' '; trace.body_limit + 1])),
        }
    };
    let pairs: Vec<(String, String)> = bytes
        .as_deref()
        .map(|b| {
            form_urlencoded::parse(b)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let response = next.run(Request::from_parts(parts, body)).await;

    let (mut parts, body) = response.into_parts();
    let Ok(body_bytes) = axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await else {
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    };
    let ids = parts.extensions.get::<RequestIds>().cloned();
    let status = parts.status.as_u16();
    let response = Response::from_parts(parts, Body::from(body_bytes.clone()));

    let first = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let presented = first("continuation_token").map(|t| sha256(&t));
    let mut body: Value = serde_json::from_slice(&body_bytes).unwrap_or(Value::Null);
    let issued = body
        .get("continuation_token")
        .and_then(Value::as_str)
        .map(sha256)
        .into_iter()
        .collect();
    mask_value(&mut body);
    let mut params = BTreeMap::new();
    for (k, v) in &pairs {
        params.entry(k.clone()).or_insert_with(|| mask_param(k, v));
    }
    if bytes.is_none() {
        params.insert("(body)".into(), "not recorded: larger than the body limit".into());
    }
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]Z");
    let (trace_id, correlation_id) = ids.map_or_else(Default::default, |i| (i.trace_id, i.correlation_id));
    let call = Call {
        at: trace.clock.now().format(&fmt).unwrap_or_default(),
        method,
        tenant: path
            .split('/')
            .nth(1)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        endpoint,
        path,
        client_id: first("client_id"),
        correlation_id,
        trace_id,
        params,
        status,
        response: body,
        explanation: None,
    };
    trace.record(Seen {
        call,
        presented,
        issued,
        username: first("username").filter(|u| !u.trim().is_empty()),
        grant_type: first("grant_type"),
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use openciam_core::clock::SystemClock;

    fn call(endpoint: &str, corr: &str) -> Call {
        Call {
            at: String::new(),
            method: "POST".into(),
            endpoint: endpoint.into(),
            path: endpoint.into(),
            tenant: None,
            client_id: None,
            correlation_id: corr.into(),
            trace_id: String::new(),
            params: BTreeMap::new(),
            status: 200,
            response: Value::Null,
            explanation: None,
        }
    }

    #[test]
    fn tokens_link_calls_and_old_flows_are_forgotten_with_their_tokens() {
        let trace = FlowTrace::new(2, Arc::new(SystemClock), 1024);
        let seen = |c: Call, presented: Option<&str>, issued: Option<&str>| Seen {
            call: c,
            presented: presented.map(sha256),
            issued: issued.map(sha256).into_iter().collect(),
            username: Some("a@example.com".into()),
            grant_type: None,
        };
        trace.record(seen(call("/{tenant}/signup/v1.0/start", "c1"), None, Some("t1")));
        trace.record(seen(
            call("/{tenant}/signup/v1.0/challenge", "c2"),
            Some("t1"),
            Some("t2"),
        ));
        let all = trace.flows(&FlowQuery::default(), 10);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].calls.len(), 2);
        assert_eq!(all[0].kind, "sign-up");
        trace.record(seen(
            call("/{tenant}/oauth2/v2.0/initiate", "c3"),
            None,
            Some("t3"),
        ));
        trace.record(seen(call("/{tenant}/oauth2/v2.0/initiate", "c4"), None, None));
        assert_eq!(trace.len(), 2);
        assert_eq!(
            trace.lock().tokens.len(),
            1,
            "only t3, of a kept flow, is remembered"
        );
        // The sign-up flow was forgotten, and its tokens with it: t2 now starts a new flow, which
        // in turn pushes out the flow that issued t3.
        trace.record(seen(
            call("/{tenant}/signup/v1.0/continue", "c5"),
            Some("t2"),
            None,
        ));
        let newest = trace.flows(&FlowQuery::default(), 1);
        assert_eq!(newest[0].calls.len(), 1);
        assert_eq!(newest[0].calls[0].correlation_id, "c5");
        assert_eq!(trace.len(), 2);
        assert!(trace.lock().tokens.is_empty());
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(mask_param("password", "Secret-123"), "(hidden, 10 characters)");
        assert_eq!(mask_param("oob", "12345678"), "(hidden, 8 characters)");
        let ct = mask_param("continuation_token", "abc");
        assert!(ct.starts_with("ct#") && ct.len() == 11, "{ct}");
        assert_eq!(ct, mask_param("continuation_token", "abc"), "stable");
        let mut v = serde_json::json!({"access_token": "x.y.z", "refresh_token": "r", "nested": [{"continuation_token": "abc"}]});
        mask_value(&mut v);
        assert_eq!(v["access_token"], "(hidden, 5 characters)");
        assert!(v["refresh_token"].as_str().unwrap_or_default().starts_with("rt#"));
        assert_eq!(v["nested"][0]["continuation_token"], ct.as_str());
    }
}
