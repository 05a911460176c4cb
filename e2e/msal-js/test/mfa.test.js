// Real-client end-to-end test of the second factor (issue 9): @azure/msal-browser 5.30 custom auth with
// `customAuth.capabilities: ["mfa_required", "registration_required"]` in headless Chromium, cross-origin against
// `openciam dev`'s app 4444 (password, then a required second factor by e-mail or SMS). Codes come from the dev
// mailbox (SMS too: `latest-code?to=%2B1…`).
//
// 1. A user without a method signs in: SignInResult.isAuthMethodRegistrationRequired() →
//    AuthMethodRegistrationRequiredState.challengeAuthMethod({authMethodType, verificationContact}) →
//    AuthMethodVerificationRequiredState.submitChallenge(code) → signed in (register/v1.0/introspect, challenge,
//    continue, then /token with the continuation token).
// 2. The same user signs in again: SignInResult.isMfaRequired() → MfaAwaitingState.requestChallenge(id) →
//    MfaVerificationRequiredState.submitChallenge(code) → signed in (/token mfa_required, introspect, challenge
//    with id, /token grant_type=mfa_oob).
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { decodeJwtPayload, parseForm } from "../lib/harness.js";
import { APP_MFA, errorOf, pathOf, tenantPath as p, useSuite } from "../lib/suite.js";

const CAPABILITIES = ["mfa_required", "registration_required"];
const EMAIL_USER = "mfa-email@example.com";
const EMAIL_FACTOR = "mfa-second@example.com"; // the second factor goes to another address
const SMS_USER = "mfa-sms@example.com";
const PHONE = "+15551230042";
const PASSWORD = "Mfa-Sign-In-2026!";

describe("MSAL.js custom auth second factor against openciam", { timeout: 300_000 }, () => {
    const { scenario, mailboxCode } = useSuite({
        prefix: "openciam-e2e-msal-mfa-",
        users: [
            { email: EMAIL_USER, password: PASSWORD },
            { email: SMS_USER, password: PASSWORD },
        ],
        secrets: [PASSWORD],
    });

    function assertSignedIn(r, email, what) {
        assert.equal(r.ok, true, `${what} failed: ${errorOf(r)}`);
        assert.equal(r.account?.username, email, `${what}: account username (${JSON.stringify(r.status)})`);
        const claims = decodeJwtPayload(r.account.idToken);
        assert.equal(claims.preferred_username, email, `${what}: id_token preferred_username`);
        assert.equal(claims.aud, APP_MFA, `${what}: id_token aud`);
        assert.ok(r.tokens?.accessToken, `${what}: cached access token: ${JSON.stringify(r.tokensError)}`);
    }

    async function register(oc, api, user, channel, contact, readCode) {
        const start = await oc("startSignIn", APP_MFA, { username: user, password: PASSWORD });
        assert.equal(start.ok, true, `signIn failed: ${errorOf(start)}`);
        assert.equal(
            start.status?.isAuthMethodRegistrationRequired,
            true,
            `expected registration required, got ${JSON.stringify(start.status)} ${JSON.stringify(start.state)}`
        );
        const offered = start.state.authMethods;
        assert.ok(Array.isArray(offered) && offered.length >= 1, `methods offered: ${JSON.stringify(offered)}`);
        const method = offered.find((m) => m.challenge_channel === channel);
        assert.ok(method, `a ${channel} method offered for registration: ${JSON.stringify(offered)}`);

        const since = Date.now() - 1000;
        const challenged = await oc("step", start.stateId, "challengeAuthMethod", {
            authMethodType: method,
            verificationContact: contact,
        });
        assert.equal(challenged.ok, true, `challengeAuthMethod failed: ${errorOf(challenged)}`);
        assert.equal(challenged.state?.stateType, "AuthMethodVerificationRequiredState", JSON.stringify(challenged));
        assert.equal(challenged.state.channel, channel, "channel reported by MSAL");
        assert.equal(challenged.state.codeLength, 8, "code length reported by MSAL");

        const code = await readCode(since);
        const done = await oc("step", challenged.stateId, "submitChallenge", code);
        assertSignedIn(done, user, "submitChallenge(registration code)");
        const paths = api().map((e) => pathOf(e.url));
        for (const step of ["/register/v1.0/introspect", "/register/v1.0/challenge", "/register/v1.0/continue"]) {
            assert.ok(paths.includes(p(step)), `${step} called: ${paths.join(", ")}`);
        }
        const init = parseForm(api()[0].postData);
        assert.deepEqual(init.capabilities?.split(" ").sort(), [...CAPABILITIES].sort(), "capabilities sent");
    }

    async function signInWithSecondFactor(oc, api, user, channel, readCode) {
        const start = await oc("startSignIn", APP_MFA, { username: user, password: PASSWORD });
        assert.equal(start.ok, true, `signIn failed: ${errorOf(start)}`);
        assert.equal(start.status?.isMfaRequired, true, `expected MFA required, got ${JSON.stringify(start.status)}`);
        const methods = start.state.authMethods;
        assert.equal(methods?.length, 1, `the registered method: ${JSON.stringify(methods)}`);
        assert.equal(methods[0].challenge_channel, channel);
        assert.ok(methods[0].login_hint && methods[0].login_hint.includes("*"), `masked hint: ${methods[0].login_hint}`);

        const since = Date.now() - 1000;
        const sent = await oc("step", start.stateId, "requestChallenge", methods[0].id);
        assert.equal(sent.ok, true, `requestChallenge failed: ${errorOf(sent)}`);
        assert.equal(sent.state?.stateType, "MfaVerificationRequiredState", JSON.stringify(sent));
        assert.equal(sent.state.channel, channel);
        assert.equal(sent.state.sentTo, methods[0].login_hint, "sent to the masked target");

        const code = await readCode(since);
        const wrong = code === "00000000" ? "11111111" : "00000000";
        const refused = await oc("step", sent.stateId, "submitChallenge", wrong);
        assert.equal(refused.ok, false, "a wrong second-factor code is refused");
        const done = await oc("step", sent.stateId, "submitChallenge", code);
        assertSignedIn(done, user, "submitChallenge(MFA code)");

        const tokenCalls = api().filter((e) => pathOf(e.url) === p("/oauth2/v2.0/token"));
        const grants = tokenCalls.map((e) => parseForm(e.postData).grant_type);
        assert.equal(grants[0], "password", `grants: ${grants}`);
        assert.equal(grants[grants.length - 1], "mfa_oob", `grants: ${grants}`);
        const first = JSON.parse(tokenCalls[0].responseBody);
        assert.equal(first.suberror, "mfa_required", JSON.stringify(first));
        const challenge = api().find(
            (e) => pathOf(e.url) === p("/oauth2/v2.0/challenge") && parseForm(e.postData).id === methods[0].id
        );
        assert.ok(challenge, "challenge with the method's id");
    }

    it("e-mail: registers a second address on first sign-in, then signs in with a code sent to it", async () => {
        await scenario({ clientId: APP_MFA, capabilities: CAPABILITIES }, ({ oc, api }) =>
            register(oc, api, EMAIL_USER, "email", EMAIL_FACTOR, (since) => mailboxCode(EMAIL_FACTOR, undefined, since))
        );
        await scenario({ clientId: APP_MFA, capabilities: CAPABILITIES }, ({ oc, api }) =>
            signInWithSecondFactor(oc, api, EMAIL_USER, "email", (since) =>
                mailboxCode(EMAIL_FACTOR, undefined, since)
            )
        );
    });

    it("SMS: registers a phone number on first sign-in, then signs in with a texted code", async () => {
        await scenario({ clientId: APP_MFA, capabilities: CAPABILITIES }, ({ oc, api }) =>
            register(oc, api, SMS_USER, "sms", PHONE, (since) => mailboxCode(PHONE, undefined, since))
        );
        await scenario({ clientId: APP_MFA, capabilities: CAPABILITIES }, ({ oc, api }) =>
            signInWithSecondFactor(oc, api, SMS_USER, "sms", (since) => mailboxCode(PHONE, undefined, since))
        );
    });
});
