//! Code guessing (issue: abuse resistance): the per-code try limit and the per-address code cap
//! hold under concurrency and across nodes, because both are counted by one atomic statement in
//! the shared database, not in a node's memory.

use openciam_testkit::{Options, Resp, TestApp};
use tokio::task::JoinSet;

const CODE_APP: &str = "22222222-2222-2222-2222-222222222222";
const WRONG: &str = "The code is wrong";
const BURNT: &str = "Too many wrong codes";

async fn code_user(app: &TestApp, email: &str) {
    app.services
        .admin
        .create_user("demo", email, None, serde_json::Map::new())
        .await
        .unwrap();
}

/// Starts a code sign-in on `app` and returns the continuation token for the oob grant.
async fn code_sent(app: &TestApp, email: &str) -> Resp {
    let r = app
        .post(
            "oauth2/v2.0/initiate",
            &[
                ("client_id", CODE_APP),
                ("username", email),
                ("challenge_type", "oob redirect"),
            ],
        )
        .await;
    app.post(
        "oauth2/v2.0/challenge",
        &[
            ("client_id", CODE_APP),
            ("continuation_token", r.str("continuation_token")),
            ("challenge_type", "oob redirect"),
        ],
    )
    .await
}

/// Sends `guesses` wrong codes at once, spread round-robin over `nodes`; returns the responses.
async fn guess_in_parallel(nodes: &[&TestApp], ct: &str, guesses: usize) -> Vec<Resp> {
    let mut set = JoinSet::new();
    for i in 0..guesses {
        let node = nodes[i % nodes.len()];
        let request = node.http.post(format!("{}/oauth2/v2.0/token", node.base)).form(&[
            ("client_id", CODE_APP),
            ("continuation_token", ct),
            ("grant_type", "oob"),
            ("oob", &format!("{:08}", 10_000_000 + i)),
            ("scope", "openid"),
        ]);
        set.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body)
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        let (status, body) = done.unwrap();
        out.push(Resp {
            status,
            headers: Default::default(),
            body,
        });
    }
    out
}

/// How many guesses were compared with the code (`wrong`) and how many were refused unread.
fn tally(responses: &[Resp]) -> (usize, usize) {
    let mut wrong = 0;
    let mut burnt = 0;
    for r in responses {
        r.assert_error("invalid_grant", 50181);
        let description = r.str("error_description");
        if description.contains(WRONG) {
            wrong += 1;
        } else if description.contains(BURNT) {
            burnt += 1;
        } else {
            panic!("unexpected description: {description}");
        }
    }
    (wrong, burnt)
}

async fn assert_right_code_is_burnt(app: &TestApp, ct: &str, email: &str) {
    let code = app.latest_code(email).unwrap();
    let r = app
        .post(
            "oauth2/v2.0/token",
            &[
                ("client_id", CODE_APP),
                ("continuation_token", ct),
                ("grant_type", "oob"),
                ("oob", &code),
            ],
        )
        .await;
    r.assert_error("invalid_grant", 50181);
    assert!(r.str("error_description").contains(BURNT), "{}", r.body);
}

#[tokio::test]
async fn two_hundred_parallel_guesses_evaluate_at_most_five() {
    let app = TestApp::spawn().await;
    code_user(&app, "guess@example.com").await;
    let r = code_sent(&app, "guess@example.com").await;
    let ct = r.str("continuation_token").to_owned();

    let responses = guess_in_parallel(&[&app], &ct, 200).await;
    assert_eq!(responses.len(), 200);
    let (wrong, burnt) = tally(&responses);
    assert_eq!(wrong, 5, "exactly the try limit was compared");
    assert_eq!(burnt, 195);
    assert_right_code_is_burnt(&app, &ct, "guess@example.com").await;
}

#[tokio::test]
async fn parallel_guesses_through_two_nodes_share_one_try_limit() {
    let a = TestApp::spawn().await;
    let b = a.another_node(Options::default()).await;
    code_user(&a, "guess2@example.com").await;
    let r = code_sent(&a, "guess2@example.com").await;
    let ct = r.str("continuation_token").to_owned();

    let responses = guess_in_parallel(&[&a, &b], &ct, 200).await;
    let (wrong, burnt) = tally(&responses);
    assert_eq!(wrong, 5, "the two nodes share the try limit");
    assert_eq!(burnt, 195);
    assert_right_code_is_burnt(&a, &ct, "guess2@example.com").await;
}

#[tokio::test]
async fn the_per_address_code_cap_is_shared_by_the_nodes() {
    let options = Options {
        max_codes_per_address: 3,
        ..Options::default()
    };
    let a = TestApp::spawn_with(options.clone()).await;
    let b = a.another_node(options).await;
    code_user(&a, "cap@example.com").await;
    for node in [&a, &b, &a] {
        let r = code_sent(node, "cap@example.com").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["challenge_type"], "oob");
    }
    for node in [&b, &a] {
        code_sent(node, "cap@example.com")
            .await
            .assert_error("invalid_request", 701014);
    }
}
