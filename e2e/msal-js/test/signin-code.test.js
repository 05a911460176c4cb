// Real-client end-to-end test of e-mail-code sign-in and challenge-type negotiation: @azure/msal-browser custom auth
// (CustomAuthPublicClientApplication.signIn, SignInCodeRequiredState.submitCode) in headless Chromium, cross-origin
// against `openciam dev`, with codes read from the dev mailbox. One fresh tab per scenario.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { decodeJwtPayload, parseForm } from "../lib/harness.js";
import { APP_CODE_ONLY, APP_PASSWORD, errorOf, pathOf, tenantPath as p, useSuite } from "../lib/suite.js";

const CODE_USER = "code-user@example.com"; // no password: e-mail code only
const CODE_USER_2 = "code-user-2@example.com";
const PW_USER = "pw-user@example.com";
const PW_USER_PASSWORD = "Signin-Pass-2026!";

describe("MSAL.js custom auth e-mail-code sign-in against openciam", { timeout: 300_000 }, () => {
    const { scenario, mailboxCode } = useSuite({
        prefix: "openciam-e2e-msal-signin-code-",
        users: [{ email: CODE_USER }, { email: CODE_USER_2 }, { email: PW_USER, password: PW_USER_PASSWORD }],
        secrets: [PW_USER_PASSWORD],
    });

    function assertCodeRequired(r, what) {
        assert.equal(r.ok, true, `${what} failed: ${errorOf(r)}`);
        assert.equal(r.status?.isCodeRequired, true, `${what}: expected code required, got ${JSON.stringify(r.status)}`);
        assert.equal(r.state?.stateType, "SignInCodeRequiredState", `${what}: state`);
        assert.equal(r.state?.codeLength, 8, `${what}: code length reported by MSAL`);
        assert.ok(r.stateId, `${what}: actionable state registered`);
    }

    function assertSignedIn(r, email, clientId, what) {
        assert.equal(r.ok, true, `${what} failed: ${errorOf(r)}`);
        assert.equal(r.status?.isCompleted, true, `${what}: expected completed, got ${JSON.stringify(r.status)}`);
        assert.equal(r.state?.stateType, "SignInCompletedState", `${what}: state`);
        assert.equal(r.account?.username, email, `${what}: account username`);
        assert.ok(r.account?.idToken, `${what}: id token present on the account`);
        const claims = decodeJwtPayload(r.account.idToken);
        assert.equal(claims.preferred_username, email, `${what}: id_token preferred_username`);
        assert.equal(claims.aud, clientId, `${what}: id_token aud`);
        assert.ok(r.tokens?.accessToken, `${what}: cached access token: ${JSON.stringify(r.tokensError)}`);
    }

    it("code-only user, client 2222: signIn({username}) -> code required -> submitCode -> completed; getAccessToken", () =>
        scenario({ clientId: APP_CODE_ONLY }, async ({ oc, api, traffic }) => {
            const since = Date.now() - 1000;
            const start = await oc("startSignIn", APP_CODE_ONLY, { username: CODE_USER });
            assertCodeRequired(start, "signIn({username})");
            assert.deepEqual(
                api().map((e) => pathOf(e.url)),
                [p("/oauth2/v2.0/initiate"), p("/oauth2/v2.0/challenge")],
                "signIn({username}) request sequence"
            );
            const init = parseForm(api()[0].postData);
            assert.equal(init.client_id, APP_CODE_ONLY);
            assert.equal(init.username, CODE_USER);
            assert.equal(init.challenge_type, "password oob redirect", "challenge types MSAL offers");

            const code = await mailboxCode(CODE_USER, "signin", since);
            assert.match(code, /^\d{8}$/, "8-digit code in the dev mailbox");
            const done = await oc("step", start.stateId, "submitCode", code);
            assertSignedIn(done, CODE_USER, APP_CODE_ONLY, "submitCode(code)");

            await traffic.settle();
            const sent = api();
            assert.deepEqual(
                sent.map((e) => pathOf(e.url)),
                [p("/oauth2/v2.0/initiate"), p("/oauth2/v2.0/challenge"), p("/oauth2/v2.0/token")],
                "code sign-in request sequence"
            );
            const tok = parseForm(sent[2].postData);
            assert.equal(tok.grant_type, "oob");
            assert.equal(tok.oob, code);
            assert.equal(tok.client_id, APP_CODE_ONLY);
            assert.equal(
                tok.continuation_token,
                JSON.parse(sent[1].responseBody).continuation_token,
                "/token uses the continuation token of the challenge response"
            );
            assert.equal(tok.password, undefined, "no password sent");

            const current = await oc("currentAccount", APP_CODE_ONLY);
            assert.equal(current.account?.username, CODE_USER, "getCurrentAccount() after code sign-in");

            const before = api().length;
            const refreshed = await oc("getAccessToken", true, undefined, APP_CODE_ONLY);
            assert.equal(refreshed.ok, true, `getAccessToken({forceRefresh: true}) failed: ${errorOf(refreshed)}`);
            assert.ok(refreshed.tokens?.accessToken, "access token after refresh");
            assert.equal(refreshed.tokens.username, CODE_USER);
            const refreshReqs = api().slice(before);
            assert.deepEqual(refreshReqs.map((e) => pathOf(e.url)), [p("/oauth2/v2.0/token")], "one refresh request");
            assert.equal(parseForm(refreshReqs[0].postData).grant_type, "refresh_token");
            assert.equal(refreshReqs[0].status, 200);
        }));

    it("wrong code -> isInvalidCode(), then the right code on the same state completes", () =>
        scenario({ clientId: APP_CODE_ONLY }, async ({ oc, api }) => {
            const since = Date.now() - 1000;
            const start = await oc("startSignIn", APP_CODE_ONLY, { username: CODE_USER_2 });
            assertCodeRequired(start, "signIn({username})");
            const code = await mailboxCode(CODE_USER_2, "signin", since);
            const wrong = code === "00000000" ? "99999999" : "00000000";
            const bad = await oc("step", start.stateId, "submitCode", wrong);
            assert.equal(bad.ok, false, `wrong code accepted: ${JSON.stringify(bad)}`);
            assert.equal(bad.error?.predicates?.isInvalidCode, true, `expected isInvalidCode(); got ${errorOf(bad)}`);
            const done = await oc("step", start.stateId, "submitCode", code);
            assertSignedIn(done, CODE_USER_2, APP_CODE_ONLY, "submitCode(rightCode) after a wrong code");
            const toks = api().filter((e) => pathOf(e.url) === p("/oauth2/v2.0/token"));
            assert.equal(toks.length, 2, "two /token requests");
            assert.equal(toks[0].status, 400);
            assert.equal(toks[1].status, 200);
        }));

    it("client offering only oob against the password app (1111) -> SignInError.isRedirectRequired()", () =>
        scenario({ clientId: APP_PASSWORD, challengeTypes: ["oob"] }, async ({ oc, api, traffic }) => {
            const r = await oc("startSignIn", APP_PASSWORD, { username: PW_USER, password: PW_USER_PASSWORD });
            await traffic.settle();
            assert.equal(r.ok, false, `sign-in succeeded although the client cannot do passwords: ${JSON.stringify(r)}`);
            assert.equal(r.status?.isFailed, true, "result is failed");
            assert.equal(r.error?.type, "SignInError");
            assert.equal(
                r.error?.predicates?.isRedirectRequired,
                true,
                `expected isRedirectRequired(); got error ${errorOf(r)}`
            );
            // esbuild may rename the class (`_RedirectError`); its error code is "redirect".
            assert.match(r.error?.dataType ?? "", /RedirectError$/, "MSAL's error data is a RedirectError");
            assert.equal(r.error?.errorCode, "redirect");
            assert.equal(r.error?.predicates?.isPasswordIncorrect, false);
            const sent = api();
            assert.ok(sent.length >= 1, "at least /initiate sent");
            assert.equal(pathOf(sent[0].url), p("/oauth2/v2.0/initiate"));
            assert.equal(parseForm(sent[0].postData).challenge_type, "oob redirect", "challenge types MSAL offers");
            assert.ok(
                sent.every((e) => pathOf(e.url) !== p("/oauth2/v2.0/token")),
                "no /token request (no password may be sent)"
            );
            const last = sent[sent.length - 1];
            assert.equal(last.status, 200, "the redirect answer is a 200");
            assert.equal(JSON.parse(last.responseBody).challenge_type, "redirect");
        }));
});
