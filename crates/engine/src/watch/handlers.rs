//! The channels between the watch's handlers, apart from the handlers
//! themselves so that they depend on these and not on each other (Helix's
//! `helix-term/src/handlers.rs` is the model). Each is bounded.

use callcard_aircall::calls::RingingCall;
use callcard_core::call_log::CallLog;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What the ringing handler is told.
pub(super) enum RingingMsg {
    /// A tick's calls that ring, and the calls that ended (or were picked
    /// up elsewhere) in it.
    Tick {
        ringing: Vec<RingingCall>,
        ended: Vec<i64>,
    },
    /// A CRM became ready: it shows its cards for the calls still live.
    CrmJoined(Arc<CallLog>),
}

/// A few ticks may wait; more, and the poll waits for the cards (the
/// cards are what the user is looking at).
const RINGING_DEPTH: usize = 16;

/// Where the watch hands calls to the ringing handler.
#[derive(Clone)]
pub(super) struct RingingHandle(mpsc::Sender<RingingMsg>);

impl RingingHandle {
    pub(super) fn channel() -> (Self, mpsc::Receiver<RingingMsg>) {
        let (send, receive) = mpsc::channel(RINGING_DEPTH);
        (Self(send), receive)
    }

    pub(super) async fn send(&self, message: RingingMsg) {
        // Closed only once the watch stops: nothing more to show then.
        if self.0.send(message).await.is_err() {
            tracing::debug!("the watch is stopping: a ringing call is not shown");
        }
    }
}

/// Asks the logging handler for a pass. One pass may wait: a nudge while
/// one is already due adds nothing (the pass reads everything waiting).
#[derive(Clone)]
pub(super) struct LoggingNudge(mpsc::Sender<()>);

impl LoggingNudge {
    pub(super) fn channel() -> (Self, mpsc::Receiver<()>) {
        let (send, receive) = mpsc::channel(1);
        (Self(send), receive)
    }

    pub(super) fn nudge(&self) {
        // Full: a pass is due already. Closed: the watch is stopping.
        let _ = self.0.try_send(());
    }
}
