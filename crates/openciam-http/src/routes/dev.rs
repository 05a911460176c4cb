//! The dev mailbox (only in `openciam dev`): every message the server "sent", for a person
//! (`GET /_dev/mailbox`, an HTML page) and for tests (JSON with `Accept: application/json` or
//! `format=json`; `GET /_dev/mailbox/latest-code?to=EMAIL` → `{"code": "…"}`, 404 when none).
//! Both filter by `to` (normalised; a phone number as E.164, e.g. `to=%2B15551234567`),
//! `channel=email|sms`, `purpose=signup|signin|resetpassword` and `since=<epoch ms>`. Text
//! messages of the dev SMS outbox are listed with `"channel": "sms"`, mail with `"email"`.

use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use openciam_core::mail::{Channel, MailPurpose, MailboxFilter, StoredMessage};
use serde::Deserialize;
use serde_json::json;

/// Query parameters of both routes.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MailboxQuery {
    to: Option<String>,
    purpose: Option<String>,
    channel: Option<String>,
    since: Option<i64>,
    format: Option<String>,
}

impl MailboxQuery {
    fn filter(&self) -> Result<MailboxFilter, Box<Response>> {
        let purpose = match self.purpose.as_deref() {
            None | Some("") => None,
            Some(p) => Some(MailPurpose::parse(p).ok_or_else(|| {
                (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "purpose must be signup, signin or resetpassword"})),
                )
                    .into_response()
            })?),
        };
        let channel = match self.channel.as_deref() {
            None | Some("") => None,
            Some(c) => Some(Channel::parse(c).ok_or_else(|| {
                (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "channel must be email or sms"})),
                )
                    .into_response()
            })?),
        };
        Ok(MailboxFilter {
            to: self.to.clone().filter(|t| !t.is_empty()),
            channel,
            purpose,
            since_ms: self.since,
        })
    }
}

fn wants_json(headers: &HeaderMap, q: &MailboxQuery) -> bool {
    if q.format.as_deref() == Some("json") {
        return true;
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json_at = accept.find("application/json");
    let html_at = accept.find("text/html");
    matches!((json_at, html_at), (Some(_), None)) || matches!((json_at, html_at), (Some(j), Some(h)) if j < h)
}

/// `GET /_dev/mailbox`.
pub(crate) async fn mailbox(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<MailboxQuery>,
) -> Response {
    let Some(reader) = &app.mailbox else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let filter = match q.filter() {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let messages = reader.messages(&filter);
    if wants_json(&headers, &q) {
        return Json(json!({ "messages": messages })).into_response();
    }
    Html(page(&messages)).into_response()
}

/// `GET /_dev/mailbox/latest-code`.
pub(crate) async fn latest_code(State(app): State<AppState>, Query(q): Query<MailboxQuery>) -> Response {
    let Some(reader) = &app.mailbox else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let filter = match q.filter() {
        Ok(f) => f,
        Err(r) => return *r,
    };
    match reader.messages(&filter).into_iter().find_map(|m| m.code) {
        Some(code) => Json(json!({ "code": code })).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no code for this address yet"})),
        )
            .into_response(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(messages: &[StoredMessage]) -> String {
    let mut rows = String::new();
    for m in messages {
        let code = m
            .code
            .as_deref()
            .map(|c| format!("<code class=\"otp\">{}</code>", escape(c)))
            .unwrap_or_default();
        let purpose = m.purpose.map(|p| p.as_str()).unwrap_or("-");
        let title = match m.channel {
            Channel::Email => escape(&m.subject),
            Channel::Sms => "SMS".to_owned(),
        };
        rows.push_str(&format!(
            "<article class=\"{}\"><header><strong>{title}</strong> {code}<br><small>{} to {} · {} · sent_at {}</small></header><pre>{}</pre></article>",
            m.channel.as_str(),
            m.channel.as_str(),
            escape(&m.to),
            purpose,
            m.sent_at,
            escape(&m.text)
        ));
    }
    if rows.is_empty() {
        rows.push_str("<p>No mail yet. Codes sent by sign-up, sign-in and password reset appear here, and text messages (SMS) too.</p>");
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>openciam dev mailbox</title>\
         <meta http-equiv=\"refresh\" content=\"5\"><style>body{{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem}}\
         article{{border:1px solid #ccc;border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0}}\
         .otp{{font-size:1.4rem;background:#eef;padding:.1rem .4rem;border-radius:.3rem;margin-left:.5rem}}\
         pre{{white-space:pre-wrap}}</style></head><body><h1>openciam dev mailbox</h1>\
         <p>Newest first; refreshes every 5 s. JSON: <a href=\"?format=json\">?format=json</a>, \
         latest code: <code>/_dev/mailbox/latest-code?to=EMAIL</code> \
         (SMS: <code>?to=%2B15551234567</code>)</p>{rows}</body></html>"
    )
}
