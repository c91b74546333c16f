// End to end: a CRM record whose every field is hostile (markup, an
// onerror handler, a `javascript:` address, bidi overrides and control
// characters, 100,000 characters) rings in the real webview. The card shows
// it as text: no element comes from it, no script of it runs, nothing
// reorders it, and the long name is cut with "…". The screenshot is kept.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session, eventually, quitApp } from "./webdriver.mjs";

const driver = process.env.TAURI_DRIVER_URL ?? "http://127.0.0.1:4444";
const sandbox = process.env.CALLCARD_SANDBOX_URL;
const artifacts = process.env.CALLCARD_ARTIFACTS ?? "artifacts/e2e";
const launcher = join(import.meta.dirname, "hostile-app.sh");

const control = async (method, path, body) => {
  const response = await fetch(`${sandbox}/_sandbox${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return response.json();
};

test("the card shows a record whose every field is hostile as plain text", async () => {
  const email = process.env.CALLCARD_AIRCALL_USER_EMAIL;
  assert.ok(sandbox && email, "scripts/test loads the sandbox's connection settings");
  mkdirSync(artifacts, { recursive: true });
  rmSync(`${process.env.CALLCARD_HOME}-hostile`, { recursive: true, force: true });
  const mobile = "+447400555303";
  await control("POST", "/records", {
    crm: "jobadder",
    type: "candidate",
    region: "GB",
    fields: {
      firstName: `<img src=x onerror="window.__hostile='img'">`,
      lastName: `\u202Eevil\u0007</h1><script>window.__hostile='script'</script>${"y".repeat(100000)}`,
      email: "javascript:window.__hostile='link'",
      position: "<b>bold</b>",
      mobile,
    },
  });

  const session = await Session.start(driver, launcher, ["--open", "welcome"]);
  let callId;
  try {
    await session.switchToPage("welcome.html");
    await session.click("#connect-jobadder");
    await eventually(async () => assert.match(await session.text("#jobadder-connected"), /connected/), { timeoutMs: 30000 });

    const user = (await control("GET", "/state?calls=false")).aircall.users.find((u) => u.email === email);
    ({ id: callId } = await control("POST", "/calls", { direction: "inbound", external_number: mobile, number_id: user.numbers[0], user_id: null }));
    await session.switchToPage("/card.html");
    const name = await eventually(async () => {
      const text = await session.execute("return document.querySelector('#card-name')?.textContent ?? ''");
      assert.match(text, /evil/, `the hostile record's card, got ${JSON.stringify(text)}`);
      return text;
    }, { timeoutMs: 60000, intervalMs: 500 });
    // An onerror handler would have run by now if the markup were live.
    await new Promise((resolve) => setTimeout(resolve, 1000));

    // The record's text, bidi override and bell removed, cut at 200 characters.
    const full = `<img src=x onerror="window.__hostile='img'"> evil</h1><script>window.__hostile='script'</script>${"y".repeat(100000)}`;
    assert.equal(name, `${[...full].slice(0, 199).join("")}…`, "the name is the record's text, cut with …");
    const page = await eventually(async () => {
      const found = await session.execute(`return {
      ran: window.__hostile ?? null,
      injected: document.querySelectorAll('main img, main script, main b, [onerror], a[href^="javascript"]').length,
      email: [...document.querySelectorAll('dd')].map((dd) => dd.textContent).find((t) => t.startsWith('javascript:')) ?? null,
    }`);
      assert.ok(found.email, `the e-mail is shown: ${JSON.stringify(found)}`);
      return found;
    }, { timeoutMs: 30000, intervalMs: 500 });
    assert.equal(page.ran, null, "no script from the record ran");
    assert.equal(page.injected, 0, "no element comes from the record");
    assert.equal(page.email, "javascript:window.__hostile='link'", "the address is text, not a link");
    writeFileSync(join(artifacts, "card-hostile.png"), await session.screenshot());
  } finally {
    if (callId !== undefined) await control("POST", `/calls/${callId}/hangup`, {}).catch(() => {});
    await quitApp();
    await session.end();
  }
});
