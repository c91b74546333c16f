//! The domain of Callcard, free of Tauri and of any one CRM.
//!
//! It holds what the desktop shell and the headless mode share: where files
//! live ([`paths`]), the user's settings and their validation ([`settings`]),
//! the SQLite store with its migrations ([`store`]), the service object that
//! owns the background work and publishes events ([`service`]) — and the rules
//! that make the product right: phone numbers ([`phone`]), the CRM trait
//! ([`crm`]), which record a call is about ([`matching`]), what gets written
//! ([`activity`], [`sms`]), and the durable outbox with its dispatcher
//! ([`outbox`], [`dispatcher`]), the call tracker that turns polled calls
//! into events ([`tracker`]), the call pipeline's rules as pure functions
//! of values — what to do next with each call, AI update and SMS
//! ([`pipeline`]) — and the tray's status as codes ([`status`]).
//! It deliberately knows nothing about windows, trays or HTTP clients: the
//! shell wires those to it.

pub mod activity;
pub mod call_log;
pub mod card;
pub mod claims;
pub mod clock;
pub mod contact_import;
pub mod crm;
pub mod crm_descriptor;
pub mod dispatcher;
pub mod history;
pub mod matching;
pub mod outbox;
pub mod paths;
pub mod phone;
pub mod pipeline;
pub mod service;
pub mod settings;
pub mod sms;
pub mod status;
pub mod store;
pub mod tracker;

pub use paths::Paths;
pub use phone::E164;
pub use service::{CallSource, Service, ServiceEvent};
pub use settings::{FieldError, Settings};
pub use status::{CrmWait, Status, Trouble};
pub use store::{Store, StoreError};
