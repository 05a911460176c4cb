// Real-client end-to-end test of sign-up: @azure/msal-browser custom auth (CustomAuthPublicClientApplication.signUp
// and its state objects) in headless Chromium, cross-origin against `openciam dev`, with codes read from the dev
// mailbox. Every scenario runs in a fresh tab (fresh sessionStorage cache, so no "user already signed in").
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";

import { buildBundle } from "../build.mjs";
import {
    TIMEOUTS,
    decodeJwtPayload,
    formatTraffic,
    launchBrowser,
    makeTempDir,
    parseForm,
    readMailboxCode,
    recordTraffic,
    runCli,
    startOpenciam,
    startStaticServer,
    withTimeout,
} from "../lib/harness.js";

const TENANT = "demo";
const APP_PASSWORD = "11111111-1111-1111-1111-111111111111"; // e-mail + password, no attributes
const APP_CODE_ONLY = "22222222-2222-2222-2222-222222222222"; // e-mail code only
const APP_ATTRIBUTES = "33333333-3333-3333-3333-333333333333"; // e-mail + password, displayName + city required
const PASSWORD = "Signup-Pass-2026!";
const EXISTING = "existing@example.com";
const EXISTING_PASSWORD = "Existing-Pass-2026!";

describe("MSAL.js custom auth sign-up against openciam", { timeout: 300_000 }, () => {
    let dataDir;
    let server;
    let statics;
    let browser;

    async function cleanup() {
        await browser?.close();
        browser = undefined;
        await statics?.close();
        statics = undefined;
        await server?.stop();
        if (dataDir && !process.env.KEEP_DATA) {
            fs.rmSync(dataDir, { recursive: true, force: true });
        }
    }

    before(async () => {
        try {
            await withTimeout(buildBundle(), 60_000, "esbuild bundle");
            dataDir = makeTempDir("openciam-e2e-msal-signup-");
            server = await startOpenciam(dataDir, { tenant: TENANT });
            await runCli([
                "user", "create",
                "--data", dataDir,
                "--tenant", TENANT,
                "--email", EXISTING,
                "--password", EXISTING_PASSWORD,
            ]);
            statics = await startStaticServer();
            assert.notEqual(statics.origin, server.origin, "page and API must be different origins");
            browser = await launchBrowser();
        } catch (e) {
            e.message += `\n--- openciam output ---\n${server?.output() ?? "(not started)"}`;
            await cleanup();
            throw e;
        }
    }, { timeout: 180_000 });

    after(async () => {
        await cleanup();
    }, { timeout: 60_000 });

    /**
     * Opens a fresh tab on the test page (page client id = APP_PASSWORD; other client ids get their own MSAL
     * instance inside the page), runs `body(ctx)` and closes the tab. On failure the error message gets the HTTP
     * exchanges of this scenario, the MSAL log tail, the page console and the openciam output tail.
     */
    async function scenario(body) {
        const page = await withTimeout(browser.context.newPage(), TIMEOUTS.pageLoad, "context.newPage()");
        const traffic = recordTraffic(page);
        const oc = (name, ...args) =>
            withTimeout(
                page.evaluate(([n, a]) => window.oc[n](...a), [name, args]),
                TIMEOUTS.action,
                `window.oc.${name}(${JSON.stringify(args).slice(1, -1).replace(PASSWORD, "***")})`
            );
        const api = () => traffic.entries.filter((e) => e.url.startsWith(server.origin) && e.method === "POST");
        try {
            const q = new URLSearchParams({ base: server.baseUrl, clientId: APP_PASSWORD });
            await page.goto(`${statics.origin}/index.html?${q}`, { timeout: TIMEOUTS.pageLoad });
            const ready = await withTimeout(page.evaluate(() => window.oc.ready), TIMEOUTS.pageLoad, "MSAL initialise");
            assert.ok(ready.ok, `CustomAuthPublicClientApplication.create failed: ${ready.error}`);
            return await body({ page, traffic, oc, api });
        } catch (e) {
            await traffic.settle();
            let logs = [];
            try {
                logs = await withTimeout(page.evaluate(() => window.oc.logs(400)), 5_000, "logs");
                logs = logs.filter((l) => /^\[[01]\]/.test(l) || /https?:\/\//.test(l)).slice(-25);
            } catch {
                /* page may be gone */
            }
            e.message +=
                `\n--- HTTP exchanges during this scenario ---\n${formatTraffic(traffic.entries.filter((x) => x.url.startsWith(server.origin))) || "  (none)"}` +
                `\n--- MSAL log tail ---\n${logs.join("\n")}` +
                `\n--- page console ---\n${traffic.consoleLines.slice(-20).join("\n")}` +
                `\n--- openciam output tail ---\n${server?.output().slice(-3000) ?? ""}`;
            throw e;
        } finally {
            await withTimeout(page.close(), 10_000, "page close").catch(() => {});
        }
    }

    const pathOf = (url) => new URL(url).pathname;
    const p = (suffix) => `/${TENANT}${suffix}`;

    function mailboxCode(to, since) {
        return readMailboxCode(server.origin, to, { purpose: "signup", since, timeoutMs: 15_000 });
    }

    function assertCodeRequired(r, what) {
        assert.equal(r.ok, true, `${what} failed: ${JSON.stringify(r.error ?? r.exception)}`);
        assert.equal(r.status?.isCodeRequired, true, `${what}: expected code required, got ${JSON.stringify(r.status)}`);
        assert.equal(r.state?.stateType, "SignUpCodeRequiredState", `${what}: state`);
        assert.equal(r.state?.codeLength, 8, `${what}: code length reported by MSAL`);
        assert.ok(r.stateId, `${what}: actionable state registered`);
    }

    function assertCompleted(r, what) {
        assert.equal(r.ok, true, `${what} failed: ${JSON.stringify(r.error ?? r.exception)}`);
        assert.equal(r.status?.isCompleted, true, `${what}: expected completed, got ${JSON.stringify(r.status)}`);
        assert.equal(r.state?.stateType, "SignUpCompletedState", `${what}: state`);
        assert.ok(r.stateId, `${what}: completed state (with signIn()) registered`);
    }

    /** Sign-in after sign-up from the completed state; checks account, tokens and the /token request. */
    async function signInAfterSignUp({ oc, api }, completedId, email, clientId) {
        const before = api().length;
        const r = await oc("step", completedId, "signIn");
        assert.equal(r.ok, true, `signIn() after sign-up failed: ${JSON.stringify(r.error ?? r.exception)}`);
        assert.equal(r.status?.isCompleted, true, `signIn() after sign-up not completed: ${JSON.stringify(r.status)}`);
        assert.equal(r.account?.username, email, "account username");
        assert.ok(r.account?.idToken, "id token present on the account");
        const claims = decodeJwtPayload(r.account.idToken);
        assert.equal(claims.preferred_username, email, "id_token preferred_username");
        assert.equal(claims.aud, clientId, "id_token aud");
        assert.ok(r.tokens?.accessToken, `access token available after sign-in: ${JSON.stringify(r.tokensError)}`);
        assert.ok(r.tokens.expiresOn && Date.parse(r.tokens.expiresOn) > Date.now(), "access token expiry in the future");
        const sent = api().slice(before);
        assert.deepEqual(sent.map((e) => pathOf(e.url)), [p("/oauth2/v2.0/token")], "signIn() after sign-up sends one /token");
        const form = parseForm(sent[0].postData);
        assert.equal(form.grant_type, "continuation_token");
        assert.ok(form.continuation_token, "continuation_token sent");
        assert.equal(form.client_id, clientId);
        return r;
    }

    it("sign-up with password + e-mail code, then sign-in after sign-up", () =>
        scenario(async (ctx) => {
            const { oc, api } = ctx;
            const email = "signup-password@example.com";
            const since = Date.now() - 1000;
            const start = await oc("startSignUp", APP_PASSWORD, { username: email, password: PASSWORD });
            assertCodeRequired(start, "signUp({username, password})");
            const code = await mailboxCode(email, since);
            assert.match(code, /^\d{8}$/, "8-digit code in the dev mailbox");
            const done = await oc("step", start.stateId, "submitCode", code);
            assertCompleted(done, "submitCode(code)");
            assert.deepEqual(
                api().map((e) => pathOf(e.url)),
                [p("/signup/v1.0/start"), p("/signup/v1.0/challenge"), p("/signup/v1.0/continue")],
                "sign-up request sequence"
            );
            const startForm = parseForm(api()[0].postData);
            assert.equal(startForm.username, email);
            assert.ok(startForm.password, "password sent at /signup/v1.0/start");
            const cont = parseForm(api()[2].postData);
            assert.equal(cont.grant_type, "oob");
            assert.equal(cont.oob, code);
            await signInAfterSignUp(ctx, done.stateId, email, APP_PASSWORD);
            // The new account can also sign in with its password in a fresh flow (after signing out).
            assert.equal((await oc("signOut")).ok, true, "signOut");
            const again = await oc("signIn", email, PASSWORD);
            assert.equal(again.ok, true, `password sign-in of the new user failed: ${JSON.stringify(again.error ?? again.exception)}`);
            assert.equal(again.account?.username, email);
        }));

    it("code-only sign-up (client 2222), then sign-in after sign-up", () =>
        scenario(async (ctx) => {
            const { oc, api } = ctx;
            const email = "signup-codeonly@example.com";
            const since = Date.now() - 1000;
            const start = await oc("startSignUp", APP_CODE_ONLY, { username: email });
            assertCodeRequired(start, "signUp({username})");
            const code = await mailboxCode(email, since);
            const done = await oc("step", start.stateId, "submitCode", code);
            assertCompleted(done, "submitCode(code)");
            assert.deepEqual(
                api().map((e) => pathOf(e.url)),
                [p("/signup/v1.0/start"), p("/signup/v1.0/challenge"), p("/signup/v1.0/continue")],
                "sign-up request sequence (no password step)"
            );
            for (const e of api()) {
                assert.equal(parseForm(e.postData).client_id, APP_CODE_ONLY, `client_id sent to ${pathOf(e.url)}`);
            }
            await signInAfterSignUp(ctx, done.stateId, email, APP_CODE_ONLY);
        }));

    it("sign-up with required attributes (client 3333): attributes required, submitAttributes, sign-in", () =>
        scenario(async (ctx) => {
            const { oc, api } = ctx;
            const email = "signup-attributes@example.com";
            const since = Date.now() - 1000;
            const start = await oc("startSignUp", APP_ATTRIBUTES, { username: email, password: PASSWORD });
            assertCodeRequired(start, "signUp({username, password})");
            const code = await mailboxCode(email, since);
            const needAttrs = await oc("step", start.stateId, "submitCode", code);
            assert.equal(needAttrs.ok, true, `submitCode failed: ${JSON.stringify(needAttrs.error ?? needAttrs.exception)}`);
            assert.equal(
                needAttrs.status?.isAttributesRequired,
                true,
                `expected attributes required, got ${JSON.stringify(needAttrs.status)}`
            );
            assert.equal(needAttrs.state?.stateType, "SignUpAttributesRequiredState");
            const required = (needAttrs.state?.requiredAttributes ?? []).map((a) => a.name).sort();
            assert.deepEqual(
                required,
                ["city", "displayName"],
                `required attributes reported by MSAL: ${JSON.stringify(needAttrs.state?.requiredAttributes)}`
            );
            const done = await oc("step", needAttrs.stateId, "submitAttributes", { displayName: "Jane", city: "Oslo" });
            assertCompleted(done, "submitAttributes({displayName, city})");
            const sent = api();
            assert.deepEqual(
                sent.map((e) => pathOf(e.url)),
                [p("/signup/v1.0/start"), p("/signup/v1.0/challenge"), p("/signup/v1.0/continue"), p("/signup/v1.0/continue")],
                "sign-up request sequence"
            );
            const attrs = parseForm(sent[3].postData);
            assert.equal(attrs.grant_type, "attributes");
            assert.deepEqual(JSON.parse(attrs.attributes), { displayName: "Jane", city: "Oslo" });
            const signedIn = await signInAfterSignUp(ctx, done.stateId, email, APP_ATTRIBUTES);
            assert.equal(signedIn.account?.name, "Jane", "account name (id_token `name`) from the displayName attribute");
        }));

    it("sign-up of an existing user -> isUserAlreadyExists()", () =>
        scenario(async ({ oc, api }) => {
            const r = await oc("startSignUp", APP_PASSWORD, { username: EXISTING, password: PASSWORD });
            assert.equal(r.ok, false, `sign-up of an existing user succeeded: ${JSON.stringify(r)}`);
            assert.equal(
                r.error?.predicates?.isUserAlreadyExists,
                true,
                `expected isUserAlreadyExists(); got error ${JSON.stringify(r.error)}`
            );
            assert.equal(r.status?.isFailed, true, "result is failed");
            const sent = api();
            assert.deepEqual(sent.map((e) => pathOf(e.url)), [p("/signup/v1.0/start")], "only /signup/v1.0/start sent");
            assert.equal(sent[0].status, 400);
        }));

    it("wrong code -> isInvalidCode(), then the right code on the same state completes", () =>
        scenario(async (ctx) => {
            const { oc, api } = ctx;
            const email = "signup-wrongcode@example.com";
            const since = Date.now() - 1000;
            const start = await oc("startSignUp", APP_PASSWORD, { username: email, password: PASSWORD });
            assertCodeRequired(start, "signUp({username, password})");
            const code = await mailboxCode(email, since);
            const wrong = code === "00000000" ? "99999999" : "00000000";
            const bad = await oc("step", start.stateId, "submitCode", wrong);
            assert.equal(bad.ok, false, `wrong code accepted: ${JSON.stringify(bad)}`);
            assert.equal(
                bad.error?.predicates?.isInvalidCode,
                true,
                `expected isInvalidCode(); got error ${JSON.stringify(bad.error)}`
            );
            const done = await oc("step", start.stateId, "submitCode", code);
            assertCompleted(done, "submitCode(rightCode) on the same state after a wrong code");
            const conts = api().filter((e) => pathOf(e.url) === p("/signup/v1.0/continue"));
            assert.equal(conts.length, 2, "two /signup/v1.0/continue requests");
            assert.equal(conts[0].status, 400);
            assert.equal(
                parseForm(conts[0].postData).continuation_token,
                parseForm(conts[1].postData).continuation_token,
                "the retry reuses the challenge's continuation token"
            );
            await signInAfterSignUp(ctx, done.stateId, email, APP_PASSWORD);
        }));
});
