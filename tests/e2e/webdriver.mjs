// A small W3C WebDriver client over fetch, enough to drive Callcard's windows
// through tauri-driver and WebKitWebDriver. No browser automation package:
// nothing here may download a browser, and the protocol is a handful of calls.

import { execFileSync } from "node:child_process";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class WebDriverError extends Error {}

async function call(base, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = json.value?.message ?? JSON.stringify(json);
    throw new WebDriverError(`${method} ${path} → ${response.status}: ${detail}`);
  }
  return json.value;
}

/** Retries `fn` until it stops throwing or `timeoutMs` passes. */
export async function eventually(fn, { timeoutMs = 15000, intervalMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(intervalMs);
    }
  }
}

export class Session {
  static async start(base, application, args = []) {
    const capabilities = { alwaysMatch: { "tauri:options": { application, args } } };
    const value = await call(base, "POST", "/session", { capabilities });
    const session = new Session(base, value.sessionId);
    // The first command right after a session starts can fail while the
    // webview settles: wait for the page, then a little more.
    await eventually(async () => {
      const state = await session.execute("return document.readyState");
      if (state !== "complete") throw new Error(`readyState ${state}`);
    }, { timeoutMs: 30000 });
    await sleep(1000);
    return session;
  }

  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  cmd(method, path, body) {
    return call(this.base, method, `/session/${this.id}${path}`, body);
  }

  execute(script, args = []) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }

  async find(css) {
    const element = await eventually(() => this.cmd("POST", "/element", { using: "css selector", value: css }));
    return element[ELEMENT];
  }

  async text(css) {
    return this.cmd("GET", `/element/${await this.find(css)}/text`);
  }

  async value(css) {
    return this.cmd("GET", `/element/${await this.find(css)}/property/value`);
  }

  async checked(css) {
    return this.cmd("GET", `/element/${await this.find(css)}/property/checked`);
  }

  /** Scrolls the element to the middle of the window, clear of the sticky footer. */
  async reveal(id) {
    await this.execute("arguments[0].scrollIntoView({block: 'center'})", [{ [ELEMENT]: id }]);
  }

  async click(css) {
    const id = await this.find(css);
    await this.reveal(id);
    await this.cmd("POST", `/element/${id}/click`, {});
  }

  async type(css, text) {
    const id = await this.find(css);
    await this.reveal(id);
    await this.cmd("POST", `/element/${id}/clear`, {});
    await this.cmd("POST", `/element/${id}/value`, { text });
  }

  /** Makes the window whose page path ends with `page` the current one. */
  async switchToPage(page) {
    return eventually(async () => {
      for (const handle of await this.cmd("GET", "/window/handles")) {
        await this.cmd("POST", "/window", { handle });
        const path = await this.execute("return location.pathname");
        if (path.endsWith(page)) return handle;
      }
      throw new Error(`no window shows ${page}`);
    }, { timeoutMs: 60000, intervalMs: 500 });
  }

  /** An attribute of every element matching `css`. */
  async attributes(css, name) {
    return this.execute(`return [...document.querySelectorAll(arguments[0])].map((e) => e.getAttribute(arguments[1]))`, [css, name]);
  }

  /** The `id` attributes of the elements matching `css`. */
  async ids(css) {
    return this.execute(`return [...document.querySelectorAll(arguments[0])].map((e) => e.id)`, [css]);
  }

  /**
   * WebKitGTK takes a snapshot on the next frame; a window that is not
   * repainting (the card: unfocused, nothing changing) may never produce
   * one under Xvfb, so a harmless repaint is kept going meanwhile.
   */
  async screenshot() {
    await this.execute(
      "let n = 0; window.__paint = setInterval(() => { document.body.style.transform = n++ % 2 ? 'translateZ(0)' : ''; }, 50)",
    );
    try {
      return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
    } finally {
      await this.execute("clearInterval(window.__paint); document.body.style.transform = ''").catch(() => {});
    }
  }

  async end() {
    await call(this.base, "DELETE", `/session/${this.id}`).catch(() => {});
  }
}

/**
 * Pids of the callcard apps this test run started: those in the session of
 * the run's tauri-driver (scripts/test starts it with setsid and names the
 * session in CALLCARD_TEST_SESSION). A Callcard the user runs is never seen.
 */
export function appPids() {
  const session = process.env.CALLCARD_TEST_SESSION;
  if (!session) throw new Error("CALLCARD_TEST_SESSION is not set: run the end-to-end tests through scripts/test");
  try {
    return execFileSync("pgrep", ["-s", session, "-x", "callcard"], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/** Quits the apps this run started as the desktop would (SIGTERM) and waits until none is left. */
export async function quitApp({ timeoutMs = 15000 } = {}) {
  for (const pid of appPids()) execFileSync("kill", ["-TERM", pid]);
  await eventually(() => {
    if (appPids().length > 0) throw new Error(`callcard still running: ${appPids()}`);
  }, { timeoutMs });
}
