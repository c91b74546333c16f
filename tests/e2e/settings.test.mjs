// End to end: the real `callcard` binary in WebKitGTK under Xvfb, driven
// through tauri-driver. scripts/test starts Xvfb, the session bus, the
// keychain and tauri-driver, and passes their addresses in the environment.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session, appPids, eventually, quitApp } from "./webdriver.mjs";

const driver = process.env.TAURI_DRIVER_URL ?? "http://127.0.0.1:4444";
const app = process.env.CALLCARD_APP;
const artifacts = process.env.CALLCARD_ARTIFACTS ?? "artifacts/e2e";
assert.ok(app, "CALLCARD_APP must name the app binary (scripts/test sets it)");
mkdirSync(artifacts, { recursive: true });

/** Files under `dir` that contain `text` (grep exits 1 when there are none). */
function grepFiles(text, dir) {
  try {
    return execFileSync("grep", ["-rla", text, dir], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  } catch (error) {
    if (error.status === 1) return [];
    throw error;
  }
}

let session;

before(async () => {
  assert.deepEqual(appPids(), [], "no callcard may be running before the test");
});

after(async () => {
  await session?.end();
});

test("settings: a change is validated by the core, saved, and still there after a restart", async () => {
  session = await Session.start(driver, app, ["--open", "settings"]);
  assert.equal(await session.value("#field-settle_delay_secs"), "60", "defaults on a fresh home");

  // The core refuses out-of-range values; the error shows next to the field.
  await session.type("#field-settle_delay_secs", "9999");
  await session.click("#save");
  await eventually(async () => assert.equal(await session.text("#error-settle_delay_secs"), "Must be between 0 and 600."));
  writeFileSync(join(artifacts, "settings-invalid.png"), await session.screenshot());

  await session.type("#field-settle_delay_secs", "125");
  await session.click("#field-log_recording_link");
  await session.click("#save");
  await eventually(async () => assert.equal(await session.text("#status"), "Settings saved."));
  const png = await session.screenshot();
  assert.ok(png.length > 1000 && png.subarray(1, 4).toString() === "PNG", "a real PNG screenshot");
  writeFileSync(join(artifacts, "settings-saved.png"), png);

  // Closing the last window leaves the tray app running.
  const [pid] = appPids();
  assert.ok(pid, "the app runs");
  // The window may be gone before the driver answers the click: "no such window" is the point here.
  await session.click("button.secondary").catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.deepEqual(appPids(), [pid], "the app outlives its last window");

  // SIGTERM (a logout) quits the tray app cleanly.
  await quitApp();
  await session.end();
  session = undefined;
  const log = execFileSync("sh", ["-c", `cat "${process.env.CALLCARD_HOME}"/state/logs/*`], { encoding: "utf8" });
  assert.match(log, /stop signal received, quitting/);
  assert.match(log, /service stopped/);

  // A new process on the same CALLCARD_HOME shows what was saved.
  session = await Session.start(driver, app, ["--open", "settings"]);
  assert.equal(await session.value("#field-settle_delay_secs"), "125");
  assert.equal(await session.checked("#field-log_recording_link"), true);
  writeFileSync(join(artifacts, "settings-reopened.png"), await session.screenshot());
});

test("nothing secret is written outside the keychain", async () => {
  // Settings hold no secret today; this guards the data folders as they grow.
  const home = process.env.CALLCARD_HOME;
  assert.ok(home, "CALLCARD_HOME is set by scripts/test");
  const files = execFileSync("find", [home, "-type", "f"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  assert.ok(files.some((f) => f.endsWith("callcard.sqlite3")), `database in ${home}: ${files}`);
  for (const secretish of ["api_token", "refresh_token", "access_token", "client_secret"]) {
    const hits = grepFiles(secretish, home);
    assert.deepEqual(hits, [], `${secretish} found in ${hits}`);
  }
});
