// End to end: "Check my setup". With an Aircall key in the keychain that
// Aircall refuses, the check says so (and skips what depends on it); once
// the right key is entered in the connect window, every check passes, the
// data-health report lists the record whose number cannot be read with the
// default country, and the guided test call passes when its card shows.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session, eventually, quitApp } from "./webdriver.mjs";

const driver = process.env.TAURI_DRIVER_URL ?? "http://127.0.0.1:4444";
const sandbox = process.env.CALLCARD_SANDBOX_URL;
const artifacts = process.env.CALLCARD_ARTIFACTS ?? "artifacts/e2e";
const launcher = join(import.meta.dirname, "check-app.sh");
const keychain = "callcard-e2e-check";

const control = async (method, path, body) => {
  const response = await fetch(`${sandbox}/_sandbox${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.json();
};

/** Stores a secret as the app's keychain code does (service, username). */
function storeSecret(username, secret) {
  execFileSync("secret-tool", ["store", "--label=callcard e2e", "service", keychain, "username", username, "target", "default"], {
    input: secret,
  });
}

const outcomes = (session) =>
  session.execute("return Object.fromEntries([...document.querySelectorAll('.checks li')].map((li) => [li.id, li.dataset.outcome]))");

test("the setup check finds a broken Aircall key, then passes with the data-health report and the test call", async () => {
  const { CALLCARD_AIRCALL_API_ID: apiId, CALLCARD_AIRCALL_API_TOKEN: token, CALLCARD_AIRCALL_USER_EMAIL: email } = process.env;
  assert.ok(sandbox && apiId && token && email, "scripts/test loads the sandbox's connection settings");
  mkdirSync(artifacts, { recursive: true });
  rmSync(`${process.env.CALLCARD_HOME}-check`, { recursive: true, force: true });
  const unreadable = `ext. ${process.pid % 10000}`;
  await control("POST", "/records", { crm: "jobadder", type: "candidate", region: "GB", fields: { firstName: "Una", lastName: "Readable", phone: unreadable } });
  const mobile = "+447400555202";
  await control("POST", "/records", { crm: "jobadder", type: "candidate", region: "GB", fields: { firstName: "Tess", lastName: "Call", mobile } });
  // A key Aircall refuses, where the connect window keeps keys.
  storeSecret("aircall/api_id", apiId);
  storeSecret(`aircall/api_token:${apiId}`, "revoked-token");

  const session = await Session.start(driver, launcher, ["--open", "welcome", "--open", "check"]);
  try {
    await session.switchToPage("welcome.html");
    await session.click("#connect-jobadder");
    await eventually(async () => assert.match(await session.text("#jobadder-connected"), /connected/), { timeoutMs: 30000 });

    await session.switchToPage("check.html");
    await session.click("#run-checks");
    await eventually(async () => {
      const found = await outcomes(session);
      assert.equal(found["check-aircall_key"], "failed", JSON.stringify(found));
      assert.equal(found["check-aircall_user"], "skipped");
      assert.equal(found["check-crm_sign_in-jobadder"], "passed", JSON.stringify(found));
    }, { timeoutMs: 30000 });
    assert.match(await session.text("#check-aircall_key"), /Enter a valid API key/);
    writeFileSync(join(artifacts, "check-broken.png"), await session.screenshot());

    // The fix: the right key in the connect window.
    await session.switchToPage("welcome.html");
    await session.type("#api-id", apiId);
    await session.type("#api-token", token);
    await session.type("#email", email);
    await session.click("#connect-aircall");
    await eventually(async () => assert.match(await session.text("#aircall-connected"), new RegExp(email)), { timeoutMs: 20000 });

    await session.switchToPage("check.html");
    await session.click("#run-checks");
    await eventually(async () => {
      const found = await outcomes(session);
      assert.ok(Object.keys(found).length >= 7, JSON.stringify(found));
      for (const [id, outcome] of Object.entries(found)) assert.equal(outcome, "passed", `${id}: ${JSON.stringify(found)}`);
    }, { timeoutMs: 30000 });
    const listed = await session.attributes("#health-jobadder .unreadable li", "data-number");
    assert.ok(listed.includes(unreadable), `the unreadable number is listed: ${listed}`);

    // The guided test call: the user calls their Aircall number; the card shows.
    await session.click("#start-test-call");
    const user = (await control("GET", "/state?calls=false")).aircall.users.find((u) => u.email === email);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { id: callId } = await control("POST", "/calls", { direction: "inbound", external_number: mobile, number_id: user.numbers[0], user_id: null });
    try {
      await eventually(async () => {
        const [error] = await session.attributes("#test-call-error", "id");
        assert.equal(error, undefined, error && (await session.text("#test-call-error")));
        assert.equal((await session.attributes("#test-call-result", "data-passed"))[0], "true");
      }, { timeoutMs: 60000, intervalMs: 500 });
    } finally {
      await control("POST", `/calls/${callId}/hangup`, {});
    }
    assert.match(await session.text("#test-call-result"), /Tess Call/);
    writeFileSync(join(artifacts, "check-passed.png"), await session.screenshot());
  } finally {
    await quitApp();
    await session.end();
    cpSync(join(`${process.env.CALLCARD_HOME}-check`, "state", "logs"), join(artifacts, "check-logs"), { recursive: true, force: true });
  }
});
