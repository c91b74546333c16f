import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { SetupView } from "../lib/types";
import { jobadder, sellsy } from "../lib/test-fixtures";

vi.mock("../lib/backend", () => ({
  backend: {
    getSettings: vi.fn(),
    getSetup: vi.fn(),
    connectAircall: vi.fn(),
    connectCrm: vi.fn(),
    finishSetup: vi.fn(),
    closeWindow: vi.fn(),
  },
}));
import { backend } from "../lib/backend";
import Welcome from "./Welcome.svelte";

const mocked = vi.mocked(backend);
const fresh: SetupView = {
  demo_running: true,
  aircall: null,
  aircall_problem: null,
  crms: [
    { crm: jobadder, available: true, connected: false },
    { crm: sellsy, available: true, connected: false },
  ],
  connected_numbers: [],
};

beforeEach(() => {
  vi.resetAllMocks();
  mocked.getSettings.mockRejectedValue(new Error("none"));
  mocked.getSetup.mockResolvedValue(fresh);
});

describe("the connect window", () => {
  it("says the demo runs, shows Aircall's refusal, then follows the numbers chosen", async () => {
    mocked.connectAircall.mockRejectedValueOnce(new Error("Aircall refused the API key (403): check the API id and token"));
    mocked.connectAircall.mockResolvedValueOnce({
      user_name: "Alex Martin",
      user_email: "alex@example.com",
      numbers: [
        { id: 1001, name: "Paris office", digits: "+33 1" },
        { id: 1002, name: "London desk", digits: "+44 20" },
      ],
    });
    render(Welcome);
    await waitFor(() => expect(document.getElementById("welcome-demo")).toBeTruthy());
    expect((screen.getByText("Start with these accounts") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(screen.getByText("Check and connect"));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("refused the API key"));
    await fireEvent.click(screen.getByText("Check and connect"));
    await waitFor(() => expect(document.getElementById("aircall-connected")).toBeTruthy());
    await fireEvent.click(document.getElementById("number-1002") as HTMLInputElement);
    await fireEvent.click(screen.getByText("Start with these accounts"));
    await waitFor(() => expect(mocked.finishSetup).toHaveBeenCalledWith([1001]));
  });

  it("signs in to JobAdder through the backend", async () => {
    mocked.connectCrm.mockResolvedValue();
    render(Welcome);
    await waitFor(() => expect(screen.getByText("Sign in to JobAdder")).toBeTruthy());
    await fireEvent.click(screen.getByText("Sign in to JobAdder"));
    await waitFor(() => expect(document.getElementById("jobadder-connected")).toBeTruthy());
    expect(mocked.connectCrm).toHaveBeenCalledWith("jobadder");
  });

  it("signs in to Sellsy on its own, and says so when an installation has no Sellsy client", async () => {
    mocked.connectCrm.mockRejectedValue(new Error("the sign-in was not finished within 5 minutes"));
    render(Welcome);
    await waitFor(() => expect(screen.getByText("Sign in to Sellsy")).toBeTruthy());
    await fireEvent.click(screen.getByText("Sign in to Sellsy"));
    await waitFor(() => expect(screen.getByText("the sign-in was not finished within 5 minutes")).toBeTruthy());
    expect(mocked.connectCrm.mock.calls).toEqual([["sellsy"]]);
    expect(document.getElementById("sellsy-connected")).toBeNull();
  });

  it("shows Sellsy as unavailable without a client id", async () => {
    mocked.getSetup.mockResolvedValue({
      ...fresh,
      crms: fresh.crms.map((c) => (c.crm.id === "sellsy" ? { ...c, available: false } : c)),
    });
    render(Welcome);
    await waitFor(() => expect(screen.getByText("Sellsy is not set up for this installation.")).toBeTruthy());
    expect(document.getElementById("connect-sellsy")).toBeNull();
  });
});
