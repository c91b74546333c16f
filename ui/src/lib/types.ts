// The shapes the backend sends and takes. They mirror `callcard_core::settings`
// (serde, snake_case): change both together.

export type SmsMode = "conversation" | "one_note_per_sms" | "off";
export type DuplicateRule = "most_recently_updated" | "do_nothing";
export type DialMode = "prefill" | "start_call";
export type Language = "en" | "fr" | "de";

/** What a CRM says about itself: mirrors `callcard_core::crm::CrmDescriptor`. */
export interface CrmDescriptor {
  id: string;
  name: string;
  env_prefix: string;
  sign_in: "client_secret" | "pkce";
  contact_sync: "on_each_call" | "changed_contacts";
  imports_contacts: boolean;
  selected_by_default: boolean;
}

export interface Settings {
  /** By CRM id: on or off. */
  crms: Record<string, boolean>;
  aircall_user_email: string;
  connected_numbers: number[];
  log_ai_info: boolean;
  log_recording_link: boolean;
  sms_mode: SmsMode;
  sms_note_max_chars: number;
  duplicate_rule: DuplicateRule;
  /** By CRM id: whether its contacts are brought into Aircall. */
  contact_sync: Record<string, boolean>;
  settle_delay_secs: number;
  look_back_days: number;
  ai_wait_minutes: number;
  default_region: string;
  polling_budget_per_minute: number;
  handle_tel_links: boolean;
  dial_mode: DialMode;
  start_at_login: boolean;
  language: Language;
}

export interface Range {
  min: number;
  max: number;
}

export type NumericSetting =
  | "sms_note_max_chars"
  | "settle_delay_secs"
  | "look_back_days"
  | "ai_wait_minutes"
  | "polling_budget_per_minute";

export type Limits = Record<NumericSetting, Range>;

export interface SettingsView {
  settings: Settings;
  limits: Limits;
  crms: CrmDescriptor[];
}

/** A field the core refused, with a stable code the UI translates. */
export interface FieldError {
  field: string;
  code: string;
  message: string;
}

export type SaveOutcome =
  | { ok: true; view: SettingsView }
  | { ok: false; fields: FieldError[] };

// A caller card: mirrors `callcard_core::call_log::Card` and `crm::CrmRecord`.
export type RecordKind = "candidate" | "contact" | "company" | "individual";
export interface RecordRef {
  kind: RecordKind;
  id: string;
}
export interface CrmRecord {
  record: RecordRef;
  name: string;
  email: string | null;
  position: string | null;
  company: string | null;
  owner: { id: string | null; name: string; email: string | null } | null;
  updated_ms: number;
  archived: boolean;
  link: string | null;
  company_id?: string | null;
  /** Sellsy: the best open opportunity linked to the contact. */
  opportunity?: Opportunity | null;
}
export interface Opportunity {
  id: string;
  name: string;
  status: "open" | "won" | "lost" | "cancelled" | "closed" | "late";
  updated_ms: number;
  link: string | null;
}
export interface CallCard {
  call_id: number;
  number: string;
  direction: string;
  crm: string;
  account: string;
  matches: CrmRecord[];
  chosen: RecordRef | null;
}

// The history window: mirrors `callcard_core::history`.
export type LogState = "pending" | "in_flight" | "done" | "failed";
export interface LogEntry {
  id: number;
  crm: string;
  target: string;
  target_name: string | null;
  kind: "call" | "call_update" | "sms";
  state: LogState;
  attempts: number;
  last_error: string | null;
  link: string | null;
}
export interface HistoryCall {
  call_id: number;
  number: string;
  direction: string;
  caller: string | null;
  seen_ms: number;
  logs: LogEntry[];
}
export interface History {
  calls: HistoryCall[];
  counts: { pending: number; in_flight: number; done: number; failed: number };
}

// The connect window: mirrors `callcard_engine::setup`.
export interface AircallNumber {
  id: number;
  name: string;
  digits: string;
}
export interface AircallAccount {
  user_name: string;
  user_email: string;
  numbers: AircallNumber[];
}
export interface SetupView {
  demo_running: boolean;
  aircall: AircallAccount | null;
  aircall_problem: string | null;
  crms: CrmSetup[];
  connected_numbers: number[];
}
export interface CrmSetup {
  crm: CrmDescriptor;
  /** The installation has an OAuth client for it. */
  available: boolean;
  connected: boolean;
}

// Contact imports: mirrors `ImportView` in src-tauri/commands.rs.
export interface ImportProgress {
  crm: string;
  account: string;
  done: number;
  total: number | null;
  started_ms: number;
  finished_ms: number | null;
  error: string | null;
}
export interface ImportView {
  running: boolean;
  available: boolean;
  imports: ImportProgress[];
}
