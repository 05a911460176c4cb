// Shared fixture for the scenario-style test files: registers before/after hooks (esbuild bundle, `openciam dev` on a
// temporary data directory, seeded users, static page server, one headless Chromium) inside the calling describe(),
// and offers `scenario()`, which runs a body in a fresh tab and decorates failures with the HTTP exchanges, the MSAL
// log tail, the page console and the openciam output.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";

import { buildBundle } from "../build.mjs";
import {
    TIMEOUTS,
    formatTraffic,
    launchBrowser,
    makeTempDir,
    readMailboxCode,
    recordTraffic,
    runCli,
    startOpenciam,
    startStaticServer,
    withTimeout,
} from "./harness.js";

export const TENANT = "demo";
export const APP_PASSWORD = "11111111-1111-1111-1111-111111111111"; // e-mail + password
export const APP_CODE_ONLY = "22222222-2222-2222-2222-222222222222"; // e-mail code only
export const APP_ATTRIBUTES = "33333333-3333-3333-3333-333333333333"; // password + displayName, city
export const APP_MFA = "44444444-4444-4444-4444-444444444444"; // password, then a required second factor (e-mail or SMS)

export const pathOf = (url) => new URL(url).pathname;
export const tenantPath = (suffix) => `/${TENANT}${suffix}`;

/**
 * Call inside describe(). `users` = [{email, password?}] created with `openciam user create` (no password → a
 * code-only account). `secrets` are strings blanked out of call descriptions in failure messages.
 * Returns { scenario, mailboxCode, server() }.
 */
export function useSuite({ prefix, users = [], secrets = [], tls = false }) {
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
            dataDir = makeTempDir(prefix);
            server = await startOpenciam(dataDir, { tenant: TENANT, tls });
            for (const u of users) {
                const args = ["user", "create", "--data", dataDir, "--tenant", TENANT, "--email", u.email];
                if (u.password) args.push("--password", u.password);
                await runCli(args);
            }
            statics = await startStaticServer();
            assert.notEqual(statics.origin, server.origin, "page and API must be different origins");
            browser = await launchBrowser({ spki: server.spki });
        } catch (e) {
            e.message += `\n--- openciam output ---\n${server?.output() ?? "(not started)"}`;
            await cleanup();
            throw e;
        }
    }, { timeout: 180_000 });

    after(async () => {
        await cleanup();
    }, { timeout: 60_000 });

    const redact = (s) => secrets.reduce((acc, x) => acc.split(x).join("***"), s);

    /**
     * Opens a fresh tab (fresh sessionStorage, so no "user already signed in") on the test page for `clientId`
     * (default APP_PASSWORD) with MSAL `customAuth.challengeTypes` = `challengeTypes` (default password + oob) and
     * `customAuth.capabilities` = `capabilities` (default none), runs
     * `body({page, traffic, oc, api})` and closes the tab. `oc(name, ...args)` calls window.oc[name](...args);
     * `api()` lists the POSTs sent to openciam so far (with response status/body once settled).
     */
    async function scenario(opts, body) {
        if (typeof opts === "function") {
            body = opts;
            opts = {};
        }
        const { clientId = APP_PASSWORD, challengeTypes, capabilities } = opts;
        const page = await withTimeout(browser.context.newPage(), TIMEOUTS.pageLoad, "context.newPage()");
        const traffic = recordTraffic(page);
        const oc = (name, ...args) =>
            withTimeout(
                page.evaluate(([n, a]) => window.oc[n](...a), [name, args]),
                TIMEOUTS.action,
                redact(`window.oc.${name}(${JSON.stringify(args).slice(1, -1)})`)
            );
        const api = () => traffic.entries.filter((e) => e.url.startsWith(server.origin) && e.method === "POST");
        try {
            const q = new URLSearchParams({ base: server.baseUrl, clientId });
            if (challengeTypes) q.set("challengeTypes", challengeTypes.join(","));
            if (capabilities) q.set("capabilities", capabilities.join(","));
            await page.goto(`${statics.origin}/index.html?${q}`, { timeout: TIMEOUTS.pageLoad });
            const ready = await withTimeout(page.evaluate(() => window.oc.ready), TIMEOUTS.pageLoad, "MSAL initialise");
            assert.ok(ready.ok, `CustomAuthPublicClientApplication.create failed: ${ready.error}`);
            const result = await body({ page, traffic, oc, api });
            return result;
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

    /** The latest code mailed to `to` for `purpose` (signup|signin|resetpassword) since `since` (epoch ms). */
    function mailboxCode(to, purpose, since) {
        return readMailboxCode(server.origin, to, { purpose, since, timeoutMs: 15_000, caFile: server.caFile });
    }

    return { scenario, mailboxCode, server: () => server };
}

/** JSON of a failed result's error (or exception) for assertion messages. */
export function errorOf(r) {
    return JSON.stringify(r?.error ?? r?.exception ?? r);
}
