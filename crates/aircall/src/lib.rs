//! The Aircall API client: calls, users, numbers, contacts, insight cards, dial.
//!
//! It will be typed and lenient where Aircall is loose (nullable fields,
//! reset headers in seconds or milliseconds), with every base URL
//! configurable. It does not decide what a call means for the CRM: the call
//! tracker in `callcard-core` does. (Issue 5 fills this crate.)
