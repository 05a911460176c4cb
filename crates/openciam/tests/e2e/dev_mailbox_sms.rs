//! The dev SMS outbox (issue 9): text messages the server "sent" appear in `/_dev/mailbox` next to
//! mail, with `"channel": "sms"` (mail has `"email"`), can be filtered by channel, and
//! `latest-code?to=` finds them by the number in any international form.

use openciam_core::mail::{MailPurpose, MailTenant, OutboundEmail};
use openciam_core::phone::PhoneNumber;
use openciam_core::sms::OutboundSms;
use openciam_testkit::TestApp;

#[tokio::test]
async fn sms_appear_in_the_dev_mailbox_with_their_channel() {
    let app = TestApp::spawn().await;
    // A mail first (a sign-in code), then a text message, through the server's senders.
    let tenant = MailTenant { name: "demo".into() };
    let mail = OutboundEmail::Otp {
        to: "box@example.com".into(),
        code: "27182818".into(),
        purpose: MailPurpose::Signin,
        expires_in_minutes: 10,
    };
    app.services.mailer.send(&tenant, &mail).await.unwrap();
    let mail_code = app.latest_code("box@example.com").unwrap();
    let sms = OutboundSms {
        to: PhoneNumber::parse("+1 (555) 123-4567").unwrap(),
        code: "31415926".into(),
        purpose: MailPurpose::Signin,
        expires_in_minutes: 10,
    };
    app.services.sms.send(&tenant, &sms).await.unwrap();

    let json = |query: &str| format!("{}/_dev/mailbox?format=json{query}", app.origin);
    let all = app.get(&json("")).await;
    let messages = all.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{}", all.body);
    assert_eq!(messages[0]["channel"], "sms");
    assert_eq!(messages[0]["to"], "+15551234567");
    assert_eq!(messages[0]["code"], "31415926");
    assert!(messages[0]["text"].as_str().unwrap().contains("31415926"));
    assert_eq!(messages[1]["channel"], "email");
    assert_eq!(messages[1]["code"], mail_code.as_str());

    let sms_only = app.get(&json("&channel=sms")).await;
    assert_eq!(sms_only.body["messages"].as_array().unwrap().len(), 1);
    let mail_only = app.get(&json("&channel=email")).await;
    assert_eq!(mail_only.body["messages"][0]["to"], "box@example.com");
    let bad = app.get(&json("&channel=fax")).await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    // latest-code by number: %2B-encoded, a lost '+' (decoded to a space), other formatting.
    for to in ["%2B15551234567", "+15551234567", "%2B1%20555%20123%204567"] {
        let r = app
            .get(&format!("{}/_dev/mailbox/latest-code?to={to}", app.origin))
            .await;
        assert_eq!(r.status, 200, "{to}: {}", r.body);
        assert_eq!(r.str("code"), "31415926", "{to}");
    }
    let r = app
        .get(&format!(
            "{}/_dev/mailbox/latest-code?to=%2B15559876543",
            app.origin
        ))
        .await;
    assert_eq!(r.status, 404);

    let html = app
        .http
        .get(format!("{}/_dev/mailbox", app.origin))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<article class=\"sms\">"), "{html}");
    assert!(html.contains("31415926") && html.contains(&mail_code));
}
