//! The Callcard desktop shell: tray, windows, commands and the headless mode.
//!
//! This is wiring only. Everything Callcard decides lives in the `crates/`
//! libraries, which know nothing of Tauri; here their engine is started,
//! its events become tray updates and windows, and windows reach it through
//! a few typed commands.

mod cli;
mod commands;
mod headless;
mod logging;
mod notify;
mod platform;
mod translations;
mod tray;
mod windows;

use anyhow::Context;
use callcard_core::Paths;
use callcard_engine::{Engine, EngineOptions};
use std::process::ExitCode;
use std::sync::Arc;
use tauri::{Builder, Manager, RunEvent, Runtime};

/// What every build of the app shares, the real one and the mock-runtime one
/// in tests. The engine (`Arc<Engine>`) is added as state by the caller.
pub fn build_app<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::get_settings,
        commands::save_settings,
        commands::get_card,
        commands::choose_record,
        commands::open_record,
        commands::get_history,
        commands::retry_log,
        commands::open_log,
        commands::get_setup,
        commands::connect_aircall,
        commands::connect_crm,
        commands::save_crm_client,
        commands::get_accounts,
        commands::disconnect_account,
        commands::get_hub,
        commands::connect_hub,
        commands::disconnect_hub,
        commands::check_setup,
        commands::test_call,
        commands::open_link,
        commands::open_check,
        commands::finish_setup,
        commands::call_back,
        commands::get_dial_to_confirm,
        commands::answer_dial,
        commands::import_contacts,
        commands::get_imports
    ])
}

pub fn main() -> ExitCode {
    let args = match cli::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("callcard: {error}\n\n{}", cli::usage());
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{}", cli::usage());
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("callcard {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    match run(args) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("callcard: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: cli::Args) -> anyhow::Result<ExitCode> {
    // Before any thread exists: set_var is only sound while single-threaded.
    if !args.headless {
        platform::prepare_webkit_environment();
    }
    let paths = Paths::from_env()?;
    paths.create_all()?;
    let _log_guard = logging::init(&paths.log_dir());
    tracing::info!(version = env!("CARGO_PKG_VERSION"), data = %paths.data_dir.display(), "callcard starting");

    // One tokio runtime for everything, Tauri's included.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("callcard-worker")
        .build()
        .context("starting the async runtime")?;

    if let Some(crm) = &args.connect {
        let name = runtime.block_on(callcard_engine::sign_in_from_command_line(crm, |link| {
            println!("Opening the sign-in page. If no browser opens, visit:\n{link}");
            callcard_engine::crms::open_in_browser(link);
        }))?;
        println!("{name} is connected.");
        return Ok(ExitCode::SUCCESS);
    }
    if args.headless {
        let engine = runtime.block_on(async { start_engine(&paths, &args) })?;
        runtime.block_on(headless::run(engine))?;
        return Ok(ExitCode::SUCCESS);
    }

    tauri::async_runtime::set(runtime.handle().clone());
    let app = build_app(tauri::Builder::default())
        // First, so that a second launch hands its arguments over and exits
        // before it opens the database or builds a tray.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            // A second launch with just a link (what the desktop does) reaches
            // the deep-link plugin first, which hands it to `follow_opened_links`.
            let lone_link = argv.len() == 2;
            match cli::Args::parse(argv.into_iter().skip(1)) {
                Ok(mut args) => {
                    // A plain second launch (from the app menu, say) shows the settings.
                    if args.open.is_empty() && args.links.is_empty() {
                        args.open.push(windows::WindowKind::Settings);
                    }
                    open_requested_windows(app, &args);
                    // Links a second launch hands over (tel: from the desktop);
                    // the first launch's own are handled as the engine starts.
                    if let (Some(engine), false) = (app.try_state::<Arc<Engine>>(), lone_link) {
                        for link in args.links {
                            engine.dial(link);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "ignoring a second launch's arguments"),
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        // "Start at login": an XDG autostart entry (~/.config/autostart) on Linux.
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .app_name(AUTOSTART_NAME)
                .build(),
        )
        .setup(move |app| {
            let _runtime = tauri::async_runtime::handle().inner().enter();
            let engine = start_engine(&paths, &args)?;
            app.manage(engine.clone());
            // A link that would start a call asks first, in the dial window.
            engine.confirm_dials();
            notify::follow(&engine);
            follow_phone_link_setting(app.handle(), &engine);
            follow_start_at_login_setting(app.handle(), &engine);
            follow_opened_links(app.handle());
            // A link the desktop started this launch with, read once.
            let cold_start = {
                use tauri_plugin_deep_link::DeepLinkExt;
                app.deep_link().get_current().ok().flatten()
            };
            let links: Vec<String> = match cold_start {
                Some(urls) => urls.into_iter().map(String::from).collect(),
                None => args.links.clone(),
            };
            for link in links {
                engine.dial(link);
            }
            windows::follow_cards(app.handle().clone(), engine.clone());
            windows::forward_events(app.handle().clone(), engine.clone());
            // First run with nothing connected: the connect window, over the demo.
            if engine.has_demo() && args.open.is_empty() && args.links.is_empty() && engine.first_run() {
                if let Err(error) =
                    windows::open(app.handle(), windows::WindowKind::Welcome, engine.language())
                {
                    tracing::error!(%error, "cannot open the connect window");
                }
            }
            match tray::build(app.handle(), engine.clone()) {
                Ok(tray) => tray::follow_engine(tray, engine),
                // A desktop without a tray host still gets a working app
                // (windows open from a second launch: `callcard --open settings`).
                Err(error) => tracing::warn!(%error, "no system tray available"),
            }
            open_requested_windows(app.handle(), &args);
            // A signal quits like the tray's Quit: the engine stops cleanly.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                match headless::wait_for_stop_signal().await {
                    Ok(()) => {
                        tracing::info!("stop signal received, quitting");
                        handle.exit(0);
                    }
                    Err(error) => tracing::warn!(%error, "cannot listen for stop signals"),
                }
            });
            Ok(())
        })
        .build(tauri::generate_context!())
        .context("starting the desktop app")?;

    let code = app.run_return(|app, event| match event {
        // The last window closed: a tray app keeps running. Quit from the
        // tray asks with an exit code and is let through.
        RunEvent::ExitRequested { code: None, api, .. } => api.prevent_exit(),
        RunEvent::Exit => {
            if let Some(engine) = app.try_state::<Arc<Engine>>() {
                tauri::async_runtime::block_on(engine.shutdown());
            }
        }
        _ => {}
    });
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// The engine, started the same way for the tray app and `--headless`.
/// Must run inside the tokio runtime.
fn start_engine(paths: &Paths, args: &cli::Args) -> anyhow::Result<Arc<Engine>> {
    let engine = Engine::start(
        paths,
        EngineOptions {
            accounts: true,
            demo: args.wants_demo(),
            events_file: args.events.clone(),
            env: callcard_engine::Environment::process(),
        },
    )
    .context("starting Callcard")?;
    // The tray app reads its cold-start link through the deep-link plugin.
    if args.headless {
        for link in &args.links {
            engine.dial(link.clone());
        }
    }
    Ok(engine)
}

/// The schemes Callcard answers (also in tauri.conf.json's deep-link plugin).
const PHONE_SCHEMES: [&str; 2] = ["tel", "callto"];

/// Registers (or unregisters) Callcard as the phone-link handler through the
/// deep-link plugin whenever the opt-in setting says so, starting with its
/// value now. Opt-in: registering replaces the user's current handler.
fn follow_phone_link_setting<R: Runtime>(app: &tauri::AppHandle<R>, engine: &Arc<Engine>) {
    let app = app.clone();
    let apply = move |on: bool| {
        use tauri_plugin_deep_link::DeepLinkExt;
        for scheme in PHONE_SCHEMES {
            let done = if on {
                app.deep_link().register(scheme)
            } else {
                app.deep_link().unregister(scheme)
            };
            if let Err(error) = done {
                tracing::warn!(%error, scheme, "cannot change the phone-link handler");
            }
        }
        if on {
            fix_handler_entry(&app);
            tracing::info!("Callcard now opens tel: and callto: links");
        } else {
            tracing::info!("Callcard no longer opens phone links");
        }
    };
    follow_switch(engine, |settings| settings.handle_tel_links, apply);
}

/// Calls `apply` with an on/off setting's value now when it is on, then
/// with each new value as the user saves it.
fn follow_switch(
    engine: &Arc<Engine>,
    read: fn(&callcard_core::Settings) -> bool,
    apply: impl Fn(bool) + Send + 'static,
) {
    let mut current = read(&engine.settings());
    if current {
        apply(true);
    }
    let following = engine.clone();
    engine.follow(move |event| {
        if event == callcard_core::ServiceEvent::SettingsChanged {
            let wanted = read(&following.settings());
            if wanted != current {
                apply(wanted);
                current = wanted;
            }
        }
    });
}

/// The autostart entry's name (`Callcard.desktop` in ~/.config/autostart).
const AUTOSTART_NAME: &str = "Callcard";

/// Creates or removes the autostart entry as "start at login" says, at once.
/// At start an entry is only created, never removed: with the setting off,
/// a build run from source must not take away the installed app's entry.
fn follow_start_at_login_setting<R: Runtime>(app: &tauri::AppHandle<R>, engine: &Arc<Engine>) {
    let app = app.clone();
    let apply = move |on: bool| {
        use tauri_plugin_autostart::ManagerExt;
        let launcher = app.autolaunch();
        let done = if on { launcher.enable() } else { launcher.disable() };
        match done {
            Ok(()) => tracing::info!(on, "start at login changed"),
            Err(error) => tracing::warn!(%error, on, "cannot change the start-at-login entry"),
        }
    };
    follow_switch(engine, |settings| settings.start_at_login, apply);
}

/// See [`platform::unquote_handler_exec`]: the plugin's entry, made usable by `xdg-open`.
fn fix_handler_entry<R: Runtime>(app: &tauri::AppHandle<R>) {
    let Ok(exe) = std::env::current_exe() else { return };
    let Some(name) = exe.file_name() else { return };
    let Ok(data) = app.path().data_dir() else { return };
    let entry = data
        .join("applications")
        .join(format!("{}-handler.desktop", name.to_string_lossy()));
    if let Ok(text) = std::fs::read_to_string(&entry) {
        let fixed = platform::unquote_handler_exec(&text);
        if fixed != text {
            if let Err(error) = std::fs::write(&entry, fixed) {
                tracing::debug!(%error, "cannot simplify the handler entry");
            }
        }
    }
}

/// Links the desktop hands a running Callcard (through the deep-link plugin).
fn follow_opened_links<R: Runtime>(app: &tauri::AppHandle<R>) {
    use tauri_plugin_deep_link::DeepLinkExt;
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| {
        if let Some(engine) = handle.try_state::<Arc<Engine>>() {
            for url in event.urls() {
                engine.dial(url.to_string());
            }
        }
    });
}

fn open_requested_windows<R: Runtime>(app: &tauri::AppHandle<R>, args: &cli::Args) {
    let language = app
        .try_state::<Arc<Engine>>()
        .map(|engine| engine.language())
        .unwrap_or_default();
    for kind in &args.open {
        if let Err(error) = windows::open(app, *kind, language) {
            tracing::error!(%error, window = kind.label(), "cannot open the window");
        }
    }
}

#[cfg(test)]
mod contract;
#[cfg(test)]
mod tests;
