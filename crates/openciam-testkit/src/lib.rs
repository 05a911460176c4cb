//! Test harness for openciam's end-to-end suites: [`TestApp::spawn`] starts a real server on
//! `127.0.0.1:0` over a fresh SQLite database in a temporary directory, with a [`FakeClock`] the
//! test can move, and returns a client plus helpers for the common calls.

#![expect(clippy::unwrap_used, reason = "a test harness fails loudly")]

use base64::Engine as _;
use openciam::seed::{DEMO_CLIENT_ID, DEMO_TENANT};
use openciam_core::clock::FakeClock;
use openciam_core::crypto::MasterKey;
use openciam_core::mail::{MailError, MailTenant, MailboxFilter, MailboxReader, Mailer, OutboundEmail};
use openciam_core::security::rate_limit::{LimitProfile, ProfileName};
use openciam_core::services::{CoreConfig, Services};
use openciam_core::sms::{OutboundSms, SmsError, SmsSender};
use openciam_core::strategy::email_otp::OtpConfig;
use openciam_core::strategy::password::HasherConfig;
use openciam_core::token::TokenConfig;
use openciam_http::{HttpConfig, TrustedProxy};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub mod tcp_proxy;
pub use tcp_proxy::{ProxyMode, TcpProxy};

/// The demo app's client id, as a string.
pub fn demo_client() -> String {
    DEMO_CLIENT_ID.to_string()
}

/// Options for a test server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Allow any CORS origin (dev mode). Default false, so CORS tests see real allow-lists.
    pub cors_any_origin: bool,
    /// Refresh-token reuse grace, seconds.
    pub refresh_reuse_grace: u64,
    /// Body cap, bytes.
    pub body_limit: usize,
    /// Seconds between codes of one flow (0: resends at once).
    pub resend_interval: u64,
    /// Codes per address per hour.
    pub max_codes_per_address: i64,
    /// How long a one-time code lives, seconds (default 600, as `serve`).
    pub code_ttl: u64,
    /// Rate-limit profile (default `test`: no per-IP limit, per-target limits no suite reaches).
    pub limits: ProfileName,
    /// `[http] trusted_proxy_header` and `trusted_proxy_hops` (default none: the peer address).
    pub trusted_proxy: Option<(String, usize)>,
    /// Start the admin listener (`/metrics`, `/admin/v1/`) on another ephemeral port
    /// (`TestApp::admin_origin`). Default false.
    pub admin_listen: bool,
    /// The admin API's token (`[admin] token`); default none: every admin call is refused.
    pub admin_token: Option<String>,
    /// Password hashes computed at once (default 2).
    pub hash_concurrency: usize,
    /// Requests that may wait for a hash slot before new ones are shed (default 64).
    pub hash_queue: usize,
    /// On PostgreSQL, connect the server through a [`TcpProxy`] (`TestApp::db_proxy`) that the
    /// test can cut and restore. Ignored on SQLite. Default false.
    pub db_proxy: bool,
    /// How long a request waits for a pooled database connection (default 5 s, as `serve`).
    pub db_acquire_timeout: Duration,
    /// Send mail over plain SMTP to this relay (timeouts 1 s) instead of the dev mailbox.
    /// Default none.
    pub smtp_relay: Option<std::net::SocketAddr>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cors_any_origin: false,
            refresh_reuse_grace: 0,
            body_limit: 64 * 1024,
            resend_interval: 0,
            max_codes_per_address: 20,
            code_ttl: 600,
            limits: ProfileName::Test,
            trusted_proxy: None,
            admin_listen: false,
            admin_token: None,
            hash_concurrency: 2,
            hash_queue: 64,
            db_proxy: false,
            db_acquire_timeout: Duration::from_secs(5),
            smtp_relay: None,
        }
    }
}

/// A running test server.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// `{origin}/demo`.
    pub base: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// Move time with `clock.advance(secs)`.
    pub clock: Arc<FakeClock>,
    /// The server's services (for set-up through the admin service).
    pub services: Arc<Services>,
    /// The data directory (a dev data dir: `openciam --data` works on it).
    pub dir: tempfile::TempDir,
    /// The dev mailbox the server sends to.
    pub mailbox: Arc<dyn MailboxReader>,
    /// Make every send fail (a relay outage) while true.
    pub mail_down: Arc<AtomicBool>,
    /// Make every SMS fail (a provider outage) while true. SMS go to the dev mailbox
    /// (`channel: "sms"`, keyed by E.164): read them with [`TestApp::latest_code`].
    pub sms_down: Arc<AtomicBool>,
    /// The database URL the server uses.
    pub database_url: String,
    /// `http://127.0.0.1:PORT` of the admin listener (`Options::admin_listen`).
    pub admin_origin: Option<String>,
    /// The PostgreSQL schema to drop at the end, when the backend is PostgreSQL.
    pg: Option<PgSchema>,
    /// The proxy between the server and PostgreSQL (`Options::db_proxy`).
    pub db_proxy: Option<Arc<TcpProxy>>,
    /// The server's own SQLite store (its pool), on the SQLite backend.
    sqlite: Option<openciam_store::SqliteStore>,
}

/// Which database the suite runs on: `OPENCIAM_TEST_BACKEND=postgres` selects PostgreSQL at
/// `OPENCIAM_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), one fresh
/// schema per test app; anything else, SQLite in the app's temporary directory.
pub fn postgres_url() -> Option<String> {
    (std::env::var("OPENCIAM_TEST_BACKEND").as_deref() == Ok("postgres")).then(|| {
        std::env::var("OPENCIAM_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    })
}

/// A per-test PostgreSQL schema, dropped when the test app is.
#[derive(Debug, Clone)]
struct PgSchema {
    base_url: String,
    name: String,
}

impl PgSchema {
    async fn create(base_url: &str) -> Self {
        use sqlx::Connection as _;
        let name = format!("oc_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(base_url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA \"{name}\""))
            .execute(&mut conn)
            .await
            .unwrap();
        Self {
            base_url: base_url.to_owned(),
            name,
        }
    }

    fn url(&self) -> String {
        let sep = if self.base_url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base_url, self.name)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some(schema) = self.pg.take() else { return };
        // A runtime of its own: Drop cannot await, and the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                use sqlx::Connection as _;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&schema.base_url).await {
                    let drop = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", schema.name);
                    let _ = sqlx::query(&drop).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// Opens the database at `url` as the server will: on SQLite keeping a handle on the store's
/// pool; on PostgreSQL through a [`TcpProxy`] when `options.db_proxy` asks for one.
async fn open_store(
    url: &str,
    options: &Options,
) -> (
    Arc<dyn openciam_core::ports::Store>,
    Option<openciam_store::SqliteStore>,
    Option<Arc<TcpProxy>>,
) {
    if !url.starts_with("postgres") {
        let sqlite = openciam_store::SqliteStore::open(url).await.unwrap();
        sqlite.migrate().await.unwrap();
        return (Arc::new(sqlite.clone()), Some(sqlite), None);
    }
    let store_options = openciam::app::StoreOptions {
        acquire_timeout: options.db_acquire_timeout,
        ..openciam::app::StoreOptions::default()
    };
    if !options.db_proxy {
        let store = openciam::app::open_store_with(url, &store_options).await.unwrap();
        return (store, None, None);
    }
    let mut proxied = reqwest::Url::parse(url).unwrap();
    let host = proxied.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = proxied.port().unwrap_or(5432);
    let upstream = tokio::net::lookup_host((host.as_str(), port))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = TcpProxy::start(upstream).await;
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(proxy.addr.port())).unwrap();
    let store = openciam::app::open_store_with(proxied.as_str(), &store_options)
        .await
        .unwrap();
    (store, None, Some(proxy))
}

/// Delivers to the dev mailbox unless the test switched mail off.
struct SwitchableMailer {
    inner: Arc<dyn Mailer>,
    down: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Mailer for SwitchableMailer {
    async fn send(&self, tenant: &MailTenant, mail: &OutboundEmail) -> Result<(), MailError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(MailError::Unavailable(anyhow::anyhow!("test relay is down")));
        }
        self.inner.send(tenant, mail).await
    }
}

/// Delivers SMS to the dev mailbox unless the test switched SMS off.
struct SwitchableSms {
    inner: Arc<dyn SmsSender>,
    down: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl SmsSender for SwitchableSms {
    async fn send(&self, tenant: &MailTenant, sms: &OutboundSms) -> Result<(), SmsError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(SmsError::Unavailable(anyhow::anyhow!(
                "test SMS provider is down"
            )));
        }
        self.inner.send(tenant, sms).await
    }
}

/// A response, parsed.
#[derive(Debug, Clone)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// JSON body (`Null` when empty or not JSON).
    pub body: serde_json::Value,
}

impl Resp {
    /// A string member of the body.
    pub fn str(&self, key: &str) -> &str {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string '{key}' in {}", self.body))
    }

    /// `error_codes`.
    pub fn codes(&self) -> Vec<u64> {
        self.body["error_codes"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
            .unwrap_or_default()
    }

    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an Entra error: status 400, `error` and first code.
    #[track_caller]
    pub fn assert_error(&self, error: &str, code: u64) {
        assert_eq!(self.status, 400, "{}", self.body);
        assert_eq!(self.body["error"], error, "{}", self.body);
        assert_eq!(self.codes(), vec![code], "{}", self.body);
        let description = self.str("error_description");
        assert!(
            description.starts_with(&format!("AADSTS{code}: ")),
            "{description}"
        );
        assert!(description.contains("\r\nTrace ID: "), "{description}");
        assert!(self.body["trace_id"].is_string() && self.body["correlation_id"].is_string());
    }

    /// The decoded payload of a JWT member.
    pub fn jwt_claims(&self, key: &str) -> serde_json::Value {
        let token = self.str(key);
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    }
}

impl TestApp {
    /// A server with default options.
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    /// A server with `options`, in a new temporary directory.
    pub async fn spawn_with(options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::spawn_in(dir, options).await
    }

    /// A server over an existing data directory (restart tests).
    pub async fn spawn_in(dir: tempfile::TempDir, options: Options) -> Self {
        Self::start(dir, options, None).await
    }

    /// Another node of this deployment: a second server over the same database and master key,
    /// with its own port, clock and dev mailbox (multi-node tests).
    pub async fn another_node(&self, options: Options) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(self.dir.path().join("master.key"), dir.path().join("master.key")).unwrap();
        Self::start(dir, options, Some(self.database_url.clone())).await
    }

    async fn start(dir: tempfile::TempDir, options: Options, shared_url: Option<String>) -> Self {
        let key_path = dir.path().join("master.key");
        if !key_path.exists() {
            std::fs::write(&key_path, MasterKey::generate_base64()).unwrap();
        }
        let master = MasterKey::from_base64(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
        // Restarts over the same directory reuse the same PostgreSQL schema.
        let schema_file = dir.path().join("pg-schema");
        let pg = match postgres_url() {
            _ if shared_url.is_some() => None,
            Some(base) if schema_file.exists() => Some(PgSchema {
                base_url: base,
                name: std::fs::read_to_string(&schema_file).unwrap(),
            }),
            Some(base) => {
                let schema = PgSchema::create(&base).await;
                std::fs::write(&schema_file, &schema.name).unwrap();
                Some(schema)
            }
            None => None,
        };
        let url = shared_url.unwrap_or_else(|| {
            pg.as_ref().map_or_else(
                || openciam::cli::store_args::dev_database_url(dir.path()),
                PgSchema::url,
            )
        });
        // An admin CLI run with `--config` finds the same database and master key.
        std::fs::write(
            dir.path().join("openciam.toml"),
            format!(
                "master_key_file = \"{}\"\n[database]\nurl = \"{url}\"\n",
                key_path.display()
            ),
        )
        .unwrap();
        let (store, sqlite, db_proxy) = open_store(&url, &options).await;
        let (listener, addr) = openciam::app::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{addr}");
        let clock = Arc::new(FakeClock::default());
        let core = CoreConfig {
            tokens: TokenConfig {
                public_url: origin.clone(),
                refresh_reuse_grace: Duration::from_secs(options.refresh_reuse_grace),
                ..TokenConfig::default()
            },
            hasher: HasherConfig {
                concurrency: options.hash_concurrency,
                queue: options.hash_queue,
            },
            otp: OtpConfig {
                resend_interval: Duration::from_secs(options.resend_interval),
                max_per_address_per_hour: options.max_codes_per_address,
                code_ttl: Duration::from_secs(options.code_ttl),
                ..OtpConfig::default()
            },
            limits: LimitProfile::named(options.limits),
            ..CoreConfig::default()
        };
        let http = HttpConfig {
            cors_any_origin: options.cors_any_origin,
            body_limit: options.body_limit,
            trusted_proxy: options
                .trusted_proxy
                .as_ref()
                .map(|(header, hops)| TrustedProxy::new(header, *hops).unwrap()),
            ..HttpConfig::default()
        };
        let setup = openciam_mail::build(&openciam_mail::MailConfig::default(), clock.clone()).unwrap();
        let mailbox = setup.mailbox_reader().unwrap();
        let mail_down = Arc::new(AtomicBool::new(false));
        let relay = options.smtp_relay.map(|relay| {
            let config = openciam_mail::MailConfig {
                backend: openciam_mail::MailBackend::Smtp,
                smtp: Some(openciam_mail::SmtpConfig {
                    host: relay.ip().to_string(),
                    port: Some(relay.port()),
                    tls: openciam_mail::SmtpTls::None,
                    ca_file: None,
                    username: None,
                    password: None,
                    password_file: None,
                    timeout_seconds: 1,
                }),
                from: Some("Demo <no-reply@demo.example>".to_owned()),
                ..openciam_mail::MailConfig::default()
            };
            openciam_mail::build(&config, clock.clone()).unwrap()
        });
        let mailer: Arc<dyn Mailer> = Arc::new(SwitchableMailer {
            inner: relay.as_ref().map_or_else(|| setup.mailer(), |r| r.mailer()),
            down: mail_down.clone(),
        });
        let sms_down = Arc::new(AtomicBool::new(false));
        let sms: Arc<dyn SmsSender> = Arc::new(SwitchableSms {
            inner: setup.sms_outbox().unwrap(),
            down: sms_down.clone(),
        });
        let parts = openciam::app::build(
            store,
            clock.clone(),
            &master,
            (mailer, Some(mailbox.clone())),
            sms,
            core,
            http,
        )
        .await
        .unwrap();
        openciam::seed::seed_demo(&parts.services.admin).await.unwrap();
        let admin_origin = if options.admin_listen {
            let token = options.admin_token.clone().map(secrecy::SecretString::from);
            let bound =
                openciam::admin_listener::spawn("127.0.0.1:0", parts.services.clone(), token.as_ref())
                    .await
                    .unwrap();
            Some(format!("http://{bound}"))
        } else {
            None
        };
        tokio::spawn(openciam::app::serve(listener, parts.router));
        Self {
            base: format!("{origin}/{DEMO_TENANT}"),
            origin,
            http: reqwest::Client::new(),
            clock,
            services: parts.services,
            dir,
            mailbox,
            mail_down,
            sms_down,
            database_url: url,
            admin_origin,
            pg,
            db_proxy,
            sqlite,
        }
    }

    /// Caps the server's SQLite database at its current size plus `extra_pages` pages
    /// (`PRAGMA max_page_count`, on every connection of the server's store, and on those it opens
    /// later), or lifts the cap (`None`); returns the cap in force. Call it while no request is
    /// running. Panics on PostgreSQL.
    pub async fn limit_sqlite_pages(&self, extra_pages: Option<u32>) -> u64 {
        use sqlx::Row as _;
        let Some(store) = &self.sqlite else {
            panic!("limit_sqlite_pages needs the SQLite backend")
        };
        let pages: i64 = sqlx::query("PRAGMA page_count")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
        let cap = extra_pages.map(|extra| pages as u64 + u64::from(extra));
        store.limit_pages(cap).await.unwrap()
    }

    /// `PRAGMA integrity_check` of the server's SQLite database (`"ok"` when sound).
    pub async fn sqlite_integrity(&self) -> String {
        use sqlx::Row as _;
        let Some(store) = &self.sqlite else {
            panic!("sqlite_integrity needs the SQLite backend")
        };
        let pool = store.pool();
        let rows = sqlx::query("PRAGMA integrity_check")
            .fetch_all(pool)
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>(0))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Starts a second server over the same data (directory, database, keys): a restart.
    pub async fn restart(mut self, options: Options) -> Self {
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        // The schema lives on in the new app; this one must not drop it.
        self.pg = None;
        Self::spawn_in(dir, options).await
    }

    /// Arguments that point an admin CLI command at this server's store.
    pub fn store_args(&self) -> Vec<String> {
        match &self.pg {
            Some(_) => vec![
                "--config".into(),
                self.dir.path().join("openciam.toml").display().to_string(),
            ],
            None => vec!["--data".into(), self.dir.path().display().to_string()],
        }
    }

    /// The newest code mailed to `to` (normalised match), if any.
    pub fn latest_code(&self, to: &str) -> Option<String> {
        let filter = MailboxFilter {
            to: Some(to.to_owned()),
            ..MailboxFilter::default()
        };
        self.mailbox.messages(&filter).into_iter().find_map(|m| m.code)
    }

    /// The newest code mailed to `to`, waiting (up to 10 s) for it to arrive: under enumeration
    /// protection mail goes through the outbox and is delivered just after the response. `None`
    /// when none came.
    pub async fn wait_for_code(&self, to: &str) -> Option<String> {
        self.wait_for_mail(to, |m| m.code.is_some())
            .await
            .and_then(|m| m.code)
    }

    /// The newest message to `to` matching `want`, waiting (up to 10 s) for it to arrive.
    pub async fn wait_for_mail(
        &self,
        to: &str,
        want: impl Fn(&openciam_core::mail::StoredMessage) -> bool,
    ) -> Option<openciam_core::mail::StoredMessage> {
        let filter = MailboxFilter {
            to: Some(to.to_owned()),
            ..MailboxFilter::default()
        };
        for _ in 0..1000 {
            if let Some(m) = self.mailbox.messages(&filter).into_iter().find(|m| want(m)) {
                return Some(m);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// Every message mailed to `to`, newest first (nothing waited for).
    pub fn mail_to(&self, to: &str) -> Vec<openciam_core::mail::StoredMessage> {
        let filter = MailboxFilter {
            to: Some(to.to_owned()),
            ..MailboxFilter::default()
        };
        self.mailbox.messages(&filter)
    }

    /// Waits (up to 10 s) until the outbox worker has delivered at least `n` messages in all,
    /// and returns how many it has.
    pub async fn outbox_delivered(&self, n: u64) -> u64 {
        let outbox = &self.services.outbox;
        for _ in 0..1000 {
            if outbox.delivered() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        outbox.delivered()
    }

    /// Waits (up to 10 s) until the outbox worker has failed at least `n` deliveries in all, and
    /// returns how many it has.
    pub async fn outbox_failures(&self, n: u64) -> u64 {
        let outbox = &self.services.outbox;
        for _ in 0..1000 {
            if outbox.failures() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        outbox.failures()
    }

    /// A call to the admin listener: `method` `{admin_origin}{path}` with `token` as bearer (if
    /// any) and `body` as JSON (if any).
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Resp {
        let origin = self.admin_origin.as_deref().unwrap();
        let mut request = self.http.request(method, format!("{origin}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.unwrap()).await
    }

    /// The admin listener's `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        let origin = self.admin_origin.as_deref().unwrap();
        let response = self.http.get(format!("{origin}/metrics")).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.text().await.unwrap()
    }

    /// POSTs a form to `{base}/{path}`.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.post_to(&format!("{}/{path}", self.base), form).await
    }

    /// POSTs a form to an absolute URL.
    pub async fn post_to(&self, url: &str, form: &[(&str, &str)]) -> Resp {
        read(self.http.post(url).form(form).send().await.unwrap()).await
    }

    /// GETs an absolute URL.
    pub async fn get(&self, url: &str) -> Resp {
        read(self.http.get(url).send().await.unwrap()).await
    }

    /// Creates a demo-tenant user with a password.
    pub async fn create_user(&self, email: &str, password: &str) {
        let pw = openciam_core::secret::Password::new(password);
        self.services
            .admin
            .create_user(DEMO_TENANT, email, Some(&pw), serde_json::Map::new())
            .await
            .unwrap();
    }

    /// `initiate` + `challenge` for the demo app; returns the password-grant continuation token.
    pub async fn password_token(&self, email: &str) -> String {
        let client = demo_client();
        let r = self
            .post(
                "oauth2/v2.0/initiate",
                &[
                    ("client_id", &client),
                    ("username", email),
                    ("challenge_type", "password redirect"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let ct = r.str("continuation_token").to_owned();
        let r = self
            .post(
                "oauth2/v2.0/challenge",
                &[
                    ("client_id", &client),
                    ("continuation_token", &ct),
                    ("challenge_type", "password redirect"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["challenge_type"], "password");
        r.str("continuation_token").to_owned()
    }

    /// The password grant with `ct`.
    pub async fn token_password(&self, ct: &str, password: &str, scope: &str) -> Resp {
        let client = demo_client();
        self.post(
            "oauth2/v2.0/token",
            &[
                ("client_id", &client),
                ("continuation_token", ct),
                ("grant_type", "password"),
                ("password", password),
                ("scope", scope),
                ("client_info", "1"),
            ],
        )
        .await
    }

    /// A full password sign-in; asserts success.
    pub async fn sign_in(&self, email: &str, password: &str, scope: &str) -> Resp {
        let ct = self.password_token(email).await;
        let r = self.token_password(&ct, password, scope).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r
    }

    /// The refresh grant for the demo app.
    pub async fn refresh(&self, refresh_token: &str, scope: &str) -> Resp {
        let client = demo_client();
        self.post(
            "oauth2/v2.0/token",
            &[
                ("client_id", &client),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("scope", scope),
                ("client_info", "1"),
            ],
        )
        .await
    }
}

async fn read(response: reqwest::Response) -> Resp {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}
