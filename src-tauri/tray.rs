//! The tray icon and its menu. Linux trays send no click events, so every
//! action is a menu item.

use crate::translations::text;
use crate::windows::{self, WindowKind};
use callcard_core::settings::Language;
use callcard_core::store::CatchUp;
use callcard_core::Status;
use callcard_engine::Engine;
use std::sync::Arc;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Runtime};

const ICON_NORMAL: &[u8] = include_bytes!("../icons/tray-normal.png");
const ICON_PAUSED: &[u8] = include_bytes!("../icons/tray-paused.png");
const ICON_TROUBLE: &[u8] = include_bytes!("../icons/tray-trouble.png");

mod id {
    pub const SETTINGS: &str = "settings";
    pub const HISTORY: &str = "history";
    pub const CONNECT: &str = "connect";
    pub const CHECK: &str = "check";
    pub const PAUSE: &str = "pause";
    pub const STOP_DEMO: &str = "stop-demo";
    pub const QUIT: &str = "quit";
}

/// The parts of the tray that change after it is built.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    status: MenuItem<R>,
    settings: MenuItem<R>,
    history: MenuItem<R>,
    connect: MenuItem<R>,
    check: MenuItem<R>,
    pause: CheckMenuItem<R>,
    /// Only while the demo runs.
    stop_demo: Option<MenuItem<R>>,
    quit: MenuItem<R>,
}

fn status_line(language: Language, status: &Status, catch_up: Option<CatchUp>) -> String {
    match status {
        Status::Running => match catch_up {
            Some(progress) => {
                let (done, total, unit) = progress.parts();
                let progress = text(language, &format!("catch_up.{unit}"))
                    .replace("{done}", &done.to_string())
                    .replace("{total}", &total.to_string());
                text(language, "tray.status_catching_up").replace("{progress}", &progress)
            }
            None => text(language, "tray.status_running"),
        },
        Status::Paused => text(language, "tray.status_paused"),
        Status::Trouble(trouble) => text(language, "tray.status_trouble")
            .replace("{reason}", &crate::translations::trouble(language, trouble)),
    }
}

fn icon_for(status: &Status) -> &'static [u8] {
    match status {
        Status::Running => ICON_NORMAL,
        Status::Paused => ICON_PAUSED,
        Status::Trouble(_) => ICON_TROUBLE,
    }
}

pub fn build<R: Runtime>(app: &AppHandle<R>, engine: Arc<Engine>) -> tauri::Result<Tray<R>> {
    let language = engine.language();
    let status_now = engine.status();
    let status = MenuItem::with_id(
        app,
        "status",
        status_line(language, &status_now, engine.catch_up()),
        false,
        None::<&str>,
    )?;
    let settings = MenuItem::with_id(
        app,
        id::SETTINGS,
        text(language, "tray.settings"),
        true,
        None::<&str>,
    )?;
    let history = MenuItem::with_id(
        app,
        id::HISTORY,
        text(language, "tray.history"),
        true,
        None::<&str>,
    )?;
    let connect = MenuItem::with_id(
        app,
        id::CONNECT,
        text(language, "tray.connect"),
        true,
        None::<&str>,
    )?;
    let check = MenuItem::with_id(app, id::CHECK, text(language, "tray.check"), true, None::<&str>)?;
    let pause = CheckMenuItem::with_id(
        app,
        id::PAUSE,
        text(language, "tray.pause"),
        true,
        status_now == Status::Paused,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, id::QUIT, text(language, "tray.quit"), true, None::<&str>)?;
    let stop_demo = match engine.has_demo() {
        true => Some(MenuItem::with_id(
            app,
            id::STOP_DEMO,
            text(language, "tray.stop_demo"),
            true,
            None::<&str>,
        )?),
        false => None,
    };
    let separator = PredefinedMenuItem::separator(app)?;
    let separator2 = PredefinedMenuItem::separator(app)?;
    let mut items: Vec<&dyn tauri::menu::IsMenuItem<R>> =
        vec![&status, &separator, &settings, &history, &connect, &check, &pause];
    if let Some(item) = &stop_demo {
        items.push(item);
    }
    items.push(&separator2);
    items.push(&quit);
    let menu = Menu::with_items(app, &items)?;

    let pause_item = pause.clone();
    let stop_demo_item = stop_demo.clone();
    let icon = TrayIconBuilder::with_id("main")
        .icon(Image::from_bytes(icon_for(&status_now))?)
        .tooltip("Callcard")
        .menu(&menu)
        .on_menu_event(move |app, event| {
            let language = engine.language();
            let result = match event.id().as_ref() {
                id::SETTINGS => windows::open(app, WindowKind::Settings, language),
                id::HISTORY => windows::open(app, WindowKind::History, language),
                id::CONNECT => windows::open(app, WindowKind::Welcome, language),
                id::CHECK => windows::open(app, WindowKind::Check, language),
                id::PAUSE => {
                    engine.set_paused(pause_item.is_checked().unwrap_or(false));
                    Ok(())
                }
                id::STOP_DEMO => {
                    engine.stop_demo();
                    match &stop_demo_item {
                        Some(item) => item
                            .set_text(text(language, "tray.demo_stopped"))
                            .and_then(|_| item.set_enabled(false)),
                        None => Ok(()),
                    }
                }
                id::QUIT => {
                    tracing::info!("quit from the tray");
                    app.exit(0);
                    Ok(())
                }
                _ => Ok(()),
            };
            if let Err(error) = result {
                tracing::error!(%error, item = event.id().as_ref(), "tray action failed");
            }
        })
        .build(app)?;

    Ok(Tray {
        icon,
        status,
        settings,
        history,
        connect,
        check,
        pause,
        stop_demo,
        quit,
    })
}

impl<R: Runtime> Tray<R> {
    pub fn show_status(
        &self,
        language: Language,
        status: &Status,
        catch_up: Option<CatchUp>,
    ) -> tauri::Result<()> {
        self.status.set_text(status_line(language, status, catch_up))?;
        self.pause.set_checked(*status == Status::Paused)?;
        self.icon.set_icon(Some(Image::from_bytes(icon_for(status))?))
    }

    pub fn set_language(
        &self,
        language: Language,
        status: &Status,
        catch_up: Option<CatchUp>,
    ) -> tauri::Result<()> {
        self.settings.set_text(text(language, "tray.settings"))?;
        self.history.set_text(text(language, "tray.history"))?;
        self.connect.set_text(text(language, "tray.connect"))?;
        self.check.set_text(text(language, "tray.check"))?;
        self.pause.set_text(text(language, "tray.pause"))?;
        if let Some(item) = &self.stop_demo {
            if item.is_enabled()? {
                item.set_text(text(language, "tray.stop_demo"))?;
            }
        }
        self.quit.set_text(text(language, "tray.quit"))?;
        self.show_status(language, status, catch_up)
    }
}

/// Keeps the tray in step with the engine until the app ends. Tauri runs
/// menu and icon changes on the main thread itself, so this task may call them.
pub fn follow_engine<R: Runtime>(tray: Tray<R>, engine: Arc<Engine>) {
    let mut events = engine.subscribe();
    tauri::async_runtime::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match events.recv().await {
                // Every event may change the language or the status; redraw both.
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
            if let Err(error) = tray.set_language(engine.language(), &engine.status(), engine.catch_up()) {
                tracing::warn!(%error, "cannot update the tray");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_tells_catch_up_in_the_users_language() {
        let progress = CatchUp {
            done_secs: 3 * 86_400,
            total_secs: 5 * 86_400,
        };
        assert_eq!(
            status_line(Language::En, &Status::Running, Some(progress)),
            "Callcard: catching up — 3 of 5 days"
        );
        assert_eq!(
            status_line(Language::Fr, &Status::Running, Some(progress)),
            "Callcard : rattrapage — 3 jours sur 5"
        );
        assert_eq!(
            status_line(Language::En, &Status::Running, None),
            "Callcard: watching calls"
        );
        // Trouble says what needs the user first.
        let sellsy = Status::Trouble(callcard_core::Trouble::CrmNeedsSignIn { crm: "sellsy".into() });
        assert!(status_line(Language::En, &sellsy, Some(progress)).contains("Reconnect Sellsy"));
        assert!(
            status_line(Language::De, &sellsy, None).contains("Sellsy neu verbinden"),
            "a trouble is said in the user's language"
        );
    }
}
