//! # apify-webhook-exporter
//!
//! A Prometheus exporter for Apify webhook dispatches.
//!
//! # Layout
//!
//! Layers, top to bottom. A module imports only modules of the layers
//! below it (a unit test below checks this against the `crate::` paths in
//! each file), so data flows one way: from the Apify API up to `/metrics`.
//!
//! ```text
//! run() (this file)  wires the config, the state file, the exporter and the server
//!   reload           SIGHUP: the token file and the web config read again
//!   exporter         refresh loop or on-scrape singleflight, the cached body, saving state
//!   server           hyper, routes, basic auth; sees only a Source of encoded bodies
//!   metrics          the contract (every family once), the registry, rendering, encoding
//!   collector        refresh order, paging, the cursor, counts, state, the state file
//!   api              the Apify client, its errors and decoding; knows nothing of Prometheus
//!   config           environment + flags -> Config; defaults; the web config
//!   clock, secret    the time source; the token wrapper
//!
//! demo               a fake Apify account on loopback, reached over HTTP only
//!                    (it shares only the clock's timestamp format)
//! ```
//!
//! - [`config`]: environment + flags -> one validated [`config::Config`];
//!   every default stated once, in [`config::defaults`].
//! - [`api`]: the typed Apify client (pagination, retries, rate limit,
//!   errors).
//! - `collector`: a refresh reads the webhooks, pages the dispatch lists
//!   (`paging`) through each list's exactly-once `cursor`, re-reads ACTIVE
//!   dispatches, and counts into the `state`'s per-webhook `counts`;
//!   `reconcile` checks what it saw against Apify's own count.
//! - `metrics`: `contract` declares every family; `families` renders the
//!   state's counts; `Metrics::encode` produces the body, plain and gzip.
//! - `exporter`: the wired whole, behind one lock per job.
//! - `server`: `/metrics`, `/`, `/healthz`, `/readyz`; TLS and basic auth.
//! - [`demo`]: the fake API the tests and `--demo` read.
//!
//! `main.rs` only parses, logs and calls [`run`]. `docs/architecture.md`
//! follows one dispatch from the HTTP response to its `/metrics` line.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(unreachable_pub)]

pub mod api;
pub mod clock;
pub(crate) mod collector;
pub mod config;
pub mod demo;
pub(crate) mod exporter;
pub(crate) mod metrics;
pub(crate) mod reload;
pub mod secret;
pub(crate) mod server;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use crate::metrics::EncodeError;
pub use crate::server::auth::AuthError;

use crate::collector::persist::StateFile;
use crate::config::{Choice, Config};
use crate::exporter::Exporter;

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The metrics registry refused a family (a bug, not an input).
    #[error("cannot set up the metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The first `/metrics` body could not be encoded.
    #[error("cannot encode metrics: {0}")]
    Encode(#[from] EncodeError),
    /// The HTTP client could not be built.
    #[error("cannot create the Apify client: {0}")]
    Client(#[from] api::ApiError),
    /// The demo account could not be served.
    #[error("cannot start the demo API: {0}")]
    Demo(std::io::Error),
    /// Basic auth could not be set up from the web config.
    #[error("cannot set up basic auth: {0}")]
    Auth(#[from] AuthError),
    /// The state file cannot be written where it is configured, or a
    /// rejected one cannot be moved out of the way.
    #[error("{0}")]
    StateFile(String),
    /// The state could not be saved at shutdown: counts since the last
    /// good save would be lost at the next start.
    #[error("final state save failed: {0}")]
    FinalSave(String),
}

impl RunError {
    /// The process exit code for this error: 2 for a setting that cannot
    /// work (like a bad configuration value), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::StateFile(_) => 2,
            _ => 1,
        }
    }
}

/// Starts the exporter on an already-bound listener and runs until
/// `shutdown` is cancelled. Tests bind port 0 and cancel the token.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    run_for(config, listener, shutdown, false).await
}

/// Like [`run`], against a demo account the caller serves
/// ([`demo::account_at`], on a port of its own): the state file is kept
/// for the demo's account, as `--demo` keeps it, not for the port it is
/// served on, so that a restart on another port carries the counts on.
pub async fn run_for_demo_account(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    run_for(config, listener, shutdown, true).await
}

/// [`run`]; the state file kept for the demo's account when
/// `demo_account` (or in `--demo`).
async fn run_for(
    mut config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
    mut demo_account: bool,
) -> Result<(), RunError> {
    // Caught from the start: a SIGHUP while starting must not end the
    // process (it is handled once the reloader runs).
    let hangups = reload::Hangups::listen();
    // Before anything else, so that this is the one line a wrong path or
    // permission prints (every save would fail otherwise).
    if let Some(path) = &config.state_file {
        collector::persist::check_writable(path).map_err(|e| RunError::StateFile(e.to_string()))?;
    }
    if config.demo {
        let demo = demo::start(shutdown.child_token())
            .await
            .map_err(RunError::Demo)?;
        tracing::info!(api = %demo.base_url, "demo mode: reading a simulated Apify account");
        config.api_base_url = demo.base_url;
        config.token = secret::Secret::new(demo.token);
        // Served on a new port at each start: the port does not name it.
        demo_account = true;
    }
    log_start(&config);
    let limits = config.http_limits;
    let web = server::Web::from_config(config.web.as_ref(), limits.auth_queue_wait).await?;
    let settings = Arc::new(server::Settings::new(web));
    let state_file = config.state_file.as_ref().map(|path| {
        let origin = if demo_account {
            demo::DEMO_ORIGIN
        } else {
            config.api_base_url.as_str()
        };
        StateFile::new(path, origin)
    });
    let exporter = Arc::new(Exporter::new(&config, state_file, clock::system())?);
    let refresher = tokio::spawn(Arc::clone(&exporter).keep_fresh(shutdown.clone()));
    reload::Reloader::new(&config, Arc::clone(&exporter), Arc::clone(&settings))
        .spawn(hangups, shutdown.clone());

    if let Ok(addr) = listener.local_addr() {
        let web = settings.get();
        let (tls, basic_auth) = (web.tls(), web.users() > 0);
        tracing::info!(%addr, tls, basic_auth, "serving /metrics");
    }
    let source = exporter.clone();
    server::serve(listener, source, settings, limits, shutdown.clone()).await;
    shutdown.cancel();
    let saved = exporter.stop(refresher).await;
    tracing::info!("stopped");
    saved.map_err(|e| RunError::FinalSave(e.to_string()))
}

/// The one line that says what is read, from where, and how often: the
/// API origin (never the token, nor a path), the selection, the settings
/// that shape the series and the requests, and where state is kept.
fn log_start(config: &Config) {
    let selection = &config.selection;
    let watching = if selection.is_everything() {
        "every webhook of the account".to_owned()
    } else {
        let lists = [
            ("Actors", &selection.actor_ids),
            ("tasks", &selection.actor_task_ids),
            ("webhooks", &selection.webhook_ids),
        ];
        lists
            .iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(what, ids)| format!("{what} {}", ids.join(",")))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let api = api::origin_of(&config.api_base_url);
    let ad_hoc = config.ad_hoc.as_str();
    let mode = config.mode.as_str();
    let metadata_interval = humantime::format_duration(config.metadata_interval);
    let state_file = match &config.state_file {
        Some(path) => path.display().to_string(),
        None => "none".to_owned(),
    };
    match config.mode {
        config::Mode::Interval => tracing::info!(
            %api,
            watching,
            %ad_hoc,
            %mode,
            interval = %humantime::format_duration(config.interval),
            %metadata_interval,
            %state_file,
            "reading Apify webhook dispatches"
        ),
        config::Mode::OnScrape => tracing::info!(
            %api,
            watching,
            %ad_hoc,
            %mode,
            min_interval = %humantime::format_duration(config.min_interval),
            %metadata_interval,
            %state_file,
            "reading Apify webhook dispatches"
        ),
    }
}

#[cfg(test)]
mod layout_tests {
    use std::path::Path;

    /// The layers, lowest first: a module may import any module of a
    /// lower layer, none of its own or a higher one.
    const LAYERS: [&[&str]; 8] = [
        &["secret", "clock"],
        &["config"],
        &["api"],
        &["collector"],
        &["metrics"],
        &["server"],
        &["exporter"],
        &["reload"],
    ];
    /// Modules beside the stack, with what they may import.
    const ASIDE: [(&str, &[&str]); 1] = [("demo", &["clock"])];
    /// Items of the crate root a module may name besides its layers.
    const ROOT_ITEMS: [(&str, &str); 1] = [("exporter", "RunError")];

    /// Each module with what it may import.
    fn allowed() -> Vec<(&'static str, Vec<&'static str>)> {
        let mut out = Vec::new();
        for (i, layer) in LAYERS.iter().enumerate() {
            for module in layer.iter().copied() {
                let mut may: Vec<&str> =
                    LAYERS[..i].iter().flat_map(|l| l.iter().copied()).collect();
                may.extend(
                    ROOT_ITEMS
                        .iter()
                        .filter(|(m, _)| *m == module)
                        .map(|(_, item)| *item),
                );
                out.push((module, may));
            }
        }
        out.extend(ASIDE.iter().map(|(module, may)| (*module, may.to_vec())));
        out
    }

    /// The module's files, each with its text and whether it is the
    /// module's root (where `super::` is the crate).
    fn sources(module: &str) -> Vec<(String, String, bool)> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let file = src.join(format!("{module}.rs"));
        let mut out = Vec::new();
        if file.is_file() {
            out.push(file.clone());
        }
        let mut dirs = vec![src.join(module)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        out.into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                let root = p == file || p == src.join(module).join("mod.rs");
                (p.display().to_string(), text, root)
            })
            .collect()
    }

    #[test]
    fn modules_import_only_lower_layers() {
        let rules = allowed();
        let names: Vec<&str> = rules.iter().map(|(m, _)| *m).collect();
        for (module, allowed) in &rules {
            let files = sources(module);
            assert!(!files.is_empty(), "no source for {module}");
            for (path, text, root) in files {
                // One path per `use`, so that every import is seen here.
                assert!(
                    !text.contains("crate::{"),
                    "{path}: a grouped crate:: import"
                );
                let mut paths: Vec<usize> = text
                    .match_indices("crate::")
                    .map(|(at, _)| at + "crate::".len())
                    .collect();
                if root {
                    let from_root = text
                        .match_indices("super::")
                        .map(|(at, _)| at + "super::".len());
                    paths.extend(from_root);
                }
                for at in paths {
                    let rest = &text[at..];
                    let target: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if target == *module
                        || !(names.contains(&target.as_str())
                            || ROOT_ITEMS.iter().any(|(_, item)| *item == target))
                    {
                        continue;
                    }
                    assert!(
                        allowed.contains(&target.as_str()),
                        "{path} imports crate::{target}, above its layer"
                    );
                }
            }
        }
    }
}
