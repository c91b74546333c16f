//! Windows are made when asked for and destroyed when closed, so that the idle
//! app holds no webview (and no WebKit process).

use crate::translations;
use callcard_core::settings::Language;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Settings,
    History,
}

impl WindowKind {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "settings" => Some(Self::Settings),
            "history" => Some(Self::History),
            _ => None,
        }
    }

    /// The window label; capabilities in tauri.conf.json grant commands by it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Settings => "settings",
            Self::History => "history",
        }
    }

    fn page(self) -> &'static str {
        match self {
            Self::Settings => "settings.html",
            Self::History => "history.html",
        }
    }

    fn size(self) -> (f64, f64) {
        match self {
            Self::Settings => (600.0, 720.0),
            Self::History => (760.0, 520.0),
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
    WebviewWindowBuilder::new(app, kind.label(), WebviewUrl::App(kind.page().into()))
        .title(translations::text(language, &format!("windows.{}", kind.label())))
        .inner_size(width, height)
        .min_inner_size(420.0, 360.0)
        .build()?;
    tracing::debug!(window = kind.label(), "window opened");
    Ok(())
}
