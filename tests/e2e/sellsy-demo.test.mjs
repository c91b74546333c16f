// End to end: the demo with Sellsy as the CRM. A new user turns JobAdder off
// and Sellsy on in the settings and starts Callcard again; the demo's first
// Sellsy caller is a contact with an open opportunity: the card window shows
// it, the call becomes a Sellsy phone call, and the history window links to
// that phone call.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session, eventually, quitApp } from "./webdriver.mjs";

const driver = process.env.TAURI_DRIVER_URL ?? "http://127.0.0.1:4444";
const demoAddr = process.env.CALLCARD_DEMO_ADDR;
const artifacts = process.env.CALLCARD_ARTIFACTS ?? "artifacts/e2e";
const launcher = join(import.meta.dirname, "demo-sellsy-app.sh");

async function quit(session) {
  await quitApp();
  await session.end();
}

async function demoState() {
  return (await fetch(`http://${demoAddr}/_sandbox/state`)).json();
}

test("in demo mode with Sellsy the card shows the opportunity and the history links the phone call", async () => {
  assert.ok(process.env.CALLCARD_APP && demoAddr, "scripts/test sets CALLCARD_APP and CALLCARD_DEMO_ADDR");
  mkdirSync(artifacts, { recursive: true });

  // Sellsy instead of JobAdder, chosen in the settings window.
  let session = await Session.start(driver, launcher, ["--open", "settings"]);
  try {
    await session.switchToPage("/settings.html");
    if (await session.checked("#field-crm_jobadder")) await session.click("#field-crm_jobadder");
    if (!(await session.checked("#field-crm_sellsy"))) await session.click("#field-crm_sellsy");
    await session.click("#save");
    await eventually(async () => assert.equal(await session.text("#status"), "Settings saved."));
  } finally {
    await quit(session);
  }

  session = await Session.start(driver, launcher, ["--open", "history"]);
  try {
    await session.switchToPage("/card.html");
    const opportunity = await eventually(async () => {
      const text = await session.text("#card-opportunity");
      assert.ok(text.length > 0, "the card shows the contact's opportunity");
      return text;
    }, { timeoutMs: 60000, intervalMs: 500 });
    const name = await session.text("#card-name");
    writeFileSync(join(artifacts, "card-sellsy.png"), await session.screenshot());

    const state = await demoState();
    const open = state.sellsy.opportunities.find((o) => o.name === opportunity && o.status === "open");
    assert.ok(open, `"${opportunity}" is an open opportunity in the demo's Sellsy`);
    const firstCall = state.aircall.calls[0].id;
    const phoneCall = await eventually(async () => {
      const found = (await demoState()).sellsy.phone_calls.filter((pc) =>
        (pc.description ?? "").split("\n").some((l) => l === `Aircall call ${firstCall}` || l.startsWith(`Aircall call ${firstCall}:`)),
      );
      assert.equal(found.length, 1, "the first call's phone call has landed, once");
      return found[0];
    }, { timeoutMs: 120000, intervalMs: 1000 });
    assert.ok(phoneCall.related.some((r) => r.type === "opportunity" && r.id === open.id), JSON.stringify(phoneCall.related));

    await session.switchToPage("/history.html");
    await eventually(async () => {
      const links = await session.attributes("button[id^=open-log-]", "title");
      assert.ok(
        links.some((l) => l && l.endsWith(`/phonecalls/${phoneCall.id}`)),
        `the history links to phone call ${phoneCall.id}: ${JSON.stringify(links)}`,
      );
    }, { timeoutMs: 30000, intervalMs: 1000 });
    assert.ok((await session.text("#history-calls")).includes(name), "the caller's name is in the history");
    writeFileSync(join(artifacts, "history-sellsy.png"), await session.screenshot());
  } finally {
    await quit(session);
  }
});
