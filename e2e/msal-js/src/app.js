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
//   capabilities (optional) comma separated customAuth.capabilities, e.g. "mfa_required,registration_required"

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
// Further CustomAuthPublicClientApplication instances, one per client id other than the page's (created on first
// use with the page's configuration and that client id). Keyed by client id; values are promises.
const otherApps = new Map();
// Every actionable state object a flow has returned, by id, so a caller can act on a specific (possibly older)
// state object again, e.g. submitCode() twice on the same SignUpCodeRequiredState after a wrong code.
const states = new Map();
let stateSeq = 0;
// The pending action-required state of the current multi-step flow (sign-up, reset password, code sign-in).
let pending = null;
let pendingFlow = null;

function readConfig(clientIdOverride) {
    const q = new URLSearchParams(window.location.search);
    const base = q.get("base");
    if (!base) {
        throw new Error("missing ?base=<openciam base URL> in the page URL");
    }
    const clientId = clientIdOverride || q.get("clientId") || DEFAULT_CLIENT_ID;
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
    const capabilities = (q.get("capabilities") || "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    return {
        auth: { clientId, authority },
        customAuth: { authApiProxyUrl: base, challengeTypes, ...(capabilities.length ? { capabilities } : {}) },
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
    for (const getter of [
        "getCodeLength",
        "getCodeResendInterval",
        "getRequiredAttributes",
        "getScopes",
        "getAuthMethods",
        "getChannel",
        "getSentTo",
    ]) {
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

const ACTIONS = [
    "submitCode",
    "submitPassword",
    "submitNewPassword",
    "submitAttributes",
    "signIn",
    "resendCode",
    // Second factor (MfaAwaitingState, MfaVerificationRequiredState) and method registration
    // (AuthMethodRegistrationRequiredState, AuthMethodVerificationRequiredState).
    "requestChallenge",
    "submitChallenge",
    "challengeAuthMethod",
];

function isActionable(state) {
    return !!state && ACTIONS.some((m) => typeof state[m] === "function");
}

/** Remembers an actionable state object and returns its id (null for terminal states). */
function registerState(state) {
    if (!isActionable(state)) return null;
    stateSeq += 1;
    states.set(stateSeq, state);
    return stateSeq;
}

function describeResult(result) {
    const state = describeState(result.state);
    if (state) state.id = registerState(result.state);
    const out = {
        ok: !result.error,
        status: predicates(result),
        state,
        stateId: state ? state.id : null,
        error: describeError(result.error),
    };
    return out;
}

function rememberPending(flow, result) {
    const st = result.state;
    const actionable = isActionable(st);
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

/** The MSAL instance for `clientId` (the page's own instance when omitted or equal to the page's client id). */
async function appFor(clientId) {
    if (!clientId || clientId === readConfig().auth.clientId) return app;
    if (!otherApps.has(clientId)) {
        otherApps.set(clientId, CustomAuthPublicClientApplication.create(readConfig(clientId)));
    }
    try {
        return await otherApps.get(clientId);
    } catch (e) {
        otherApps.delete(clientId);
        throw e;
    }
}

function currentAccountData(instance = app) {
    const r = instance.getCurrentAccount();
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

    // Sign-up with an explicit client id (a separate MSAL instance per client id). `inputs` is MSAL's SignUpInputs
    // ({username, password?, attributes?}). The result carries `stateId` for oc.step().
    async startSignUp(clientId, inputs) {
        return guard(async () => {
            const instance = await appFor(clientId);
            const result = await instance.signUp(inputs);
            return describeResult(result);
        });
    },

    // Sign-in with an explicit client id (see startSignUp). `inputs` is MSAL's SignInInputs ({username, password?,
    // scopes?}); a completed result carries the account and its cached access token.
    async startSignIn(clientId, inputs) {
        return guard(async () => {
            const instance = await appFor(clientId);
            const result = await instance.signIn(inputs);
            return completedWithAccount(describeResult(result), result);
        });
    },

    // Password reset with an explicit client id (see startSignUp). `inputs` is MSAL's ResetPasswordInputs ({username}).
    async startResetPassword(clientId, inputs) {
        return guard(async () => {
            const instance = await appFor(clientId);
            const result = await instance.resetPassword(inputs);
            return describeResult(result);
        });
    },

    // Calls `method(arg)` on the state object registered under `stateId` (from any earlier result), e.g.
    // step(id, "submitCode", "12345678"), step(id, "submitAttributes", {...}), step(id, "signIn").
    async step(stateId, method, arg) {
        return guard(async () => {
            const st = states.get(stateId);
            if (!st) throw new Error(`no state with id ${stateId}`);
            if (typeof st[method] !== "function") {
                throw new Error(`state ${stateId} (${st.stateType}) has no method ${method}()`);
            }
            const result = arg === undefined ? await st[method]() : await st[method](arg);
            return completedWithAccount(describeResult(result), result);
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

    async getAccessToken(forceRefresh, scopes, clientId) {
        return guard(async () => {
            const instance = await appFor(clientId);
            const acc = currentAccountData(instance);
            if (!acc) {
                const r = instance.getCurrentAccount();
                return { ok: false, error: describeError(r.error), tokens: null };
            }
            return tokensFor(acc, forceRefresh, scopes);
        });
    },

    async signOut(clientId) {
        return guard(async () => {
            const instance = await appFor(clientId);
            const acc = currentAccountData(instance);
            if (!acc) {
                const r = instance.getCurrentAccount();
                return { ok: false, error: describeError(r.error) };
            }
            const r = await acc.signOut();
            pending = null;
            pendingFlow = null;
            return { ok: !r.error, status: predicates(r), error: describeError(r.error) };
        });
    },

    async currentAccount(clientId) {
        return guard(async () => {
            const r = (await appFor(clientId)).getCurrentAccount();
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
