//! Desktop notifications (caller announcements, click-to-dial results). A
//! desktop without a notification server only gets the log line.

/// Whether the notification server reads markup in bodies (asked once).
fn server_reads_markup() -> bool {
    static MARKUP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MARKUP.get_or_init(|| {
        #[cfg(all(unix, not(target_os = "macos")))]
        {
            notify_rust::get_capabilities()
                .map(|caps| caps.iter().any(|c| c == "body-markup"))
                // Unknown: escaping shows at worst an entity, never markup.
                .unwrap_or(true)
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        {
            false
        }
    })
}

/// A notification body as plain text: texts carry CRM names and links, and
/// servers that read markup (`<b>`, `<a href>`, `<img>`) must show them as
/// the characters they are. Control and bidi characters go.
fn plain_body(text: &str, markup: bool) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| {
            *c == '\n'
                || !(c.is_control()
                    || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}'))
        })
        .collect();
    if !markup {
        return cleaned;
    }
    let mut escaped = String::with_capacity(cleaned.len());
    for c in cleaned.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

pub fn show(text: &str) {
    let result = notify_rust::Notification::new()
        .summary("Callcard")
        .body(&plain_body(text, server_reads_markup()))
        .appname("Callcard")
        .timeout(notify_rust::Timeout::Milliseconds(6_000))
        .show();
    if let Err(error) = result {
        tracing::debug!(%error, "no notification server; the message is in the log only");
    }
}

/// Shows the engine's notices (a dial's outcome) until it stops, and each
/// new trouble once (the tray stays red with the reason until it clears).
pub fn follow(engine: &std::sync::Arc<callcard_engine::Engine>) {
    let following = engine.clone();
    let mut troubles = TroubleNotices::default();
    engine.follow(move |event| match event {
        callcard_core::ServiceEvent::Notice { text } => show(&text),
        callcard_core::ServiceEvent::StatusChanged { status } => {
            if let Some(trouble) = troubles.on_status(&status) {
                let language = following.language();
                let line = crate::translations::text(language, "tray.status_trouble")
                    .replace("{reason}", &crate::translations::trouble(language, &trouble));
                show(&line);
            }
        }
        _ => {}
    });
}

/// Which trouble to announce: each reason once while it lasts; it is
/// announced again only after the status went back to normal.
#[derive(Default)]
struct TroubleNotices {
    announced: Option<callcard_core::Trouble>,
}

impl TroubleNotices {
    fn on_status(&mut self, status: &callcard_core::Status) -> Option<callcard_core::Trouble> {
        match status {
            callcard_core::Status::Trouble(reason) if self.announced.as_ref() != Some(reason) => {
                self.announced = Some(reason.clone());
                Some(reason.clone())
            }
            callcard_core::Status::Trouble(_) => None,
            callcard_core::Status::Running => {
                self.announced = None;
                None
            }
            callcard_core::Status::Paused => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcard_core::{Status, Trouble};

    #[test]
    fn a_notification_body_is_plain_text_whatever_the_server_reads() {
        let hostile = "Call <b>Eve</b> & <a href=\"javascript:x\">co</a>\u{202E}\u{0007}";
        assert_eq!(
            plain_body(hostile, true),
            "Call &lt;b&gt;Eve&lt;/b&gt; &amp; &lt;a href=&quot;javascript:x&quot;&gt;co&lt;/a&gt;"
        );
        assert_eq!(
            plain_body(hostile, false),
            "Call <b>Eve</b> & <a href=\"javascript:x\">co</a>"
        );
        assert_eq!(plain_body("two\nlines", true), "two\nlines");
    }

    #[test]
    fn a_trouble_is_announced_once_and_again_only_after_it_cleared() {
        let mut notices = TroubleNotices::default();
        let jobadder = Trouble::CrmNeedsSignIn {
            crm: "jobadder".into(),
        };
        let trouble = Status::Trouble(jobadder.clone());
        assert_eq!(notices.on_status(&trouble), Some(jobadder.clone()));
        assert_eq!(notices.on_status(&trouble), None);
        assert_eq!(notices.on_status(&Status::Paused), None);
        assert_eq!(
            notices.on_status(&Status::Trouble(Trouble::FailedLogs)),
            Some(Trouble::FailedLogs),
            "another reason is news"
        );
        assert_eq!(notices.on_status(&Status::Running), None);
        assert_eq!(notices.on_status(&trouble), Some(jobadder));
    }
}
