//! A hub inside another program: the demo's (the built-in sandbox delivers
//! its webhooks to it and the demo app follows it, so the default experience
//! is the instant path), and the tests' and benchmarks' (started, stopped
//! and started again on the same log, as a hub that goes away and comes
//! back). Same router, log and desktops as `callcard-hub serve`.

use crate::{Desktops, EventLog, Hub, Store, WebhookToken};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum LocalHubError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Desktops(#[from] crate::store::desktops::DesktopError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub struct LocalHub {
    addr: SocketAddr,
    database: PathBuf,
    hub: Hub,
    stop: CancellationToken,
    served: tokio::task::JoinHandle<()>,
}

impl LocalHub {
    /// Serves a hub on `addr` (port 0: any free one) with its log and
    /// desktops in `database`, taking webhooks with `webhook_token`.
    pub async fn start(
        addr: SocketAddr,
        database: &Path,
        webhook_token: &str,
    ) -> Result<Self, LocalHubError> {
        Self::start_with(addr, database, webhook_token, None).await
    }

    /// As [`LocalHub::start`], brokering JobAdder's tokens with `jobadder`.
    pub async fn start_with(
        addr: SocketAddr,
        database: &Path,
        webhook_token: &str,
        jobadder: Option<crate::broker::JobAdderClient>,
    ) -> Result<Self, LocalHubError> {
        let store = Store::open(database)?;
        let log: Arc<dyn EventLog> = Arc::new(store.events);
        let desktops = Arc::new(store.desktops);
        let mut hub = Hub::new(log, desktops, WebhookToken::new(webhook_token));
        if let Some(client) = jobadder {
            hub = hub.with_jobadder(client);
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| LocalHubError::Listen { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| LocalHubError::Listen { addr, source })?;
        let stop = CancellationToken::new();
        let (router, closing, stopped) = (hub.router(), hub.clone(), stop.clone());
        let served = tokio::spawn(async move {
            let shutdown = async move {
                stopped.cancelled().await;
                closing.close_streams();
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(%error, "the local hub stopped serving");
            }
        });
        Ok(Self {
            addr,
            database: database.to_owned(),
            hub,
            stop,
            served,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn database(&self) -> &Path {
        &self.database
    }

    /// Where Aircall (the sandbox) delivers.
    pub fn webhook_url(&self) -> String {
        format!("{}/webhooks/aircall", self.url())
    }

    /// A desktop for an Aircall user; its token (shown once).
    pub fn add_desktop(
        &self,
        email: &str,
        aircall_user_id: i64,
        number_ids: &[i64],
    ) -> Result<String, LocalHubError> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let desktops = Desktops::open(&self.database)?;
        Ok(desktops.add(email, aircall_user_id, number_ids, now_ms)?.1)
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Stops serving (open streams end; the port is free again).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.served.await;
    }
}
