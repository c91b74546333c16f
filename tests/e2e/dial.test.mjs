// End to end: click to dial. The user opts in from the settings window, the
// app registers itself as the desktop's tel: handler, `gio open tel:…` (what a
// browser or mail client does) reaches the running app through its
// single-instance hand-over, and the number is dialled through Aircall — the
// sandbox's dial log shows it. In "start the call" mode a link asks first in
// the dial window: a yes places the call once, a no places nothing.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Session, eventually, quitApp } from "./webdriver.mjs";

const driver = process.env.TAURI_DRIVER_URL ?? "http://127.0.0.1:4444";
const app = process.env.CALLCARD_APP;
const sandbox = process.env.CALLCARD_SANDBOX_URL;
const artifacts = process.env.CALLCARD_ARTIFACTS ?? "artifacts/e2e";

async function dials() {
  const state = await (await fetch(`${sandbox}/_sandbox/state`)).json();
  return state.aircall.dials;
}

test("a tel: link opened on the desktop dials through Aircall once the user opts in", async () => {
  assert.ok(app && sandbox, "scripts/test sets CALLCARD_APP and starts the sandbox");
  mkdirSync(artifacts, { recursive: true });
  const session = await Session.start(driver, app, ["--open", "settings"]);
  try {
    // The deep-link plugin's entry, named after the binary.
    const entry = join(process.env.XDG_DATA_HOME, "applications", "callcard-handler.desktop");
    const handler = (scheme) =>
      execFileSync("xdg-mime", ["query", "default", `x-scheme-handler/${scheme}`], { encoding: "utf8" }).trim();
    assert.notEqual(handler("tel"), "callcard-handler.desktop", "not the tel: handler before opting in");
    await session.click("#field-handle_tel_links");
    await session.click("#save");
    await eventually(async () => assert.equal(await session.text("#status"), "Settings saved."));
    await eventually(() => assert.ok(existsSync(entry), `${entry} written`));
    await eventually(() => {
      const text = readFileSync(entry, "utf8");
      assert.match(text, /x-scheme-handler\/tel;/);
      assert.match(text, /x-scheme-handler\/callto;/);
      assert.match(text, /^Exec=[^"\s]+ %u$/m, "an Exec xdg-open can run");
    });
    assert.equal(handler("tel"), "callcard-handler.desktop");
    assert.equal(handler("callto"), "callcard-handler.desktop");

    execFileSync("gio", ["open", "tel:+44-7400-123456"]);
    await eventually(async () => {
      const found = (await dials()).filter((d) => d.to === "+447400123456");
      assert.equal(found.length, 1, JSON.stringify(await dials()));
    }, { timeoutMs: 30000 });
    writeFileSync(join(artifacts, "dial-settings.png"), await session.screenshot());

    // "Start the call": any web page can open a link, so a link asks first,
    // in a window of its own; only a yes places the call.
    await session.execute(`const select = document.querySelector("#field-dial_mode");
      select.value = "start_call"; select.dispatchEvent(new Event("change", { bubbles: true }));`);
    await session.click("#save");
    await eventually(async () => assert.equal(await session.text("#status"), "Settings saved."));
    const calls = async (to) => (await dials()).filter((d) => d.to === to && d.kind === "call");
    execFileSync("gio", ["open", "tel:+44-7400-123457"]);
    await session.switchToPage("dial.html");
    await eventually(async () => assert.equal(await session.text("#dial-number"), "+447400123457"));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(await calls("+447400123457"), [], "no call before the user says yes");
    writeFileSync(join(artifacts, "dial-confirm.png"), await session.screenshot());
    await session.click("#dial-call");
    await eventually(async () => assert.equal((await calls("+447400123457")).length, 1, JSON.stringify(await dials())), { timeoutMs: 30000 });

    // A no places nothing.
    execFileSync("gio", ["open", "tel:+44-7400-123458"]);
    await session.switchToPage("dial.html");
    await eventually(async () => assert.equal(await session.text("#dial-number"), "+447400123458"));
    await session.click("#dial-cancel");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.deepEqual(await calls("+447400123458"), [], "no call after the user says no");
    assert.equal((await calls("+447400123457")).length, 1, "the first call was placed once");
    await session.switchToPage("settings.html");

    // Opting out removes the registration.
    await session.click("#field-handle_tel_links");
    await session.click("#save");
    await eventually(() => assert.notEqual(handler("tel"), "callcard-handler.desktop"));
    assert.doesNotMatch(readFileSync(entry, "utf8"), /x-scheme-handler\/tel;/);
  } finally {
    await quitApp();
    await session.end();
  }
});
