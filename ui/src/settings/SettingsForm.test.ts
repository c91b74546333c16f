import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Limits, Settings, SettingsView } from "../lib/types";

// The backend module is the only door to Rust; here it is a mock.
vi.mock("../lib/backend", () => ({
  backend: {
    onEvent: vi.fn(),
    getSettings: vi.fn(),
    saveSettings: vi.fn(),
    closeWindow: vi.fn(),
    getImports: vi.fn(),
    getAccounts: vi.fn(async () => []),
  },
}));
import { backend } from "../lib/backend";
import SettingsForm from "./SettingsForm.svelte";
import { crms } from "../lib/test-fixtures";

const limits: Limits = {
  sms_note_max_chars: { min: 200, max: 100000 },
  settle_delay_secs: { min: 0, max: 600 },
  look_back_days: { min: 1, max: 180 },
  ai_wait_minutes: { min: 0, max: 240 },
  polling_budget_per_minute: { min: 1, max: 120 },
  retention_days: { min: 7, max: 3650 },
};

function settings(overrides: Partial<Settings> = {}): Settings {
  return {
    crms: { jobadder: true, sellsy: false },
    aircall_user_email: "",
    connected_numbers: [101],
    log_ai_info: true,
    log_recording_link: false,
    sms_mode: "conversation",
    sms_note_max_chars: 8000,
    duplicate_rule: "most_recently_updated",
    contact_sync: { jobadder: true, sellsy: true },
    settle_delay_secs: 60,
    look_back_days: 7,
    ai_wait_minutes: 30,
    default_region: "GB",
    polling_budget_per_minute: 10,
    retention_days: 90,
    handle_tel_links: false,
    dial_mode: "prefill",
    start_at_login: false,
    language: "en",
    crm_clients: {},
    team_hub_url: "",
    ...overrides,
  };
}

const view = (s: Settings, hasHub = false): SettingsView => ({ settings: s, limits, crms, has_hub: hasHub });
const mocked = vi.mocked(backend);

beforeEach(() => {
  vi.resetAllMocks();
});

describe("SettingsForm", () => {
  it("renders the settings it gets from the core", async () => {
    mocked.getSettings.mockResolvedValue(view(settings({ settle_delay_secs: 75, connected_numbers: [5, 6] })));
    render(SettingsForm);
    const delay = (await screen.findByLabelText("Wait after hang-up (seconds)")) as HTMLInputElement;
    expect(delay.value).toBe("75");
    expect(delay.max).toBe("600");
    expect((screen.getByLabelText("Connected Aircall number ids") as HTMLInputElement).value).toBe("5, 6");
  });

  it("offers the SMS modes only with a team hub, and says why otherwise", async () => {
    mocked.getSettings.mockResolvedValue(view(settings()));
    const { unmount } = render(SettingsForm);
    const mode = (await screen.findByLabelText("SMS logging")) as HTMLSelectElement;
    expect(mode.disabled).toBe(true);
    expect(document.getElementById("sms-needs-hub")?.textContent).toContain("needs the team hub");
    unmount();
    mocked.getSettings.mockResolvedValue(view(settings(), true));
    render(SettingsForm);
    const enabled = (await screen.findByLabelText("SMS logging")) as HTMLSelectElement;
    expect(enabled.disabled).toBe(false);
    expect(document.getElementById("sms-needs-hub")).toBeNull();
  });

  it("saves the edited settings through the backend and says so", async () => {
    mocked.getSettings.mockResolvedValue(view(settings()));
    mocked.saveSettings.mockImplementation(async (s) => ({ ok: true, view: view(s) }));
    render(SettingsForm);
    const delay = await screen.findByLabelText("Wait after hang-up (seconds)");
    await fireEvent.input(delay, { target: { value: "120" } });
    await fireEvent.input(screen.getByLabelText("Connected Aircall number ids"), { target: { value: "7, 8 ,9" } });
    await fireEvent.click(screen.getByText("Save"));
    await waitFor(() => expect(screen.getByRole("status").textContent).toContain("Settings saved."));
    const sent = mocked.saveSettings.mock.calls[0]![0];
    expect(sent.settle_delay_secs).toBe(120);
    expect(sent.connected_numbers).toEqual([7, 8, 9]);
  });

  it("shows the core's validation errors next to their fields", async () => {
    mocked.getSettings.mockResolvedValue(view(settings()));
    mocked.saveSettings.mockResolvedValue({
      ok: false,
      fields: [
        { field: "settle_delay_secs", code: "out_of_range", message: "must be between 0 and 600" },
        { field: "default_region", code: "unknown_region", message: "bad" },
      ],
    });
    render(SettingsForm);
    await screen.findByLabelText("Wait after hang-up (seconds)");
    await fireEvent.click(screen.getByText("Save"));
    await waitFor(() => expect(document.getElementById("error-settle_delay_secs")).not.toBeNull());
    expect(document.getElementById("error-settle_delay_secs")!.textContent).toBe("Must be between 0 and 600.");
    expect(document.getElementById("error-default_region")!.textContent).toContain("two-letter country code");
    expect(screen.getByRole("status").textContent).toContain("Some settings need fixing.");
  });

  it("refuses text that is not a number without asking the core", async () => {
    mocked.getSettings.mockResolvedValue(view(settings()));
    render(SettingsForm);
    await fireEvent.input(await screen.findByLabelText("Connected Aircall number ids"), {
      target: { value: "12, abc" },
    });
    await fireEvent.click(screen.getByText("Save"));
    await waitFor(() => expect(document.getElementById("error-connected_numbers")).not.toBeNull());
    expect(mocked.saveSettings).not.toHaveBeenCalled();
  });

  it("speaks the saved language", async () => {
    mocked.getSettings.mockResolvedValue(view(settings({ language: "fr" })));
    render(SettingsForm);
    expect(await screen.findByText("Enregistrer")).toBeTruthy();
    expect(screen.getByText("Réglages", { selector: "h1" })).toBeTruthy();
  });

  it("says clearly when the settings cannot be loaded", async () => {
    mocked.getSettings.mockRejectedValue(new Error("database is locked"));
    render(SettingsForm);
    await waitFor(() =>
      expect(screen.getByRole("alert").textContent).toBe("The settings could not be loaded: database is locked"),
    );
  });

  it("shows CRM text as text, never as markup", async () => {
    mocked.getSettings.mockResolvedValue(view(settings({ aircall_user_email: '<img src=x onerror="alert(1)">' })));
    render(SettingsForm);
    const email = (await screen.findByLabelText("Your Aircall e-mail")) as HTMLInputElement;
    expect(email.value).toBe('<img src=x onerror="alert(1)">');
    expect(document.querySelector("img")).toBeNull();
  });
});
