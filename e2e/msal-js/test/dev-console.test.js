// The dev console in headless Chromium: an MSAL.js sign-up with a wrong code first, then `/_dev/` of the same dev
// server shows the mailed code, the new user and the wrong-code call with its plain-words explanation. A full-page
// screenshot is saved to artifacts/dev-console.png (git-ignored) for people to look at.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

import { ROOT, TIMEOUTS } from "../lib/harness.js";
import { APP_PASSWORD, errorOf, useSuite } from "../lib/suite.js";

const PASSWORD = "Console-Pass-2026!";
export const SCREENSHOT = path.join(ROOT, "artifacts", "dev-console.png");

describe("openciam dev console in Chromium", { timeout: 300_000 }, () => {
    const { scenario, mailboxCode, server } = useSuite({ prefix: "openciam-e2e-msal-console-", secrets: [PASSWORD] });

    it("after a sign-up with a wrong code, /_dev/ shows the code, the user and the explained error", () =>
        scenario(async ({ page, oc }) => {
            const email = "console-user@example.com";
            const since = Date.now() - 1000;
            const start = await oc("startSignUp", APP_PASSWORD, { username: email, password: PASSWORD });
            assert.equal(start.ok, true, `signUp failed: ${errorOf(start)}`);
            const code = await mailboxCode(email, "signup", since);
            const wrong = code === "00000000" ? "99999999" : "00000000";
            const bad = await oc("step", start.stateId, "submitCode", wrong);
            assert.equal(bad.ok, false, `wrong code accepted: ${JSON.stringify(bad)}`);
            assert.equal(bad.error?.predicates?.isInvalidCode, true, `expected isInvalidCode(): ${errorOf(bad)}`);
            const done = await oc("step", start.stateId, "submitCode", code);
            assert.equal(done.ok, true, `right code after a wrong one failed: ${errorOf(done)}`);

            await page.setViewportSize({ width: 1280, height: 900 });
            await page.goto(`${server().origin}/_dev/`, { timeout: TIMEOUTS.pageLoad });
            assert.equal(await page.title(), "openciam dev console");
            for (const name of ["Mailbox", "Users", "Latest flows"]) {
                assert.ok(await page.getByRole("heading", { level: 2, name }).isVisible(), `heading ${name}`);
            }
            // The mailbox shows the code in large type next to the address.
            const card = page.locator("#mailbox li", { hasText: email });
            assert.ok(await card.isVisible(), "mailbox card for the address");
            const shown = card.locator(".otp");
            assert.equal((await shown.textContent())?.trim(), code, "the code in the mailbox");
            const size = await shown.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
            assert.ok(size >= 28, `code in large type (font-size ${size}px)`);
            // The new user is listed.
            assert.ok(await page.locator("#users td", { hasText: email }).first().isVisible(), "user row");
            // The sign-up flow: its wrong-code call is explained, and the wrong code itself is not shown.
            const flow = page.locator("article.flow", { hasText: email }).first();
            assert.ok(await flow.isVisible(), "the sign-up flow");
            const explanation = flow.locator(".explain").first();
            assert.ok(await explanation.isVisible(), "an explained error");
            const text = await explanation.textContent();
            assert.match(text, /What went wrong/);
            assert.match(text, /code does not match/);
            const flowText = await flow.textContent();
            assert.match(flowText, /invalid_oob_value/);
            assert.ok(!flowText.includes(wrong), "the submitted code is masked");
            assert.ok(!(await page.content()).includes(PASSWORD), "the password is never on the page");

            fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
            await flow.scrollIntoViewIfNeeded();
            await page.screenshot({ path: SCREENSHOT, fullPage: true });
            assert.ok(fs.statSync(SCREENSHOT).size > 10_000, "screenshot written");
            console.log(`dev console screenshot: ${SCREENSHOT}`);
        }));
});
