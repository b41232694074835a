//! The log filter `RUST_LOG` asks for, read so that it is about the
//! exporter: unset, the exporter logs at `info`; a bare level
//! (`RUST_LOG=debug`) is the exporter's; dependencies (hyper, reqwest, h2,
//! rustls...) stay at `warn` unless a directive names them
//! (`RUST_LOG=debug,hyper=debug`). At `debug`, most of what the HTTP stack
//! prints is about its connection pool, and would drown the exporter's
//! own lines.

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::EnvFilter;

/// The target of every event of this crate (library and binary alike).
const OWN_TARGET: &str = env!("CARGO_CRATE_NAME");
/// The exporter's level when `RUST_LOG` gives none.
const OWN_DEFAULT: LevelFilter = LevelFilter::INFO;
/// The highest level of every other target, unless `RUST_LOG` names it.
const DEPENDENCIES: LevelFilter = LevelFilter::WARN;

/// The filter for `rust_log` (the value of `RUST_LOG`, if set). A directive
/// that does not parse is reported on stderr and ignored, the others kept.
pub fn filter(rust_log: Option<&str>) -> EnvFilter {
    EnvFilter::builder().parse_lossy(directives(rust_log))
}

/// `rust_log` as `EnvFilter` directives: the defaults first, then the
/// user's, each bare level turned into the exporter's. For the same target
/// a later directive replaces an earlier one, and a named target beats the
/// bare default, so a user's `hyper=debug` wins over nothing but hyper's
/// `warn`. A bare level below `warn` (`error`, `off`) quiets dependencies
/// too: asking for less must not print more.
fn directives(rust_log: Option<&str>) -> String {
    let mut global = DEPENDENCIES;
    let mut out = vec![format!("{OWN_TARGET}={OWN_DEFAULT}")];
    let given = rust_log.unwrap_or_default().split(',').map(str::trim);
    for directive in given.filter(|d| !d.is_empty()) {
        match directive.parse::<LevelFilter>() {
            Ok(level) => {
                global = level.min(DEPENDENCIES);
                out.push(format!("{OWN_TARGET}={level}"));
            }
            Err(_) => out.push(directive.to_owned()),
        }
    }
    out.insert(0, global.to_string());
    out.join(",")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// The messages that pass the filter built from `rust_log`, of one
    /// event per (target, level) below.
    fn passed(rust_log: Option<&str>) -> Vec<String> {
        // tracing-subscriber writes to an `Arc<File>` (`&File` is `Write`).
        let logs = tempfile::NamedTempFile::new().unwrap();
        let writer = Arc::new(logs.reopen().unwrap());
        let subscriber = tracing_subscriber::registry().with(filter(rust_log)).with(
            tracing_subscriber::fmt::layer()
                .without_time()
                .with_level(false)
                .with_target(false)
                .with_ansi(false)
                .with_writer(writer),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "apify_webhook_exporter::exporter", "own info");
            tracing::debug!(target: "apify_webhook_exporter::api", "own debug");
            tracing::debug!(target: "apify_webhook_exporter", "binary debug");
            tracing::warn!(target: "hyper_util::client::legacy", "hyper warn");
            tracing::info!(target: "hyper_util::client::legacy", "hyper info");
            tracing::debug!(target: "hyper::proto::h1::conn", "hyper debug");
            tracing::debug!(target: "reqwest::connect", "reqwest debug");
            tracing::error!(target: "rustls::conn", "rustls error");
        });
        let text = std::fs::read_to_string(logs.path()).unwrap();
        text.lines().map(|l| l.trim().to_owned()).collect()
    }

    #[test]
    fn dependencies_stay_at_warn_unless_named() {
        assert_eq!(
            passed(None),
            ["own info", "hyper warn", "rustls error"],
            "unset: the exporter at info"
        );
        assert_eq!(passed(Some("")), passed(None));
        assert_eq!(
            passed(Some("debug")),
            [
                "own info",
                "own debug",
                "binary debug",
                "hyper warn",
                "rustls error"
            ]
        );
        assert_eq!(
            passed(Some("debug,hyper=debug")),
            [
                "own info",
                "own debug",
                "binary debug",
                "hyper warn",
                "hyper info",
                "hyper debug",
                "rustls error"
            ],
            "`hyper` names hyper_util too, as a prefix"
        );
        assert_eq!(
            passed(Some("apify_webhook_exporter::api=debug")),
            ["own info", "own debug", "hyper warn", "rustls error"]
        );
        assert_eq!(passed(Some("error")), ["rustls error"]);
        assert_eq!(passed(Some("off")), Vec::<String>::new());
        assert_eq!(
            passed(Some("trace,reqwest=debug")),
            [
                "own info",
                "own debug",
                "binary debug",
                "hyper warn",
                "reqwest debug",
                "rustls error"
            ]
        );
    }

    #[test]
    fn the_directives_put_the_defaults_first() {
        assert_eq!(directives(None), "warn,apify_webhook_exporter=info");
        assert_eq!(
            directives(Some(" DEBUG , hyper=debug")),
            "warn,apify_webhook_exporter=info,apify_webhook_exporter=debug,hyper=debug"
        );
        assert_eq!(
            directives(Some("off")),
            "off,apify_webhook_exporter=info,apify_webhook_exporter=off"
        );
    }
}
