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
    saveCrmClient: vi.fn(),
    finishSetup: vi.fn(),
    closeWindow: vi.fn(),
  },
}));
import { backend } from "../lib/backend";
import Welcome from "./Welcome.svelte";

const mocked = vi.mocked(backend);
const fromEnvironment = (port: number) => ({
  available: true,
  client_source: "from_environment" as const,
  pasted_client_id: "",
  redirect_uri: `http://127.0.0.1:${port}/callback`,
  redirect_port: port,
});
const fresh: SetupView = {
  demo_running: true,
  aircall: null,
  aircall_problem: null,
  crms: [
    { crm: jobadder, ...fromEnvironment(47615), connected: false },
    { crm: sellsy, ...fromEnvironment(47616), connected: false },
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

  it("takes a pasted OAuth client when the installation has none, then offers the sign-in", async () => {
    const without = {
      ...fresh,
      crms: fresh.crms.map((c) =>
        c.crm.id === "jobadder" ? { ...c, available: false, client_source: null } : c,
      ),
    };
    const pasted = {
      ...fresh,
      crms: fresh.crms.map((c) =>
        c.crm.id === "jobadder" ? { ...c, client_source: "pasted" as const, pasted_client_id: "partner-app" } : c,
      ),
    };
    mocked.getSetup.mockResolvedValueOnce(without).mockResolvedValue(pasted);
    mocked.saveCrmClient.mockRejectedValueOnce(new Error("Enter the client id of the JobAdder OAuth client, and its secret."));
    mocked.saveCrmClient.mockResolvedValueOnce();
    render(Welcome);
    await waitFor(() => expect(document.getElementById("client-id-jobadder")).toBeTruthy());
    expect(document.getElementById("connect-jobadder")).toBeNull();
    expect(document.getElementById("redirect-uri-jobadder")?.textContent).toBe("http://127.0.0.1:47615/callback");
    await fireEvent.click(document.getElementById("save-client-jobadder") as HTMLButtonElement);
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("and its secret"));
    await fireEvent.input(document.getElementById("client-id-jobadder") as HTMLInputElement, { target: { value: "partner-app" } });
    await fireEvent.input(document.getElementById("client-secret-jobadder") as HTMLInputElement, { target: { value: "s3cret" } });
    await fireEvent.input(document.getElementById("redirect-port-jobadder") as HTMLInputElement, { target: { value: "50123" } });
    expect(document.getElementById("redirect-uri-jobadder")?.textContent).toBe("http://127.0.0.1:50123/callback");
    await fireEvent.click(document.getElementById("save-client-jobadder") as HTMLButtonElement);
    await waitFor(() => expect(document.getElementById("connect-jobadder")).toBeTruthy());
    expect(mocked.saveCrmClient).toHaveBeenLastCalledWith("jobadder", "partner-app", "s3cret", 50123);
    expect(document.getElementById("client-saved-jobadder")).toBeTruthy();
    expect(document.getElementById("change-client-jobadder")).toBeTruthy();
  });

  it("asks no secret of a PKCE client", async () => {
    mocked.getSetup.mockResolvedValue({
      ...fresh,
      crms: fresh.crms.map((c) => (c.crm.id === "sellsy" ? { ...c, available: false, client_source: null } : c)),
    });
    render(Welcome);
    await waitFor(() => expect(document.getElementById("client-id-sellsy")).toBeTruthy());
    expect(document.getElementById("client-secret-sellsy")).toBeNull();
    expect(document.getElementById("connect-sellsy")).toBeNull();
  });
});
