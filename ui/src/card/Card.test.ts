import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { CallCard, CrmRecord } from "../lib/types";

vi.mock("../lib/backend", () => ({
  backend: {
    getSettings: vi.fn(),
    getCard: vi.fn(),
    chooseRecord: vi.fn(),
    openRecord: vi.fn(),
    callBack: vi.fn(),
    closeWindow: vi.fn(),
  },
}));
import { backend } from "../lib/backend";
import Card from "./Card.svelte";

const mocked = vi.mocked(backend);

function record(id: string, name: string, updated_ms: number): CrmRecord {
  return {
    record: { kind: "candidate", id },
    name,
    email: `${id}@example.com`,
    position: null,
    company: "Acme",
    owner: { id: "7", name: "Alex Martin", email: null },
    updated_ms,
    archived: false,
    link: `https://app.jobadder.com/candidates/${id}`,
  };
}

function card(matches: CrmRecord[]): CallCard {
  return { call_id: 42, number: "+447400111001", direction: "inbound", crm: "jobadder", account: "a", matches, chosen: null };
}

beforeEach(() => {
  vi.resetAllMocks();
  mocked.getSettings.mockRejectedValue(new Error("no settings in this test"));
});

describe("the caller card", () => {
  it("shows the best match's details and never renders CRM text as markup", async () => {
    mocked.getCard.mockResolvedValue(card([record("1", "<img src=x onerror=alert(1)>Grace", 2)]));
    const { container } = render(Card);
    await waitFor(() => expect(screen.getByText("<img src=x onerror=alert(1)>Grace")).toBeTruthy());
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByText("Acme")).toBeTruthy();
    expect(screen.getByText("Alex Martin")).toBeTruthy();
    expect(screen.getByText("Open in JobAdder")).toBeTruthy();
  });

  it("lists every match and sends the pick to the backend", async () => {
    mocked.getCard.mockResolvedValue(card([record("1", "Grace Newer", 2), record("2", "Grace Older", 1)]));
    mocked.chooseRecord.mockResolvedValue(true);
    render(Card);
    await waitFor(() => expect(screen.getByText("2 records share this number — log to:")).toBeTruthy());
    const older = document.getElementById("pick-candidate-2") as HTMLInputElement;
    await fireEvent.click(older);
    await waitFor(() =>
      expect(mocked.chooseRecord).toHaveBeenCalledWith(42, { kind: "candidate", id: "2" }),
    );
    await waitFor(() => expect(document.getElementById("card-name")?.textContent).toBe("Grace Older"));
  });

  it("calls back through the backend with the card's call", async () => {
    mocked.getCard.mockResolvedValue(card([record("1", "Grace", 1)]));
    mocked.callBack.mockResolvedValue();
    render(Card);
    await waitFor(() => expect(screen.getByText("Call back")).toBeTruthy());
    await fireEvent.click(screen.getByText("Call back"));
    await waitFor(() => expect(mocked.callBack).toHaveBeenCalledWith(42));
  });

  it("says when the caller is unknown", async () => {
    mocked.getCard.mockResolvedValue(card([]));
    render(Card);
    await waitFor(() => expect(screen.getByText("Unknown caller")).toBeTruthy());
  });
});
