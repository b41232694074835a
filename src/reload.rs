//! SIGHUP: re-reads `APIFY_TOKEN_FILE` and the web config, as Prometheus
//! reloads its own configuration. The API client sends the new token from
//! its next request on; new connections get the new TLS settings and every
//! request the new users. A file that cannot be used is logged and the old
//! value kept; one INFO line says what was reloaded (never the token).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::{Config, WebConfig};
use crate::exporter::Exporter;
use crate::server::{Settings, Web};

/// SIGHUP, caught from the moment [`Hangups::listen`] is called: from then
/// on it no longer ends the process, and one sent during start-up is
/// handled once the reloader runs.
pub(crate) struct Hangups(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

impl Hangups {
    /// Starts catching SIGHUP now (call first thing in `run`).
    pub(crate) fn listen() -> Hangups {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::hangup()) {
                Ok(s) => Hangups(Some(s)),
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGHUP; reload by restarting");
                    Hangups(None)
                }
            }
        }
        #[cfg(not(unix))]
        Hangups()
    }
}

/// What SIGHUP re-reads, and where it puts it.
pub(crate) struct Reloader {
    token_file: Option<PathBuf>,
    web_config: Option<PathBuf>,
    /// The longest a password check waits (`HttpLimits::auth_queue_wait`).
    auth_queue_wait: Duration,
    exporter: Arc<Exporter>,
    settings: Arc<Settings>,
}

impl Reloader {
    pub(crate) fn new(config: &Config, exporter: Arc<Exporter>, settings: Arc<Settings>) -> Self {
        Reloader {
            // None with --demo: the demo's token is its own.
            token_file: config.token_file.clone(),
            web_config: config.web_config_path.clone(),
            auth_queue_wait: config.http_limits.auth_queue_wait,
            exporter,
            settings,
        }
    }

    /// Reloads on each SIGHUP that `hangups` receives (see [`Hangups::listen`]:
    /// those sent before this call included), until `shutdown`.
    pub(crate) fn spawn(self, hangups: Hangups, shutdown: CancellationToken) {
        #[cfg(unix)]
        {
            let Some(mut hangups) = hangups.0 else {
                return;
            };
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        received = hangups.recv() => match received {
                            Some(()) => self.reload().await,
                            None => return,
                        },
                        () = shutdown.cancelled() => return,
                    }
                }
            });
        }
        #[cfg(not(unix))]
        let _ = (self, hangups, shutdown);
    }

    /// Re-reads both files and applies what can be used.
    pub(crate) async fn reload(&self) {
        let token = match &self.token_file {
            None => "unchanged (not from a file)",
            Some(path) => match Config::reread_token_file(path) {
                Ok(token) => {
                    self.exporter.set_token(token);
                    "re-read from APIFY_TOKEN_FILE"
                }
                Err(error) => {
                    tracing::error!(%error, "SIGHUP: keeping the old API token");
                    "kept (the file cannot be used)"
                }
            },
        };
        let web_config = match &self.web_config {
            None => "none",
            Some(path) => match self.load_web(path.clone()).await {
                Ok(web) => {
                    self.settings.replace(web);
                    "re-read"
                }
                Err(error) => {
                    tracing::error!(%error, "SIGHUP: keeping the old web config");
                    "kept (the file cannot be used)"
                }
            },
        };
        let now = self.settings.get();
        tracing::info!(
            token,
            web_config,
            tls = now.tls(),
            basic_auth_users = now.users(),
            "reloaded on SIGHUP"
        );
    }

    async fn load_web(&self, path: PathBuf) -> Result<Web, String> {
        let loaded = tokio::task::spawn_blocking(move || WebConfig::load(&path))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("APIFY_EXPORTER_WEB_CONFIG: {e}"))?;
        self.settings
            .get()
            .reloaded(&loaded, self.auth_queue_wait)
            .await
            .map_err(|e| e.to_string())
    }
}
