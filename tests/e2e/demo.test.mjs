// End to end: the demo, as a new user sees it. No account is connected, so
// the app starts its built-in sandbox and scripted calls ring. The first
// demo caller's number belongs to two JobAdder records: the card window
// appears with the caller's name and both matches; choosing the other one
// makes the call's note land on that record, not on the default pick.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session, eventually, quitApp } from "./webdriver.mjs";
import { geometry, screenPng } from "./screen.mjs";

const driver = process.env.TAURI_DRIVER_URL ?? "http://127.0.0.1:4444";
const demoAddr = process.env.CALLCARD_DEMO_ADDR;
const artifacts = process.env.CALLCARD_ARTIFACTS ?? "artifacts/e2e";
const launcher = join(import.meta.dirname, "demo-app.sh");

async function demoState() {
  return (await fetch(`http://${demoAddr}/_sandbox/state`)).json();
}

test("in demo mode a scripted call pops the card, and the picked record gets the note", async () => {
  assert.ok(process.env.CALLCARD_APP && demoAddr, "scripts/test sets CALLCARD_APP and CALLCARD_DEMO_ADDR");
  mkdirSync(artifacts, { recursive: true });
  const session = await Session.start(driver, launcher, ["--open", "history"]);
  try {
    await session.switchToPage("/card.html");
    await eventually(async () => {
      const name = await session.text("#card-name");
      assert.ok(name.length > 0 && name !== "Unknown caller", `a caller's name, got ${JSON.stringify(name)}`);
    }, { timeoutMs: 30000 });
    const choices = await eventually(async () => {
      const ids = await session.ids("input[name^=match]");
      assert.ok(ids.length >= 2, `the picker lists every match: ${ids}`);
      return ids;
    });
    const checked = [];
    for (const id of choices) if (await session.checked(`#${id}`)) checked.push(id);
    assert.equal(checked.length, 1, "one record is picked by default");
    const other = choices.find((id) => id !== checked[0]);
    await session.click(`#${other}`);
    await eventually(async () => assert.equal(await session.checked(`#${other}`), true));
    const pickedName = await session.text("#card-name");
    writeFileSync(join(artifacts, "card.png"), await session.screenshot());

    // The card window shows whole on the screen (its frame included), whatever
    // the window manager: here, none.
    const screen = geometry();
    const card = geometry("Caller");
    writeFileSync(join(artifacts, "card-screen.png"), screenPng());
    assert.ok(card.width >= 300 && card.height >= 200, `the card has its size: ${JSON.stringify(card)}`);
    assert.ok(card.x >= 0 && card.y >= 0, `the card starts on the screen: ${JSON.stringify(card)}`);
    assert.ok(card.x + card.width <= screen.width && card.y + card.height <= screen.height,
      `the card ends on the screen ${JSON.stringify(screen)}: ${JSON.stringify(card)}`);

    // pick-candidate-5047 → the note must be on candidate 5047.
    const [, kind, id] = other.split("-");
    const firstCall = (await demoState()).aircall.calls[0].id;
    const note = await eventually(async () => {
      const notes = (await demoState()).jobadder.notes.filter((n) => n.reference === `aircall-call-${firstCall}`);
      assert.ok(notes.length > 0, "the first call's note has landed");
      return notes;
    }, { timeoutMs: 120000, intervalMs: 1000 });
    const sameKind = note.filter((n) => n.on === kind);
    assert.equal(sameKind.length, 1, JSON.stringify(note));
    assert.equal(String(sameKind[0].record_id), id, `the note is on the picked record (${pickedName})`);

    // The demo follows its in-process team hub: no call was read from
    // Aircall to watch or log it (the webhooks carried everything).
    const requests = (await (await fetch(`http://${demoAddr}/_sandbox/requests?api=aircall`)).json()).requests;
    const callReads = requests.filter((r) => r.method === "GET" && r.path.startsWith("/aircall/v1/calls"));
    assert.deepEqual(callReads.map((r) => r.path), [], "no polling in the demo");
  } finally {
    await quitApp();
    await session.end();
  }
});
