// The only module that talks to the Rust side. Components import `backend`
// and never call `invoke` themselves, so tests can swap this module for a mock.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { getCurrentWindow } from "@tauri-apps/api/window";
import type {
  AccountView,
  AircallAccount,
  Command,
  CommandError,
  ServiceEvent,
  CallCard,
  DialToConfirm,
  FieldError,
  History,
  HubView,
  ImportView,
  RecordRef,
  SaveOutcome,
  Settings,
  SettingsView,
  SetupReport,
  SetupView,
  TestCall,
} from "./types";


/** The event the backend pushes to every window (`EVENT` in src-tauri/windows.rs). */
const EVENT = "callcard:event";

function isCommandError(value: unknown): value is CommandError {
  return typeof value === "object" && value !== null && "kind" in value;
}

/**
 * A command that failed, with the backend's stable code (windows say it in
 * the user's language: `describe` in i18n.ts) and its English sentence.
 */
export class CommandFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly subject: string | null,
  ) {
    super(message);
  }
}

/** Turns whatever a command rejected with into an Error with a readable message. */
function asError(value: unknown): Error {
  if (isCommandError(value) && value.kind === "failed") return new CommandFailure(value.code, value.message, value.subject);
  if (typeof value === "string") return new Error(value);
  return new Error(JSON.stringify(value));
}

/** Runs one of our commands; a rejection becomes an Error with a readable message. */
async function call<T>(command: Command, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw asError(e);
  }
}

export const backend = {
  getSettings: () => call<SettingsView>("get_settings"),

  async saveSettings(settings: Settings): Promise<SaveOutcome> {
    try {
      return { ok: true, view: await invoke<SettingsView>("save_settings", { settings }) };
    } catch (e) {
      if (isCommandError(e) && e.kind === "invalid") return { ok: false, fields: e.fields };
      throw asError(e);
    }
  },

  /** A call's cards, one per CRM (JobAdder and Sellsy may both be on). */
  getCard: (callId: number) => call<CallCard[]>("get_card", { callId }),
  chooseRecord: (callId: number, crm: string, record: RecordRef) =>
    call<boolean>("choose_record", { callId, crm, record }),
  /** Opens the record's page, or its opportunity's; the link is read from the stored card. */
  openRecord: (callId: number, crm: string, record: RecordRef, opportunity = false) =>
    call<void>("open_record", { callId, crm, record, opportunity }),
  callBack: (callId: number) => call<void>("call_back", { callId }),

  /** The link waiting for the user's yes before it starts a call, if any. */
  getDialToConfirm: () => call<DialToConfirm | null>("get_dial_to_confirm"),
  /** The user's answer about link `id`: `call` starts the call. */
  answerDial: (id: number, call_: boolean) => call<void>("answer_dial", { id, call: call_ }),

  getHistory: () => call<History>("get_history"),
  retryLog: (id: number) => call<boolean>("retry_log", { id }),
  openLog: (id: number) => call<void>("open_log", { id }),

  getSetup: () => call<SetupView>("get_setup"),
  connectAircall: (apiId: string, apiToken: string, email: string) =>
    call<AircallAccount>("connect_aircall", { apiId, apiToken, email }),
  /** A CRM's sign-in in the browser, by the id in its descriptor. */
  connectCrm: (crm: string) => call<void>("connect_crm", { crm }),
  /** Keeps an OAuth client an admin pasted (a blank secret keeps the saved one). */
  saveCrmClient: (crm: string, clientId: string, clientSecret: string, redirectPort: number | null) =>
    call<void>("save_crm_client", { crm, clientId, clientSecret, redirectPort }),
  finishSetup: (numbers: number[]) => call<void>("finish_setup", { numbers }),

  getAccounts: () => call<AccountView[]>("get_accounts"),
  /** Removes an account's secrets from the keychain (`aircall` or a CRM's id). */
  disconnectAccount: (account: string) => call<void>("disconnect_account", { account }),
  /** The team hub this computer follows, and where calls come from now. */
  getHub: () => call<HubView>("get_hub"),
  /** Follows a team hub (the token is tried first; blank keeps the saved one). */
  connectHub: (url: string, token: string) => call<void>("connect_hub", { url, token }),
  disconnectHub: () => call<void>("disconnect_hub"),

  /** "Check my setup": credentials, a sample lookup, the data-health report. */
  checkSetup: () => call<SetupReport>("check_setup"),
  /** Waits (up to three minutes) for the card of the user's test call. */
  testCall: () => call<TestCall>("test_call"),
  /** Opens a listed record's page in the browser (http and https only). */
  openLink: (link: string) => call<void>("open_link", { link }),
  openCheck: () => call<void>("open_check"),

  getImports: () => call<ImportView>("get_imports"),
  importContacts: () => call<void>("import_contacts"),

  /**
   * Calls `handler` with every event the backend pushes (a card ready, the
   * history changed, an import moved on…); returns what stops listening.
   * Windows follow these instead of polling.
   */
  onEvent(handler: (event: ServiceEvent) => void): () => void {
    let stop: (() => void) | null = null;
    let stopped = false;
    listen<ServiceEvent>(EVENT, (e) => handler(e.payload)).then(
      (unlisten) => (stopped ? unlisten() : (stop = unlisten)),
      () => {},
    );
    return () => {
      stopped = true;
      stop?.();
    };
  },

  async closeWindow(): Promise<void> {
    await getCurrentWindow().close();
  },
};

export type Backend = typeof backend;
