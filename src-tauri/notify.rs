//! Desktop notifications (caller announcements, click-to-dial results). A
//! desktop without a notification server only gets the log line.

pub fn show(text: &str) {
    let result = notify_rust::Notification::new()
        .summary("Callcard")
        .body(text)
        .appname("Callcard")
        .timeout(notify_rust::Timeout::Milliseconds(6_000))
        .show();
    if let Err(error) = result {
        tracing::debug!(%error, "no notification server; the message is in the log only");
    }
}

/// Shows the engine's notices (a dial's outcome) until it stops.
pub fn follow(engine: &std::sync::Arc<callcard_engine::Engine>) {
    engine.follow(|event| {
        if let callcard_core::ServiceEvent::Notice { text } = event {
            show(&text);
        }
    });
}
