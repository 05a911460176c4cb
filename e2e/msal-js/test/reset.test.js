// Real-client end-to-end test of self-service password reset: @azure/msal-browser custom auth
// (CustomAuthPublicClientApplication.resetPassword, ResetPasswordCodeRequiredState.submitCode,
// ResetPasswordPasswordRequiredState.submitNewPassword with its poll_completion loop, ResetPasswordCompletedState.signIn)
// in headless Chromium, cross-origin against `openciam dev`, codes read from the dev mailbox. One fresh tab per scenario.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { decodeJwtPayload, parseForm } from "../lib/harness.js";
import { APP_PASSWORD, errorOf, pathOf, tenantPath as p, useSuite } from "../lib/suite.js";

const OLD_PASSWORD = "Reset-Old-2026!";
const NEW_PASSWORD = "Reset-Pass-2026!";
const USER = "reset-user@example.com";
const OOB_USER = "reset-oob@example.com";

const RESET_SEQUENCE = [
    "/resetpassword/v1.0/start",
    "/resetpassword/v1.0/challenge",
    "/resetpassword/v1.0/continue",
    "/resetpassword/v1.0/submit",
];

describe("MSAL.js custom auth password reset against openciam", { timeout: 300_000 }, () => {
    const { scenario, mailboxCode } = useSuite({
        prefix: "openciam-e2e-msal-reset-",
        users: [
            { email: USER, password: OLD_PASSWORD },
            { email: OOB_USER, password: OLD_PASSWORD },
        ],
        secrets: [OLD_PASSWORD, NEW_PASSWORD],
    });

    /**
     * resetPassword({username}) -> code required -> submitCode -> password required -> submitNewPassword -> completed
     * -> signIn() from the completed state. Checks states, the request sequence and bodies; returns the sign-in result.
     */
    async function fullReset({ oc, api, traffic }, email, expectedChallengeTypes) {
        const since = Date.now() - 1000;
        const start = await oc("startResetPassword", APP_PASSWORD, { username: email });
        assert.equal(start.ok, true, `resetPassword({username}) failed: ${errorOf(start)}`);
        assert.equal(start.status?.isCodeRequired, true, `expected code required, got ${JSON.stringify(start.status)}`);
        assert.equal(start.state?.stateType, "ResetPasswordCodeRequiredState");
        assert.equal(start.state?.codeLength, 8, "code length reported by MSAL");
        assert.deepEqual(api().map((e) => pathOf(e.url)), RESET_SEQUENCE.slice(0, 2).map(p), "resetPassword() requests");
        const startForm = parseForm(api()[0].postData);
        assert.equal(startForm.username, email);
        assert.equal(startForm.client_id, APP_PASSWORD);
        assert.equal(startForm.challenge_type, expectedChallengeTypes, "challenge types MSAL offers");

        const code = await mailboxCode(email, "resetpassword", since);
        assert.match(code, /^\d{8}$/, "8-digit code in the dev mailbox");
        const needPw = await oc("step", start.stateId, "submitCode", code);
        assert.equal(needPw.ok, true, `submitCode(code) failed: ${errorOf(needPw)}`);
        assert.equal(needPw.status?.isPasswordRequired, true, `expected password required, got ${JSON.stringify(needPw.status)}`);
        assert.equal(needPw.state?.stateType, "ResetPasswordPasswordRequiredState");
        const cont = parseForm(api()[2].postData);
        assert.equal(cont.grant_type, "oob");
        assert.equal(cont.oob, code);

        const done = await oc("step", needPw.stateId, "submitNewPassword", NEW_PASSWORD);
        assert.equal(done.ok, true, `submitNewPassword() failed: ${errorOf(done)}`);
        assert.equal(done.status?.isCompleted, true, `expected completed, got ${JSON.stringify(done.status)}`);
        assert.equal(done.state?.stateType, "ResetPasswordCompletedState");
        assert.ok(done.stateId, "completed state (with signIn()) registered");

        await traffic.settle();
        const sent = api();
        const paths = sent.map((e) => pathOf(e.url));
        assert.deepEqual(paths.slice(0, 4), RESET_SEQUENCE.map(p), "reset request sequence");
        const polls = sent.slice(4);
        assert.ok(polls.length >= 1, "at least one poll_completion");
        assert.ok(
            polls.every((e) => pathOf(e.url) === p("/resetpassword/v1.0/poll_completion")),
            `only poll_completion after submit: ${paths.slice(4).join(", ")}`
        );
        const submit = parseForm(sent[3].postData);
        assert.equal(submit.new_password, NEW_PASSWORD, "new_password sent to /submit");
        const submitRes = JSON.parse(sent[3].responseBody);
        assert.equal(submitRes.poll_interval, 2, "poll_interval of the /submit response");
        assert.equal(
            parseForm(polls[0].postData).continuation_token,
            submitRes.continuation_token,
            "poll_completion uses the /submit continuation token"
        );
        assert.equal(JSON.parse(polls[polls.length - 1].responseBody).status, "succeeded");

        const before = api().length;
        const signedIn = await oc("step", done.stateId, "signIn");
        assert.equal(signedIn.ok, true, `signIn() after reset failed: ${errorOf(signedIn)}`);
        assert.equal(signedIn.status?.isCompleted, true, `signIn() after reset: ${JSON.stringify(signedIn.status)}`);
        assert.equal(signedIn.account?.username, email, "account username");
        assert.ok(signedIn.account?.idToken, "id token present on the account");
        assert.equal(decodeJwtPayload(signedIn.account.idToken).preferred_username, email);
        assert.ok(signedIn.tokens?.accessToken, `access token: ${JSON.stringify(signedIn.tokensError)}`);
        await traffic.settle();
        const tokenReqs = api().slice(before);
        assert.deepEqual(tokenReqs.map((e) => pathOf(e.url)), [p("/oauth2/v2.0/token")], "one /token after reset");
        const tok = parseForm(tokenReqs[0].postData);
        assert.equal(tok.grant_type, "continuation_token");
        assert.equal(
            tok.continuation_token,
            JSON.parse(polls[polls.length - 1].responseBody).continuation_token,
            "sign-in after reset uses the poll_completion continuation token"
        );
        return signedIn;
    }

    it("reset password (client 1111): code -> new password -> completed -> sign-in; old password rejected, new accepted", () =>
        scenario(async (ctx) => {
            const { oc } = ctx;
            await fullReset(ctx, USER, "password oob redirect");

            assert.equal((await oc("signOut")).ok, true, "signOut");
            const old = await oc("startSignIn", APP_PASSWORD, { username: USER, password: OLD_PASSWORD });
            assert.equal(old.ok, false, `sign-in with the old password succeeded: ${JSON.stringify(old)}`);
            assert.equal(old.error?.predicates?.isPasswordIncorrect, true, `expected isPasswordIncorrect(); got ${errorOf(old)}`);

            const fresh = await oc("startSignIn", APP_PASSWORD, { username: USER, password: NEW_PASSWORD });
            assert.equal(fresh.ok, true, `sign-in with the new password failed: ${errorOf(fresh)}`);
            assert.equal(fresh.status?.isCompleted, true);
            assert.equal(fresh.account?.username, USER);
        }));

    it("reset password with a client offering only oob (client 1111)", async () => {
        await scenario({ clientId: APP_PASSWORD, challengeTypes: ["oob"] }, (ctx) =>
            fullReset(ctx, OOB_USER, "oob redirect")
        );
        // The new password works for an ordinary password-capable client.
        await scenario(async ({ oc }) => {
            const r = await oc("startSignIn", APP_PASSWORD, { username: OOB_USER, password: NEW_PASSWORD });
            assert.equal(r.ok, true, `sign-in with the new password failed: ${errorOf(r)}`);
            assert.equal(r.account?.username, OOB_USER);
        });
    });
});
