//! Click to dial: a `tel:`/`callto:` link (from the desktop, a second launch,
//! or the command line) is parsed by the core — hostile or bad input gives a
//! clear message and no call — and dialled for this computer's Aircall user.

use crate::watch::AircallSession;
use callcard_aircall::AircallError;
use callcard_core::phone::parse_dial_link;
use callcard_core::settings::{DialMode, Settings};

/// What to tell the user about a link; `Err` texts are shown as they are.
pub async fn dial_link(session: &AircallSession, settings: &Settings, link: &str) -> Result<String, String> {
    if !settings.handle_tel_links {
        // A handler left registered (or a launcher passing links on) must
        // not call anyone while the user has phone links turned off.
        return Err("Phone links are turned off: turn on \"Open tel: and callto: links with Callcard\" in the settings to call from links".into());
    }
    let region = settings.region();
    let target = parse_dial_link(link, region).map_err(|e| format!("Cannot call this link: {e}"))?;
    let number = target.number.as_str();
    let result = match settings.dial_mode {
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
        Ok(()) => Ok(match settings.dial_mode {
            DialMode::Prefill => format!("{number} is ready to call in Aircall{extension}"),
            DialMode::StartCall => format!("Calling {number}{extension}"),
        }),
        Err(AircallError::NotAvailable(_)) => Err(format!(
            "Aircall cannot call {number} now: open Aircall Workspace and make sure you are available"
        )),
        Err(error) => Err(format!("Calling {number} failed: {error}")),
    }
}
