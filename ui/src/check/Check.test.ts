import { fireEvent, render, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { SetupReport } from "../lib/types";

vi.mock("../lib/backend", () => ({
  backend: {
    getSettings: vi.fn(),
    checkSetup: vi.fn(),
    testCall: vi.fn(),
    openLink: vi.fn(),
    closeWindow: vi.fn(),
  },
}));
import { backend } from "../lib/backend";
import Check from "./Check.svelte";

const mocked = vi.mocked(backend);

const report: SetupReport = {
  checks: [
    { id: "keychain", subject: "", outcome: "passed", detail: "" },
    { id: "aircall_key", subject: "", outcome: "failed", detail: "Aircall refused the API key (401)" },
    { id: "aircall_user", subject: "", outcome: "skipped", detail: "" },
    { id: "crm_sign_in", subject: "JobAdder", outcome: "passed", detail: "42" },
  ],
  health: [
    {
      crm: "jobadder",
      name: "JobAdder",
      records_read: 42,
      partial: false,
      unreadable: [{ record: { name: "Una Readable", link: "https://app.jobadder.com/candidates/7" }, number: "ext. 4471" }],
      shared: [{ number: "+442079460321", records: [{ name: "Sam Shared", link: null }, { name: "Sasha Shared", link: null }] }],
    },
  ],
  numbers_not_yours: [{ name: "Berlin", digits: "+49 30 1234" }],
  synced_contacts: 12,
  default_region: "GB",
};

beforeEach(() => {
  vi.resetAllMocks();
  mocked.getSettings.mockRejectedValue(new Error("none"));
  mocked.checkSetup.mockResolvedValue(report);
  mocked.openLink.mockResolvedValue();
});

describe("the setup check window", () => {
  it("says what each check found, what to do when it failed, and what the data looks like", async () => {
    render(Check);
    await waitFor(() => expect(document.getElementById("check-aircall_key")).toBeTruthy());
    const key = document.getElementById("check-aircall_key") as HTMLElement;
    expect(key.dataset.outcome).toBe("failed");
    expect(key.textContent).toContain("refused the API key");
    expect(key.textContent).toContain("Enter a valid API key");
    expect(document.getElementById("check-keychain")?.textContent).not.toContain("Start GNOME Keyring");
    expect(document.getElementById("check-crm_sign_in-jobadder")?.textContent).toContain("JobAdder sign-in");
    const health = document.getElementById("health-jobadder") as HTMLElement;
    expect(health.textContent).toContain("default country (GB): 1");
    expect(health.querySelector("[data-number='ext. 4471']")?.textContent).toContain("Una Readable");
    expect(health.querySelector("[data-number='+442079460321']")?.textContent).toContain("Sasha Shared");
    expect(document.getElementById("numbers-not-yours")?.textContent).toContain("Berlin");
    expect(document.getElementById("synced-contacts")?.textContent).toContain("12");
    await fireEvent.click(health.querySelector("[data-number='ext. 4471'] button") as HTMLButtonElement);
    expect(mocked.openLink).toHaveBeenCalledWith("https://app.jobadder.com/candidates/7");
  });

  it("waits for the test call and says whether the card showed", async () => {
    mocked.testCall.mockResolvedValueOnce({ passed: false, detail: "" }).mockResolvedValueOnce({ passed: true, detail: "Una Readable (+447700900123)" });
    render(Check);
    await waitFor(() => expect(document.getElementById("start-test-call")).toBeTruthy());
    await fireEvent.click(document.getElementById("start-test-call") as HTMLButtonElement);
    await waitFor(() => expect(document.getElementById("test-call-result")?.dataset.passed).toBe("false"));
    await fireEvent.click(document.getElementById("start-test-call") as HTMLButtonElement);
    await waitFor(() => expect(document.getElementById("test-call-result")?.textContent).toContain("Una Readable"));
  });
});
