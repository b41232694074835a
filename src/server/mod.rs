//! The HTTP server: hyper 1, HTTP/1.1, TLS, graceful shutdown. It sees only a
//! [`Source`] of encoded metrics and a readiness flag.

pub(crate) mod auth;
mod routes;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use tokio_rustls::rustls;

use crate::metrics::Encoded;
use auth::BasicAuth;
/// What the server serves.
pub(crate) trait Source: Send + Sync + 'static {
    /// The metrics to answer a scrape with. In on-scrape mode this may run
    /// (or wait for) a refresh.
    fn metrics(self: Arc<Self>) -> Pin<Box<dyn Future<Output = Arc<Encoded>> + Send>>;
    /// True once the first refresh attempt has finished.
    fn ready(&self) -> bool;
}

/// How long in-flight requests get to finish after shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(4);
/// A client that has not sent its request headers by then is dropped.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client gets to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until `shutdown` is cancelled, then stops accepting and waits
/// (bounded) for in-flight requests. With `tls`, over TLS; with `auth`,
/// behind basic auth (except `/healthz`).
pub(crate) async fn serve(
    listener: TcpListener,
    source: Arc<dyn Source>,
    tls: Option<Arc<rustls::ServerConfig>>,
    auth: Option<Arc<BasicAuth>>,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let source = Arc::clone(&source);
        let auth = auth.clone();
        let service = service_fn(move |req| {
            let source = Arc::clone(&source);
            let auth = auth.clone();
            async move { Ok::<_, std::convert::Infallible>(routes::handle(req, source, auth).await) }
        });
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(connection).await
                }
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    let stream = match handshake {
                        Ok(Ok(s)) => s,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            return;
                        }
                    };
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(connection).await
                }
            };
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("in-flight requests did not finish within {DRAIN_TIMEOUT:?}");
        }
    }
}
