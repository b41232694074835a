//! What each setting can be: the selection, the choices spelled as words
//! (`APIFY_EXPORTER_MODE`, `APIFY_EXPORTER_AD_HOC`...), and the HTTP
//! server's limits.

use std::time::Duration;

use super::defaults;

/// A setting chosen among a few words: each value knows its spelling, so
/// that parsing, `--help` and errors agree.
pub(crate) trait Choice: Copy + 'static {
    /// Every value, in the order an error lists them.
    const ALL: &'static [Self];
    /// The word for this value, as the setting spells it.
    fn as_str(self) -> &'static str;
}

/// Where the dispatches come from: all of the user's webhooks, or a selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Actors whose webhooks are watched.
    pub actor_ids: Vec<String>,
    /// Actor tasks whose webhooks are watched.
    pub actor_task_ids: Vec<String>,
    /// Webhooks watched by id.
    pub webhook_ids: Vec<String>,
}

impl Selection {
    /// True when nothing narrows the selection: every webhook of the user is
    /// watched, so the account-wide dispatch list can be used.
    pub fn is_everything(&self) -> bool {
        self.actor_ids.is_empty() && self.actor_task_ids.is_empty() && self.webhook_ids.is_empty()
    }
}

/// What becomes of ad-hoc webhooks (the ones Apify creates for one run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdHoc {
    /// One synthetic webhook per task or Actor: series grow with Actors
    /// and tasks, never with runs.
    Fold,
    /// One series set per ad-hoc webhook.
    Each,
}

impl Choice for AdHoc {
    const ALL: &'static [Self] = &[AdHoc::Fold, AdHoc::Each];
    fn as_str(self) -> &'static str {
        match self {
            AdHoc::Fold => "fold",
            AdHoc::Each => "each",
        }
    }
}

/// When refreshes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A background loop refreshes every `interval`; scrapes read the cache.
    Interval,
    /// Each scrape refreshes, unless a refresh finished within `min_interval`.
    OnScrape,
}

impl Choice for Mode {
    const ALL: &'static [Self] = &[Mode::Interval, Mode::OnScrape];
    fn as_str(self) -> &'static str {
        match self {
            Mode::Interval => "interval",
            Mode::OnScrape => "on-scrape",
        }
    }
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Choice for LogFormat {
    const ALL: &'static [Self] = &[LogFormat::Text, LogFormat::Json];
    fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// Limits of the HTTP server. Not read from the environment: the defaults
/// (in [`defaults`]) are the contract, and tests shrink them here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Request headers (and the next request on an idle keep-alive
    /// connection) must arrive within this.
    pub header_read_timeout: Duration,
    /// A response write that makes no progress for this long ends the
    /// connection.
    pub write_stall_timeout: Duration,
    /// Connections open at once; more are closed as soon as accepted.
    pub max_connections: usize,
    /// The longest a password check waits in the queue before a 503.
    pub auth_queue_wait: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: defaults::HEADER_READ_TIMEOUT,
            write_stall_timeout: defaults::WRITE_STALL_TIMEOUT,
            max_connections: defaults::MAX_CONNECTIONS,
            auth_queue_wait: defaults::AUTH_QUEUE_WAIT,
        }
    }
}
