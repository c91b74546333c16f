// Generated from the Rust types by src-tauri/contract.rs. Do not edit:
// change the Rust type, then run
//   CALLCARD_WRITE_BINDINGS=1 cargo test -p callcard --lib contract

export type SettingsView = { settings: Settings, limits: Limits, crms: Array<CrmDescriptor>, 
/**
 * A team hub is followed: SMS, which only it brings, can be logged.
 */
has_hub: boolean, };

export type Settings = { crms: Record<string, boolean>, 
/**
 * The e-mail of the Aircall user at this computer; resolved to a user id.
 */
aircall_user_email: string, 
/**
 * Aircall number ids whose calls are handled; others are ignored.
 */
connected_numbers: Array<number>, log_ai_info: boolean, log_recording_link: boolean, sms_mode: SmsMode, 
/**
 * The CRM publishes no maximum note length, so the joined SMS note is capped here.
 */
sms_note_max_chars: number, duplicate_rule: DuplicateRule, contact_sync: Record<string, boolean>, 
/**
 * Aircall completes tags, notes and duration about 30 s after hang-up.
 */
settle_delay_secs: number, 
/**
 * How far back catch-up looks after sleep, offline time or a restart.
 */
look_back_days: number, 
/**
 * How long to wait for AI data before giving up on updating the log.
 */
ai_wait_minutes: number, 
/**
 * ISO 3166 region used to read numbers stored without a country code.
 */
default_region: string, 
/**
 * This computer's share of the company-wide Aircall rate limit.
 */
polling_budget_per_minute: number, 
/**
 * Registering for `tel:` replaces the user's current handler, so it is opt-in.
 */
handle_tel_links: boolean, dial_mode: DialMode, start_at_login: boolean, language: Language, 
/**
 * OAuth clients an admin pasted into the connect window, by CRM id (the
 * secret, when there is one, is in the keychain). The environment and a
 * client built into the app come first.
 */
crm_clients: { [key in string]: CrmClientSetting }, 
/**
 * The company's team hub (`https://…`), empty for none: calls then come
 * from its stream instead of polling. This computer's token for it is
 * in the keychain.
 */
team_hub_url: string, 
/**
 * How many days written logs, cards and finished calls are kept on this
 * computer (what is still to be written is kept whatever its age).
 */
retention_days: number, };

export type CrmClientSetting = { 
/**
 * Empty: none pasted (the CRM's redirect port may still be chosen).
 */
client_id: string, 
/**
 * The loopback port of the registered redirect URI; `None` for the CRM's default.
 */
redirect_port: number | null, };

export type SmsMode = "conversation" | "one_note_per_sms" | "off";

export type DuplicateRule = "most_recently_updated" | "do_nothing";

export type DialMode = "prefill" | "start_call";

export type Language = "en" | "fr" | "de";

export type Limits = { sms_note_max_chars: Range, settle_delay_secs: Range, look_back_days: Range, ai_wait_minutes: Range, polling_budget_per_minute: Range, retention_days: Range, };

export type Range = { min: number, max: number, };

export type FieldError = { field: string, code: string, message: string, };

export type CrmDescriptor = { 
/**
 * The [`CrmId`] in settings, keys and outbox rows.
 */
id: string, 
/**
 * How people know it.
 */
name: string, 
/**
 * Its `CALLCARD_*` variables start with this (`_CLIENT_ID`, `_API_URL`, …).
 */
env_prefix: string, sign_in: SignIn, 
/**
 * The loopback port its sign-in comes back to unless the installation
 * chooses another: `http://127.0.0.1:<port>/callback` is the redirect
 * URI to register with the CRM (JobAdder matches it exactly).
 */
redirect_port: number, contact_sync: ContactSyncMode, 
/**
 * Whether its existing contacts can be imported into Aircall.
 */
imports_contacts: boolean, 
/**
 * Selected in a new installation's settings.
 */
selected_by_default: boolean, };

export type SignIn = "client_secret" | "pkce";

export type ContactSyncMode = "on_each_call" | "changed_contacts";

export type ImportView = { running: boolean, 
/**
 * Whether a CRM that can import contacts is connected.
 */
available: boolean, imports: Array<ImportProgress>, };

export type ImportProgress = { crm: string, account: string, 
/**
 * Where the page being imported starts; `None` for the first page.
 */
cursor: string | null, 
/**
 * How many contacts of that page are done.
 */
page_done: number, 
/**
 * Contacts gone through (brought to Aircall or already in step).
 */
done: number, total: number | null, started_ms: number, finished_ms: number | null, 
/**
 * Why the last run stopped early, if it did.
 */
error: string | null, };

export type AccountView = { 
/**
 * `aircall`, or a CRM's id.
 */
id: string, name: string, connected: boolean, 
/**
 * Whose account (the Aircall user's e-mail), when known.
 */
detail: string, 
/**
 * Set by the environment, so not something Callcard can remove.
 */
set_by_environment: boolean, };

export type HubView = { 
/**
 * The hub's address, empty for none.
 */
url: string, 
/**
 * This computer has its token (in the keychain or the environment).
 */
has_token: boolean, 
/**
 * Set by this computer's environment (`CALLCARD_HUB_URL`): not changed here.
 */
set_by_environment: boolean, 
/**
 * Where calls come from now.
 */
source: CallSource, };

export type Card = { call_id: number, number: string, direction: Direction, crm: string, account: string, 
/**
 * Every match, best first.
 */
matches: Array<CrmRecord>, 
/**
 * The record the call will be logged to, when the user picked one.
 */
chosen: RecordRef | null, };

export type Direction = "inbound" | "outbound";

export type CrmRecord = { record: RecordRef, name: string, email: string | null, position: string | null, 
/**
 * The linked company's name, when there is one.
 */
company: string | null, owner: Person | null, updated_ms: number, archived: boolean, 
/**
 * Where to open the record in the CRM's web app.
 */
link: string | null, phones: string[], 
/**
 * The linked company's id (a contact's company: a CRM may relate the
 * call to it and rank such a contact first).
 */
company_id: string | null, 
/**
 * The best open opportunity for this record, shown on the card
 * and related to the call.
 */
opportunity: Opportunity | null, 
/**
 * Numbers the record stores that cannot be read with the default
 * country: calls from them never find it (the setup check lists them).
 */
unreadable_phones?: Array<string>, };

export type RecordRef = { kind: RecordKind, id: string, };

export type RecordKind = "candidate" | "contact" | "company" | "individual";

export type Person = { id: string | null, name: string, email: string | null, };

export type Opportunity = { id: string, name: string, status: OpportunityStatus, updated_ms: number, contact_ids: Array<string>, link: string | null, };

export type OpportunityStatus = "open" | "won" | "lost" | "cancelled" | "closed" | "late";

export type History = { calls: Array<HistoryCall>, 
/**
 * The SMS next to the calls, newest first.
 */
messages: Array<HistorySms>, counts: OutboxCounts, 
/**
 * Past calls still being read after an absence.
 */
catching_up: CatchUp | null, 
/**
 * CRMs that cannot take their writes now, and the calls waiting for them.
 */
waiting: Array<CrmWaiting>, };

export type HistoryCall = { call_id: number, 
/**
 * Empty for a call first seen after it ended (catch-up).
 */
number: string, 
/**
 * Unknown for a call first seen after it ended (catch-up).
 */
direction: Direction | null, 
/**
 * The record the call is about: the user's pick, else the best match.
 */
caller: string | null, 
/**
 * Unix ms of the first sighting, or of the first log for catch-up calls.
 */
seen_ms: number, logs: Array<LogEntry>, 
/**
 * Given up on: why the call was not logged.
 */
not_logged: string | null, };

export type HistorySms = { 
/**
 * The phone system's message id.
 */
message_id: string, 
/**
 * When it was queued (Unix ms).
 */
seen_ms: number, logs: Array<LogEntry>, 
/**
 * From a number no record has: not logged (then the number is given).
 */
no_record: boolean, number: string, };

export type LogEntry = { 
/**
 * The outbox item, for the Retry button.
 */
id: number, 
/**
 * The CRM's id.
 */
crm: string, 
/**
 * `candidate:12`.
 */
target: string, 
/**
 * The record's name when the card knew it.
 */
target_name: string | null, kind: ItemKind, state: ItemState, attempts: number, last_error: string | null, 
/**
 * Where the written note or activity can be opened.
 */
link: string | null, };

export type CatchUp = { done_secs: number, total_secs: number, };

export type CallSource = "polling" | "hub" | "polling_until_hub_is_back";

export type CrmWaiting = { 
/**
 * The CRM's id.
 */
crm: string, 
/**
 * Why, as a code each window translates.
 */
reason: CrmWait, 
/**
 * Final calls not yet in its outbox.
 */
calls: number, };

export type CrmWait = "needs_sign_in" | "not_answering" | "unreachable";

export type ItemKind = "call" | "call_update" | "sms";

export type ItemState = "pending" | "in_flight" | "done" | "failed";

export type OutboxCounts = { pending: number, in_flight: number, done: number, failed: number, };

export type SetupView = { demo_running: boolean, 
/**
 * The Aircall user, when a key is saved and works.
 */
aircall: AircallAccount | null, aircall_problem: string | null, 
/**
 * Every CRM this build knows, in the registry's order.
 */
crms: Array<CrmSetup>, connected_numbers: Array<number>, };

export type CrmSetup = { crm: CrmDescriptor, 
/**
 * The installation has an OAuth client for it.
 */
available: boolean, 
/**
 * Where that client comes from (only a pasted one can be changed here).
 */
client_source: ClientSource | null, 
/**
 * The pasted client's id (never its secret).
 */
pasted_client_id: string, 
/**
 * The redirect URI to register with the CRM.
 */
redirect_uri: string, redirect_port: number, 
/**
 * Signed in (tokens in the keychain).
 */
connected: boolean, };

export type ClientSource = "from_environment" | "built_in" | "pasted";

export type AircallAccount = { user_name: string, user_email: string, numbers: Array<AircallNumber>, };

export type AircallNumber = { id: number, name: string, digits: string, };

export type SetupReport = { checks: Array<Check>, health: Array<CrmHealth>, 
/**
 * The company's Aircall numbers this user is not on: their calls never
 * reach this computer.
 */
numbers_not_yours: Array<NumberLine>, 
/**
 * Numbers contact sync has put into Aircall.
 */
synced_contacts: number, 
/**
 * The default country numbers without a country code are read with.
 */
default_region: string, };

export type Check = { id: CheckId, subject: string, outcome: Outcome, detail: string, };

export type CheckId = "keychain" | "aircall_key" | "aircall_user" | "aircall_numbers" | "crm_sign_in" | "crm_lookup" | "crm_agent";

export type Outcome = "passed" | "warning" | "failed" | "skipped";

export type CrmHealth = { crm: string, name: string, records_read: number, 
/**
 * Stopped at [`HEALTH_RECORD_CAP`] records.
 */
partial: boolean, unreadable: Array<UnreadableNumber>, shared: Array<SharedNumber>, };

export type RecordLine = { name: string, link: string | null, };

export type UnreadableNumber = { record: RecordLine, 
/**
 * As the CRM stores it.
 */
number: string, };

export type SharedNumber = { number: string, records: Array<RecordLine>, };

export type NumberLine = { name: string, digits: string, };

export type TestCall = { passed: boolean, 
/**
 * The caller's number, and the name on the card when the CRM knew it.
 */
detail: string, };

export type DialToConfirm = { 
/**
 * Which link the answer is for (a newer link replaces an older one).
 */
id: number, 
/**
 * The number in E.164, as read from the link.
 */
number: string, 
/**
 * Digits to dial once connected, when the link gives some.
 */
extension: string | null, };

export type CommandError = { "kind": "invalid", fields: Array<FieldError>, } | { "kind": "failed", code: string, 
/**
 * The English sentence, for logs and for a code a window does not know.
 */
message: string, 
/**
 * What the sentence is about (an e-mail, a CRM's name).
 */
subject: string | null, };

export type ServiceEvent = { "kind": "status_changed", status: Status, } | { "kind": "settings_changed" } | { "kind": "call", event: CallEvent, t_ms: number, } | { "kind": "notice", text: string, } | { "kind": "cards_changed", call_id: number, } | { "kind": "history_changed" } | { "kind": "import_progress", progress: ImportProgress, } | { "kind": "catch_up", progress: CatchUp | null, } | { "kind": "call_source", source: CallSource, } | { "kind": "dial_to_confirm", id: number, };

export type Status = { "state": "running" } | { "state": "paused" } | { "state": "trouble", "reason": Trouble };

export type Trouble = { "code": "unreadable_settings" } | { "code": "failed_logs" } | { "code": "crm_needs_sign_in", 
/**
 * The CRM's id.
 */
crm: string, } | { "code": "crm_unreachable", crm: string, } | { "code": "hub_lost" } | { "code": "hub_refused" } | { "code": "hub_log_replaced" } | { "code": "hub_claims_away" };

export type CallEvent = { "kind": "call_ringing", call_id: number, } | { "kind": "call_answered", call_id: number, } | { "kind": "call_ended", call_id: number, } | { "kind": "call_final", call_id: number, } | { "kind": "ai_ready", call_id: number, } | { "kind": "card_ready", call_id: number, } | { "kind": "call_elsewhere", call_id: number, };

/** Every command the backend answers. */
export type Command = "get_settings" | "save_settings" | "get_card" | "choose_record" | "open_record" | "get_history" | "retry_log" | "open_log" | "get_setup" | "connect_aircall" | "connect_crm" | "save_crm_client" | "get_accounts" | "disconnect_account" | "get_hub" | "connect_hub" | "disconnect_hub" | "check_setup" | "test_call" | "open_link" | "open_check" | "finish_setup" | "call_back" | "import_contacts" | "get_imports" | "get_dial_to_confirm" | "answer_dial";
