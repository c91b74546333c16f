//! Click to dial: a `tel:`/`callto:` link (from the desktop, a second launch,
//! or the command line) is parsed by the core — hostile or bad input gives a
//! clear message and no call — and dialled for this computer's Aircall user.
//!
//! In "start the call" mode a link from outside would place a real call on
//! any web page's say-so: it waits in [`PendingDials`] for the user's yes
//! (the shell asks in a small window), and without a shell to ask it only
//! prepares the number in Aircall.

use crate::connected::AircallSession;
use callcard_aircall::AircallError;
use callcard_core::phone::{parse_dial_link, DialTarget};
use callcard_core::settings::{DialMode, Settings};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A link is refused while phone links are turned off: a handler left
/// registered (or a launcher passing links on) must not call anyone.
pub fn read_link(settings: &Settings, link: &str) -> Result<DialTarget, String> {
    if !settings.handle_tel_links {
        return Err("Phone links are turned off: turn on \"Open tel: and callto: links with Callcard\" in the settings to call from links".into());
    }
    parse_dial_link(link, settings.region()).map_err(|e| format!("Cannot call this link: {e}"))
}

/// What to tell the user about a link dialled in `mode`; `Err` texts are
/// shown as they are.
pub async fn dial_link(
    session: &AircallSession,
    settings: &Settings,
    mode: DialMode,
    link: &str,
) -> Result<String, String> {
    let target = read_link(settings, link)?;
    let number = target.number.as_str();
    let result = match mode {
        DialMode::Prefill => session.client.dial(session.user_id, number).await,
        DialMode::StartCall => {
            let Some(from) = session.numbers.first() else {
                return Err("Cannot start the call: your Aircall user has no number".into());
            };
            session.client.start_call(session.user_id, *from, number).await
        }
    };
    let extension = target
        .extension
        .map(|e| format!(" (extension {e}: dial it once connected)"))
        .unwrap_or_default();
    match result {
        Ok(()) => Ok(match mode {
            DialMode::Prefill => format!("{number} is ready to call in Aircall{extension}"),
            DialMode::StartCall => format!("Calling {number}{extension}"),
        }),
        Err(AircallError::NotAvailable(_)) => Err(format!(
            "Aircall cannot call {number} now: open Aircall Workspace and make sure you are available"
        )),
        Err(error) => Err(format!("Calling {number} failed: {error}")),
    }
}

/// A link that would start a call, waiting for the user's yes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DialToConfirm {
    /// Which link the answer is for (a newer link replaces an older one).
    pub id: u32,
    /// The number in E.164, as read from the link.
    pub number: String,
    /// Digits to dial once connected, when the link gives some.
    pub extension: Option<String>,
}

/// How long a link waits for the user's yes: a click long forgotten does
/// not place a call.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(120);

/// The link waiting for the user's yes, if any (one at a time: the newest).
#[derive(Default)]
pub struct PendingDials {
    pending: Mutex<Option<Pending>>,
}

struct Pending {
    ask: DialToConfirm,
    link: String,
    asked: Instant,
}

impl PendingDials {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `link` (read as `target`) until the user answers; returns what
    /// to ask.
    pub fn ask(&self, link: &str, target: &DialTarget) -> DialToConfirm {
        let mut pending = self.lock();
        let id = pending.as_ref().map_or(1, |p| p.ask.id.wrapping_add(1));
        let ask = DialToConfirm {
            id,
            number: target.number.as_str().to_owned(),
            extension: target.extension.clone(),
        };
        *pending = Some(Pending {
            ask: ask.clone(),
            link: link.to_owned(),
            asked: Instant::now(),
        });
        ask
    }

    /// What the confirmation window shows; `None` once answered or too old.
    pub fn current(&self) -> Option<DialToConfirm> {
        let pending = self.lock();
        pending
            .as_ref()
            .filter(|p| p.asked.elapsed() < CONFIRM_WITHIN)
            .map(|p| p.ask.clone())
    }

    /// The user's answer to `id`: the link to dial on a yes, if it still
    /// waits. Either answer ends the wait.
    pub fn answer(&self, id: u32) -> Option<String> {
        let mut pending = self.lock();
        if pending.as_ref().map(|p| p.ask.id) != Some(id) {
            return None;
        }
        pending
            .take()
            .filter(|p| p.asked.elapsed() < CONFIRM_WITHIN)
            .map(|p| p.link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(number: &str) -> DialTarget {
        parse_dial_link(&format!("tel:{number}"), None).unwrap()
    }

    #[test]
    fn only_the_newest_link_waits_and_an_answer_ends_it() {
        let dials = PendingDials::default();
        let first = dials.ask("tel:+447400123456", &target("+447400123456"));
        let second = dials.ask("tel:+447400123457;ext=12", &target("+447400123457;ext=12"));
        assert_ne!(first.id, second.id);
        assert_eq!(dials.current(), Some(second.clone()));
        assert_eq!(second.extension.as_deref(), Some("12"));
        assert_eq!(dials.answer(first.id), None, "an older link's yes calls nobody");
        assert_eq!(
            dials.answer(second.id).as_deref(),
            Some("tel:+447400123457;ext=12")
        );
        assert_eq!(dials.current(), None);
        assert_eq!(dials.answer(second.id), None, "a second yes calls nobody");
    }
}
