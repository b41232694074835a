//! The fake's HTTP server: hyper 1 on a listener the caller has bound, one
//! task per connection, and a bounded drain on shutdown.

use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::routes::handle;
use super::FakeApify;

/// How long shutdown waits for in-flight answers (a `Fault::Delay`, say)
/// before it drops the connections still open.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

impl FakeApify {
    /// Serves the API on `listener` until `shutdown` is cancelled; then
    /// lets in-flight answers finish (for at most a couple of seconds).
    pub fn spawn(&self, listener: TcpListener, shutdown: CancellationToken) -> JoinHandle<()> {
        let fake = self.clone();
        tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            connections.spawn(serve_connection(fake.clone(), stream, shutdown.clone()));
                        }
                        Err(error) => {
                            // Out of file descriptors and the like: pause rather than spin.
                            tracing::debug!(%error, "fake Apify API: accept failed");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    },
                    // Reap finished connections so that the set stays small.
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            let drain = async { while connections.join_next().await.is_some() {} };
            if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
                connections.abort_all();
            }
        })
    }
}

async fn serve_connection(fake: FakeApify, stream: TcpStream, shutdown: CancellationToken) {
    let service = service_fn(move |request| handle(fake.clone(), request));
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "fake Apify API: connection ended with an error");
    }
}
