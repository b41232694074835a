//! Every default of the configuration, stated once: [`Config::new`], the
//! parsing of flags and variables, `--help` and the API client all read
//! them from here.
//!
//! [`Config::new`]: super::Config::new

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::{AdHoc, Choice, LogFormat, Mode};

/// `APIFY_API_BASE_URL`.
pub const API_BASE_URL: &str = "https://api.apify.com";
/// `APIFY_EXPORTER_LISTEN`: the port is the exporter's in the Prometheus
/// default port allocations list.
pub const LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 9723);
/// `APIFY_EXPORTER_MODE`.
pub const MODE: Mode = Mode::Interval;
/// `APIFY_EXPORTER_INTERVAL`.
pub const INTERVAL: Duration = Duration::from_secs(30);
/// `APIFY_EXPORTER_MIN_INTERVAL`.
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
/// `APIFY_EXPORTER_LOOKBACK`.
pub const LOOKBACK: Duration = Duration::from_secs(24 * 3600);
/// `APIFY_EXPORTER_METADATA_INTERVAL`.
pub const METADATA_INTERVAL: Duration = Duration::from_secs(300);
/// `APIFY_EXPORTER_AD_HOC`.
pub const AD_HOC: AdHoc = AdHoc::Fold;
/// `APIFY_EXPORTER_TIMEOUT`.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// `APIFY_EXPORTER_MAX_RPS`.
pub const MAX_RPS: u32 = 20;
/// `APIFY_EXPORTER_CONCURRENCY`.
pub const CONCURRENCY: usize = 4;
/// `APIFY_EXPORTER_LOG_FORMAT`.
pub const LOG_FORMAT: LogFormat = LogFormat::Text;

/// The HTTP server's limits (not settable: [`super::HttpLimits`] carries
/// them, so that tests can shrink them). A client that has not sent its
/// request headers within this is dropped; an idle keep-alive connection
/// too.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A response write that makes no progress for this long is dropped (a
/// client that stopped reading).
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections open at once; more are accepted and closed at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// The longest a password check waits for a bcrypt worker before it is
/// answered 503; the queue is sized so that it rarely has to.
pub const AUTH_QUEUE_WAIT: Duration = Duration::from_secs(1);

/// The defaults as `--help` shows them, by argument id.
pub(crate) fn shown() -> [(&'static str, String); 13] {
    [
        ("api_base_url", API_BASE_URL.to_string()),
        ("listen", LISTEN.to_string()),
        ("mode", MODE.as_str().to_string()),
        ("interval", duration_text(INTERVAL)),
        ("min_interval", duration_text(MIN_INTERVAL)),
        ("lookback", duration_text(LOOKBACK)),
        ("metadata_interval", duration_text(METADATA_INTERVAL)),
        ("ad_hoc", AD_HOC.as_str().to_string()),
        ("timeout", duration_text(TIMEOUT)),
        ("max_rps", MAX_RPS.to_string()),
        ("concurrency", CONCURRENCY.to_string()),
        ("log_format", LOG_FORMAT.as_str().to_string()),
        // No state file unless one is given.
        ("state_file", "none".to_string()),
    ]
}

/// A duration in the largest whole unit a user would write: `24h`, `30s`.
fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 || s == 0 {
        format!("{}ms", d.as_millis())
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_user_writes_them() {
        assert_eq!(duration_text(LOOKBACK), "24h");
        assert_eq!(duration_text(Duration::from_secs(300)), "5m");
        assert_eq!(duration_text(INTERVAL), "30s");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1500ms");
    }
}
