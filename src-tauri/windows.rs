//! Windows are made when asked for and destroyed when closed, so that the idle
//! app holds no webview (and no WebKit process).

use crate::translations;
use callcard_core::settings::Language;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Settings,
    History,
    /// The caller card: small, on top, bottom-right.
    Card,
    /// Connecting the accounts (first run, and from the tray).
    Welcome,
}

impl WindowKind {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "settings" => Some(Self::Settings),
            "history" => Some(Self::History),
            "welcome" => Some(Self::Welcome),
            // The card opens when a call rings, not on request.
            _ => None,
        }
    }

    /// The window label; capabilities in tauri.conf.json grant commands by it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Settings => "settings",
            Self::History => "history",
            Self::Card => "card",
            Self::Welcome => "welcome",
        }
    }

    fn page(self) -> &'static str {
        match self {
            Self::Settings => "settings.html",
            Self::History => "history.html",
            Self::Card => "card.html",
            Self::Welcome => "welcome.html",
        }
    }

    fn size(self) -> (f64, f64) {
        match self {
            Self::Settings => (600.0, 720.0),
            Self::History => (760.0, 520.0),
            Self::Card => (380.0, 300.0),
            Self::Welcome => (620.0, 720.0),
        }
    }
}

/// Brings the window to the front, creating it if it is not open.
pub fn open<R: Runtime>(app: &AppHandle<R>, kind: WindowKind, language: Language) -> tauri::Result<()> {
    if let Some(window) = app.get_webview_window(kind.label()) {
        window.unminimize()?;
        window.show()?;
        return window.set_focus();
    }
    let (width, height) = kind.size();
    let builder = WebviewWindowBuilder::new(app, kind.label(), WebviewUrl::App(kind.page().into()))
        .title(translations::text(language, &format!("windows.{}", kind.label())))
        .inner_size(width, height);
    let window = if kind == WindowKind::Card {
        // Shown without taking the focus from what the person is doing.
        builder
            .always_on_top(true)
            .focused(false)
            .resizable(false)
            .build()?
    } else {
        builder.min_inner_size(420.0, 360.0).build()?
    };
    if kind == WindowKind::Card {
        place_bottom_right(&window);
    }
    tracing::debug!(window = kind.label(), "window opened");
    Ok(())
}

/// Bottom-right of the monitor, above a bottom panel (X11 honours it).
fn place_bottom_right<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    let (Ok(Some(monitor)), Ok(size)) = (window.current_monitor(), window.outer_size()) else {
        return;
    };
    let area = monitor.size();
    let x = area.width.saturating_sub(size.width + 24);
    let y = area.height.saturating_sub(size.height + 64);
    let _ = window.set_position(tauri::PhysicalPosition::new(x as i32, y as i32));
}

/// The card window follows the calls: it opens when a caller's card is
/// ready (with a notification when it is not in front), and closes itself a
/// while after that call ends or a colleague takes it — closed windows are destroyed.
pub fn follow_cards<R: Runtime>(app: AppHandle<R>, engine: std::sync::Arc<callcard_engine::Engine>) {
    use callcard_core::tracker::CallEvent;
    use callcard_core::ServiceEvent;
    const CLOSE_AFTER: std::time::Duration = std::time::Duration::from_secs(20);
    let engine2 = engine.clone();
    let mut shown: Option<i64> = None;
    engine.follow(move |event| match event {
        ServiceEvent::Call {
            event: CallEvent::CardReady { call_id },
            ..
        } => {
            shown = Some(call_id);
            if let Err(error) = open(&app, WindowKind::Card, engine2.language()) {
                tracing::error!(%error, "cannot open the card window");
            }
            announce(&app, &engine2, call_id);
        }
        // Ended, or taken by a colleague: the card has done its job.
        ServiceEvent::Call {
            event: CallEvent::CallEnded { call_id } | CallEvent::CallElsewhere { call_id },
            ..
        } if shown == Some(call_id) => {
            let (app, engine) = (app.clone(), engine2.clone());
            tokio::spawn(async move {
                tokio::time::sleep(CLOSE_AFTER).await;
                // Unless a newer call took the window over meanwhile.
                let newest = engine
                    .latest_cards()
                    .ok()
                    .and_then(|c| c.first().map(|card| card.call_id));
                if newest == Some(call_id) {
                    if let Some(window) = app.get_webview_window(WindowKind::Card.label()) {
                        let _ = window.destroy();
                    }
                }
            });
        }
        _ => {}
    });
}

/// A native notification with the caller's name when the card is not in front.
fn announce<R: Runtime>(app: &AppHandle<R>, engine: &callcard_engine::Engine, call_id: i64) {
    let focused = app
        .get_webview_window(WindowKind::Card.label())
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false);
    if focused {
        return;
    }
    let card = engine
        .cards(call_id)
        .ok()
        .and_then(|cards| cards.into_iter().find(|c| !c.matches.is_empty()));
    if let Some(card) = card {
        let who = card
            .matches
            .first()
            .map(|m| m.name.clone())
            .unwrap_or_else(|| card.number.clone());
        crate::notify::show(&format!("{who} — {}", card.number));
    }
}

/// The event every window listens to (`EVENT` in ui/src/lib/backend.ts).
pub const EVENT: &str = "callcard:event";

/// Pushes the engine's events to the open windows, so that none polls: a
/// card ready or updated, the history changed, an import moving on.
/// Notices are the shell's (notifications), not the windows'.
pub fn forward_events<R: Runtime>(app: AppHandle<R>, engine: std::sync::Arc<callcard_engine::Engine>) {
    use callcard_core::ServiceEvent;
    use tauri::Emitter;
    engine.follow(move |event| {
        if matches!(event, ServiceEvent::Notice { .. }) {
            return;
        }
        if let Err(error) = app.emit(EVENT, &event) {
            tracing::debug!(%error, "cannot tell the windows");
        }
    });
}
