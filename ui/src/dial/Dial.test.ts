import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { DialToConfirm, ServiceEvent, SettingsView } from "../lib/types";

vi.mock("../lib/backend", () => ({
  backend: {
    onEvent: vi.fn(),
    getSettings: vi.fn(),
    getDialToConfirm: vi.fn(),
    answerDial: vi.fn(),
    closeWindow: vi.fn(),
  },
}));
import { backend } from "../lib/backend";
import Dial from "./Dial.svelte";

const mocked = vi.mocked(backend);
let pushEvent: (event: ServiceEvent) => void = () => {};

const asked = (id: number, number: string, extension: string | null = null): DialToConfirm => ({ id, number, extension });

beforeEach(() => {
  vi.resetAllMocks();
  mocked.getSettings.mockResolvedValue({ settings: { language: "en" } } as unknown as SettingsView);
  mocked.onEvent.mockImplementation((handler) => {
    pushEvent = handler;
    return () => {};
  });
  mocked.answerDial.mockResolvedValue(undefined);
  mocked.closeWindow.mockResolvedValue(undefined);
});

describe("the dial window", () => {
  it("shows the number as text and calls only on a yes, then closes", async () => {
    mocked.getDialToConfirm.mockResolvedValue(asked(3, "+447400123456", "12<b>"));
    render(Dial);
    expect(await screen.findByText("+447400123456")).toBeTruthy();
    expect(screen.getByText("Extension 12<b>: dial it once connected.")).toBeTruthy();
    expect(mocked.answerDial).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByRole("button", { name: "Call" }));
    await waitFor(() => expect(mocked.closeWindow).toHaveBeenCalled());
    expect(mocked.answerDial).toHaveBeenCalledWith(3, true);
  });

  it("says no without calling", async () => {
    mocked.getDialToConfirm.mockResolvedValue(asked(4, "+33142685300"));
    render(Dial);
    await fireEvent.click(await screen.findByRole("button", { name: "Don't call" }));
    await waitFor(() => expect(mocked.closeWindow).toHaveBeenCalled());
    expect(mocked.answerDial).toHaveBeenCalledWith(4, false);
  });

  it("follows a newer link and says when the answer came too late", async () => {
    mocked.getDialToConfirm.mockResolvedValueOnce(asked(5, "+447400000005"));
    render(Dial);
    await screen.findByText("+447400000005");
    mocked.getDialToConfirm.mockResolvedValueOnce(asked(6, "+447400000006"));
    pushEvent({ kind: "dial_to_confirm", id: 6 });
    await screen.findByText("+447400000006");
    mocked.answerDial.mockRejectedValue({ code: "dial_expired", subject: null, message: "expired" });
    await fireEvent.click(screen.getByRole("button", { name: "Call" }));
    expect(await screen.findByRole("alert")).toHaveProperty(
      "textContent",
      "This call link has expired or was answered already: open it again to call.",
    );
    expect(mocked.closeWindow).not.toHaveBeenCalled();
  });

  it("says so when no link waits", async () => {
    mocked.getDialToConfirm.mockResolvedValue(null);
    render(Dial);
    expect(await screen.findByText("No call link is waiting for an answer.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Call" })).toBeNull();
  });
});
