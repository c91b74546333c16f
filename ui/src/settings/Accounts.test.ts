import { fireEvent, render, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { AccountView } from "../lib/types";

vi.mock("../lib/backend", () => ({
  backend: { getAccounts: vi.fn(), disconnectAccount: vi.fn() },
}));
import { backend } from "../lib/backend";
import { translator } from "../lib/i18n";
import Accounts from "./Accounts.svelte";

const mocked = vi.mocked(backend);
const t = translator("en");

const account = (id: string, name: string, overrides: Partial<AccountView> = {}): AccountView => ({
  id,
  name,
  connected: true,
  detail: "",
  set_by_environment: false,
  ...overrides,
});

beforeEach(() => vi.resetAllMocks());

describe("the accounts in the settings window", () => {
  it("disconnects one account and shows it disconnected, the others untouched", async () => {
    mocked.getAccounts
      .mockResolvedValueOnce([
        account("aircall", "Aircall", { detail: "alex@example.com" }),
        account("jobadder", "JobAdder"),
        account("sellsy", "Sellsy", { connected: false }),
      ])
      .mockResolvedValue([
        account("aircall", "Aircall", { detail: "alex@example.com" }),
        account("jobadder", "JobAdder", { connected: false }),
        account("sellsy", "Sellsy", { connected: false }),
      ]);
    mocked.disconnectAccount.mockResolvedValue();
    render(Accounts, { t });
    await waitFor(() => expect(document.getElementById("disconnect-jobadder")).toBeTruthy());
    expect(document.getElementById("account-aircall")?.textContent).toContain("alex@example.com");
    expect(document.getElementById("disconnect-sellsy")).toBeNull();
    await fireEvent.click(document.getElementById("disconnect-jobadder") as HTMLButtonElement);
    await waitFor(() => expect(document.getElementById("disconnect-jobadder")).toBeNull());
    expect(mocked.disconnectAccount.mock.calls).toEqual([["jobadder"]]);
    expect(document.getElementById("account-jobadder")?.textContent).toContain("Not connected");
    expect(document.getElementById("disconnect-aircall")).toBeTruthy();
  });

  it("offers no button for an account the environment sets, and says why a disconnect failed", async () => {
    mocked.getAccounts.mockResolvedValue([
      account("aircall", "Aircall", { set_by_environment: true }),
      account("jobadder", "JobAdder"),
    ]);
    mocked.disconnectAccount.mockRejectedValue(new Error("the keychain is locked"));
    render(Accounts, { t });
    await waitFor(() => expect(document.getElementById("disconnect-jobadder")).toBeTruthy());
    expect(document.getElementById("disconnect-aircall")).toBeNull();
    await fireEvent.click(document.getElementById("disconnect-jobadder") as HTMLButtonElement);
    await waitFor(() => expect(document.getElementById("accounts-error")?.textContent).toContain("locked"));
  });
});
