//! The accept loop. Written by hand (not `axum::serve`) so that a fault can
//! drop a connection with a TCP reset, as a flaky network or proxy would.

use axum::Router;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Put into every request's extensions: notifying it resets the connection.
#[derive(Clone)]
pub struct ConnectionKiller(pub Arc<Notify>);

pub async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let killer = ConnectionKiller(kill.clone());
            let _ = stream.set_nodelay(true);
            let socket = socket2::SockRef::from(&stream).try_clone().ok();
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(killer.clone());
                    router.clone().oneshot(request.map(axum::body::Body::new))
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = kill.notified() => {
                    // Linger 0 turns the close into a reset (RST), not a clean FIN.
                    if let Some(socket) = socket {
                        let _ = socket.set_linger(Some(std::time::Duration::ZERO));
                    }
                }
                _ = shutdown.cancelled() => {}
            }
        });
    }
}
