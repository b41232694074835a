//! The command line: [`Cli`], parsed by clap. Every value stays a string
//! until validation; the defaults shown by `--help` come from
//! [`super::defaults`].

use clap::{CommandFactory, FromArgMatches, Parser};

use super::defaults;

/// What `--version` prints after the name: the crate version and the git
/// revision it was built from (`build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("APIFY_EXPORTER_REVISION"),
    ")"
);

/// Prometheus exporter for Apify webhook dispatches.
///
/// Every option can also be set by the environment variable named in its
/// help; a flag wins over its variable. The API token is read only from
/// APIFY_TOKEN or APIFY_TOKEN_FILE, never from a flag, so that it does not
/// show in the process list.
#[derive(Debug, Parser)]
#[command(name = "apify-webhook-exporter", version = VERSION, about, long_about)]
pub struct Cli {
    /// Run against a built-in simulated Apify account (no token needed).
    #[arg(long)]
    pub demo: bool,

    /// Run the demo (as --demo) only when neither APIFY_TOKEN nor
    /// APIFY_TOKEN_FILE is given (set and not blank); otherwise read the
    /// account of the token. For the compose stack; --demo beside it wins.
    #[arg(long)]
    pub demo_if_no_token: bool,

    /// Check GET /healthz of an exporter on the configured listen address
    /// (127.0.0.1 when it listens on all interfaces) and exit 0 if healthy:
    /// the container HEALTHCHECK.
    #[arg(long)]
    pub healthcheck: bool,

    /// File holding the API token [env: APIFY_TOKEN_FILE] (or set APIFY_TOKEN).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<String>,

    /// API origin [env: APIFY_API_BASE_URL]
    #[arg(long, value_name = "URL")]
    pub api_base_url: Option<String>,

    /// Comma list of Actor ids whose webhooks to watch [env: APIFY_ACTOR_IDS]
    #[arg(long, value_name = "IDS")]
    pub actor_ids: Option<String>,

    /// Comma list of Actor task ids whose webhooks to watch [env: APIFY_ACTOR_TASK_IDS]
    #[arg(long, value_name = "IDS")]
    pub actor_task_ids: Option<String>,

    /// Comma list of webhook ids to watch [env: APIFY_WEBHOOK_IDS]
    #[arg(long, value_name = "IDS")]
    pub webhook_ids: Option<String>,

    /// Listen address [env: APIFY_EXPORTER_LISTEN]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// `interval` or `on-scrape` [env: APIFY_EXPORTER_MODE]
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,

    /// Refresh period [env: APIFY_EXPORTER_INTERVAL]
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,

    /// On-scrape reuse window [env: APIFY_EXPORTER_MIN_INTERVAL]
    #[arg(long, value_name = "DURATION")]
    pub min_interval: Option<String>,

    /// Backfill window at first start [env: APIFY_EXPORTER_LOOKBACK]
    #[arg(long, value_name = "DURATION")]
    pub lookback: Option<String>,

    /// How often webhook metadata is re-read [env: APIFY_EXPORTER_METADATA_INTERVAL]
    #[arg(long, value_name = "DURATION")]
    pub metadata_interval: Option<String>,

    /// Ad-hoc webhooks: `fold` (one series set per task or Actor) or `each` [env: APIFY_EXPORTER_AD_HOC]
    #[arg(long, value_name = "MODE")]
    pub ad_hoc: Option<String>,

    /// Persisted state path [env: APIFY_EXPORTER_STATE_FILE]
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<String>,

    /// Timeout per API request [env: APIFY_EXPORTER_TIMEOUT]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Client-side API request rate limit, per second [env: APIFY_EXPORTER_MAX_RPS]
    #[arg(long, value_name = "N")]
    pub max_rps: Option<String>,

    /// Parallel API requests [env: APIFY_EXPORTER_CONCURRENCY]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<String>,

    /// Web config file: TLS and basic auth, exporter-toolkit format [env: APIFY_EXPORTER_WEB_CONFIG]
    #[arg(long, value_name = "PATH")]
    pub web_config: Option<String>,

    /// `text` or `json` [env: APIFY_EXPORTER_LOG_FORMAT]. Log level: RUST_LOG (default info).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
}

impl Cli {
    /// Parses the process's arguments; exits (as clap does) on `--help`,
    /// `--version` or a malformed command line.
    pub fn parse_args() -> Cli {
        let matches = Self::command_with_defaults().get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// The clap command, each option's help ending with its default.
    pub fn command_with_defaults() -> clap::Command {
        let mut command = Cli::command();
        for (id, default) in defaults::shown() {
            command = command.mut_arg(id, |arg| {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                arg.help(with_default(&help, &default))
            });
        }
        command
    }
}

/// `help` with `[default: …]` right after its `[env: …]` note, or at the
/// end when it has none.
fn with_default(help: &str, default: &str) -> String {
    let shown = format!(" [default: {default}]");
    match help
        .find("[env: ")
        .and_then(|at| help[at..].find(']').map(|end| at + end + 1))
    {
        Some(after_env) => format!("{}{shown}{}", &help[..after_env], &help[after_env..]),
        None => format!("{help}{shown}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shown_default_belongs_to_an_option() {
        // mut_arg panics on an unknown id; debug_assert checks the rest.
        let command = Cli::command_with_defaults();
        command.clone().debug_assert();
        for (id, default) in defaults::shown() {
            let arg = command.get_arguments().find(|a| a.get_id() == id);
            let help = arg.and_then(|a| a.get_help()).map(ToString::to_string);
            assert!(
                help.is_some_and(|h| h.contains(&format!("] [default: {default}]"))),
                "{id}"
            );
        }
    }

    #[test]
    fn the_default_follows_the_variable() {
        assert_eq!(
            with_default("`text` or `json` [env: X]. Log level: RUST_LOG.", "text"),
            "`text` or `json` [env: X] [default: text]. Log level: RUST_LOG."
        );
        assert_eq!(
            with_default("Refresh period", "30s"),
            "Refresh period [default: 30s]"
        );
    }
}
