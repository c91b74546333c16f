// The shapes the backend sends and takes are generated from the Rust types
// into ./bindings.ts (src-tauri/contract.rs keeps it in step; never edit it).
// This module adds the few names the windows make for themselves.

import type { Card, FieldError, Limits, SettingsView } from "./bindings";

export type * from "./bindings";

/** A caller card: one per call and CRM. */
export type CallCard = Card;

/** The numeric settings, each with its allowed range in `Limits`. */
export type NumericSetting = keyof Limits;

/** What saving the settings came to: the saved view, or the fields refused. */
export type SaveOutcome = { ok: true; view: SettingsView } | { ok: false; fields: FieldError[] };
