// Page script for the openciam MSAL.js end-to-end suite.
//
// Drives the real @azure/msal-browser "custom auth" (native authentication) client and exposes a small
// promise-based API on `window.oc` whose results are plain JSON, so a test runner can call it through
// Playwright's page.evaluate().
//
// Query string parameters:
//   base      (required) openciam base URL, e.g. http://127.0.0.1:4000/demo  -> customAuth.authApiProxyUrl
//   clientId  (optional) application (client) id; default 11111111-1111-1111-1111-111111111111
//   authority (optional) auth.authority; MSAL insists on https:, and only uses it as a cache key (no request is
//             ever sent to it). Default: `base` with its scheme switched to https.
//   challengeTypes (optional) comma separated, default "password,oob"

import {
    CustomAuthPublicClientApplication,
    LogLevel,
} from "@azure/msal-browser/custom-auth";

const DEFAULT_CLIENT_ID = "11111111-1111-1111-1111-111111111111";
const MAX_LOG_LINES = 2000;

const logs = [];
let logSeq = 0;
let app = null;
let initError = null;
// The pending action-required state of the current multi-step flow (sign-up, reset password, code sign-in).
let pending = null;
let pendingFlow = null;

function readConfig() {
    const q = new URLSearchParams(window.location.search);
    const base = q.get("base");
    if (!base) {
        throw new Error("missing ?base=<openciam base URL> in the page URL");
    }
    const clientId = q.get("clientId") || DEFAULT_CLIENT_ID;
    let authority = q.get("authority");
    if (!authority) {
        const u = new URL(base);
        u.protocol = "https:";
        authority = u.href.replace(/\/$/, "");
    }
    const challengeTypes = (q.get("challengeTypes") || "password,oob")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    return {
        auth: { clientId, authority },
        customAuth: { authApiProxyUrl: base, challengeTypes },
        cache: { cacheLocation: "sessionStorage" },
        system: {
            loggerOptions: {
                logLevel: LogLevel.Verbose,
                piiLoggingEnabled: true,
                loggerCallback: (level, message) => {
                    logSeq += 1;
                    logs.push({ seq: logSeq, line: `[${level}] ${message}` });
                    if (logs.length > MAX_LOG_LINES) logs.shift();
                },
            },
        },
    };
}

// ---------------------------------------------------------------------------------------------------------
// Serialisation helpers

function predicates(obj) {
    // Calls every public zero-argument `isXxx()` method found on the object's prototype chain.
    const out = {};
    if (!obj) return out;
    const seen = new Set();
    for (let p = Object.getPrototypeOf(obj); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
        for (const name of Object.getOwnPropertyNames(p)) {
            if (seen.has(name) || !/^is[A-Z]/.test(name) || name.endsWith("Error")) continue;
            seen.add(name);
            const fn = obj[name];
            if (typeof fn !== "function" || fn.length !== 0) continue;
            try {
                out[name] = !!fn.call(obj);
            } catch (e) {
                out[name] = `threw: ${e}`;
            }
        }
    }
    return out;
}

function describeError(err) {
    if (!err) return null;
    const d = err.errorData || err;
    return {
        type: err.constructor?.name,
        dataType: d?.constructor?.name,
        errorCode: d?.error ?? d?.errorCode ?? null,
        errorDescription: d?.errorDescription ?? d?.errorMessage ?? d?.message ?? null,
        errorCodes: d?.errorCodes ?? [],
        subError: d?.subError ?? null,
        correlationId: d?.correlationId ?? null,
        predicates: predicates(err),
    };
}

function describeAccount(accountData) {
    if (!accountData) return null;
    const info = accountData.getAccount ? accountData.getAccount() : accountData;
    return {
        username: info.username,
        name: info.name,
        homeAccountId: info.homeAccountId,
        localAccountId: info.localAccountId,
        tenantId: info.tenantId,
        environment: info.environment,
        idToken: accountData.getIdToken ? accountData.getIdToken() ?? null : info.idToken ?? null,
        idTokenClaims: info.idTokenClaims ?? null,
    };
}

function describeAuthResult(r) {
    if (!r) return null;
    return {
        accessToken: r.accessToken,
        idToken: r.idToken,
        expiresOn: r.expiresOn ? new Date(r.expiresOn).toISOString() : null,
        scopes: r.scopes,
        tokenType: r.tokenType,
        fromCache: r.fromCache,
        correlationId: r.correlationId,
        username: r.account?.username ?? null,
    };
}

function describeState(state) {
    if (!state) return null;
    const s = { stateType: state.stateType ?? state.constructor?.name };
    for (const getter of ["getCodeLength", "getCodeResendInterval", "getRequiredAttributes", "getScopes"]) {
        if (typeof state[getter] === "function") {
            try {
                s[getter.replace(/^get/, "").replace(/^./, (c) => c.toLowerCase())] = state[getter]();
            } catch {
                /* ignore */
            }
        }
    }
    return s;
}

function describeResult(result) {
    const out = {
        ok: !result.error,
        status: predicates(result),
        state: describeState(result.state),
        error: describeError(result.error),
    };
    return out;
}

function rememberPending(flow, result) {
    const st = result.state;
    const actionable =
        st &&
        ["submitCode", "submitPassword", "submitNewPassword", "submitAttributes", "signIn", "resendCode"].some(
            (m) => typeof st[m] === "function"
        );
    pending = actionable ? st : null;
    pendingFlow = actionable ? flow : null;
}

async function guard(fn) {
    try {
        if (initError) throw initError;
        if (!app) throw new Error("MSAL not initialised yet");
        return await fn();
    } catch (e) {
        return { ok: false, exception: String(e && e.stack ? e.stack : e), error: describeError(e) };
    }
}

function currentAccountData() {
    const r = app.getCurrentAccount();
    return r && r.data ? r.data : null;
}

async function tokensFor(accountData, forceRefresh, scopes) {
    const r = await accountData.getAccessToken({ forceRefresh: !!forceRefresh, ...(scopes ? { scopes } : {}) });
    return {
        ok: !r.error,
        status: predicates(r),
        error: describeError(r.error),
        tokens: describeAuthResult(r.data),
    };
}

async function completedWithAccount(out, result) {
    if (result.data && typeof result.data.getAccount === "function") {
        out.account = describeAccount(result.data);
        // Fetch the access token MSAL cached during sign-in (expected to come from cache, no request).
        const t = await tokensFor(result.data, false);
        out.tokens = t.tokens;
        out.tokensError = t.error;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------------
// Public API

const oc = {
    async signIn(username, password, scopes) {
        return guard(async () => {
            const inputs = { username };
            if (password !== undefined && password !== null) inputs.password = password;
            if (scopes) inputs.scopes = scopes;
            const result = await app.signIn(inputs);
            rememberPending("signIn", result);
            return completedWithAccount(describeResult(result), result);
        });
    },

    async signUp(username, password, attributes) {
        return guard(async () => {
            const inputs = { username };
            if (password) inputs.password = password;
            if (attributes) inputs.attributes = attributes;
            const result = await app.signUp(inputs);
            rememberPending("signUp", result);
            return describeResult(result);
        });
    },

    async resetPassword(username) {
        return guard(async () => {
            const result = await app.resetPassword({ username });
            rememberPending("resetPassword", result);
            return describeResult(result);
        });
    },

    // Generic continuation of the pending multi-step flow.
    async submitCode(code) {
        return oc._continue("submitCode", code);
    },
    async submitPassword(password) {
        return oc._continue("submitPassword", password);
    },
    async submitNewPassword(password) {
        return oc._continue("submitNewPassword", password);
    },
    async submitAttributes(attributes) {
        return oc._continue("submitAttributes", attributes);
    },
    async resendCode() {
        return oc._continue("resendCode");
    },
    // After sign-up / password reset completed: sign in with the continuation token.
    async continueSignIn(scopes) {
        return oc._continue("signIn", scopes ? { scopes } : undefined);
    },
    async _continue(method, arg) {
        return guard(async () => {
            if (!pending || typeof pending[method] !== "function") {
                throw new Error(
                    `no pending state accepting ${method}() (flow=${pendingFlow}, state=${pending?.stateType})`
                );
            }
            const flow = pendingFlow;
            const result = arg === undefined ? await pending[method]() : await pending[method](arg);
            rememberPending(flow, result);
            return completedWithAccount(describeResult(result), result);
        });
    },

    async getAccessToken(forceRefresh, scopes) {
        return guard(async () => {
            const acc = currentAccountData();
            if (!acc) {
                const r = app.getCurrentAccount();
                return { ok: false, error: describeError(r.error), tokens: null };
            }
            return tokensFor(acc, forceRefresh, scopes);
        });
    },

    async signOut() {
        return guard(async () => {
            const acc = currentAccountData();
            if (!acc) {
                const r = app.getCurrentAccount();
                return { ok: false, error: describeError(r.error) };
            }
            const r = await acc.signOut();
            pending = null;
            pendingFlow = null;
            return { ok: !r.error, status: predicates(r), error: describeError(r.error) };
        });
    },

    async currentAccount() {
        return guard(async () => {
            const r = app.getCurrentAccount();
            return {
                ok: !r.error,
                account: r.data ? describeAccount(r.data) : null,
                error: describeError(r.error),
            };
        });
    },

    // MSAL log lines (newest last). `since` = a value previously returned by logSeq().
    logs(last = 200, since = 0) {
        return logs.filter((l) => l.seq > since).slice(-last).map((l) => l.line);
    },
    logSeq() {
        return logSeq;
    },

    info() {
        return {
            initialised: !!app,
            initError: initError ? String(initError.stack || initError) : null,
            config: (() => {
                try {
                    const c = readConfig();
                    delete c.system;
                    return c;
                } catch (e) {
                    return String(e);
                }
            })(),
        };
    },
};

window.oc = oc;

oc.ready = (async () => {
    try {
        app = await CustomAuthPublicClientApplication.create(readConfig());
        document.getElementById("status")?.replaceChildren("ready");
        return { ok: true };
    } catch (e) {
        initError = e;
        document.getElementById("status")?.replaceChildren(`init failed: ${e}`);
        return { ok: false, error: String(e && e.stack ? e.stack : e) };
    }
})();
