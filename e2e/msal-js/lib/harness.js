// Test harness: openciam dev server process, static page server, headless Chromium.
// Kept outside test/ so `node --test test/` does not treat it as a test file.
import { spawn, execFile } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DEFAULT_CLIENT_ID = "11111111-1111-1111-1111-111111111111";

export const TIMEOUTS = {
    serverStart: Number(process.env.OPENCIAM_START_TIMEOUT_MS || 60_000),
    cli: 60_000,
    browserLaunch: 60_000,
    pageLoad: 30_000,
    action: 30_000,
    stop: 5_000,
};

export function openciamBin() {
    const bin = process.env.OPENCIAM_BIN || path.join(ROOT, "..", "..", "target", "debug", "openciam");
    return path.resolve(ROOT, bin);
}

export function chromiumPath() {
    return process.env.CHROMIUM_PATH || "/usr/bin/chromium";
}

/** Promise that rejects after `ms` with a descriptive message; `.cancel()` clears the timer. */
export function withTimeout(promise, ms, what) {
    let timer;
    const t = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    });
    return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

export function makeTempDir(prefix) {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---------------------------------------------------------------------------------------------------------
// openciam processes

const children = new Set();
function killChildren() {
    for (const c of children) {
        try {
            c.kill("SIGKILL");
        } catch {
            /* already gone */
        }
    }
}
process.on("exit", killChildren);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(sig, () => {
        killChildren();
        process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
    });
}

// A detached watchdog that SIGKILLs `childPid` if this test process disappears without cleaning up
// (e.g. killed with SIGKILL by the test runner on timeout). It exits by itself once either process is gone.
const WATCHDOG = `
const [parent, child] = process.argv.slice(1).map(Number);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
setInterval(() => {
    if (!alive(child)) process.exit(0);
    if (!alive(parent)) { try { process.kill(child, "SIGKILL"); } catch {} process.exit(0); }
}, 500);
`;
function startWatchdog(childPid) {
    const w = spawn(process.execPath, ["-e", WATCHDOG, String(process.pid), String(childPid)], {
        detached: true,
        stdio: "ignore",
    });
    w.unref();
}

/**
 * Starts `openciam dev --listen 127.0.0.1:0 --data <dir> --limits test` (with `tls: true` also `--tls`: HTTPS with the
 * local CA it makes under `<dir>/tls`) and waits for the first `http(s)://127.0.0.1:PORT` on stdout (or stderr); with
 * TLS also for the CA path and the server key's SPKI hash it prints. Returns { proc, origin, baseUrl, clientId,
 * output(), stop() } plus, with TLS, `caFile` (PEM path) and `spki` (for Chromium's --ignore-certificate-errors-spki-list).
 */
export async function startOpenciam(dataDir, { tenant = "demo", tls = false } = {}) {
    const bin = openciamBin();
    if (!fs.existsSync(bin)) {
        throw new Error(`openciam binary not found at ${bin} (set OPENCIAM_BIN)`);
    }
    // The test profile: every browser test shares 127.0.0.1, so no per-IP limit.
    const args = ["dev", "--listen", "127.0.0.1:0", "--data", dataDir, "--limits", "test"];
    if (tls) args.push("--tls");
    const scheme = tls ? "https" : "http";
    let caFile = null;
    let spki = null;
    const proc = spawn(bin, args, {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, RUST_BACKTRACE: "1" },
    });
    children.add(proc);
    if (proc.pid) startWatchdog(proc.pid);
    let out = "";
    let clientId = null;
    let resolveUrl;
    let rejectUrl;
    const urlFound = new Promise((res, rej) => {
        resolveUrl = res;
        rejectUrl = rej;
    });
    const onData = (chunk) => {
        out += chunk.toString("utf8");
        if (out.length > 200_000) out = out.slice(-200_000);
        const c = out.match(/client[ _-]?id\s*[:=]\s*([0-9a-fA-F-]{36})/i);
        if (c) clientId = c[1];
        if (tls) {
            caFile = caFile || out.match(/HTTPS, local CA:\s+(\S+)/)?.[1] || null;
            spki = spki || out.match(/--ignore-certificate-errors-spki-list=(\S+)/)?.[1] || null;
            if (!caFile || !spki) return;
        }
        // First http(s)://127.0.0.1:PORT with a real (non-zero) port wins.
        for (const m of out.matchAll(new RegExp(`${scheme}://127\\.0\\.0\\.1:(\\d+)`, "g"))) {
            if (Number(m[1]) > 0) {
                resolveUrl(`${scheme}://127.0.0.1:${m[1]}`);
                break;
            }
        }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.on("exit", (code, signal) => {
        children.delete(proc);
        rejectUrl(new Error(`openciam dev exited early (code=${code}, signal=${signal}); output:\n${out}`));
    });
    proc.on("error", (e) => rejectUrl(e));

    let origin;
    try {
        origin = await withTimeout(urlFound, TIMEOUTS.serverStart, `openciam dev to print its URL (${bin} ${args.join(" ")})\n${out}`);
    } catch (e) {
        await stopProcess(proc);
        throw e;
    }
    // Give the "client id:" line a brief chance to arrive if it follows the URL line.
    if (!clientId) {
        await new Promise((r) => setTimeout(r, 200));
    }
    return {
        proc,
        origin,
        caFile,
        spki,
        baseUrl: `${origin}/${tenant}`,
        get clientId() {
            return process.env.OPENCIAM_CLIENT_ID || clientId || DEFAULT_CLIENT_ID;
        },
        output: () => out,
        stop: () => stopProcess(proc),
    };
}

export async function stopProcess(proc) {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, "exit");
    proc.kill("SIGTERM");
    try {
        await withTimeout(exited, TIMEOUTS.stop, "process to exit after SIGTERM");
    } catch {
        proc.kill("SIGKILL");
        await withTimeout(exited, TIMEOUTS.stop, "process to exit after SIGKILL").catch(() => {});
    }
}

/** Runs the openciam CLI (bounded by a timeout). Resolves { stdout, stderr }; rejects with output on failure. */
export function runCli(args) {
    const bin = openciamBin();
    return new Promise((resolve, reject) => {
        execFile(bin, args, { timeout: TIMEOUTS.cli, killSignal: "SIGKILL", maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
            if (err) {
                reject(new Error(`openciam ${args.join(" ")} failed: ${err.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
            } else {
                resolve({ stdout, stderr });
            }
        });
    });
}

// ---------------------------------------------------------------------------------------------------------
// Static server for index.html + dist/ (a different origin from openciam)

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".map": "application/json" };

export async function startStaticServer() {
    const files = new Map([
        ["/", "index.html"],
        ["/index.html", "index.html"],
        ["/dist/app.js", "dist/app.js"],
    ]);
    const server = http.createServer((req, res) => {
        const url = new URL(req.url, "http://x");
        if (url.pathname === "/favicon.ico") {
            res.writeHead(204);
            res.end();
            return;
        }
        const rel = files.get(url.pathname);
        if (req.method !== "GET" || !rel) {
            res.writeHead(404, { "content-type": "text/plain" });
            res.end("not found");
            return;
        }
        fs.readFile(path.join(ROOT, rel), (err, data) => {
            if (err) {
                res.writeHead(500, { "content-type": "text/plain" });
                res.end(String(err));
                return;
            }
            res.writeHead(200, { "content-type": TYPES[path.extname(rel)] || "application/octet-stream", "cache-control": "no-store" });
            res.end(data);
        });
    });
    server.keepAliveTimeout = 1000;
    server.listen(0, "127.0.0.1");
    await withTimeout(once(server, "listening"), 10_000, "static server to listen");
    const { port } = server.address();
    return {
        origin: `http://127.0.0.1:${port}`,
        close: () =>
            withTimeout(
                new Promise((r) => {
                    server.closeAllConnections?.();
                    server.close(() => r());
                }),
                TIMEOUTS.stop,
                "static server close"
            ).catch(() => {}),
    };
}

// ---------------------------------------------------------------------------------------------------------
// Chromium

export const CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/**
 * Launches headless Chromium. `spki` (base64 SHA-256 of a server key's SubjectPublicKeyInfo, as `openciam dev --tls`
 * prints it) makes Chromium accept exactly that server's certificate, as if the dev CA were installed; no other
 * certificate error is ignored.
 */
export async function launchBrowser({ spki } = {}) {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
        executablePath: chromiumPath(),
        args: spki ? [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${spki}`] : CHROMIUM_ARGS,
        headless: true,
        timeout: TIMEOUTS.browserLaunch,
    });
    let context;
    try {
        context = await withTimeout(browser.newContext(), TIMEOUTS.browserLaunch, "browser.newContext()");
    } catch (e) {
        await withTimeout(browser.close(), 15_000, "browser close").catch(() => {});
        throw e;
    }
    context.setDefaultTimeout(TIMEOUTS.action);
    return {
        browser,
        context,
        close: () => withTimeout(browser.close(), 15_000, "browser close").catch(() => {}),
    };
}

/**
 * Records every request the page makes (with response status/body), console messages and page errors.
 */
export function recordTraffic(page) {
    const entries = [];
    const consoleLines = [];
    const pending = new Set();
    page.on("request", (req) => {
        entries.push({
            t: Date.now(),
            method: req.method(),
            url: req.url(),
            headers: req.headers(),
            postData: req.postData() ?? null,
            resourceType: req.resourceType(),
            _req: req,
            status: null,
            responseBody: null,
            failure: null,
        });
    });
    page.on("response", (res) => {
        const e = entries.findLast((x) => x._req === res.request());
        if (!e) return;
        e.status = res.status();
        e.responseHeaders = res.headers();
        const p = res
            .text()
            .then((b) => {
                e.responseBody = b.length > 4000 ? `${b.slice(0, 4000)}…` : b;
            })
            .catch(() => {})
            .finally(() => pending.delete(p));
        pending.add(p);
    });
    page.on("requestfailed", (req) => {
        const e = entries.findLast((x) => x._req === req);
        if (e) e.failure = req.failure()?.errorText ?? "failed";
    });
    page.on("console", (m) => consoleLines.push(`[console.${m.type()}] ${m.text()}`));
    page.on("pageerror", (err) => consoleLines.push(`[pageerror] ${err.stack || err}`));
    return {
        entries,
        consoleLines,
        mark: () => entries.length,
        since: (mark) => entries.slice(mark),
        settle: () => withTimeout(Promise.allSettled([...pending]), 5_000, "response bodies").catch(() => {}),
    };
}

export function formatTraffic(list) {
    return list
        .map((e) => {
            const body = e.postData ? `\n    body: ${redactBody(e.postData)}` : "";
            const hdrs = Object.entries(e.headers || {})
                .filter(([k]) => !/^(user-agent|sec-|accept-language|referer)/i.test(k))
                .map(([k, v]) => `${k}: ${v}`)
                .join("; ");
            const res = e.failure
                ? `\n    => FAILED: ${e.failure}`
                : `\n    => ${e.status ?? "(no response)"} ${e.responseBody ?? ""}`;
            return `  ${e.method} ${e.url}\n    headers: ${hdrs}${body}${res}`;
        })
        .join("\n");
}

function redactBody(b) {
    return b.replace(/(password|new_password)=[^&]*/g, "$1=***");
}

export function parseForm(postData) {
    return Object.fromEntries(new URLSearchParams(postData || ""));
}

export function decodeJwtPayload(jwt) {
    const parts = String(jwt).split(".");
    if (parts.length !== 3) throw new Error(`not a JWT: ${jwt}`);
    return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
}

// ---------------------------------------------------------------------------------------------------------
// openciam dev mailbox

/**
 * Polls `GET {origin}/_dev/mailbox/latest-code?to=EMAIL[&purpose=…][&since=<epoch ms>]` until it answers 200
 * with `{"code": "…"}` (404 = nothing yet) or `timeoutMs` passes. Resolves the code string.
 */
export async function readMailboxCode(origin, to, { purpose, since, timeoutMs = 15_000, intervalMs = 200, caFile } = {}) {
    const q = new URLSearchParams({ to });
    if (purpose) q.set("purpose", purpose);
    if (since !== undefined) q.set("since", String(since));
    const url = `${origin}/_dev/mailbox/latest-code?${q}`;
    const deadline = Date.now() + timeoutMs;
    let last = "(no response)";
    for (;;) {
        try {
            const res = caFile ? await httpsGet(url, caFile) : await fetch(url, { signal: AbortSignal.timeout(5_000) });
            const body = await res.text();
            last = `${res.status} ${body}`;
            if (res.status === 200) {
                const code = JSON.parse(body).code;
                if (typeof code === "string" && code) return code;
                throw new Error(`dev mailbox answered 200 without a code: ${body}`);
            }
            if (res.status !== 404) throw new Error(`dev mailbox: GET ${url} -> ${last}`);
        } catch (e) {
            if (/dev mailbox/.test(e.message)) throw e;
            last = String(e);
        }
        if (Date.now() >= deadline) {
            throw new Error(`no code in the dev mailbox for ${to} within ${timeoutMs} ms (GET ${url} -> ${last})`);
        }
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

/**
 * GET over HTTPS trusting only the PEM certificates in `caFile` (Node's `ca` option replaces the built-in roots).
 * Resolves a fetch-like { status, text() }.
 */
export function httpsGet(url, caFile) {
    const ca = fs.readFileSync(caFile);
    return withTimeout(
        new Promise((resolve, reject) => {
            const req = https.get(url, { ca }, (res) => {
                const chunks = [];
                res.on("data", (c) => chunks.push(c));
                res.on("end", () => {
                    const body = Buffer.concat(chunks).toString("utf8");
                    resolve({ status: res.statusCode, text: async () => body });
                });
                res.on("error", reject);
            });
            req.on("error", reject);
        }),
        5_000,
        `GET ${url}`
    );
}
