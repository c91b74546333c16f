//! The team hub's wire contract (`callcard-hub-contract`): what the hub
//! server and the desktop's hub client say to each other, written once so
//! that the two cannot drift apart. Aircall's webhook envelope
//! ([`webhook`]), the events a desktop is sent and their pages
//! ([`event`]), how an event travels on the Server-Sent Events stream
//! ([`stream`]), the write claims and their answers ([`claims`]), and the
//! paths they live at ([`paths`]).
//!
//! Types and their serde shapes only: no HTTP client or server, no
//! storage, no async runtime. What an event *means* for a call is the
//! Aircall crate's business (`callcard_aircall::hub`); who an event
//! concerns is the hub's.

pub mod claims;
pub mod event;
pub mod paths;
pub mod stream;
pub mod webhook;

pub use claims::{ClaimAnswer, ClaimRequest};
pub use event::{EventPage, HubEvent, PageQuery, StreamQuery};
pub use stream::{Frame, FrameError, FrameReader};
pub use webhook::{ErrorAnswer, WebhookEnvelope, WebhookReceipt};
