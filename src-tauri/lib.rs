//! The Callcard desktop shell: tray, windows, commands and the headless mode.
//!
//! This is wiring only. Everything Callcard decides lives in the `crates/`
//! libraries, which know nothing of Tauri; here their service is started,
//! its events become tray updates and windows, and windows reach it through
//! a few typed commands.

mod calls;
mod cli;
mod commands;
mod connection;
mod contacts;
mod crm_connection;
mod demo;
mod dial;
mod events_file;
mod headless;
mod logging;
mod notify;
mod platform;
mod setup;
mod translations;
mod tray;
mod windows;

use anyhow::Context;
use callcard_core::{Paths, Service};
use std::process::ExitCode;
use std::sync::Arc;
use tauri::{Builder, Manager, RunEvent, Runtime};

/// What every build of the app shares, the real one and the mock-runtime one
/// in tests. The service (`Arc<Service>`) is added as state by the caller.
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
        commands::connect_jobadder,
        commands::connect_sellsy,
        commands::finish_setup,
        commands::call_back,
        commands::import_contacts,
        commands::get_imports
    ])
}

pub fn main() -> ExitCode {
    let args = match cli::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("callcard: {error}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{}", cli::USAGE);
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
        return connect_from_command_line(&runtime, crm);
    }
    if args.headless {
        let started = runtime.block_on(async { start_service(&paths, &args) })?;
        let service = started.service;
        runtime.block_on(headless::run(service))?;
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
                    // the first launch's own are handled as the service starts.
                    if let (Some(service), Some(session), false) = (
                        app.try_state::<Arc<Service>>(),
                        app.try_state::<calls::SharedSession>(),
                        lone_link,
                    ) {
                        for link in args.links {
                            handle_link(&service, &session, link);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "ignoring a second launch's arguments"),
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .setup(move |app| {
            let _runtime = tauri::async_runtime::handle().inner().enter();
            let Started {
                service,
                session,
                logs,
                demo,
            } = start_service(&paths, &args)?;
            app.manage(logs);
            app.manage(contacts::ImportRunning::default());
            app.manage(service.clone());
            let session_for_links = session.clone();
            app.manage(session);
            app.manage(commands::DemoState(demo.clone()));
            follow_phone_link_setting(app.handle(), &service);
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
                handle_link(&service, &session_for_links, link);
            }
            windows::follow_cards(app.handle().clone(), service.clone());
            // First run with nothing connected: the connect window, over the demo.
            if demo.is_some() && args.open.is_empty() && args.links.is_empty() && first_run(&service) {
                args_open_welcome(app.handle(), &service);
            }
            match tray::build(app.handle(), service.clone(), demo) {
                Ok(tray) => tray::follow_service(tray, service),
                // A desktop without a tray host still gets a working app
                // (windows open from a second launch: `callcard --open settings`).
                Err(error) => tracing::warn!(%error, "no system tray available"),
            }
            open_requested_windows(app.handle(), &args);
            // A signal quits like the tray's Quit: the service stops cleanly.
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
            if let Some(service) = app.try_state::<Arc<Service>>() {
                tauri::async_runtime::block_on(service.shutdown());
            }
        }
        _ => {}
    });
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// The service and its background work, the same for the tray app and
/// `--headless`. Must run inside the tokio runtime.
/// True once: the first launch that gets here.
fn first_run(service: &Service) -> bool {
    let store = service.shared_store();
    let Ok(store) = store.lock() else { return false };
    let seen = store.checkpoint("welcome_shown").ok().flatten().is_some();
    if !seen {
        let _ = store.set_checkpoint("welcome_shown", 1);
    }
    !seen
}

fn args_open_welcome<R: Runtime>(app: &tauri::AppHandle<R>, service: &Service) {
    if let Err(error) = windows::open(app, windows::WindowKind::Welcome, tray::language_of(service)) {
        tracing::error!(%error, "cannot open the connect window");
    }
}

/// What `start_service` started.
struct Started {
    service: Arc<Service>,
    session: calls::SharedSession,
    /// The connected CRMs, once watching started.
    logs: calls::SharedLogs,
    demo: Option<demo::DemoHandle>,
}

fn start_service(paths: &Paths, args: &cli::Args) -> anyhow::Result<Started> {
    let service = Service::start(paths).context("starting the service")?;
    let session = calls::SharedSession::default();
    let logs = calls::SharedLogs::default();
    if let Some(path) = &args.events {
        events_file::spawn_writer(&service, path.clone())
            .with_context(|| format!("opening the events file {}", path.display()))?;
    }
    let settings = service.settings().unwrap_or_default();
    let keychain = callcard_secrets::Keychain::app();
    let mut demo = None;
    match connection::aircall_from_env(|k| std::env::var(k).ok(), &keychain, &settings.aircall_user_email) {
        Ok(aircall) => {
            let service2 = service.clone();
            let session2 = session.clone();
            let logs2 = logs.clone();
            service.spawn(async move {
                let crms = connect_crms(&service2).await;
                let watch = calls::Watch {
                    connection: aircall,
                    crms,
                    settle_ms_override: None,
                    budget_override: None,
                    ai_retry: calls::Watch::ai_retry_from_env(),
                    stop: service2.shutdown_token(),
                };
                calls::watch(service2, watch, session2, logs2).await;
            });
        }
        Err(reason) if args.wants_demo() => {
            tracing::info!(%reason, "no account connected: starting the demo");
            demo = Some(demo::start(&service, session.clone(), logs.clone()));
        }
        Err(reason) => tracing::info!(%reason, "not watching calls"),
    }
    // The tray app reads its cold-start link through the deep-link plugin.
    if args.headless {
        for link in &args.links {
            handle_link(&service, &session, link.clone());
        }
    }
    Ok(Started {
        service,
        session,
        logs,
        demo,
    })
}

/// The CRMs calls are logged to: each one selected in the settings,
/// configured, and signed in (tokens in the keychain, or a refresh token
/// handed over by the environment as `CALLCARD_<CRM>_REFRESH_TOKEN`).
async fn connect_crms(service: &Arc<Service>) -> Vec<Arc<dyn callcard_core::crm::Crm>> {
    use crm_connection::CrmKind;
    let settings = service.settings().unwrap_or_default();
    let mut crms = Vec::new();
    for (kind, selected) in [
        (CrmKind::JobAdder, settings.crms.jobadder),
        (CrmKind::Sellsy, settings.crms.sellsy),
    ] {
        if !selected {
            continue;
        }
        let Some(config) = crm_connection::crm_env(kind, |k| std::env::var(k).ok()) else {
            tracing::info!(
                crm = kind.name(),
                "not configured for this installation (no OAuth client)"
            );
            continue;
        };
        if let Some(crm) = connect_crm(service, &config, &settings.default_region).await {
            crms.push(crm);
        }
    }
    crms
}

async fn connect_crm(
    service: &Arc<Service>,
    config: &crm_connection::CrmEnv,
    region: &str,
) -> Option<Arc<dyn callcard_core::crm::Crm>> {
    let name = config.kind.name();
    let session = crm_connection::keychain_session(config, callcard_secrets::Keychain::app());
    let handed_over = format!("CALLCARD_{}_REFRESH_TOKEN", config.kind.id().to_ascii_uppercase());
    if let Some(refresh) = std::env::var(&handed_over).ok().filter(|v| !v.is_empty()) {
        if let Err(error) = crm_connection::adopt_refresh_token(&session, &refresh).await {
            tracing::warn!(%error, "the {name} refresh token from the environment was refused");
        }
    }
    let reconnect = format!("Reconnect {name}");
    match session.current().await {
        Ok(_) => tracing::info!("{name} connected"),
        // JobAdder's logging still starts: the outbox waits for a reconnect.
        Err(error) => {
            tracing::warn!(%error, "{name} is not signed in; run `callcard --connect {}`", config.kind.id());
            service.set_trouble(&reconnect);
        }
    }
    // Sellsy's connector reads who is connected first: retried while offline.
    let shutdown = service.shutdown_token();
    loop {
        match crm_connection::connector(config, session.clone(), region, &service.shared_store()).await {
            Ok(crm) => return Some(crm),
            Err(error) if session.current().await.is_err() => {
                tracing::warn!(%error, "{name} needs a new sign-in");
                service.set_trouble(&reconnect);
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot reach {name}; trying again in 30 s");
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
                }
            }
        }
    }
}

/// `--connect jobadder|sellsy`: the sign-in in the browser, tokens to the keychain.
fn connect_from_command_line(runtime: &tokio::runtime::Runtime, crm: &str) -> anyhow::Result<ExitCode> {
    let kind = crm_connection::CrmKind::parse(crm).context("unknown CRM")?;
    let name = kind.name();
    let config = crm_connection::crm_env(kind, |k| std::env::var(k).ok()).with_context(|| {
        format!(
            "{name} is not configured: set CALLCARD_{}_CLIENT_ID{}",
            kind.id().to_ascii_uppercase(),
            if kind == crm_connection::CrmKind::JobAdder {
                " and CALLCARD_JOBADDER_CLIENT_SECRET"
            } else {
                ""
            }
        )
    })?;
    let session = crm_connection::keychain_session(&config, callcard_secrets::Keychain::app());
    runtime
        .block_on(crm_connection::sign_in(&config, &session, |link| {
            println!("Opening {name}'s sign-in page. If no browser opens, visit:\n{link}");
            crm_connection::open_in_browser(link);
        }))
        .map_err(|e| anyhow::anyhow!("{name} sign-in failed: {e}"))?;
    println!("{name} is connected.");
    Ok(ExitCode::SUCCESS)
}

/// The schemes Callcard answers (also in tauri.conf.json's deep-link plugin).
const PHONE_SCHEMES: [&str; 2] = ["tel", "callto"];

/// Registers (or unregisters) Callcard as the phone-link handler through the
/// deep-link plugin whenever the opt-in setting says so, starting with its
/// value now. Opt-in: registering replaces the user's current handler.
fn follow_phone_link_setting<R: Runtime>(app: &tauri::AppHandle<R>, service: &Arc<Service>) {
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
    let mut current = service.settings().map(|s| s.handle_tel_links).unwrap_or(false);
    if current {
        apply(true);
    }
    let mut events = service.subscribe();
    let (service2, shutdown) = (service.clone(), service.shutdown_token());
    service.spawn(async move {
        loop {
            let event = tokio::select! {
                _ = shutdown.cancelled() => break,
                event = events.recv() => event,
            };
            match event {
                Ok(callcard_core::ServiceEvent::SettingsChanged) => {
                    let wanted = service2.settings().map(|s| s.handle_tel_links).unwrap_or(false);
                    if wanted != current {
                        apply(wanted);
                        current = wanted;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                _ => {}
            }
        }
    });
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
        if let (Some(service), Some(session)) = (
            handle.try_state::<Arc<Service>>(),
            handle.try_state::<calls::SharedSession>(),
        ) {
            for url in event.urls() {
                handle_link(&service, &session, url.to_string());
            }
        }
    });
}

/// Dials a `tel:`/`callto:` link once Aircall is reachable, and says how it went.
fn handle_link(service: &Arc<Service>, session: &calls::SharedSession, link: String) {
    let (service2, session) = (service.clone(), session.clone());
    service.spawn(async move {
        let shutdown = service2.shutdown_token();
        let ready = async {
            // The session appears once the Aircall user is resolved.
            loop {
                if let Some(s) = session.get() {
                    return s;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        let found = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => None,
            s = ready => Some(s),
        };
        let settings = service2.settings().unwrap_or_default();
        let message = match found {
            None => Err("Cannot call: Aircall is not connected".to_owned()),
            Some(s) => dial::dial_link(s, &settings, &link).await,
        };
        match &message {
            Ok(text) => tracing::info!(%text, "click to dial"),
            Err(text) => tracing::warn!(%text, "click to dial failed"),
        }
        notify::show(match &message {
            Ok(text) | Err(text) => text,
        });
    });
}

fn open_requested_windows<R: Runtime>(app: &tauri::AppHandle<R>, args: &cli::Args) {
    let language = app
        .try_state::<Arc<Service>>()
        .map(|service| tray::language_of(&service))
        .unwrap_or_default();
    for kind in &args.open {
        if let Err(error) = windows::open(app, *kind, language) {
            tracing::error!(%error, window = kind.label(), "cannot open the window");
        }
    }
}

#[cfg(test)]
mod tests;
