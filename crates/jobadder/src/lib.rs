//! The JobAdder connector: OAuth2 (authorization code, loopback redirect),
//! phone search, notes on contacts and candidates, and the change feed for the
//! local phone index, behind the core's CRM trait.
//!
//! It knows JobAdder's wire format and nothing about calls or windows.
//! (Issue 6 fills this crate.)
