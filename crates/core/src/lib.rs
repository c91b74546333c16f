//! The domain of Callcard, free of Tauri and of any one CRM.
//!
//! It holds what the desktop shell and the headless mode share: where files
//! live ([`paths`]), the user's settings and their validation ([`settings`]),
//! the SQLite store with its migrations ([`store`]), and the service object
//! that owns the background work and publishes events ([`service`]).
//! It deliberately knows nothing about windows, trays or HTTP clients: the
//! shell wires those to it.

pub mod clock;
pub mod paths;
pub mod service;
pub mod settings;
pub mod store;

pub use paths::Paths;
pub use service::{Service, ServiceEvent, Status};
pub use settings::{FieldError, Settings};
pub use store::{Store, StoreError};
