import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { History as HistoryModel, ServiceEvent, SettingsView } from "../lib/types";
import { crms } from "../lib/test-fixtures";

vi.mock("../lib/backend", () => ({
  backend: { onEvent: vi.fn(), getSettings: vi.fn(), getHistory: vi.fn(), retryLog: vi.fn(), openLog: vi.fn(), closeWindow: vi.fn() },
}));
import { backend } from "../lib/backend";
import History from "./History.svelte";

const mocked = vi.mocked(backend);

const model: HistoryModel = {
  counts: { pending: 1, in_flight: 0, done: 1, failed: 1 },
  catching_up: null,
  waiting: [],
  messages: [],
  calls: [
    {
      call_id: 7,
      number: "+447400111001",
      direction: "inbound",
      caller: "Grace Hopper",
      seen_ms: 1_767_000_000_000,
      logs: [
        { id: 1, crm: "jobadder", target: "candidate:1", target_name: "Grace Hopper", kind: "call", state: "done", attempts: 1, last_error: null, link: "https://app.jobadder.com/candidates/1" },
        { id: 2, crm: "sellsy", target: "contact:9", target_name: null, kind: "call", state: "failed", attempts: 5, last_error: "refused by the CRM: gone", link: null },
      ],
      not_logged: null,
    },
  ],
};

const empty: HistoryModel = { calls: [], messages: [], counts: { pending: 0, in_flight: 0, done: 0, failed: 0 }, catching_up: null, waiting: [] };

let push: (event: ServiceEvent) => void = () => {};

beforeEach(() => {
  vi.resetAllMocks();
  // The window reads the CRMs' names from the settings view.
  mocked.getSettings.mockResolvedValue({ settings: { language: "en" }, limits: {}, crms } as unknown as SettingsView);
  mocked.onEvent.mockImplementation((handler) => {
    push = handler;
    return () => {};
  });
});

describe("the history", () => {
  it("lists the SMS next to the calls, with the note each went to", async () => {
    mocked.getHistory.mockResolvedValue({
      ...model,
      messages: [
        {
          message_id: "SM12",
          seen_ms: 1_767_000_100_000,
          logs: [{ id: 5, crm: "jobadder", target: "candidate:1", target_name: null, kind: "sms", state: "done", attempts: 1, last_error: null, link: "https://app.jobadder.com/notes/9" }],
          no_record: false,
          number: "",
        },
        { message_id: "SM11", seen_ms: 1_767_000_050_000, logs: [], no_record: true, number: "+447700900123" },
      ],
    });
    render(History);
    await waitFor(() => expect(document.querySelector("#history-sms tr[data-sms=SM12]")).toBeTruthy());
    const row = document.querySelector("#history-sms tr[data-sms=SM12]") as HTMLElement;
    expect(row.textContent).toContain("candidate:1");
    expect(row.querySelector("#open-log-5")?.getAttribute("title")).toBe("https://app.jobadder.com/notes/9");
    const unknown = document.querySelector("#history-sms tr[data-sms=SM11]") as HTMLElement;
    expect(unknown.textContent).toContain("No record has +447700900123: not logged");
  });

  it("says why a call given up on was not logged", async () => {
    mocked.getHistory.mockResolvedValue({
      ...model,
      calls: [
        ...model.calls,
        { call_id: 8, number: "", direction: null, caller: null, seen_ms: 1_767_000_200_000, logs: [], not_logged: "Aircall did not give the call: not found in Aircall" },
      ],
    });
    render(History);
    await waitFor(() => expect(document.querySelector("#history-calls tr[data-call='8']")).toBeTruthy());
    const row = document.querySelector("#history-calls tr[data-call='8']") as HTMLElement;
    expect(row.querySelector("[data-not-logged]")?.textContent).toBe("Not logged: Aircall did not give the call: not found in Aircall");
    expect(row.textContent).not.toContain("Nothing logged");
    const logged = document.querySelector("#history-calls tr[data-call='7']") as HTMLElement;
    expect(logged.querySelector("[data-not-logged]")).toBeNull();
  });

  it("shows what was logged where, with the errors, and retries a failed log", async () => {
    mocked.getHistory.mockResolvedValue(model);
    mocked.retryLog.mockResolvedValue(true);
    render(History);
    await waitFor(() => expect(screen.getByText("refused by the CRM: gone")).toBeTruthy());
    expect(screen.getByText("Waiting: 1 · Failed: 1 · Written: 1")).toBeTruthy();
    expect(screen.getByText("Open")).toBeTruthy();
    expect(screen.getByText("Open").getAttribute("title")).toBe("https://app.jobadder.com/candidates/1");
    expect(screen.getByText("· Sellsy")).toBeTruthy();
    await fireEvent.click(screen.getByText("Retry"));
    await waitFor(() => expect(mocked.retryLog).toHaveBeenCalledWith(2));
    await fireEvent.click(screen.getByText("Open"));
    await waitFor(() => expect(mocked.openLog).toHaveBeenCalledWith(1));
  });

  it("reads the history again when the backend says it changed", async () => {
    mocked.getHistory
      .mockResolvedValueOnce(empty)
      .mockResolvedValue(model);
    render(History);
    await waitFor(() => expect(document.getElementById("history-empty")).toBeTruthy());
    push({ kind: "history_changed" });
    await waitFor(() => expect(screen.getByText("refused by the CRM: gone")).toBeTruthy());
  });

  it("has an empty state", async () => {
    mocked.getHistory.mockResolvedValue(empty);
    render(History);
    await waitFor(() => expect(document.getElementById("history-empty")).toBeTruthy());
  });

  it("says how far catch-up is and which CRM's calls wait, and why", async () => {
    mocked.getHistory.mockResolvedValueOnce(empty).mockResolvedValue({
      ...model,
      catching_up: { done_secs: 3 * 86_400, total_secs: 5 * 86_400 },
      waiting: [{ crm: "sellsy", reason: "needs_sign_in", calls: 4 }],
    });
    render(History);
    await waitFor(() => expect(document.getElementById("history-empty")).toBeTruthy());
    expect(document.getElementById("history-catching-up")).toBeNull();
    push({ kind: "catch_up", progress: { done_secs: 3 * 86_400, total_secs: 5 * 86_400 } });
    await waitFor(() =>
      expect(document.getElementById("history-catching-up")?.textContent).toContain(
        "Catching up on calls while you were away: 3 of 5 days.",
      ),
    );
    expect(document.querySelector('[data-crm="sellsy"]')?.textContent).toContain(
      "Sellsy: needs a new sign-in. 4 calls wait for it",
    );
  });
});
