//! `callcard-hub`: the team hub server, and its admin commands.
//!
//!   callcard-hub [serve]            receive webhooks, serve desktops (stops on SIGTERM)
//!   callcard-hub user add EMAIL     adds a desktop user (looked up in Aircall); prints its token once
//!   callcard-hub user list          lists the desktop users
//!   callcard-hub user revoke WHO    revokes by e-mail or id
//!   callcard-hub webhook create URL registers the hub with Aircall (token to the token file)
//!   callcard-hub webhook show|rotate|remove
//!   callcard-hub backup FILE        copies the database to a new FILE while the hub runs
//!   callcard-hub restore FILE       replaces the database with a backup (hub stopped);
//!                                   the restored log gets a new identity
//!
//! Configured by `CALLCARD_HUB_*` variables, or a file of them named by
//! `CALLCARD_HUB_CONFIG` (crates/hub/src/config.rs). `CALLCARD_HUB_LOG_FORMAT=json`
//! writes the log as one JSON object a line.

use anyhow::{bail, Context};
use callcard_hub::{Desktops, EventLog, Hub, HubConfig, Store};
use std::sync::Arc;
use std::time::Duration;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter =
        || tracing_subscriber::EnvFilter::try_from_env("CALLCARD_HUB_LOG").unwrap_or_else(|_| "info".into());
    if std::env::var("CALLCARD_HUB_LOG_FORMAT").is_ok_and(|f| f == "json") {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let config = HubConfig::from_env(callcard_hub::config::environment_and_file()?)?;
    match args.as_slice() {
        ["--version"] | ["-V"] => {
            println!("callcard-hub {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        [] | ["serve"] => serve(config).await,
        ["user", "add", email] => add_user(&config, email).await,
        ["user", "list"] => {
            for desktop in Desktops::open(&config.database)?.list()? {
                let state = if desktop.revoked_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\tAircall user {}\tnumbers {:?}\t{state}",
                    desktop.id, desktop.email, desktop.aircall_user_id, desktop.number_ids
                );
            }
            Ok(())
        }
        ["user", "revoke", who] => {
            let n = Desktops::open(&config.database)?.revoke(who, now_ms())?;
            println!("revoked {n} token(s) of {who}");
            Ok(())
        }
        ["webhook", action @ ..] => webhook(&config, action).await,
        ["backup", file] => {
            let file = std::path::Path::new(file);
            callcard_hub::store::backup(&config.database, file)
                .with_context(|| format!("backing up {}", config.database.display()))?;
            println!("backed up {} to {}", config.database.display(), file.display());
            Ok(())
        }
        ["restore", file] => {
            let file = std::path::Path::new(file);
            let restored = callcard_hub::store::restore(&config.database, file).with_context(|| {
                format!("restoring {} from {}", config.database.display(), file.display())
            })?;
            println!(
                "restored {} from {}: the log ends at event {} and is now log {} \
                 (desktops see a new log, catch up and check the CRM before each write for a day)",
                config.database.display(),
                file.display(),
                restored.end,
                restored.id
            );
            Ok(())
        }
        other => bail!(
            "unknown command {other:?}: use serve, user add EMAIL, user list, user revoke WHO, \
             webhook create URL, webhook show, webhook rotate, webhook remove, backup FILE, restore FILE"
        ),
    }
}

async fn webhook(config: &HubConfig, action: &[&str]) -> anyhow::Result<()> {
    use callcard_hub::webhook_admin;
    let key = config.require_aircall()?;
    let aircall = callcard_aircall::Aircall::new(&key.api_url, &key.api_id, &key.api_token)?;
    let token_file = config
        .webhook_token_file
        .clone()
        .context("set CALLCARD_HUB_WEBHOOK_TOKEN_FILE: where the hub keeps the token Aircall returns")?;
    let database = &config.database;
    match action {
        ["create", url] => {
            let id = webhook_admin::create(&aircall, database, &token_file, url).await?;
            println!(
                "webhook {id} created for {url}; its token is in {}",
                token_file.display()
            );
        }
        ["show"] => {
            let shown = webhook_admin::show(&aircall, database, &token_file).await?;
            println!(
                "webhook {}\nurl {}\nactive {}\nevents {}",
                shown.id,
                shown.url,
                shown.active,
                shown.events.join(" ")
            );
            println!("token in {}", token_file.display());
        }
        ["rotate"] => {
            let id = webhook_admin::rotate(&aircall, database, &token_file).await?;
            println!(
                "webhook rotated: now {id}; the new token is in {} (a running hub reads it at once)",
                token_file.display()
            );
        }
        ["remove"] => {
            let id = webhook_admin::remove(&aircall, database, &token_file).await?;
            println!("webhook {id} removed");
        }
        other => bail!("unknown webhook command {other:?}: use create URL, show, rotate or remove"),
    }
    Ok(())
}

async fn add_user(config: &HubConfig, email: &str) -> anyhow::Result<()> {
    let key = config.require_aircall()?;
    let aircall = callcard_aircall::Aircall::new(&key.api_url, &key.api_id, &key.api_token)?;
    let user = aircall
        .user_by_email(email)
        .await
        .with_context(|| format!("looking {email} up in Aircall"))?;
    let numbers: Vec<i64> = aircall
        .user_numbers(user.id)
        .await?
        .into_iter()
        .map(|n| n.id)
        .collect();
    let (desktop, token) = Desktops::open(&config.database)?.add(email, user.id, &numbers, now_ms())?;
    eprintln!(
        "Added {} (Aircall user {}, numbers {:?}). Give this token to their Callcard; it is shown only now:",
        desktop.email, desktop.aircall_user_id, desktop.number_ids
    );
    println!("{token}");
    Ok(())
}

async fn serve(config: HubConfig) -> anyhow::Result<()> {
    let token = config.require_webhook_token()?;
    let store = Store::open(&config.database)
        .with_context(|| format!("opening the hub's database {}", config.database.display()))?;
    let log: Arc<dyn EventLog> = Arc::new(store.events);
    let desktops = Arc::new(store.desktops);
    // Retention: events older than the configured days are pruned hourly.
    let retention_ms = i64::from(config.retention_days) * 86_400_000;
    let pruned_log = log.clone();
    let pruned_claims = desktops.clone();
    tokio::spawn(async move {
        loop {
            let log = pruned_log.clone();
            let before = now_ms() - retention_ms;
            match tokio::task::spawn_blocking(move || log.prune(before)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(n, "old events pruned"),
                Ok(Err(error)) => tracing::warn!(%error, "cannot prune old events"),
                Err(error) => tracing::warn!(%error, "the pruning task failed"),
            }
            let claims = pruned_claims.clone();
            match tokio::task::spawn_blocking(move || claims.prune_claims(before)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(n, "old write claims pruned"),
                Ok(Err(error)) => tracing::warn!(%error, "cannot prune old write claims"),
                Err(error) => tracing::warn!(%error, "the pruning task failed"),
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
    let mut hub = Hub::new(log, desktops, token);
    if let Some(client) = config.jobadder.clone() {
        tracing::info!(client_id = %client.client_id, "brokering JobAdder tokens for the desktops");
        hub = hub.with_jobadder(client);
    }
    let closing = hub.clone();
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("listening on {}", config.addr))?;
    tracing::info!(addr = %config.addr, database = %config.database.display(), "callcard-hub listening");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    axum::serve(listener, hub.router())
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("stopping");
            closing.close_streams();
        })
        .await?;
    Ok(())
}
