//! The dev console (only in `openciam dev`): `GET /_dev/` is one server-rendered page with the
//! mailbox (latest codes in large type), the users of every tenant and the latest flows, each as
//! its chain of calls with secrets masked and every error explained; `GET /_dev/flows` returns
//! the same flows as JSON, filtered by `correlation_id`, `username` or `flow`.
//!
//! The page needs no script and no build step; maud escapes every value put into it.

use crate::flow_trace::{Call, Flow, FlowQuery, FlowTrace};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use openciam_core::mail::{MailboxFilter, StoredMessage};
use openciam_core::model::User;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Flows the page shows.
const PAGE_FLOWS: usize = 25;
/// Mailbox addresses the page shows.
const PAGE_ADDRESSES: usize = 12;
/// Users shown per tenant.
const PAGE_USERS: usize = 100;

/// Query of both routes.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FlowsQuery {
    correlation_id: Option<String>,
    username: Option<String>,
    flow: Option<String>,
    limit: Option<usize>,
    refresh: Option<u32>,
}

impl FlowsQuery {
    fn query(&self) -> FlowQuery {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        FlowQuery {
            correlation_id: given(&self.correlation_id),
            username: given(&self.username),
            flow: given(&self.flow),
        }
    }
}

/// `GET /_dev/flows`: matching flows, most recently active first.
pub(crate) async fn flows(
    Extension(trace): Extension<Arc<FlowTrace>>,
    Query(q): Query<FlowsQuery>,
) -> Response {
    let max = q.limit.unwrap_or(usize::MAX);
    let flows = trace.flows(&q.query(), max);
    Json(json!({
        "flows": flows,
        "kept": trace.len(),
        "limit": trace.limit(),
    }))
    .into_response()
}

/// `GET /_dev/`: the console page.
pub(crate) async fn console(
    State(app): State<AppState>,
    Extension(trace): Extension<Arc<FlowTrace>>,
    Query(q): Query<FlowsQuery>,
) -> Response {
    let Some(mailbox) = &app.mailbox else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let messages = mailbox.messages(&MailboxFilter::default());
    let mut users = Vec::new();
    match app.services.admin.list_tenants().await {
        Ok(tenants) => {
            for t in tenants {
                let list = app.services.admin.list_users(&t.name).await.unwrap_or_default();
                users.push((t.name, t.domain, list));
            }
        }
        Err(e) => tracing::warn!(error = %e, "dev console: listing tenants failed"),
    }
    let query = q.query();
    let flows = trace.flows(&query, q.limit.unwrap_or(PAGE_FLOWS));
    let page = Page {
        refresh: q.refresh.filter(|s| *s > 0).map(|s| s.clamp(2, 600)),
        query,
        messages: &messages,
        users: &users,
        flows: &flows,
        kept: trace.len(),
        limit: trace.limit(),
    };
    Html(page.render().into_string()).into_response()
}

struct Page<'a> {
    refresh: Option<u32>,
    query: FlowQuery,
    messages: &'a [StoredMessage],
    users: &'a [(String, String, Vec<User>)],
    flows: &'a [Flow],
    kept: usize,
    limit: usize,
}

const CSS: &str = r#"
:root{--fg:#1b1f24;--muted:#57606a;--bg:#f6f8fa;--card:#fff;--line:#d0d7de;--accent:#0a58ca;--ok:#116329;--okbg:#dafbe1;--err:#a40e26;--errbg:#ffebe9;--note:#fff8c5}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
a:focus,button:focus,input:focus,summary:focus{outline:3px solid #0969da;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem}
header.top{background:#24292f;color:#fff;padding:1rem 1.5rem;display:flex;flex-wrap:wrap;gap:1rem 2rem;align-items:center}
header.top h1{margin:0;font-size:1.35rem}
header.top nav ul{display:flex;gap:1.25rem;list-style:none;margin:0;padding:0}
header.top a{color:#fff}
header.top .refresh{margin-left:auto;font-size:.9rem}
main{max-width:76rem;margin:0 auto;padding:1rem 1.5rem 3rem}
section{margin-top:1.75rem}
h2{font-size:1.3rem;border-bottom:2px solid var(--line);padding-bottom:.3rem}
h3{font-size:1.05rem;margin:.2rem 0}
.muted{color:var(--muted)}
.codes{display:grid;grid-template-columns:repeat(auto-fill,minmax(19rem,1fr));gap:.75rem;list-style:none;padding:0}
.codes li{background:var(--card);border:1px solid var(--line);border-radius:.6rem;padding:.75rem 1rem}
.codes .to{display:block;font-weight:600;overflow-wrap:anywhere}
.codes time{display:block;font-size:.85rem;color:var(--muted);margin-top:.25rem}
.otp{display:block;font:700 2.1rem/1.2 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:.12em;margin:.35rem 0;color:#0b3d91}
.tag{display:inline-block;font-size:.78rem;border:1px solid var(--line);border-radius:1rem;padding:0 .5rem;margin-right:.25rem;background:#eef1f4}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line)}
caption{text-align:left;font-weight:600;padding:.4rem 0}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f4}
form.filter{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;background:var(--card);border:1px solid var(--line);border-radius:.6rem;padding:.75rem 1rem}
form.filter label{display:flex;flex-direction:column;font-size:.85rem;font-weight:600}
form.filter input{font:inherit;padding:.3rem .45rem;border:1px solid #8c959f;border-radius:.3rem;min-width:14rem}
button{font:inherit;padding:.35rem .9rem;border-radius:.3rem;border:1px solid #1f6feb;background:#1f6feb;color:#fff;cursor:pointer}
article.flow{background:var(--card);border:1px solid var(--line);border-radius:.6rem;padding:.75rem 1rem;margin:1rem 0}
article.flow>header{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:baseline}
ol.calls{list-style:none;margin:.5rem 0 0;padding:0 0 0 1rem;border-left:3px solid var(--line)}
ol.calls>li{position:relative;margin:.6rem 0;padding:.5rem .75rem;border:1px solid var(--line);border-radius:.45rem;background:#fbfcfd}
ol.calls>li.error{border-color:#ff8182;background:#fffafa}
.call-head{display:flex;flex-wrap:wrap;gap:.25rem .75rem;align-items:baseline}
.endpoint{font:600 .95rem ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.status{font-weight:700;border-radius:.3rem;padding:0 .4rem}
.status.ok{color:var(--ok);background:var(--okbg)}
.status.bad{color:var(--err);background:var(--errbg)}
dl.params{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .75rem;margin:.4rem 0;font-size:.9rem}
dl.params dt{font-weight:600;color:var(--muted)}
dl.params dd{margin:0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;word-break:break-all}
.explain{background:var(--note);border:1px solid #d4a72c;border-radius:.4rem;padding:.5rem .75rem;margin:.5rem 0}
.explain strong{color:#6b3f00}
.errline{color:var(--err);font-weight:600}
details summary{cursor:pointer;color:var(--accent);font-size:.9rem}
pre{white-space:pre-wrap;word-break:break-all;background:#f3f4f6;border-radius:.35rem;padding:.5rem;font-size:.82rem;margin:.35rem 0 0}
.ids{font-size:.8rem;color:var(--muted)}
"#;

impl Page<'_> {
    fn render(&self) -> Markup {
        let refresh_link = match self.refresh {
            Some(_) => html! { a href="/_dev/" { "Stop auto-refresh" } },
            None => html! { a href="/_dev/?refresh=5" { "Auto-refresh every 5 s" } },
        };
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    @if let Some(secs) = self.refresh {
                        meta http-equiv="refresh" content=(secs);
                    }
                    title { "openciam dev console" }
                    style { (PreEscaped(CSS)) }
                }
                body {
                    a.skip href="#flows" { "Skip to flows" }
                    header.top {
                        h1 { "openciam dev console" }
                        nav aria-label="Sections" {
                            ul {
                                li { a href="#mailbox" { "Mailbox" } }
                                li { a href="#users" { "Users" } }
                                li { a href="#flows" { "Flows" } }
                            }
                        }
                        p.refresh { (refresh_link) }
                    }
                    main {
                        (self.mailbox())
                        (self.users())
                        (self.flows())
                    }
                }
            }
        }
    }

    fn mailbox(&self) -> Markup {
        // The newest message per address (messages come newest first).
        let mut latest: Vec<&StoredMessage> = Vec::new();
        for m in self.messages {
            if !latest.iter().any(|l| l.to.eq_ignore_ascii_case(&m.to)) {
                latest.push(m);
            }
        }
        latest.truncate(PAGE_ADDRESSES);
        html! {
            section #mailbox aria-labelledby="mailbox-h" {
                h2 #mailbox-h { "Mailbox" }
                p.muted {
                    "The newest message to each address. Every message: "
                    a href="/_dev/mailbox" { "/_dev/mailbox" } "."
                }
                @if latest.is_empty() {
                    p { "No messages yet. Codes sent by sign-up, sign-in and password reset appear here." }
                } @else {
                    ul.codes {
                        @for m in &latest {
                            li {
                                span.to { (m.to) }
                                @if let Some(code) = &m.code {
                                    span.otp aria-label=(format!("code {code}")) { (code) }
                                } @else {
                                    p { (m.subject) }
                                }
                                span.tag { (m.channel.as_str()) }
                                @if let Some(p) = m.purpose {
                                    span.tag { (p.as_str()) }
                                }
                                time { (format_ms(m.sent_at)) }
                            }
                        }
                    }
                }
            }
        }
    }

    fn users(&self) -> Markup {
        html! {
            section #users aria-labelledby="users-h" {
                h2 #users-h { "Users" }
                @for (tenant, domain, users) in self.users {
                    table {
                        caption { "Tenant " (tenant) " (" (domain) "), " (users.len()) " user(s)" }
                        thead {
                            tr {
                                th scope="col" { "Username" }
                                th scope="col" { "Status" }
                                th scope="col" { "Signs in with" }
                                th scope="col" { "Attributes" }
                                th scope="col" { "Created" }
                            }
                        }
                        tbody {
                            @for u in users.iter().take(PAGE_USERS) {
                                tr {
                                    td { (u.username) }
                                    td { @if u.disabled { "disabled" } @else { "enabled" } }
                                    td { @if u.password_hash.is_some() { "password or code" } @else { "code only" } }
                                    td { (Value::Object(u.attributes.clone()).to_string()) }
                                    td { (format_ms(u.created_at.saturating_mul(1000))) }
                                }
                            }
                            @if users.is_empty() {
                                tr { td colspan="5" { "No users yet." } }
                            }
                        }
                    }
                }
            }
        }
    }

    fn flows(&self) -> Markup {
        let q = &self.query;
        html! {
            section #flows aria-labelledby="flows-h" {
                h2 #flows-h { "Latest flows" }
                p.muted {
                    "Each flow is a chain of calls linked by continuation tokens, most recently active first. "
                    "Secrets are masked; tokens show a fingerprint (ct#…) so calls can be matched. "
                    "Keeping " (self.kept) " of at most " (self.limit) " flows. JSON: "
                    a href="/_dev/flows" { "/_dev/flows" } "."
                }
                form.filter method="get" action="/_dev/" role="search" aria-label="Find flows" {
                    label { "Username" input type="text" name="username" value=(q.username.clone().unwrap_or_default()); }
                    label { "Correlation id" input type="text" name="correlation_id" value=(q.correlation_id.clone().unwrap_or_default()); }
                    label { "Flow id" input type="text" name="flow" value=(q.flow.clone().unwrap_or_default()); }
                    button type="submit" { "Find" }
                    a href="/_dev/#flows" { "Show all" }
                }
                @if self.flows.is_empty() {
                    p { "No flows recorded yet. Calls to the native-auth endpoints appear here as they happen." }
                }
                @for f in self.flows {
                    (flow(f))
                }
            }
        }
    }
}

fn flow(f: &Flow) -> Markup {
    let errors = f.calls.iter().filter(|c| c.explanation.is_some()).count();
    html! {
        article.flow aria-labelledby=(format!("{}-h", f.id)) {
            header {
                h3 id=(format!("{}-h", f.id)) {
                    (f.kind) " — " (f.username.as_deref().unwrap_or("(no username)"))
                }
                span.muted { (f.id) " · started " (f.started_at) " · " (f.calls.len()) " call(s)" }
                @if errors > 0 {
                    span.errline { (errors) " error(s)" }
                }
                span.muted { "tenant " (f.tenant.as_deref().unwrap_or("-")) " · client " (f.client_id.as_deref().unwrap_or("-")) }
            }
            @if f.calls_dropped > 0 {
                p.muted { (f.calls_dropped) " earlier call(s) not kept." }
            }
            ol.calls {
                @for c in &f.calls { (call(c)) }
            }
        }
    }
}

fn call(c: &Call) -> Markup {
    let ok = c.status < 400;
    let outcome = match c.error() {
        Some(e) => {
            let sub = c.response.get("suberror").and_then(Value::as_str);
            let code = c
                .response
                .get("error_codes")
                .and_then(|v| v.get(0))
                .and_then(Value::as_u64);
            let mut s = e.to_owned();
            if let Some(sub) = sub {
                s.push_str(&format!(" / {sub}"));
            }
            if let Some(code) = code {
                s.push_str(&format!(" (AADSTS{code})"));
            }
            Some(s)
        }
        None => c
            .response
            .get("challenge_type")
            .and_then(Value::as_str)
            .map(|t| format!("challenge_type {t}")),
    };
    let pretty = serde_json::to_string_pretty(&c.response).unwrap_or_default();
    html! {
        li class=(if ok { "ok" } else { "error" }) {
            div.call-head {
                span.endpoint { (c.method) " " (c.endpoint) }
                span class=(if ok { "status ok" } else { "status bad" }) { "HTTP " (c.status) }
                @if let Some(o) = &outcome {
                    span class=(if ok { "" } else { "errline" }) { (o) }
                }
                span.ids { (c.at) " · correlation " (c.correlation_id) }
            }
            dl.params {
                @for (k, v) in &c.params {
                    dt { (k) } dd { (v) }
                }
            }
            @if let Some(text) = &c.explanation {
                p.explain role="note" { strong { "What went wrong: " } (text) }
            }
            details {
                summary { "Response body" }
                pre { (pretty) }
            }
        }
    }
}

fn format_ms(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}
