//! # apify-webhook-exporter
//!
//! A Prometheus exporter for Apify webhook dispatches.
//!
//! # Layout
//!
//! Data flows one way; an arrow is an import:
//!
//! ```text
//! config ─────────────────────────────────────────────┐
//!                                                     v
//! api (client) ──> collector (cursor, counts, state) ──> metrics (contract, families, encode)
//!   ^                    ^                                  ^
//!   └──────── exporter (refresh, cache, state file) ────────┘ <── server (routes, auth)
//! ```
//!
//! - [`config`]: environment + flags -> one validated [`config::Config`];
//!   every default stated once, in `config/defaults.rs`.
//! - [`api`]: the typed Apify client (pagination, retries, rate limit,
//!   errors). Knows nothing of Prometheus.
//! - `collector`: the refresh cycle and its state: the exactly-once paging
//!   cursors, the per-webhook counts, the ACTIVE dispatches, the state file.
//! - `metrics`: the metric contract (every family declared once), the
//!   owned registry, the `apify_webhook_*` families rendered from the
//!   state, and the encoding.
//! - `exporter`: wires a client, a collector and the metrics; runs
//!   refreshes (interval loop or on scrape) and caches the encoded body.
//! - `server`: hyper, routes, basic auth, graceful shutdown. It sees only
//!   a `server::Source` of encoded bodies, which the exporter implements.
//! - [`demo`]: a simulated Apify account served on loopback, for `--demo`
//!   and for the tests.
//!
//! `api` and `metrics` never import each other; [`run`] wires everything and
//! `main.rs` only parses, logs and calls it. `docs/architecture.md` follows
//! one dispatch from the HTTP response to its `/metrics` line.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

pub mod api;
pub mod clock;
pub(crate) mod collector;
pub mod config;
pub mod demo;
pub(crate) mod exporter;
pub(crate) mod metrics;
pub mod secret;
pub(crate) mod server;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::collector::persist::StateFile;
use crate::config::Config;
use crate::exporter::Exporter;

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The metrics registry refused a family (a bug, not an input).
    #[error("cannot set up the metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The first `/metrics` body could not be encoded.
    #[error("cannot encode metrics: {0}")]
    Encode(#[from] metrics::EncodeError),
    /// The HTTP client could not be built.
    #[error("cannot create the Apify client: {0}")]
    Client(#[from] api::ApiError),
    /// The demo account could not be served.
    #[error("cannot start the demo API: {0}")]
    Demo(std::io::Error),
    /// Basic auth could not be set up from the web config.
    #[error("cannot set up basic auth: {0}")]
    Auth(#[from] server::auth::AuthError),
}

/// Starts the exporter on an already-bound listener and runs until
/// `shutdown` is cancelled. Tests bind port 0 and cancel the token.
pub async fn run(
    mut config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    if config.demo {
        let demo = demo::start(shutdown.child_token())
            .await
            .map_err(RunError::Demo)?;
        tracing::info!(api = %demo.base_url, "demo mode: reading a simulated Apify account");
        config.api_base_url = demo.base_url;
        config.token = secret::Secret::new(demo.token);
    }
    let auth = server::auth::BasicAuth::from_config(config.web.as_ref())?;
    let state_file = config
        .state_file
        .as_ref()
        .map(|path| StateFile::new(path, config.api_base_url.clone()));
    let exporter = Arc::new(Exporter::new(&config, state_file, clock::system())?);
    let refresher = tokio::spawn(Arc::clone(&exporter).keep_fresh(shutdown.clone()));

    if let Ok(addr) = listener.local_addr() {
        let tls = config.web.as_ref().is_some_and(|w| w.tls.is_some());
        let basic_auth = auth.is_some();
        tracing::info!(%addr, mode = ?config.mode, tls, basic_auth, "serving /metrics");
    }
    let tls = config.web.as_ref().and_then(|w| w.tls.clone());
    server::serve(listener, exporter.clone(), tls, auth, shutdown.clone()).await;
    shutdown.cancel();
    exporter.stop(refresher).await;
    tracing::info!("stopped");
    Ok(())
}
