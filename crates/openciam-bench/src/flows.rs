//! The complete flows, request by request, as a native-auth client sends them.

use crate::cli::FlowKind;
use crate::stats::{Failure, Recorder};
use serde_json::Value;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Scope asked for by every token request (a refresh token comes back).
const SCOPE: &str = "openid offline_access";
/// How long a code flow waits for its code in the dev mailbox.
const CODE_WAIT: Duration = Duration::from_secs(10);

/// Where the flows go and who they sign in as.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://host:port`.
    pub origin: String,
    /// Tenant path segment.
    pub tenant: String,
    /// The password app.
    pub client_id: String,
    /// The e-mail-code app.
    pub code_client_id: String,
    /// The seeded users' password.
    pub password: String,
    /// Seeded users with a password.
    pub users: usize,
    /// Seeded code-only users.
    pub code_users: usize,
}

/// The e-mail of seeded password user `i`.
pub fn password_user(i: usize) -> String {
    format!("pw{i}@bench.example")
}

/// The e-mail of seeded code-only user `i`.
pub fn code_user(i: usize) -> String {
    format!("code{i}@bench.example")
}

/// Everything a virtual user shares with the others.
pub struct Flows {
    http: reqwest::Client,
    target: Target,
    recorder: Arc<Recorder>,
    next_user: AtomicUsize,
    next_code_user: AtomicUsize,
    next_signup: AtomicU64,
    run_id: String,
    sessions: Mutex<Vec<String>>,
}

type Step<T> = Result<T, Failure>;

fn fail(step: &'static str, what: impl Into<String>) -> Failure {
    Failure {
        step,
        what: what.into(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn str_of(body: &Value, key: &'static str, step: &'static str) -> Step<String> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| fail(step, format!("200 without {key}")))
}

impl Flows {
    /// Flows against `target`, recording into `recorder`.
    pub fn new(target: Target, recorder: Arc<Recorder>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            http,
            target,
            recorder,
            next_user: AtomicUsize::new(0),
            next_code_user: AtomicUsize::new(0),
            next_signup: AtomicU64::new(0),
            run_id: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
            sessions: Mutex::new(Vec::new()),
        })
    }

    /// The HTTP client (shared connection pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Refresh tokens waiting for their next refresh.
    pub fn idle_sessions(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Runs one complete flow.
    pub async fn run(&self, kind: FlowKind) -> Step<()> {
        match kind {
            FlowKind::PasswordSignin => self.password_sign_in().await.map(|_| ()),
            FlowKind::CodeSignin => self.code_sign_in().await,
            FlowKind::Signup => self.sign_up().await,
            FlowKind::Refresh => self.refresh().await,
        }
    }

    /// Signs in `n` password users (not recorded unless recording is on) and keeps their
    /// refresh tokens for refresh runs.
    pub async fn open_sessions(self: &Arc<Self>, n: usize, parallel: usize) -> anyhow::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        let per = n.div_ceil(parallel.max(1));
        for _ in 0..parallel.max(1) {
            let me = self.clone();
            tasks.spawn(async move {
                let mut out = Vec::new();
                for _ in 0..per {
                    let token = me.password_sign_in().await?;
                    out.push(token);
                }
                Ok::<_, Failure>(out)
            });
        }
        let mut all = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done? {
                Ok(tokens) => all.extend(tokens),
                Err(f) => anyhow::bail!("opening sessions: {} failed: {}", f.step, f.what),
            }
        }
        all.truncate(n);
        if let Ok(mut s) = self.sessions.lock() {
            s.extend(all);
        }
        Ok(())
    }

    async fn send(&self, step: &'static str, req: reqwest::RequestBuilder) -> Step<(u16, Value)> {
        let started = Instant::now();
        let response = req
            .send()
            .await
            .map_err(|e| fail(step, format!("transport: {}", short(&e))))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| fail(step, format!("transport: {}", short(&e))))?;
        self.recorder.step(step, started.elapsed());
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn post(&self, step: &'static str, path: &str, form: &[(&str, &str)]) -> Step<Value> {
        let url = format!("{}/{}/{path}", self.target.origin, self.target.tenant);
        let (status, body) = self.send(step, self.http.post(url).form(form)).await?;
        if status == 200 {
            Ok(body)
        } else {
            Err(fail(step, describe(status, &body)))
        }
    }

    /// initiate → challenge → token; returns the refresh token.
    async fn password_sign_in(&self) -> Step<String> {
        let t = &self.target;
        let i = self.next_user.fetch_add(1, Ordering::Relaxed) % t.users.max(1);
        let user = password_user(i);
        let client = t.client_id.as_str();
        let types = "password redirect";
        let r = self
            .post(
                "initiate",
                "oauth2/v2.0/initiate",
                &[
                    ("client_id", client),
                    ("username", &user),
                    ("challenge_type", types),
                ],
            )
            .await?;
        let ct = str_of(&r, "continuation_token", "initiate")?;
        let r = self
            .post(
                "challenge",
                "oauth2/v2.0/challenge",
                &[
                    ("client_id", client),
                    ("continuation_token", &ct),
                    ("challenge_type", types),
                ],
            )
            .await?;
        let ct = str_of(&r, "continuation_token", "challenge")?;
        let r = self
            .post(
                "token",
                "oauth2/v2.0/token",
                &[
                    ("client_id", client),
                    ("continuation_token", &ct),
                    ("grant_type", "password"),
                    ("password", &t.password),
                    ("scope", SCOPE),
                    ("client_info", "1"),
                ],
            )
            .await?;
        str_of(&r, "refresh_token", "token")
    }

    /// Polls the dev mailbox for the newest code sent to `to` at or after `since` (epoch ms).
    async fn mailbox_code(&self, to: &str, since: i64) -> Step<String> {
        let url = format!("{}/_dev/mailbox/latest-code", self.target.origin);
        let since = since.to_string();
        let deadline = Instant::now() + CODE_WAIT;
        loop {
            let req = self
                .http
                .get(&url)
                .query(&[("to", to), ("since", since.as_str())]);
            let (status, body) = self.send("mailbox", req).await?;
            match status {
                200 => return str_of(&body, "code", "mailbox"),
                404 if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(2)).await,
                _ => return Err(fail("mailbox", describe(status, &body))),
            }
        }
    }

    /// initiate → challenge (a code is mailed) → latest-code → token (oob).
    async fn code_sign_in(&self) -> Step<()> {
        let t = &self.target;
        let i = self.next_code_user.fetch_add(1, Ordering::Relaxed) % t.code_users.max(1);
        let user = code_user(i);
        let client = t.code_client_id.as_str();
        let types = "oob redirect";
        let r = self
            .post(
                "initiate",
                "oauth2/v2.0/initiate",
                &[
                    ("client_id", client),
                    ("username", &user),
                    ("challenge_type", types),
                ],
            )
            .await?;
        let ct = str_of(&r, "continuation_token", "initiate")?;
        let since = now_ms();
        let r = self
            .post(
                "challenge",
                "oauth2/v2.0/challenge",
                &[
                    ("client_id", client),
                    ("continuation_token", &ct),
                    ("challenge_type", types),
                ],
            )
            .await?;
        let ct = str_of(&r, "continuation_token", "challenge")?;
        let code = self.mailbox_code(&user, since).await?;
        self.post(
            "token",
            "oauth2/v2.0/token",
            &[
                ("client_id", client),
                ("continuation_token", &ct),
                ("grant_type", "oob"),
                ("oob", &code),
                ("scope", SCOPE),
                ("client_info", "1"),
            ],
        )
        .await?;
        Ok(())
    }

    /// signup start (password given) → challenge → continue (oob) → token (continuation_token).
    async fn sign_up(&self) -> Step<()> {
        let t = &self.target;
        let n = self.next_signup.fetch_add(1, Ordering::Relaxed);
        let user = format!("su-{}-{n}@bench.example", self.run_id);
        let client = t.client_id.as_str();
        let types = "oob password redirect";
        let r = self
            .post(
                "signup_start",
                "signup/v1.0/start",
                &[
                    ("client_id", client),
                    ("username", &user),
                    ("challenge_type", types),
                    ("password", &t.password),
                ],
            )
            .await?;
        let ct = str_of(&r, "continuation_token", "signup_start")?;
        let since = now_ms();
        let r = self
            .post(
                "signup_challenge",
                "signup/v1.0/challenge",
                &[
                    ("client_id", client),
                    ("continuation_token", &ct),
                    ("challenge_type", types),
                ],
            )
            .await?;
        let ct = str_of(&r, "continuation_token", "signup_challenge")?;
        let code = self.mailbox_code(&user, since).await?;
        let r = self
            .post(
                "signup_continue",
                "signup/v1.0/continue",
                &[
                    ("client_id", client),
                    ("continuation_token", &ct),
                    ("grant_type", "oob"),
                    ("oob", &code),
                ],
            )
            .await?;
        let ct = str_of(&r, "continuation_token", "signup_continue")?;
        self.post(
            "token",
            "oauth2/v2.0/token",
            &[
                ("client_id", client),
                ("continuation_token", &ct),
                ("grant_type", "continuation_token"),
                ("scope", SCOPE),
                ("client_info", "1"),
            ],
        )
        .await?;
        Ok(())
    }

    /// One refresh grant on an idle session; the rotated token goes back to the pool.
    async fn refresh(&self) -> Step<()> {
        let token = self
            .sessions
            .lock()
            .ok()
            .and_then(|mut s| s.pop())
            .ok_or_else(|| fail("token", "dropped: no idle session (raise --sessions)"))?;
        let r = self
            .post(
                "token",
                "oauth2/v2.0/token",
                &[
                    ("client_id", self.target.client_id.as_str()),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                    ("scope", SCOPE),
                    ("client_info", "1"),
                ],
            )
            .await?;
        let next = str_of(&r, "refresh_token", "token")?;
        if let Ok(mut s) = self.sessions.lock() {
            s.push(next);
        }
        Ok(())
    }
}

/// `503 temporarily_unavailable [50xxx]` from an Entra error envelope (or the bare status).
fn describe(status: u16, body: &Value) -> String {
    let error = body.get("error").and_then(Value::as_str).unwrap_or("");
    let codes: Vec<String> = body
        .get("error_codes")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let suberror = body.get("suberror").and_then(Value::as_str);
    let mut out = format!("{status} {error}");
    if !codes.is_empty() {
        out.push_str(&format!(" [{}]", codes.join(",")));
    }
    if let Some(s) = suberror {
        out.push_str(&format!(" {s}"));
    }
    out.trim_end().to_owned()
}

fn short(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_named_by_status_error_and_codes() {
        let body = serde_json::json!({"error": "invalid_grant", "error_codes": [50126], "suberror": "x"});
        assert_eq!(describe(400, &body), "400 invalid_grant [50126] x");
        assert_eq!(describe(502, &Value::Null), "502");
    }
}
