//! Stateful simulators of the Aircall, JobAdder and Sellsy APIs on loopback,
//! for tests, the demo mode and benchmarks.
//!
//! They follow the vendors' published documents closely enough that code
//! which passes against them works against the real services; they are never
//! used to talk to a real account. (Issue 3 fills this crate.)
