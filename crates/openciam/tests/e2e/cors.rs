//! CORS as spec §2.5 "openciam decision".

use openciam_core::admin::NewApp;
use openciam_core::model::SignInMethod;
use openciam_testkit::{Options, TestApp};

const GOOD: &str = "https://app.example";
const OTHER_APP_ORIGIN: &str = "https://other.example";
const EVIL: &str = "https://evil.example";

async fn setup() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let mk = |name: &str, origin: &str| NewApp {
        client_id: None,
        display_name: name.into(),
        method: SignInMethod::EmailPassword,
        native_auth: true,
        cors_origins: vec![origin.into()],
        identifier_uri: None,
        scopes: vec![],
        signup_attributes: vec![],
        mfa: None,
    };
    let a = app
        .services
        .admin
        .create_app("demo", mk("web", GOOD))
        .await
        .unwrap();
    app.services
        .admin
        .create_app("demo", mk("other", OTHER_APP_ORIGIN))
        .await
        .unwrap();
    (app, a.client_id.to_string())
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/oauth2/v2.0/initiate", app.base),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,client-request-id,x-client-sku,x-app-custom",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn preflight_uses_the_tenant_union() {
    let (app, _) = setup().await;
    for origin in [GOOD, OTHER_APP_ORIGIN] {
        let r = preflight(&app, origin).await;
        assert_eq!(r.status(), 204);
        assert_eq!(r.headers()["access-control-allow-origin"], origin);
        let allowed = r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_owned();
        for h in [
            "content-type",
            "client-request-id",
            "x-client-sku",
            "x-app-custom",
        ] {
            assert!(allowed.contains(h), "{allowed}");
        }
        assert!(
            r.headers()["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
    }
    let r = preflight(&app, EVIL).await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

async fn initiate_from(app: &TestApp, origin: &str, client: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/oauth2/v2.0/initiate", app.base))
        .header("origin", origin)
        .form(&[
            ("client_id", client),
            ("username", "nobody@example.com"),
            ("challenge_type", "password redirect"),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn actual_responses_follow_the_calling_apps_list() {
    let (app, client) = setup().await;
    let r = initiate_from(&app, GOOD, &client).await;
    assert_eq!(r.status(), 400, "user_not_found is still readable cross-origin");
    assert_eq!(r.headers()["access-control-allow-origin"], GOOD);
    assert!(r.headers()["vary"].to_str().unwrap().contains("Origin"));
    let exposed = r.headers()["access-control-expose-headers"].to_str().unwrap();
    for h in ["x-ms-request-id", "client-request-id", "retry-after"] {
        assert!(exposed.contains(h), "{exposed}");
    }
    // The other app's origin is in the tenant union but not in this app's list.
    let r = initiate_from(&app, OTHER_APP_ORIGIN, &client).await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert!(r.headers()["vary"].to_str().unwrap().contains("Origin"));
}

#[tokio::test]
async fn errors_before_the_app_is_known_use_the_tenant_union() {
    let (app, _) = setup().await;
    let r = app
        .http
        .post(format!("{}/oauth2/v2.0/initiate", app.base))
        .header("origin", GOOD)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["access-control-allow-origin"], GOOD);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn dev_mode_allows_any_origin() {
    let app = TestApp::spawn_with(Options {
        cors_any_origin: true,
        ..Options::default()
    })
    .await;
    let r = preflight(&app, EVIL).await;
    assert_eq!(r.headers()["access-control-allow-origin"], EVIL);
    let r = initiate_from(&app, EVIL, &openciam_testkit::demo_client()).await;
    assert_eq!(r.headers()["access-control-allow-origin"], EVIL);
}
