// The only module that talks to the Rust side. Components import `backend`
// and never call `invoke` themselves, so tests can swap this module for a mock.

import { invoke } from "@tauri-apps/api/core";
import { getCurrentWindow } from "@tauri-apps/api/window";
import type {
  AircallAccount,
  CallCard,
  FieldError,
  History,
  RecordRef,
  SaveOutcome,
  Settings,
  SettingsView,
  SetupView,
} from "./types";

/** The error shape of our commands (`CommandError` in src-tauri/commands.rs). */
type CommandError =
  | { kind: "invalid"; fields: FieldError[] }
  | { kind: "failed"; message: string };

function isCommandError(value: unknown): value is CommandError {
  return typeof value === "object" && value !== null && "kind" in value;
}

/** Turns whatever a command rejected with into an Error with a readable message. */
function asError(value: unknown): Error {
  if (isCommandError(value) && value.kind === "failed") return new Error(value.message);
  if (typeof value === "string") return new Error(value);
  return new Error(JSON.stringify(value));
}

export const backend = {
  async getSettings(): Promise<SettingsView> {
    try {
      return await invoke<SettingsView>("get_settings");
    } catch (e) {
      throw asError(e);
    }
  },

  async saveSettings(settings: Settings): Promise<SaveOutcome> {
    try {
      return { ok: true, view: await invoke<SettingsView>("save_settings", { settings }) };
    } catch (e) {
      if (isCommandError(e) && e.kind === "invalid") return { ok: false, fields: e.fields };
      throw asError(e);
    }
  },

  async getCard(): Promise<CallCard | null> {
    try {
      return await invoke<CallCard | null>("get_card");
    } catch (e) {
      throw asError(e);
    }
  },

  async chooseRecord(callId: number, record: RecordRef): Promise<boolean> {
    try {
      return await invoke<boolean>("choose_record", { callId, record });
    } catch (e) {
      throw asError(e);
    }
  },

  async openRecord(callId: number, record: RecordRef): Promise<void> {
    try {
      await invoke("open_record", { callId, record });
    } catch (e) {
      throw asError(e);
    }
  },

  async callBack(callId: number): Promise<void> {
    try {
      await invoke("call_back", { callId });
    } catch (e) {
      throw asError(e);
    }
  },

  async getHistory(): Promise<History> {
    try {
      return await invoke<History>("get_history");
    } catch (e) {
      throw asError(e);
    }
  },

  async retryLog(id: number): Promise<boolean> {
    try {
      return await invoke<boolean>("retry_log", { id });
    } catch (e) {
      throw asError(e);
    }
  },

  async openLog(id: number): Promise<void> {
    try {
      await invoke("open_log", { id });
    } catch (e) {
      throw asError(e);
    }
  },

  async getSetup(): Promise<SetupView> {
    try {
      return await invoke<SetupView>("get_setup");
    } catch (e) {
      throw asError(e);
    }
  },

  async connectAircall(apiId: string, apiToken: string, email: string): Promise<AircallAccount> {
    try {
      return await invoke<AircallAccount>("connect_aircall", { apiId, apiToken, email });
    } catch (e) {
      throw asError(e);
    }
  },

  async connectJobAdder(): Promise<void> {
    try {
      await invoke("connect_jobadder");
    } catch (e) {
      throw asError(e);
    }
  },

  async finishSetup(numbers: number[]): Promise<void> {
    try {
      await invoke("finish_setup", { numbers });
    } catch (e) {
      throw asError(e);
    }
  },

  async closeWindow(): Promise<void> {
    await getCurrentWindow().close();
  },
};

export type Backend = typeof backend;
