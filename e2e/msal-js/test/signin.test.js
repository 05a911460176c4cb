// Real-client end-to-end test: @azure/msal-browser (custom auth / native authentication) running in headless
// Chromium, served from one origin, talking cross-origin to an `openciam dev` server.
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
    recordTraffic,
    runCli,
    startOpenciam,
    startStaticServer,
    withTimeout,
} from "../lib/harness.js";

const TENANT = "demo";
const EMAIL = "alice@example.com";
const PASSWORD = "Correct-Horse-9";

describe("MSAL.js custom auth (native auth) against openciam", { timeout: 300_000 }, () => {
    let dataDir;
    let server;
    let statics;
    let browser;
    let page;
    let traffic;
    let signedIn; // result of the successful sign-in, shared by later tests

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

    /** Calls window.oc[name](...args) in the page, bounded by a timeout. */
    function oc(name, ...args) {
        return withTimeout(
            page.evaluate(([n, a]) => window.oc[n](...a), [name, args]),
            TIMEOUTS.action,
            `window.oc.${name}()`
        );
    }

    /** Runs a test body; on failure appends the HTTP exchanges, MSAL log tail and server output. */
    async function diagnosed(body) {
        const mark = traffic.mark();
        const logMark = await withTimeout(page.evaluate(() => window.oc.logSeq()), 5_000, "logSeq").catch(() => 0);
        try {
            return await body(mark);
        } catch (e) {
            await traffic.settle();
            let logs = [];
            try {
                logs = await withTimeout(page.evaluate((since) => window.oc.logs(400, since), logMark), 5_000, "logs");
                // MSAL 5 logs verbose lines as short codes; keep errors/warnings and lines mentioning a URL.
                logs = logs.filter((l) => /^\[[01]\]/.test(l) || /https?:\/\//.test(l)).slice(-25);
            } catch {
                /* page may be gone */
            }
            e.message +=
                `\n--- HTTP exchanges during this test ---\n${formatTraffic(traffic.since(mark)) || "  (none)"}` +
                `\n--- MSAL log tail ---\n${logs.join("\n")}` +
                `\n--- page console ---\n${traffic.consoleLines.slice(-20).join("\n")}` +
                `\n--- openciam output tail ---\n${server?.output().slice(-3000) ?? ""}`;
            throw e;
        }
    }

    function apiRequests(mark) {
        return traffic.since(mark).filter((e) => e.url.startsWith(server.origin));
    }

    function safeClaims(jwt) {
        try {
            return decodeJwtPayload(jwt);
        } catch {
            return "(not a JWT)";
        }
    }

    function pathOf(url) {
        return new URL(url).pathname;
    }

    before(async () => {
        try {
            await withTimeout(buildBundle(), 60_000, "esbuild bundle");
            dataDir = makeTempDir("openciam-e2e-msal-");
            server = await startOpenciam(dataDir, { tenant: TENANT });
            await runCli([
                "user", "create",
                "--data", dataDir,
                "--tenant", TENANT,
                "--email", EMAIL,
                "--password", PASSWORD,
            ]);
            statics = await startStaticServer();
            assert.notEqual(statics.origin, server.origin, "page and API must be different origins");
            browser = await launchBrowser();
            page = await withTimeout(browser.context.newPage(), TIMEOUTS.pageLoad, "context.newPage()");
            traffic = recordTraffic(page);
            const q = new URLSearchParams({ base: server.baseUrl, clientId: server.clientId });
            await page.goto(`${statics.origin}/index.html?${q}`, { timeout: TIMEOUTS.pageLoad });
            const ready = await withTimeout(page.evaluate(() => window.oc.ready), TIMEOUTS.pageLoad, "MSAL initialise");
            assert.ok(ready.ok, `CustomAuthPublicClientApplication.create failed: ${ready.error}`);
        } catch (e) {
            e.message += `\n--- openciam output ---\n${server?.output() ?? "(not started)"}`;
            await cleanup();
            throw e;
        }
    }, { timeout: 180_000 });

    after(async () => {
        await cleanup();
    }, { timeout: 60_000 });

    it("wrong password -> isPasswordIncorrect()", () =>
        diagnosed(async (mark) => {
            const r = await oc("signIn", EMAIL, "Wrong-Horse-1");
            assert.equal(r.ok, false, `sign-in with a wrong password succeeded: ${JSON.stringify(r)}`);
            assert.equal(
                r.error?.predicates?.isPasswordIncorrect,
                true,
                `expected isPasswordIncorrect(); got error ${JSON.stringify(r.error)}`
            );
            const paths = apiRequests(mark).filter((e) => e.method === "POST").map((e) => pathOf(e.url));
            assert.deepEqual(
                paths,
                [`/${TENANT}/oauth2/v2.0/initiate`, `/${TENANT}/oauth2/v2.0/challenge`, `/${TENANT}/oauth2/v2.0/token`],
                "request sequence"
            );
        }));

    it("unknown user -> isUserNotFound()", () =>
        diagnosed(async () => {
            const r = await oc("signIn", "nobody@example.com", "Whatever-Horse-2");
            assert.equal(r.ok, false, `sign-in of an unknown user succeeded: ${JSON.stringify(r)}`);
            assert.equal(
                r.error?.predicates?.isUserNotFound,
                true,
                `expected isUserNotFound(); got error ${JSON.stringify(r.error)}`
            );
        }));

    it("sign-in with password succeeds", () =>
        diagnosed(async (mark) => {
            const r = await oc("signIn", EMAIL, PASSWORD);
            assert.equal(r.ok, true, `sign-in failed: ${JSON.stringify(r.error ?? r.exception)}`);
            assert.equal(r.status?.isCompleted, true, `sign-in not completed: ${JSON.stringify(r.status)}`);
            assert.equal(r.account?.username, EMAIL, "account username");
            assert.ok(r.account?.idToken, "id token present on the account");
            const claims = decodeJwtPayload(r.account.idToken);
            assert.equal(claims.preferred_username, EMAIL, "id_token preferred_username");
            assert.ok(r.tokens?.accessToken, `access token available after sign-in: ${JSON.stringify(r.tokensError)}`);
            assert.ok(r.tokens.expiresOn && Date.parse(r.tokens.expiresOn) > Date.now(), "access token expiry in the future");
            const token = apiRequests(mark).find((e) => pathOf(e.url).endsWith("/oauth2/v2.0/token"));
            assert.ok(token, "a /token request was sent to openciam");
            const form = parseForm(token.postData);
            assert.equal(form.grant_type, "password");
            assert.equal(form.client_info, "1");
            signedIn = r;
        }));

    it("getAccessToken({forceRefresh: true}) refreshes against openciam and returns a new access token", () =>
        diagnosed(async (mark) => {
            assert.ok(signedIn, "requires the successful sign-in of the previous test");
            const first = signedIn.tokens.accessToken;
            const r = await oc("getAccessToken", true);
            assert.equal(r.ok, true, `getAccessToken failed: ${JSON.stringify(r.error ?? r.exception)}`);
            assert.ok(r.tokens?.accessToken, "access token returned");
            assert.notEqual(
                r.tokens.accessToken,
                first,
                "forceRefresh must yield a different access token; openciam returned a byte-identical one " +
                    `(claims: ${JSON.stringify(safeClaims(first))})`
            );
            assert.equal(r.tokens.fromCache, false, "token must not come from the cache");
            await traffic.settle();
            const all = traffic.since(mark);
            const refresh = all.filter(
                (e) => e.method === "POST" && parseForm(e.postData).grant_type === "refresh_token"
            );
            assert.equal(refresh.length, 1, `exactly one refresh request expected:\n${formatTraffic(all)}`);
            assert.ok(
                refresh[0].url.startsWith(`${server.baseUrl}/oauth2/v2.0/token`),
                `refresh request went to ${refresh[0].url}, expected ${server.baseUrl}/oauth2/v2.0/token`
            );
            assert.equal(refresh[0].status, 200, "refresh response status");
            assert.ok(parseForm(refresh[0].postData).refresh_token, "refresh_token sent");
            // Every request made by the page (other than the page itself) went to openciam.
            for (const e of all) {
                assert.ok(e.url.startsWith(server.origin), `unexpected request to ${e.url}`);
            }
            const again = await oc("currentAccount");
            assert.equal(again.account?.username, EMAIL, "account still signed in after refresh");
        }));

    it("signOut() leaves no current account and makes no request", () =>
        diagnosed(async (mark) => {
            assert.ok(signedIn, "requires the successful sign-in");
            const r = await oc("signOut");
            assert.equal(r.ok, true, `signOut failed: ${JSON.stringify(r.error ?? r.exception)}`);
            const cur = await oc("currentAccount");
            assert.equal(cur.account, null, `account still present: ${JSON.stringify(cur.account)}`);
            assert.equal(cur.error?.predicates?.isCurrentAccountNotFound, true);
            assert.deepEqual(apiRequests(mark).map((e) => e.url), [], "sign-out must not call the server");
        }));

    it("can sign in again after sign-out", () =>
        diagnosed(async () => {
            assert.ok(signedIn, "requires the successful sign-in");
            const r = await oc("signIn", EMAIL, PASSWORD);
            assert.equal(r.ok, true, `second sign-in failed: ${JSON.stringify(r.error ?? r.exception)}`);
            assert.equal(r.account?.username, EMAIL);
            const out = await oc("signOut");
            assert.equal(out.ok, true);
        }));
});
