import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ImportProgress, ImportView, ServiceEvent } from "../lib/types";

vi.mock("../lib/backend", () => ({
  backend: { onEvent: vi.fn(), getImports: vi.fn(), importContacts: vi.fn() },
}));
import { backend } from "../lib/backend";
import { translator } from "../lib/i18n";
import ContactImport from "./ContactImport.svelte";

const mocked = vi.mocked(backend);
const t = translator("en");

function progress(done: number, overrides: Partial<ImportProgress> = {}): ImportProgress {
  return {
    crm: "sellsy",
    account: "48213",
    cursor: null,
    page_done: 0,
    done,
    total: 1000,
    started_ms: 1,
    finished_ms: null,
    error: null,
    ...overrides,
  };
}

function view(overrides: Partial<ImportView> = {}): ImportView {
  return { running: false, available: true, imports: [], ...overrides };
}

let push: (event: ServiceEvent) => void = () => {};

beforeEach(() => {
  vi.resetAllMocks();
  mocked.onEvent.mockImplementation((handler) => {
    push = handler;
    return () => {};
  });
});

describe("importing existing contacts", () => {
  it("starts an import and follows its progress bar", async () => {
    mocked.getImports
      .mockResolvedValueOnce(view())
      .mockResolvedValueOnce(view({ running: true, imports: [progress(200)] }))
      .mockResolvedValue(view({ running: false, imports: [progress(1000, { finished_ms: 9 })] }));
    mocked.importContacts.mockResolvedValue();
    render(ContactImport, { t, crm: "sellsy" });
    await waitFor(() => expect(screen.getByText("Import existing contacts")).toBeTruthy());
    await fireEvent.click(screen.getByText("Import existing contacts"));
    await waitFor(() => expect(screen.getByText("200 of 1000 contacts")).toBeTruthy());
    const bar = document.getElementById("import-progress") as HTMLProgressElement;
    expect([bar.value, bar.max]).toEqual([200, 1000]);
    expect((document.getElementById("import-contacts") as HTMLButtonElement).disabled).toBe(true);
    // The backend reports the import's end; another CRM's progress is not this bar's.
    push({ kind: "import_progress", progress: progress(5, { crm: "other" }) });
    push({ kind: "import_progress", progress: progress(1000, { finished_ms: 9 }) });
    await waitFor(() => expect(screen.getByText("1000 contacts imported")).toBeTruthy());
  });

  it("offers to resume an import that stopped, with the reason", async () => {
    mocked.getImports.mockResolvedValue(
      view({ imports: [progress(300, { error: "cannot reach Aircall: connection refused" })] }),
    );
    render(ContactImport, { t, crm: "sellsy" });
    await waitFor(() => expect(screen.getByText("Resume the import")).toBeTruthy());
    expect(screen.getByText(/The import stopped: cannot reach Aircall: connection refused/)).toBeTruthy();
    expect(screen.getByText("300 of 1000 contacts")).toBeTruthy();
  });

  it("asks for Sellsy when it is not connected", async () => {
    mocked.getImports.mockResolvedValue(view({ available: false }));
    render(ContactImport, { t, crm: "sellsy" });
    await waitFor(() => expect(screen.getByText("Connect Sellsy to import its contacts into Aircall.")).toBeTruthy());
    expect(document.getElementById("import-contacts")).toBeNull();
  });
});
