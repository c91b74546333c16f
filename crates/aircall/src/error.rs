//! Why reading calls failed: Aircall's answer or the store. Shared by the
//! poller and the call reader (each depends on it, not on the other).

use crate::client::AircallError;

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Aircall(#[from] AircallError),
    #[error(transparent)]
    Store(#[from] callcard_core::StoreError),
}
