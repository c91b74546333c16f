import { fireEvent, render, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { HubView } from "../lib/types";

vi.mock("../lib/backend", () => ({
  backend: { getHub: vi.fn(), connectHub: vi.fn(), disconnectHub: vi.fn() },
}));
import { backend } from "../lib/backend";
import { translator } from "../lib/i18n";
import TeamHub from "./TeamHub.svelte";

const mocked = vi.mocked(backend);
const t = translator("en");

const view = (overrides: Partial<HubView> = {}): HubView => ({
  url: "",
  has_token: false,
  set_by_environment: false,
  source: "polling",
  ...overrides,
});

beforeEach(() => vi.resetAllMocks());

describe("the team hub in the settings window", () => {
  it("follows a hub with the pasted token, forgets the token field and says where calls come from", async () => {
    mocked.getHub
      .mockResolvedValueOnce(view())
      .mockResolvedValue(view({ url: "https://hub.example.com", has_token: true, source: "hub" }));
    mocked.connectHub.mockResolvedValue();
    render(TeamHub, { t });
    await waitFor(() => expect(document.getElementById("hub-source")?.dataset.source).toBe("polling"));
    const connect = document.getElementById("hub-connect") as HTMLButtonElement;
    expect(connect.disabled).toBe(true);
    await fireEvent.input(document.getElementById("hub-url-input") as HTMLInputElement, {
      target: { value: "https://hub.example.com" },
    });
    await fireEvent.input(document.getElementById("hub-token-input") as HTMLInputElement, {
      target: { value: "cch_secret" },
    });
    await fireEvent.click(connect);
    await waitFor(() => expect(document.getElementById("hub-source")?.dataset.source).toBe("hub"));
    expect(mocked.connectHub.mock.calls).toEqual([["https://hub.example.com", "cch_secret"]]);
    expect((document.getElementById("hub-token-input") as HTMLInputElement).value).toBe("");
    expect(document.getElementById("team-hub")?.textContent).toContain("A token is saved");
    expect(document.getElementById("hub-disconnect")).toBeTruthy();
  });

  it("says why a hub refused the token, and that polling stands in while the hub is away", async () => {
    mocked.getHub.mockResolvedValue(
      view({ url: "https://hub.example.com", has_token: true, source: "polling_until_hub_is_back" }),
    );
    mocked.connectHub.mockRejectedValue({ code: "hub_token_refused", message: "refused" });
    render(TeamHub, { t });
    await waitFor(() => expect(document.getElementById("hub-source")?.textContent).toContain("until it is back"));
    await fireEvent.click(document.getElementById("hub-connect") as HTMLButtonElement);
    await waitFor(() => expect(document.getElementById("hub-error")?.textContent).toContain("refused this token"));
  });

  it("leaves a hub set by the environment alone", async () => {
    mocked.getHub.mockResolvedValue(
      view({ url: "https://hub.corp", has_token: true, set_by_environment: true, source: "hub" }),
    );
    render(TeamHub, { t });
    await waitFor(() => expect(document.getElementById("hub-url")?.textContent).toContain("https://hub.corp"));
    expect(document.getElementById("hub-connect")).toBeNull();
    expect(document.getElementById("hub-disconnect")).toBeNull();
  });
});
