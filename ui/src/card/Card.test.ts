import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { CallCard, CrmRecord, ServiceEvent, SettingsView } from "../lib/types";
import { crms } from "../lib/test-fixtures";

vi.mock("../lib/backend", () => ({
  backend: {
    onEvent: vi.fn(),
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
    phones: ["+447400111001"],
    company_id: null,
    opportunity: null,
  };
}

function card(matches: CrmRecord[], crm = "jobadder"): CallCard {
  return { call_id: 42, number: "+447400111001", direction: "inbound", crm, account: "a", matches, chosen: null };
}

// What the backend pushes: the component's handler, kept when it subscribes.
let push: (event: ServiceEvent) => void = () => {};

beforeEach(() => {
  vi.resetAllMocks();
  // The shell tells a card window made for a call which call it is.
  (window as { __CALLCARD_CARD_CALL__?: number }).__CALLCARD_CARD_CALL__ = 42;
  // The window reads the CRMs' names from the settings view.
  mocked.getSettings.mockResolvedValue({ settings: { language: "en" }, limits: {}, crms } as unknown as SettingsView);
  mocked.onEvent.mockImplementation((handler) => {
    push = handler;
    return () => {};
  });
});

describe("the caller card", () => {
  it("shows the next caller when the backend says a new card is ready, without polling", async () => {
    mocked.getCard
      .mockResolvedValueOnce([card([record("1", "Grace Hopper", 2)])])
      .mockResolvedValue([{ ...card([record("3", "Ada Lovelace", 3)]), call_id: 43 }]);
    render(Card);
    await waitFor(() => expect(document.getElementById("card-name")?.textContent).toBe("Grace Hopper"));
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(mocked.getCard).toHaveBeenCalledTimes(1);
    push({ kind: "call", event: { kind: "card_ready", call_id: 43 }, t_ms: 1 });
    await waitFor(() => expect(document.getElementById("card-name")?.textContent).toBe("Ada Lovelace"));
    expect(mocked.getCard.mock.calls).toEqual([[42], [43]]);
  });

  it("asks for the card of the call it was told about, and ignores changes to other calls' cards", async () => {
    delete (window as { __CALLCARD_CARD_CALL__?: number }).__CALLCARD_CARD_CALL__;
    mocked.getCard.mockResolvedValue([{ ...card([record("3", "Ada Lovelace", 3)]), call_id: 43 }]);
    render(Card);
    await waitFor(() => expect(screen.getByText(/waiting/i)).toBeTruthy());
    expect(mocked.getCard).not.toHaveBeenCalled();
    push({ kind: "call", event: { kind: "card_ready", call_id: 43 }, t_ms: 1 });
    await waitFor(() => expect(document.getElementById("card-name")?.textContent).toBe("Ada Lovelace"));
    push({ kind: "cards_changed", call_id: 7 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(mocked.getCard.mock.calls).toEqual([[43]]);
    push({ kind: "cards_changed", call_id: 43 });
    await waitFor(() => expect(mocked.getCard.mock.calls).toEqual([[43], [43]]));
  });

  it("shows the best match's details and never renders CRM text as markup", async () => {
    mocked.getCard.mockResolvedValue([card([record("1", "<img src=x onerror=alert(1)>Grace", 2)])]);
    const { container } = render(Card);
    await waitFor(() => expect(screen.getByText("<img src=x onerror=alert(1)>Grace")).toBeTruthy());
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByText("Acme")).toBeTruthy();
    expect(screen.getByText("Alex Martin")).toBeTruthy();
    expect(screen.getByText("Open in JobAdder")).toBeTruthy();
  });

  it("lists every match and sends the pick to the backend", async () => {
    mocked.getCard.mockResolvedValue([card([record("1", "Grace Newer", 2), record("2", "Grace Older", 1)])]);
    mocked.chooseRecord.mockResolvedValue(true);
    render(Card);
    await waitFor(() => expect(screen.getByText("2 records share this number — log to:")).toBeTruthy());
    const older = document.getElementById("pick-candidate-2") as HTMLInputElement;
    await fireEvent.click(older);
    await waitFor(() =>
      expect(mocked.chooseRecord).toHaveBeenCalledWith(42, "jobadder", { kind: "candidate", id: "2" }),
    );
    await waitFor(() => expect(document.getElementById("card-name")?.textContent).toBe("Grace Older"));
  });

  it("calls back through the backend with the card's call", async () => {
    mocked.getCard.mockResolvedValue([card([record("1", "Grace", 1)])]);
    mocked.callBack.mockResolvedValue();
    render(Card);
    await waitFor(() => expect(screen.getByText("Call back")).toBeTruthy());
    await fireEvent.click(screen.getByText("Call back"));
    await waitFor(() => expect(mocked.callBack).toHaveBeenCalledWith(42));
  });

  it("says when the caller is unknown", async () => {
    mocked.getCard.mockResolvedValue([card([])]);
    render(Card);
    await waitFor(() => expect(screen.getByText("Unknown caller")).toBeTruthy());
  });

  it("shows a Sellsy contact's opportunity and opens it through the backend", async () => {
    const contact: CrmRecord = {
      ...record("77", "Léa Durand", 3),
      record: { kind: "contact", id: "77" },
      link: "https://www.sellsy.com/peoples/77",
      opportunity: {
        id: "9",
        name: "Renewal 2027",
        status: "open",
        updated_ms: 5,
        contact_ids: ["77"],
        link: "https://www.sellsy.com/opportunities/9",
      },
    };
    mocked.getCard.mockResolvedValue([card([contact], "sellsy")]);
    mocked.openRecord.mockResolvedValue();
    render(Card);
    await waitFor(() => expect(document.getElementById("card-opportunity")?.textContent).toBe("Renewal 2027"));
    expect(screen.getByText("Open in Sellsy")).toBeTruthy();
    await fireEvent.click(screen.getByText("Open the opportunity"));
    await waitFor(() =>
      expect(mocked.openRecord).toHaveBeenCalledWith(42, "sellsy", { kind: "contact", id: "77" }, true),
    );
  });

  it("shows each CRM's card when JobAdder and Sellsy are both on, and picks within one", async () => {
    const sellsyContact = { ...record("5", "Sellsy Twin", 2), record: { kind: "contact" as const, id: "5" } };
    const sellsyCompany = { ...record("6", "Acme SAS", 1), record: { kind: "company" as const, id: "6" } };
    mocked.getCard.mockResolvedValue([card([record("1", "Grace", 1)]), card([sellsyContact, sellsyCompany], "sellsy")]);
    mocked.chooseRecord.mockResolvedValue(true);
    render(Card);
    await waitFor(() => expect(screen.getByText("Sellsy")).toBeTruthy());
    expect(screen.getByText("JobAdder")).toBeTruthy();
    expect(document.getElementById("card-name")?.textContent).toBe("Grace");
    expect(document.getElementById("card-name-sellsy")?.textContent).toBe("Sellsy Twin");
    await fireEvent.click(document.getElementById("pick-sellsy-company-6") as HTMLInputElement);
    await waitFor(() => expect(mocked.chooseRecord).toHaveBeenCalledWith(42, "sellsy", { kind: "company", id: "6" }));
    await waitFor(() => expect(document.getElementById("card-name-sellsy")?.textContent).toBe("Acme SAS"));
    expect(document.getElementById("card-name")?.textContent).toBe("Grace");
  });
});
