//! Tenant path forms and isolation.

use openciam_core::admin::NewApp;
use openciam_core::model::SignInMethod;
use openciam_testkit::{TestApp, demo_client};

const PW: &str = "Correct-Horse-9";
const DEMO_GUID: &str = "de000000-0000-4000-8000-000000000001";

#[tokio::test]
async fn every_path_form_is_one_tenant() {
    let app = TestApp::spawn().await;
    app.create_user("ada@example.com", PW).await;
    for segment in ["demo", "DEMO", "demo.onmicrosoft.com", DEMO_GUID] {
        let r = app
            .post_to(
                &format!("{}/{segment}/oauth2/v2.0/initiate", app.origin),
                &[
                    ("client_id", &demo_client()),
                    ("username", "ada@example.com"),
                    ("challenge_type", "password redirect"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{segment}: {}", r.body);
    }
    // A token minted under the name form continues under the GUID form.
    let ct = app.password_token("ada@example.com").await;
    let r = app
        .post_to(
            &format!("{}/{DEMO_GUID}/oauth2/v2.0/token", app.origin),
            &[
                ("client_id", &demo_client()),
                ("continuation_token", &ct),
                ("grant_type", "password"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn unknown_tenant_is_90002() {
    let app = TestApp::spawn().await;
    let r = app
        .post_to(
            &format!("{}/nowhere/oauth2/v2.0/initiate", app.origin),
            &[
                ("client_id", &demo_client()),
                ("username", "a@example.com"),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    r.assert_error("invalid_request", 90002);
    assert!(r.str("error_description").contains("Tenant 'nowhere' not found."));
}

#[tokio::test]
async fn tenants_are_isolated() {
    let app = TestApp::spawn().await;
    let admin = &app.services.admin;
    admin
        .create_tenant(
            "other",
            None,
            None,
            openciam_core::strategy::password_policy::PolicyProfile::SERVE_DEFAULT,
        )
        .await
        .unwrap();
    let other_app = admin
        .create_app(
            "other",
            NewApp {
                client_id: None,
                display_name: "other app".into(),
                method: SignInMethod::EmailPassword,
                native_auth: true,
                cors_origins: vec![],
                identifier_uri: None,
                scopes: vec![],
                signup_attributes: vec![],
                mfa: None,
            },
        )
        .await
        .unwrap();
    let other_client = other_app.client_id.to_string();
    // The same address in two tenants is two users with their own passwords.
    app.create_user("same@example.com", PW).await;
    let pw2 = openciam_core::secret::Password::new("Other-Tenant-Pass-1");
    admin
        .create_user("other", "same@example.com", Some(&pw2), serde_json::Map::new())
        .await
        .unwrap();
    let initiate = |tenant: &'static str, client: String| {
        let app = &app;
        async move {
            app.post_to(
                &format!("{}/{tenant}/oauth2/v2.0/initiate", app.origin),
                &[
                    ("client_id", &client),
                    ("username", "same@example.com"),
                    ("challenge_type", "password redirect"),
                ],
            )
            .await
        }
    };
    // An app of tenant A is refused under tenant B.
    let r = initiate("other", demo_client()).await;
    r.assert_error("unauthorized_client", 700016);
    assert!(r.str("error_description").contains("another tenant"));
    // A token of tenant "other" is refused under "demo" even with a valid demo client.
    let ct = initiate("other", other_client.clone())
        .await
        .str("continuation_token")
        .to_owned();
    let r = app
        .post(
            "oauth2/v2.0/challenge",
            &[
                ("client_id", &demo_client()),
                ("continuation_token", &ct),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    r.assert_error("invalid_request", 55200);
    // And each tenant's user signs in with its own password.
    let r = app
        .post_to(
            &format!("{}/other/oauth2/v2.0/challenge", app.origin),
            &[
                ("client_id", &other_client),
                ("continuation_token", &ct),
                ("challenge_type", "password redirect"),
            ],
        )
        .await;
    let pct = r.str("continuation_token").to_owned();
    let token = |pw: &'static str| {
        let app = &app;
        let pct = pct.clone();
        let client = other_client.clone();
        async move {
            app.post_to(
                &format!("{}/other/oauth2/v2.0/token", app.origin),
                &[
                    ("client_id", &client),
                    ("continuation_token", &pct),
                    ("grant_type", "password"),
                    ("password", pw),
                ],
            )
            .await
        }
    };
    token(PW).await.assert_error("invalid_grant", 50126);
    let r = token("Other-Tenant-Pass-1").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(r.jwt_claims("id_token")["tid"], DEMO_GUID);
}
