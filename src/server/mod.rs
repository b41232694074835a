//! The HTTP server: hyper 1, HTTP/1.1, TLS, graceful shutdown. It sees only a
//! [`Source`] of encoded metrics and of the readiness (a flag and a line
//! of text).
//!
//! Its limits ([`HttpLimits`], values in `config::defaults`): a deadline
//! for request headers (idle keep-alive connections too), one for a
//! response write that stalls, a cap on connections (more are accepted and
//! closed at once), and password checks in a bounded queue (`auth`). The TLS settings and users ([`Web`]) are swapped whole on
//! SIGHUP: new connections get the new TLS settings, every request from then
//! on the new users.

pub(crate) mod auth;
mod routes;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::{HttpLimits, WebConfig};
use crate::metrics::Encoded;
use auth::{AuthError, BasicAuth};

/// What the server serves.
pub(crate) trait Source: Send + Sync + 'static {
    /// The metrics to answer a scrape with. In on-scrape mode this may run
    /// (or wait for) a refresh.
    fn metrics(self: Arc<Self>) -> Pin<Box<dyn Future<Output = Arc<Encoded>> + Send>>;
    /// Whether the first refresh attempt has finished, and how the last
    /// refresh went.
    fn readiness(&self) -> Readiness;
}

/// What `/readyz` answers, and `/` shows.
pub(crate) struct Readiness {
    /// True once the first refresh attempt has finished, even a failed
    /// one: an exporter that is not ready is not scraped, and its
    /// `apify_up 0` would reach no one.
    pub(crate) ready: bool,
    /// One line of plain text on the last refresh (`ok: ...`,
    /// `failed: ...`), never a secret.
    pub(crate) text: String,
}

/// How long in-flight requests get to finish after shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(4);

/// How long a client gets to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the web config makes of the server: TLS, and the users.
pub(crate) struct Web {
    tls: Option<TlsAcceptor>,
    auth: Option<Arc<BasicAuth>>,
}

impl Web {
    /// The server's settings from `web` (plain HTTP, no password when
    /// `None`). Slow with basic auth: the decoy bcrypt hash is made here.
    /// `auth_queue_wait` is the longest a password check waits.
    pub(crate) async fn from_config(
        web: Option<&WebConfig>,
        auth_queue_wait: Duration,
    ) -> Result<Web, AuthError> {
        let auth = BasicAuth::from_config(web, auth_queue_wait).await?;
        let tls = web.and_then(|w| w.tls.clone()).map(TlsAcceptor::from);
        Ok(Web { tls, auth })
    }

    /// The settings of a re-read web config. The password checker in force
    /// is kept when the users and their hashes are the same (its decoy
    /// hash, queue and remembered credentials): a reload for a new
    /// certificate or token then costs no bcrypt, and a scraper already
    /// verified does not queue again.
    pub(crate) async fn reloaded(
        &self,
        web: &WebConfig,
        auth_queue_wait: Duration,
    ) -> Result<Web, AuthError> {
        let auth = match &self.auth {
            Some(auth) if auth.has_users(&web.users) => Some(Arc::clone(auth)),
            _ => BasicAuth::from_config(Some(web), auth_queue_wait).await?,
        };
        let tls = web.tls.clone().map(TlsAcceptor::from);
        Ok(Web { tls, auth })
    }

    /// True when connections are served over TLS.
    pub(crate) fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// How many basic auth users there are (0: no password asked).
    pub(crate) fn users(&self) -> usize {
        self.auth.as_ref().map_or(0, |a| a.users())
    }
}

/// The [`Web`] settings in force, replaced whole on SIGHUP.
pub(crate) struct Settings(RwLock<Arc<Web>>);

impl Settings {
    pub(crate) fn new(web: Web) -> Settings {
        Settings(RwLock::new(Arc::new(web)))
    }

    pub(crate) fn get(&self) -> Arc<Web> {
        Arc::clone(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn replace(&self, web: Web) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(web);
    }
}

/// Serves until `shutdown` is cancelled, then stops accepting and waits
/// (bounded) for in-flight requests. TLS and basic auth (except for
/// `/healthz`) as `settings` says at the time.
pub(crate) async fn serve(
    listener: TcpListener,
    source: Arc<dyn Source>,
    settings: Arc<Settings>,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    // Logged once per episode of refusals, not once per connection.
    let mut refusing = false;
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
        // Over the cap, the connection is closed at once rather than left
        // in the listen backlog: the client learns now, not after its own
        // timeout, and a backlog full of them would delay every later one.
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            if !refusing {
                tracing::warn!(
                    max = limits.max_connections,
                    "connection limit reached; closing new connections until one ends"
                );
                refusing = true;
            }
            drop(stream);
            continue;
        };
        refusing = false;
        let source = Arc::clone(&source);
        let request_settings = Arc::clone(&settings);
        let service = service_fn(move |req| {
            let source = Arc::clone(&source);
            // Read per request: a reload applies to open connections too.
            let auth = request_settings.get().auth.clone();
            async move { Ok::<_, std::convert::Infallible>(routes::handle(req, source, auth).await) }
        });
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = settings.get().tls.clone();
        let mut io = TimeoutStream::new(stream);
        io.set_write_timeout(Some(limits.write_stall_timeout));
        let io = Box::pin(io);
        tokio::spawn(async move {
            let _permit = permit;
            let served = match tls {
                None => {
                    let connection = builder.serve_connection(TokioIo::new(io), service);
                    watcher.watch(connection).await
                }
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io)).await;
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpSocket, TcpStream};

    use super::*;

    /// Upper bound of every wait here.
    const DEADLINE: Duration = Duration::from_secs(20);

    /// Always ready, always the same body.
    struct Fixed(Arc<Encoded>);

    impl Source for Fixed {
        fn metrics(self: Arc<Self>) -> Pin<Box<dyn Future<Output = Arc<Encoded>> + Send>> {
            Box::pin(async move { Arc::clone(&self.0) })
        }
        fn readiness(&self) -> Readiness {
            Readiness {
                ready: true,
                text: "ok".to_owned(),
            }
        }
    }

    /// Reads until the server closes the connection (or resets it).
    async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
        let mut out = Vec::new();
        // A reset ends the read as a close does; what came before it stays in `out`.
        let read = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out)).await;
        assert!(read.is_ok(), "the server did not close the connection");
        out
    }

    /// True when a new connection is served `/healthz`.
    async fn healthz(addr: std::net::SocketAddr) -> bool {
        let Ok(mut s) = TcpStream::connect(addr).await else {
            return false;
        };
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        if s.write_all(request).await.is_err() {
            return false;
        }
        read_to_close(&mut s)
            .await
            .starts_with(b"HTTP/1.1 200 OK\r\n")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_stops_reading_is_dropped_when_the_write_stalls() {
        // 16 MB: more than the kernel buffers between server and client.
        let body = Bytes::from(vec![b'#'; 16 << 20]);
        let encoded = Encoded {
            text: body.clone(),
            gzip: body,
        };
        let stall = Duration::from_millis(300);
        let limits = HttpLimits {
            max_connections: 1,
            write_stall_timeout: stall,
            ..HttpLimits::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let settings = Arc::new(Settings::new(Web {
            tls: None,
            auth: None,
        }));
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve(
            listener,
            Arc::new(Fixed(Arc::new(encoded))),
            settings,
            limits,
            shutdown.clone(),
        ));

        // A scraper that reads the status line and headers, then nothing,
        // with a small receive window so that the server's writes stall.
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stalled = socket.connect(addr).await.unwrap();
        stalled
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0; 1024];
        let head_end = loop {
            let n = tokio::time::timeout(DEADLINE, stalled.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert_ne!(n, 0, "closed before the headers");
            got.extend_from_slice(&buf[..n]);
            if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8(got[..head_end].to_vec()).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("content-length: 16777216\r\n"), "{head}");
        let mut read = got.len() - head_end;

        // It holds the only place: others are closed until its write has
        // stalled for `stall` and it is dropped.
        let started = Instant::now();
        while !healthz(addr).await {
            assert!(
                started.elapsed() < DEADLINE,
                "the stalled client kept its place"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(started.elapsed() >= stall, "{:?}", started.elapsed());
        // What the kernel had buffered still arrives, then the end: not the
        // whole body.
        read += read_to_close(&mut stalled).await.len();
        assert!(read < 16 << 20, "read all {read} bytes");

        shutdown.cancel();
        tokio::time::timeout(DEADLINE, server)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_reload_with_the_same_users_keeps_the_password_checker() {
        let users = |password: &str| WebConfig {
            tls: None,
            users: [("prometheus".to_string(), bcrypt::hash(password, 4).unwrap())].into(),
        };
        let wait = Duration::from_secs(1);
        let first = users("one");
        let web = Web::from_config(Some(&first), wait).await.unwrap();
        let same = web.reloaded(&first, wait).await.unwrap();
        let (Some(before), Some(after)) = (&web.auth, &same.auth) else {
            panic!("basic auth is on");
        };
        assert!(Arc::ptr_eq(before, after), "kept: no new decoy, cache kept");
        let changed = web.reloaded(&users("two"), wait).await.unwrap();
        let Some(new) = &changed.auth else {
            panic!("basic auth is on");
        };
        assert!(
            !Arc::ptr_eq(before, new),
            "a new password gets a new checker"
        );
        let off = WebConfig {
            tls: None,
            users: Default::default(),
        };
        assert!(web.reloaded(&off, wait).await.unwrap().auth.is_none());
    }
}
