//! The Aircall side of Callcard: a typed, lenient API client ([`client`],
//! [`model`]), the company's request budget ([`pacer`]), the budgeted poller
//! that turns the company's call list into the tracker's events
//! ([`poller`]) and hands out domain values — a ringing call, a finished
//! call, with their other party parsed ([`calls`]), read for logging by a
//! [`call_reader::CallReader`] — the insight card ([`insight`]), a final
//! call in the core's terms ([`final_call`]) and contact sync ([`contacts`]);
//! with a team hub, what each pushed webhook event says ([`hub`]) feeds the
//! same tracker instead of polling (the hub client that fetches them is
//! `callcard-hub-client`).
//!
//! It does not decide what a call means for a CRM — the core's tracker and
//! activity builders do — and it never stores the API token: the caller hands
//! it in from the keychain.

pub mod call_reader;
pub mod calls;
pub mod client;
pub mod contact_sync;
pub mod contacts;
pub mod error;
pub mod final_call;
pub mod hub;
pub mod insight;
pub mod model;
pub mod pacer;
pub mod poller;

pub use client::{Aircall, AircallError, RateInfo};
pub use poller::{Poller, PollerConfig};
