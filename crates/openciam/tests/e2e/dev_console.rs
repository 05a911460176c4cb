//! The dev console (`GET /_dev/`) and the flow trace (`GET /_dev/flows`) over HTTP: calls linked
//! into flows by continuation tokens whatever their client-request-ids, secrets masked, errors
//! explained, look-ups, bounded memory, and nothing of it under `openciam serve`.

use openciam_testkit::{Resp, TestApp, demo_client};
use serde_json::Value;
use std::process::Command;

const PW: &str = "Trace-Secret-Pass-2026!";
const EMAIL: &str = "trace@example.com";
/// A code no message carries (the real ones are mailed and shown in the mailbox).
const WRONG_CODE: &str = "97531864";

/// POSTs `form` to `{base}/{path}` with a `client-request-id` of our choosing (mobile clients
/// send a new one per call).
async fn post_as(app: &TestApp, corr: &str, path: &str, form: &[(&str, &str)]) -> Resp {
    let r = app
        .http
        .post(format!("{}/{path}", app.base))
        .header("client-request-id", corr)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default();
    Resp {
        status,
        headers,
        body,
    }
}

async fn text(app: &TestApp, path_and_query: &str) -> String {
    let r = app
        .http
        .get(format!("{}{path_and_query}", app.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path_and_query}");
    r.text().await.unwrap()
}

async fn flows(app: &TestApp, query: &str) -> Vec<Value> {
    let body: Value = serde_json::from_str(&text(app, &format!("/_dev/flows?{query}")).await).unwrap();
    body["flows"].as_array().unwrap().clone()
}

/// A sign-up with a password, a wrong code, the right code, then the sign-up token sent with
/// `grant_type=password` (the classic mistake), then redeemed correctly. Every call has its own
/// client-request-id. Returns the secrets the trace must never show.
async fn sign_up_with_mistakes(app: &TestApp) -> Vec<String> {
    let client = demo_client();
    let r = post_as(
        app,
        "corr-1",
        "signup/v1.0/start",
        &[
            ("client_id", &client),
            ("username", EMAIL),
            ("password", PW),
            ("challenge_type", "oob password redirect"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct1 = r.str("continuation_token").to_owned();
    let r = post_as(
        app,
        "corr-2",
        "signup/v1.0/challenge",
        &[
            ("client_id", &client),
            ("continuation_token", &ct1),
            ("challenge_type", "oob password redirect"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct2 = r.str("continuation_token").to_owned();
    let code = app.wait_for_code(EMAIL).await.unwrap();
    let r = post_as(
        app,
        "corr-3",
        "signup/v1.0/continue",
        &[
            ("client_id", &client),
            ("continuation_token", &ct2),
            ("grant_type", "oob"),
            ("oob", WRONG_CODE),
        ],
    )
    .await;
    r.assert_error("invalid_grant", 50181);
    let r = post_as(
        app,
        "corr-4",
        "signup/v1.0/continue",
        &[
            ("client_id", &client),
            ("continuation_token", &ct2),
            ("grant_type", "oob"),
            ("oob", &code),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ct3 = r.str("continuation_token").to_owned();
    let token_form = |grant: &'static str| {
        vec![
            ("client_id", client.clone()),
            ("continuation_token", ct3.clone()),
            ("grant_type", grant.to_owned()),
            ("password", PW.to_owned()),
            ("scope", "openid offline_access".to_owned()),
        ]
    };
    let wrong = token_form("password");
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_as(app, "corr-5", "oauth2/v2.0/token", &wrong)
        .await
        .assert_error("invalid_request", 55200);
    let right = token_form("continuation_token");
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_as(app, "corr-6", "oauth2/v2.0/token", &right).await;
    assert_eq!(r.status, 200, "{}", r.body);
    vec![
        PW.to_owned(),
        WRONG_CODE.to_owned(),
        code,
        ct1,
        ct2,
        ct3,
        r.str("access_token").to_owned(),
        r.str("id_token").to_owned(),
        r.str("refresh_token").to_owned(),
    ]
}

#[tokio::test]
async fn a_sign_up_is_one_flow_across_client_request_ids_with_secrets_masked_and_errors_explained() {
    let app = TestApp::spawn().await;
    let secrets = sign_up_with_mistakes(&app).await;

    // Look-up by username: one flow, six calls in order, every one with its own correlation id.
    let by_user = flows(&app, "username=TRACE@example.com").await;
    assert_eq!(by_user.len(), 1, "{by_user:#?}");
    let flow = &by_user[0];
    assert_eq!(flow["kind"], "sign-up");
    assert_eq!(flow["username"], EMAIL);
    assert_eq!(flow["tenant"], "demo");
    let calls = flow["calls"].as_array().unwrap();
    let endpoints: Vec<&str> = calls.iter().map(|c| c["endpoint"].as_str().unwrap()).collect();
    assert_eq!(
        endpoints,
        [
            "/{tenant}/signup/v1.0/start",
            "/{tenant}/signup/v1.0/challenge",
            "/{tenant}/signup/v1.0/continue",
            "/{tenant}/signup/v1.0/continue",
            "/{tenant}/oauth2/v2.0/token",
            "/{tenant}/oauth2/v2.0/token",
        ]
    );
    let corrs: Vec<&str> = calls
        .iter()
        .map(|c| c["correlation_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        corrs,
        ["corr-1", "corr-2", "corr-3", "corr-4", "corr-5", "corr-6"]
    );
    let statuses: Vec<u64> = calls.iter().map(|c| c["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [200, 200, 400, 200, 400, 200]);
    for c in calls {
        assert_eq!(c["client_id"], demo_client().as_str());
        assert!(c["trace_id"].as_str().is_some_and(|t| t.len() == 36), "{c}");
        assert!(c["at"].as_str().is_some_and(|t| t.ends_with('Z')), "{c}");
    }
    // The continuation token a response issued is the one the next call presented, shown only
    // as the same fingerprint.
    let issued = calls[0]["response"]["continuation_token"].as_str().unwrap();
    assert!(issued.starts_with("ct#") && issued.len() == 11, "{issued}");
    assert_eq!(calls[1]["params"]["continuation_token"], issued);
    assert_eq!(calls[0]["params"]["password"], "(hidden, 23 characters)");
    assert_eq!(calls[2]["params"]["oob"], "(hidden, 8 characters)");
    assert!(
        calls[5]["response"]["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("rt#")
    );

    // Errors are explained: the wrong code, and the sign-up token sent with the password grant.
    let wrong_code = calls[2]["explanation"].as_str().unwrap();
    assert!(wrong_code.contains("code does not match"), "{wrong_code}");
    assert!(wrong_code.contains("same continuation_token"), "{wrong_code}");
    let wrong_grant = calls[4]["explanation"].as_str().unwrap();
    assert!(
        wrong_grant.contains("sign-up is already complete"),
        "{wrong_grant}"
    );
    assert!(
        wrong_grant.contains("grant_type=continuation_token"),
        "{wrong_grant}"
    );
    assert!(
        wrong_grant.contains("came from signup/v1.0/continue, which answered 200"),
        "{wrong_grant}"
    );
    assert!(calls[3].get("explanation").is_none(), "{}", calls[3]);

    // Look-ups by correlation id (any call of the flow) and by flow id find the same flow.
    let id = flow["id"].as_str().unwrap();
    for query in [
        "correlation_id=corr-3",
        "correlation_id=corr-6",
        &format!("flow={id}"),
    ] {
        let found = flows(&app, query).await;
        assert_eq!(found.len(), 1, "{query}");
        assert_eq!(found[0]["id"], id, "{query}");
    }
    assert!(flows(&app, "correlation_id=nobody").await.is_empty());
    assert!(flows(&app, "username=nobody@example.com").await.is_empty());

    // No secret appears in the JSON trace; the console shows the user, the explained error and
    // the code the mailbox got, but no password, token or submitted code.
    let json = text(&app, "/_dev/flows").await;
    let page = text(&app, "/_dev/").await;
    let (password, wrong, mailed) = (&secrets[0], &secrets[1], &secrets[2]);
    for s in &secrets {
        assert!(!json.contains(s.as_str()), "/_dev/flows shows a secret: {s}");
        if s != mailed {
            assert!(!page.contains(s.as_str()), "/_dev/ shows a secret: {s}");
        }
    }
    assert!(!page.contains(password.as_str()) && !page.contains(wrong.as_str()));
    assert!(page.contains(mailed.as_str()), "the mailbox shows the code");
    assert!(page.contains(EMAIL));
    assert!(page.contains("What went wrong"));
    assert!(page.contains("sign-up is already complete"));
    assert!(page.contains("<main") && page.contains("<h1>") && page.contains("lang=\"en\""));
}

#[tokio::test]
async fn the_console_escapes_what_callers_send() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let r = post_as(
        &app,
        "<script>corr</script>",
        "oauth2/v2.0/initiate",
        &[
            ("client_id", &client),
            ("username", "<script>alert(1)</script>@example.com"),
            ("challenge_type", "password redirect"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let page = text(&app, "/_dev/").await;
    assert!(!page.contains("<script>"), "unescaped input on the page");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;@example.com"));
    // The refusal is explained on the page too.
    assert!(page.contains("Sign the user up first"), "{page}");
}

#[tokio::test]
async fn the_trace_keeps_only_the_latest_flows() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let body: Value = serde_json::from_str(&text(&app, "/_dev/flows").await).unwrap();
    let limit = usize::try_from(body["limit"].as_u64().unwrap()).unwrap();
    assert_eq!(limit, 200);
    // Each initiate for a new address starts a flow of its own.
    for i in 0..limit + 25 {
        let user = format!("bulk{i}@example.com");
        let r = post_as(
            &app,
            &format!("bulk-{i}"),
            "oauth2/v2.0/initiate",
            &[
                ("client_id", &client),
                ("username", &user),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
        assert!(r.status == 200 || r.status == 400, "{}", r.body);
    }
    let body: Value = serde_json::from_str(&text(&app, "/_dev/flows").await).unwrap();
    assert_eq!(body["kept"].as_u64(), Some(limit as u64));
    let all = body["flows"].as_array().unwrap();
    assert_eq!(all.len(), limit);
    // Newest first; the oldest 25 are gone.
    assert_eq!(all[0]["username"], format!("bulk{}@example.com", limit + 24));
    assert_eq!(all[limit - 1]["username"], "bulk25@example.com");
    assert!(flows(&app, "username=bulk24@example.com").await.is_empty());
    assert!(flows(&app, "correlation_id=bulk-0").await.is_empty());
    assert_eq!(flows(&app, "username=bulk25@example.com").await.len(), 1);
    assert_eq!(flows(&app, "limit=3").await.len(), 3);
}

/// `openciam serve` (an SMTP relay, no dev mailbox): none of the `/_dev/` routes exist.
#[tokio::test]
async fn serve_has_no_dev_routes() {
    use std::io::{BufRead as _, BufReader};
    let app = TestApp::spawn().await;
    let config = app.dir.path().join("serve-dev-console.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\npublic_url = \"http://login.openciam.test\"\n\
             master_key_file = \"{}\"\n[database]\nurl = \"{}\"\n\
             [mail]\nbackend = \"smtp\"\nfrom = \"Demo <no-reply@demo.example>\"\n\
             [mail.smtp]\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n",
            app.dir.path().join("master.key").display(),
            app.database_url,
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_openciam"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("OPENCIAM_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("openciam listening"))
        .unwrap();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let origin = format!("http://{addr}");
    // A protocol call first, which a dev server would record.
    let r = app
        .http
        .post(format!("{origin}/demo/oauth2/v2.0/initiate"))
        .form(&[
            ("client_id", demo_client().as_str()),
            ("username", EMAIL),
            ("challenge_type", "password redirect"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status() == 400);
    let mut statuses = Vec::new();
    for path in [
        "/_dev/",
        "/_dev/flows",
        "/_dev/flows?username=trace@example.com",
        "/_dev/mailbox",
    ] {
        let r = app.http.get(format!("{origin}{path}")).send().await.unwrap();
        statuses.push((path, r.status().as_u16()));
    }
    let _ = child.kill();
    let _ = child.wait();
    for (path, status) in statuses {
        assert_eq!(status, 404, "{path} under serve");
    }
    // The dev server (the test app) has them.
    assert!(text(&app, "/_dev/").await.contains("openciam dev console"));
}

/// A call to make and the words its explanation must contain: (client-request-id, path, form, words).
type Mistake<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a str);

/// The first call of a flow that is refused is explained by the table: a wrong endpoint, a
/// missing field, a missing `redirect` capability, an unknown app.
#[tokio::test]
async fn common_mistakes_are_explained() {
    let app = TestApp::spawn().await;
    let client = demo_client();
    let cases: [Mistake<'_>; 4] = [
        (
            "m-endpoint",
            "signup/v2.0/start",
            vec![("client_id", client.as_str()), ("username", EMAIL)],
            "Nothing answers at this path",
        ),
        (
            "m-missing",
            "oauth2/v2.0/initiate",
            vec![("client_id", client.as_str()), ("username", EMAIL)],
            "required form field is missing",
        ),
        (
            "m-redirect",
            "oauth2/v2.0/initiate",
            vec![
                ("client_id", client.as_str()),
                ("username", EMAIL),
                ("challenge_type", "password"),
            ],
            "must always include 'redirect'",
        ),
        (
            "m-client",
            "oauth2/v2.0/initiate",
            vec![
                ("client_id", "99999999-9999-9999-9999-999999999999"),
                ("username", EMAIL),
                ("challenge_type", "password redirect"),
            ],
            "not an app of this tenant",
        ),
    ];
    for (corr, path, form, expected) in &cases {
        let r = post_as(&app, corr, path, form).await;
        assert!(r.status == 400 || r.status == 404, "{path}: {}", r.body);
        let found = flows(&app, &format!("correlation_id={corr}")).await;
        assert_eq!(found.len(), 1, "{corr}");
        let call = &found[0]["calls"][0];
        assert_eq!(call["status"].as_u64(), Some(u64::from(r.status)), "{call}");
        let text = call["explanation"].as_str().unwrap_or_default();
        assert!(text.contains(expected), "{corr}: {text}");
    }
}
