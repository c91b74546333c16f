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
    /// "Check my setup": the checks, the test call, the data-health report.
    Check,
    /// "Call this number?": a link that would start a call asks first.
    Dial,
}

impl WindowKind {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "settings" => Some(Self::Settings),
            "history" => Some(Self::History),
            "welcome" => Some(Self::Welcome),
            "check" => Some(Self::Check),
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
            Self::Check => "check",
            Self::Dial => "dial",
        }
    }

    fn page(self) -> &'static str {
        match self {
            Self::Settings => "settings.html",
            Self::History => "history.html",
            Self::Card => "card.html",
            Self::Welcome => "welcome.html",
            Self::Check => "check.html",
            Self::Dial => "dial.html",
        }
    }

    fn size(self) -> (f64, f64) {
        match self {
            Self::Settings => (600.0, 720.0),
            Self::History => (760.0, 520.0),
            Self::Card => (380.0, 300.0),
            Self::Welcome => (620.0, 720.0),
            Self::Check => (680.0, 760.0),
            Self::Dial => (360.0, 200.0),
        }
    }
}

/// Brings the window to the front, creating it if it is not open.
pub fn open<R: Runtime>(app: &AppHandle<R>, kind: WindowKind, language: Language) -> tauri::Result<()> {
    open_for(app, kind, language, None)
}

/// The card window for a call: made for it, or (open already) shown, and
/// the `card_ready` event that opened it tells it which call is new.
pub fn open_card<R: Runtime>(app: &AppHandle<R>, language: Language, call_id: i64) -> tauri::Result<()> {
    // A number, read by the page before its own script runs (ui/src/card).
    let told = format!("window.__CALLCARD_CARD_CALL__ = {call_id};");
    open_for(app, WindowKind::Card, language, Some(told))
}

fn open_for<R: Runtime>(
    app: &AppHandle<R>,
    kind: WindowKind,
    language: Language,
    initialization: Option<String>,
) -> tauri::Result<()> {
    if let Some(window) = app.get_webview_window(kind.label()) {
        window.unminimize()?;
        window.show()?;
        return window.set_focus();
    }
    let (width, height) = kind.size();
    let mut builder = WebviewWindowBuilder::new(app, kind.label(), WebviewUrl::App(kind.page().into()))
        .title(translations::text(language, &format!("windows.{}", kind.label())))
        .inner_size(width, height);
    if let Some(script) = initialization {
        builder = builder.initialization_script(&script);
    }
    let window = if kind == WindowKind::Card {
        // Shown without taking the focus from what the person is doing.
        builder
            .always_on_top(true)
            .focused(false)
            .resizable(false)
            .build()?
    } else if kind == WindowKind::Dial {
        // The user just clicked a link: the question comes to the front.
        builder.always_on_top(true).resizable(false).center().build()?
    } else {
        builder.min_inner_size(420.0, 360.0).build()?
    };
    if kind == WindowKind::Card {
        place_bottom_right(&window, (width, height));
    }
    tracing::debug!(window = kind.label(), "window opened");
    Ok(())
}

/// Bottom-right of the monitor's work area, above a bottom panel (X11 honours it).
/// Right after it is built the window's outer size can still be 0×0 (X11),
/// so the size asked for, at the monitor's scale, is the floor.
fn place_bottom_right<R: Runtime>(window: &tauri::WebviewWindow<R>, (width, height): (f64, f64)) {
    let Ok(Some(monitor)) = window.current_monitor() else {
        return;
    };
    let outer = window.outer_size().unwrap_or_default();
    let scale = monitor.scale_factor();
    let size = (
        outer.width.max((width * scale).round() as u32),
        outer.height.max((height * scale).round() as u32),
    );
    // The work area leaves out panels and docks; a desktop that does not say
    // (no window manager) gives none, and then the whole monitor counts.
    let work = monitor.work_area();
    let (origin, area) = if work.size.width > 0 && work.size.height > 0 {
        (work.position, work.size)
    } else {
        (*monitor.position(), *monitor.size())
    };
    let (x, y) = bottom_right((origin.x, origin.y), (area.width, area.height), size, scale);
    let _ = window.set_position(tauri::PhysicalPosition::new(x, y));
}

/// Where a window of `size` (physical pixels) goes in the bottom-right
/// corner of a monitor at `origin` of `area`: a margin from the right edge
/// and room for a bottom panel and the title bar, never off the monitor.
fn bottom_right(origin: (i32, i32), area: (u32, u32), size: (u32, u32), scale: f64) -> (i32, i32) {
    let margin = (24.0 * scale).round() as u32;
    let panel = (64.0 * scale).round() as u32;
    let title_bar = (32.0 * scale).round() as u32;
    let x = area.0.saturating_sub(size.0 + margin);
    let y = area.1.saturating_sub(size.1 + title_bar + panel);
    (
        origin.0.saturating_add(x as i32),
        origin.1.saturating_add(y as i32),
    )
}

/// The card window follows the calls: it opens when a caller's card is
/// ready (with a notification when it is not in front), and closes itself a
/// while after that call ends or a colleague takes it — closed windows are destroyed.
pub fn follow_cards<R: Runtime>(app: AppHandle<R>, engine: std::sync::Arc<callcard_engine::Engine>) {
    use callcard_core::tracker::CallEvent;
    use callcard_core::ServiceEvent;
    const CLOSE_AFTER: std::time::Duration = std::time::Duration::from_secs(20);
    let engine2 = engine.clone();
    // The call the card window shows now.
    let shown: std::sync::Arc<std::sync::Mutex<Option<i64>>> = Default::default();
    engine.follow(move |event| match event {
        ServiceEvent::Call {
            event: CallEvent::CardReady { call_id },
            ..
        } => {
            *shown.lock().unwrap_or_else(|p| p.into_inner()) = Some(call_id);
            if let Err(error) = open_card(&app, engine2.language(), call_id) {
                tracing::error!(%error, "cannot open the card window");
            }
            announce(&app, &engine2, call_id);
        }
        // Ended, or taken by a colleague: the card has done its job.
        ServiceEvent::Call {
            event: CallEvent::CallEnded { call_id } | CallEvent::CallElsewhere { call_id },
            ..
        } if *shown.lock().unwrap_or_else(|p| p.into_inner()) == Some(call_id) => {
            let (app, shown) = (app.clone(), shown.clone());
            tokio::spawn(async move {
                tokio::time::sleep(CLOSE_AFTER).await;
                // Unless a newer call took the window over meanwhile.
                let still = *shown.lock().unwrap_or_else(|p| p.into_inner()) == Some(call_id);
                if still {
                    if let Some(window) = app.get_webview_window(WindowKind::Card.label()) {
                        if let Err(error) = window.destroy() {
                            tracing::debug!(%error, "the card window was gone already");
                        }
                    }
                }
            });
        }
        // A link asks to start a call: the dial window asks the user.
        ServiceEvent::DialToConfirm { .. } => {
            if let Err(error) = open(&app, WindowKind::Dial, engine2.language()) {
                tracing::error!(%error, "cannot open the dial window");
            }
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
            .best_record()
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

#[cfg(test)]
mod placement_tests {
    use super::bottom_right;

    #[test]
    fn the_card_goes_in_the_bottom_right_corner_whole_on_the_monitor_it_is_on() {
        // 1280×900 at the origin, the card 380×300: whole, not a sliver at (1256, 836).
        let (x, y) = bottom_right((0, 0), (1280, 900), (380, 300), 1.0);
        assert_eq!((x, y), (876, 504));
        assert!(x + 380 <= 1280 && y + 300 <= 900);
        // A second monitor to the right, at twice the scale.
        let (x, y) = bottom_right((1920, 0), (3840, 2160), (760, 600), 2.0);
        assert_eq!((x, y), (1920 + 3840 - 760 - 48, 2160 - 600 - 64 - 128));
        // A monitor smaller than the card: its corner, not off screen.
        assert_eq!(bottom_right((100, 50), (300, 200), (380, 300), 1.0), (100, 50));
    }
}
