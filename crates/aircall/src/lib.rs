//! The Aircall side of Callcard: a typed, lenient API client ([`client`],
//! [`model`]) and the budgeted poller that turns the company's call list into
//! the tracker's events ([`poller`]).
//!
//! It does not decide what a call means for a CRM — the core's tracker and
//! activity builders do — and it never stores the API token: the caller hands
//! it in from the keychain.

pub mod client;
pub mod insight;
pub mod model;
pub mod poller;

pub use client::{Aircall, AircallError, RateInfo};
pub use poller::{Poller, PollerConfig};
