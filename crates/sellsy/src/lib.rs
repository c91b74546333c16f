//! The Sellsy connector: OAuth2 with PKCE, contact search, the companies and
//! individuals change feed, opportunities and native phone-call activities,
//! behind the core's CRM trait.
//!
//! It knows Sellsy's wire format and quotas, nothing about calls or windows.
//! (Issue 7 fills this crate.)
