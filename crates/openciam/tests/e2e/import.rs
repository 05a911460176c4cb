//! `openciam user import` through the real binary, then sign-in over HTTP: imported users keep
//! their passwords in every accepted hash format, and their first sign-in leaves argon2id behind.

use openciam_testkit::TestApp;
use serde_json::json;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_openciam");
const CURRENT: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

/// One user per accepted form: (address, password, hash). The hashes were produced by
/// independent tools (pyca bcrypt 5.0, passlib 1.7.4, argon2-cffi 25.1, Python's hashlib).
const USERS: &[(&str, &str, &str)] = &[
    (
        "bcrypt2b@example.com",
        "bcrypt-2b pw",
        "$2b$05$ciQngegaapEMRP8vKRRyiOggXEniWkVUuQaXnStrWmnu/3EnptHS6",
    ),
    (
        "bcrypt2a@example.com",
        "bcrypt-2a pw",
        "$2a$05$y26M2XATRoREXDaSnNrxP.3OeuDjEWWISjqtjvMrHOMnhSOMqRjUy",
    ),
    (
        "bcrypt2y@example.com",
        "bcrypt-2y pw",
        "$2y$05$.yYaT33AyVwkgMpQOgUc1uflCYqE.RVXcrfWSw1nKfppj0vdlYq3O",
    ),
    (
        "argon2id@example.com",
        "argon2id pw",
        "$argon2id$v=19$m=1024,t=1,p=2$tlCuQ99Vw/jcFJym/N8wBw$RSZBPq6/oIhRJinsrdnkbJH57+ZYcYYELx9yiqjsKmQ",
    ),
    (
        "argon2i@example.com",
        "argon2i pw",
        "$argon2i$v=19$m=512,t=2,p=1$rXDnBwCxeUSNCnk3hyDVow$eV/bDTXxdJuk1qjj6HidogOfLe/zpkvagn90HqHht5s",
    ),
    (
        "argon2d@example.com",
        "argon2d pw",
        "$argon2d$v=19$m=512,t=2,p=1$W/O9MEAwvZ1lXbbVjyRo8A$2cbnqDAaIpIN9/kVYOmKMxwmmPYJrgqBVXkYmtIDV2U",
    ),
    (
        "scrypt@example.com",
        "scrypt pw",
        "$scrypt$ln=10,r=8,p=1$Vs/rLJhLOP6cpVxhOu1EMQ$kYL+oKKI/fFn8Hqfi/XWlZ4mqtbecfUWdUYMb8nSx80",
    ),
    (
        "pbkdf2-256@example.com",
        "pbkdf2-sha256 pw",
        "$pbkdf2-sha256$i=1000,l=32$Sdqhlbhq8+1qbovjz+vm0w$vTjSp2yQIq/Ty/im701E81jQl+QfvKW5eBp4jrxWNcg",
    ),
    (
        "pbkdf2-512@example.com",
        "pbkdf2-sha512 pw",
        "$pbkdf2-sha512$i=1000,l=64$gg8BhfJ2pzUHpZplX/RztA$7SbUTcQtF9fjqg7AG1vzPvkaPUuMGypU3s4Pbk8dwTdrOJ7GrFABmfuwk4i7wu0WWbajxY/0UzeEVLPCYBMqSg",
    ),
    (
        "passlib-256@example.com",
        "passlib sha256 pw",
        "$pbkdf2-sha256$1000$A4AQwnjvXcuZ8z5nTEnp/Q$yY9DgbxTdNwlzCeABnoMALSf843CZ.fyZmJVoHMdjjc",
    ),
    (
        "passlib-512@example.com",
        "passlib sha512 pw",
        "$pbkdf2-sha512$1000$nxNCiHGudc6ZUwpB6P1fiw$vwdj1yWayQc02D7ZTa34OrlRbaNKi1vftcCM7EyKp2JqFfUHvDctLVZ3nu1TM6P1a3tdTy.t/XnWXRoMxm1Wag",
    ),
    (
        "django@example.com",
        "django pw",
        "pbkdf2_sha256$1000$Dj4ngoSa1t$RnNuN6U0codNrrYhBj9NPCNeLrVNC1dQ3Ntu78mkXec=",
    ),
];

/// Writes `lines` to a file in the app's directory and runs `user import` on it.
fn import(app: &TestApp, lines: &[String]) -> Output {
    let file = app.dir.path().join("users.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    Command::new(BIN)
        .args(["user", "import", "--tenant", "demo", "--file"])
        .arg(&file)
        .args(app.store_args())
        .env("OPENCIAM_LOG", "warn")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn stored_hash(app: &TestApp, email: &str) -> String {
    let user = app.services.admin.user("demo", email).await.unwrap();
    user.password_hash.unwrap()
}

#[tokio::test]
async fn imported_users_sign_in_with_their_old_passwords_and_are_rehashed() {
    let app = TestApp::spawn().await;
    let mut lines: Vec<String> = USERS
        .iter()
        .map(|(email, _, hash)| json!({"email": email, "password_hash": hash}).to_string())
        .collect();
    lines.push(
        json!({"email": "Named@Example.com", "password_hash": USERS[0].2,
               "attributes": {"displayName": "Named Import"}})
        .to_string(),
    );
    lines
        .push(json!({"email": "off@example.com", "password_hash": USERS[0].2, "disabled": true}).to_string());
    lines.push(json!({"email": "codeonly@example.com"}).to_string());

    let out = import(&app, &lines);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("imported 15 users"),
        "{}",
        text(&out.stdout)
    );

    for (email, password, hash) in USERS {
        let ct = app.password_token(email).await;
        app.token_password(&ct, "wrong password", "openid")
            .await
            .assert_error("invalid_grant", 50126);
        assert_eq!(
            stored_hash(&app, email).await,
            *hash,
            "a failed sign-in upgrades nothing"
        );

        app.sign_in(email, password, "openid").await;
        let upgraded = stored_hash(&app, email).await;
        assert!(upgraded.starts_with(CURRENT), "{email}: {upgraded}");
        app.sign_in(email, password, "openid").await;
        assert_eq!(
            stored_hash(&app, email).await,
            upgraded,
            "{email}: current hashes stay"
        );
    }

    let r = app.sign_in("named@example.com", USERS[0].1, "openid").await;
    assert_eq!(r.jwt_claims("id_token")["name"], "Named Import");

    let ct = app.password_token("off@example.com").await;
    app.token_password(&ct, USERS[0].1, "openid")
        .await
        .assert_error("invalid_grant", 50057);
    assert_eq!(stored_hash(&app, "off@example.com").await, USERS[0].2);
    let code_only = app
        .services
        .admin
        .user("demo", "codeonly@example.com")
        .await
        .unwrap();
    assert_eq!(code_only.password_hash, None);

    // The same file again: every line names an existing user, and nothing changes.
    let again = import(&app, &lines);
    assert!(!again.status.success());
    let stderr = text(&again.stderr);
    assert_eq!(stderr.matches("already exists").count(), 15, "{stderr}");
    assert_eq!(app.services.admin.list_users("demo").await.unwrap().len(), 15);
}

#[tokio::test]
async fn a_file_with_bad_lines_reports_each_and_imports_nothing() {
    let app = TestApp::spawn().await;
    let lines = vec![
        json!({"email": "first@example.com", "password_hash": USERS[0].2}).to_string(),
        json!({"email": "second@example.com", "password_hash": "$6$rounds=5000$salt$hash"}).to_string(),
        json!({"email": "third@example.com", "password_hash": USERS[6].2}).to_string(),
        json!({"email": "not-an-address", "password_hash": USERS[6].2}).to_string(),
        json!({"email": "fifth@example.com"}).to_string(),
    ];

    let out = import(&app, &lines);

    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 2: password_hash: not a recognised password hash"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 4: 'not-an-address' is not an e-mail address"),
        "{stderr}"
    );
    assert!(stderr.contains("2 bad line(s)"), "{stderr}");
    assert!(
        !stderr.contains("line 1:") && !stderr.contains("line 3:"),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty());
    assert!(
        app.services.admin.list_users("demo").await.unwrap().is_empty(),
        "nothing half-imported"
    );
}
