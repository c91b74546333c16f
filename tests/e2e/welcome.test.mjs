// End to end: the connect window over the demo. A wrong Aircall key gets a
// clear message; the right one is checked against Aircall (the test run's
// sandbox), and the user's numbers are offered to follow.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session, eventually, quitApp } from "./webdriver.mjs";

const driver = process.env.TAURI_DRIVER_URL ?? "http://127.0.0.1:4444";
const artifacts = process.env.CALLCARD_ARTIFACTS ?? "artifacts/e2e";
const launcher = join(import.meta.dirname, "demo-app.sh");

test("the connect window checks an Aircall key and offers the user's numbers", async () => {
  const { CALLCARD_AIRCALL_API_ID: apiId, CALLCARD_AIRCALL_API_TOKEN: token, CALLCARD_AIRCALL_USER_EMAIL: email } = process.env;
  assert.ok(apiId && token && email, "scripts/test loads the sandbox's connection settings");
  mkdirSync(artifacts, { recursive: true });
  // A fresh home: a first run.
  if (process.env.CALLCARD_DEMO_HOME) rmSync(process.env.CALLCARD_DEMO_HOME, { recursive: true, force: true });
  const session = await Session.start(driver, launcher, ["--open", "welcome"]);
  try {
    await eventually(async () => assert.match(await session.text("#welcome-demo"), /demo/));
    await session.type("#api-id", apiId);
    await session.type("#api-token", "not-the-token");
    await session.type("#email", email);
    await session.click("#connect-aircall");
    await eventually(async () => assert.match(await session.text("#aircall-error"), /refused the API key/), { timeoutMs: 20000 });

    await session.type("#api-token", token);
    await session.click("#connect-aircall");
    await eventually(async () => assert.match(await session.text("#aircall-connected"), new RegExp(email)), { timeoutMs: 20000 });
    const numbers = await session.ids("input[id^=number-]");
    assert.ok(numbers.length >= 1, `the user's numbers are offered: ${numbers}`);
    for (const id of numbers) assert.equal(await session.checked(`#${id}`), true, "all followed by default");
    writeFileSync(join(artifacts, "connect.png"), await session.screenshot());
  } finally {
    await quitApp();
    await session.end();
  }
});
