//! Where each part of the contract is served, relative to the hub's base
//! address.

/// Aircall delivers its webhooks here (`POST`).
pub const WEBHOOK: &str = "/webhooks/aircall";
/// A desktop pages through the events it missed (`GET ?after=N&limit=M`).
pub const EVENTS: &str = "/v1/events";
/// A desktop follows its events as Server-Sent Events (`GET ?after=N`, or
/// the `Last-Event-ID` header).
pub const STREAM: &str = "/v1/stream";
/// A desktop claims a CRM write (`POST` a [`crate::ClaimRequest`]).
pub const CLAIMS: &str = "/v1/claims";
/// The holder of a claim says it is written (`POST` a [`crate::ClaimRequest`]).
pub const CLAIMS_WRITTEN: &str = "/v1/claims/written";
/// The JobAdder token broker (`POST` the OAuth form, without the secret).
pub const JOBADDER_TOKEN: &str = "/v1/jobadder/token";
pub const HEALTHZ: &str = "/healthz";
/// Prometheus text.
pub const METRICS: &str = "/metrics";

/// The header a reconnecting stream resumes from (the last event's id).
pub const LAST_EVENT_ID: &str = "last-event-id";

/// The identity of the hub's log, on every stream's answer: made when the
/// log is created and made anew by a restore, so that a desktop can tell a
/// log that was reset or restored (whose numbers are not the ones it
/// counted) from the one it followed.
pub const LOG_ID: &str = "callcard-log-id";
/// The last sequence number in the log when the stream was opened: a
/// desktop whose checkpoint is past it is not following this log.
pub const LOG_END: &str = "callcard-log-end";

/// The computer a desktop's stream comes from (the same id as in its
/// claims): one token followed from two computers at once is refused.
pub const COMPUTER: &str = "callcard-computer";

/// On the JobAdder token broker's route, the hub's *own* refusals (an
/// unknown desktop token, no broker here, JobAdder unreachable) carry this
/// header: they say nothing about the person's JobAdder sign-in, and a
/// desktop must not ask them to reconnect JobAdder over them. JobAdder's
/// own answers are passed through without it.
pub const BROKER_OWN_ERROR: &str = "callcard-hub-error";
