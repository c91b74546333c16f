// End to end: a real user's accounts. An installation with no JobAdder OAuth
// client (no CALLCARD_JOBADDER_* client variable) gets one pasted into the
// connect window and signs in to the sandbox's JobAdder on the default
// redirect port; disconnecting JobAdder in the settings removes its tokens
// from the keychain (as secret-tool sees it); a call made while it is
// disconnected waits, and is written once after signing in again. Turning
// "start at login" on writes the autostart entry and off removes it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Session, eventually, quitApp } from "./webdriver.mjs";

const driver = process.env.TAURI_DRIVER_URL ?? "http://127.0.0.1:4444";
const sandbox = process.env.CALLCARD_SANDBOX_URL;
const artifacts = process.env.CALLCARD_ARTIFACTS ?? "artifacts/e2e";
const launcher = join(import.meta.dirname, "accounts-app.sh");
// As accounts-app.sh names them (the app starts with tauri-driver's environment, not ours).
const keychain = "callcard-e2e-accounts";
const home = `${process.env.CALLCARD_HOME}-accounts`;

const control = async (method, path, body) => {
  const response = await fetch(`${sandbox}/_sandbox${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
  return response.json();
};
const state = () => control("GET", "/state?calls=false");
const notesFor = async (callId) =>
  (await state()).jobadder.notes.filter((n) => n.reference === `aircall-call-${callId}`);

/** The app's keychain entries for JobAdder's tokens (never their values). */
function jobadderTokenEntries() {
  // secret-tool prints each item's attributes on stderr (the secret on stdout, never read here).
  const found = spawnSync("secret-tool", ["search", "--all", "service", keychain], { encoding: "utf8" });
  return `${found.stderr ?? ""}`.split("\n").filter((line) => /^attribute\.username = jobadder\/tokens:/.test(line));
}

async function signInToJobAdder(session) {
  await session.switchToPage("welcome.html");
  await session.execute("location.reload()");
  await session.click("#connect-jobadder");
  await eventually(async () => assert.match(await session.text("#jobadder-connected"), /connected/), { timeoutMs: 30000 });
}

test("a pasted OAuth client signs in, a disconnect empties the keychain, and a call waits for the new sign-in", async () => {
  const { CALLCARD_JOBADDER_CLIENT_ID: clientId, CALLCARD_JOBADDER_CLIENT_SECRET: clientSecret } = process.env;
  assert.ok(sandbox && clientId && clientSecret, "scripts/test loads the sandbox's connection settings");
  mkdirSync(artifacts, { recursive: true });
  rmSync(home, { recursive: true, force: true });
  const session = await Session.start(driver, launcher, ["--open", "welcome", "--open", "settings"]);
  try {
    // The connect window: no client yet, so the paste form and the URI to register.
    await session.switchToPage("welcome.html");
    await eventually(async () => assert.equal(await session.text("#redirect-uri-jobadder"), "http://127.0.0.1:47615/callback"));
    assert.deepEqual(await session.ids("#connect-jobadder"), [], "no sign-in without a client");
    await session.type("#client-id-jobadder", clientId);
    await session.type("#client-secret-jobadder", clientSecret);
    await session.click("#save-client-jobadder");
    await eventually(async () => assert.match(await session.text("#client-saved-jobadder"), /saved/));
    await session.click("#connect-jobadder");
    await eventually(async () => assert.match(await session.text("#jobadder-connected"), /connected/), { timeoutMs: 30000 });
    writeFileSync(join(artifacts, "accounts-connect.png"), await session.screenshot());
    assert.equal(jobadderTokenEntries().length, 1, "the tokens are in the keychain");

    // Settings: calls are logged at once after they end, and JobAdder is disconnected.
    await session.switchToPage("settings.html");
    await session.execute("location.reload()");
    await session.type("#field-settle_delay_secs", "0");
    await session.click("#save");
    await eventually(async () => assert.equal(await session.text("#status"), "Settings saved."));
    await eventually(async () => assert.equal(await session.attributes("#account-jobadder", "data-connected").then((a) => a[0]), "true"));
    await session.click("#disconnect-jobadder");
    await eventually(async () => assert.equal((await session.attributes("#account-jobadder", "data-connected"))[0], "false"));
    assert.deepEqual(jobadderTokenEntries(), [], "no JobAdder tokens are left in the keychain");
    writeFileSync(join(artifacts, "accounts-disconnected.png"), await session.screenshot());

    // A call from a JobAdder candidate while disconnected: it waits.
    const mobile = "+447400555101";
    await control("POST", "/records", { crm: "jobadder", type: "candidate", region: "GB", fields: { firstName: "Robin", lastName: "Waits", mobile } });
    const user = (await state()).aircall.users.find((u) => u.email === process.env.CALLCARD_AIRCALL_USER_EMAIL);
    assert.ok(user, "the sandbox's user");
    const { id: callId } = await control("POST", "/calls", { direction: "inbound", external_number: mobile, number_id: user.numbers[0], user_id: null });
    await control("POST", `/calls/${callId}/answer`, { user_id: user.id });
    await control("POST", `/calls/${callId}/hangup`, {});
    await session.switchToPage("settings.html");
    // Long enough for a poll and the log to be planned, had JobAdder been there.
    await new Promise((resolve) => setTimeout(resolve, 12000));
    assert.deepEqual(await notesFor(callId), [], "nothing is written while JobAdder is disconnected");

    // Signing in again: the waiting call is written, once.
    await signInToJobAdder(session);
    await eventually(async () => assert.equal((await notesFor(callId)).length, 1), { timeoutMs: 60000, intervalMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 5000));
    assert.equal((await notesFor(callId)).length, 1, "written once");

    // Start at login follows the setting, without a restart.
    const entry = join(homedir(), ".config", "autostart", "Callcard.desktop");
    rmSync(entry, { force: true });
    await session.switchToPage("settings.html");
    await session.click("#field-start_at_login");
    await session.click("#save");
    await eventually(() => assert.ok(existsSync(entry), `${entry} written`));
    assert.match(readFileSync(entry, "utf8"), /^Exec=\S*callcard\b/m, "it starts this Callcard");
    await session.click("#field-start_at_login");
    await session.click("#save");
    await eventually(() => assert.ok(!existsSync(entry), `${entry} removed`));
  } finally {
    await quitApp();
    await session.end();
    cpSync(join(home, "state", "logs"), join(artifacts, "accounts-logs"), { recursive: true, force: true });
  }
});
