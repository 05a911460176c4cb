// Real-client end-to-end test over HTTPS: @azure/msal-browser custom auth in headless Chromium against
// `openciam dev --tls`. Chromium accepts the dev server's certificate only through the SPKI hash `dev --tls` prints
// (--ignore-certificate-errors-spki-list; no blanket ignoring of certificate errors), and the Node side reads the dev
// mailbox with an HTTPS client whose only root is the generated CA. The authority is the dotted https form MSAL iOS
// would need; MSAL.js sends every call to customAuth.authApiProxyUrl = https://127.0.0.1:PORT/demo.
import { describe, it } from "node:test";
import assert from "node:assert/strict";

import { decodeJwtPayload, httpsGet, parseForm } from "../lib/harness.js";
import { APP_CODE_ONLY, APP_PASSWORD, errorOf, pathOf, tenantPath as p, useSuite } from "../lib/suite.js";

const EMAIL = "tls-user@example.com";
const PASSWORD = "Tls-Sign-In-2026!";
const NEW_USER = "tls-new@example.com";

describe("MSAL.js custom auth over HTTPS against openciam dev --tls", { timeout: 300_000 }, () => {
    const { scenario, mailboxCode, server } = useSuite({
        prefix: "openciam-e2e-msal-tls-",
        users: [{ email: EMAIL, password: PASSWORD }],
        secrets: [PASSWORD],
        tls: true,
    });

    it("dev --tls prints an https origin, and the generated CA vouches for it (Node, CA as the only root)", async () => {
        const s = server();
        assert.match(s.origin, /^https:\/\/127\.0\.0\.1:\d+$/);
        assert.match(s.spki, /^[A-Za-z0-9+/]{43}=$/, "SPKI hash printed for Chromium");
        const res = await httpsGet(`${s.baseUrl}/v2.0/.well-known/openid-configuration`, s.caFile);
        assert.equal(res.status, 200);
        const doc = JSON.parse(await res.text());
        assert.ok(doc.issuer.startsWith("https://127.0.0.1:"), `issuer on the https public URL: ${doc.issuer}`);
    });

    it("password sign-in over HTTPS, then a refresh", () =>
        scenario({ clientId: APP_PASSWORD }, async ({ oc, api, traffic }) => {
            const r = await oc("startSignIn", APP_PASSWORD, { username: EMAIL, password: PASSWORD });
            assert.equal(r.ok, true, `sign-in failed: ${errorOf(r)}`);
            assert.equal(r.status?.isCompleted, true, `sign-in not completed: ${JSON.stringify(r.status)}`);
            assert.equal(r.account?.username, EMAIL, "account username");
            assert.equal(decodeJwtPayload(r.account.idToken).preferred_username, EMAIL, "id_token preferred_username");
            assert.ok(r.tokens?.accessToken, `cached access token: ${JSON.stringify(r.tokensError)}`);
            await traffic.settle();
            const sent = api();
            assert.deepEqual(
                sent.map((e) => pathOf(e.url)),
                [p("/oauth2/v2.0/initiate"), p("/oauth2/v2.0/challenge"), p("/oauth2/v2.0/token")],
                "sign-in request sequence"
            );
            for (const e of sent) {
                assert.ok(e.url.startsWith("https://127.0.0.1:"), `sent over HTTPS: ${e.url}`);
                assert.equal(e.status, 200, `${e.url} answered ${e.status}: ${e.responseBody}`);
            }
            assert.equal(parseForm(sent[2].postData).grant_type, "password");

            const refreshed = await oc("getAccessToken", true, undefined, APP_PASSWORD);
            assert.equal(refreshed.ok, true, `refresh failed: ${errorOf(refreshed)}`);
            assert.equal(refreshed.tokens?.fromCache, false, "the refresh went to the server");
        }));

    it("code sign-up over HTTPS, the code read from the dev mailbox over HTTPS", () =>
        scenario({ clientId: APP_CODE_ONLY }, async ({ oc }) => {
            const since = Date.now() - 1000;
            const start = await oc("startSignUp", APP_CODE_ONLY, { username: NEW_USER });
            assert.equal(start.ok, true, `signUp failed: ${errorOf(start)}`);
            assert.equal(start.status?.isCodeRequired, true, `expected code required: ${JSON.stringify(start.status)}`);
            const code = await mailboxCode(NEW_USER, "signup", since);
            assert.match(code, /^\d{8}$/);
            const done = await oc("step", start.stateId, "submitCode", code);
            assert.equal(done.ok, true, `submitCode failed: ${errorOf(done)}`);
            assert.equal(done.status?.isCompleted, true, `sign-up not completed: ${JSON.stringify(done.status)}`);
            const signedIn = await oc("step", done.stateId, "signIn");
            assert.equal(signedIn.ok, true, `sign-in after sign-up failed: ${errorOf(signedIn)}`);
            assert.equal(signedIn.account?.username, NEW_USER);
        }));
});
