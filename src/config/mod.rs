//! Configuration: environment variables (read with `envy`) and CLI flags
//! (read with `clap`), merged into one validated [`Config`].
//!
//! Precedence: a flag beats its environment variable, which beats the
//! default. Every raw value is a string until validation, so that one bad
//! value yields one error line naming the variable and the expected form,
//! and the process exits with code 2.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::secret::Secret;

mod cli;
pub mod defaults;
mod kinds;
pub mod logging;
mod parse;
mod warnings;
pub mod web;

pub use cli::Cli;
pub(crate) use kinds::Choice;
pub use kinds::{AdHoc, HttpLimits, LogFormat, Mode, Selection};
pub(crate) use parse::is_apify_id;
use parse::{
    flag_name, parse_base_url, parse_bounded, parse_choice, parse_duration, parse_ids, read_token,
    IdForm, Raw,
};
pub use web::WebConfig;

/// The validated configuration. `Debug` is safe to log: the token is a
/// [`Secret`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The Apify API token.
    pub token: Secret,
    /// The API origin, without a trailing slash.
    pub api_base_url: String,
    /// What is watched.
    pub selection: Selection,
    /// Where `/metrics` is served.
    pub listen: SocketAddr,
    /// When refreshes run.
    pub mode: Mode,
    /// The refresh period in interval mode.
    pub interval: Duration,
    /// In on-scrape mode, a refresh this recent is reused.
    pub min_interval: Duration,
    /// How far back the first pass reads.
    pub lookback: Duration,
    /// How often webhook metadata (lists, descriptions, stats) is re-read.
    pub metadata_interval: Duration,
    /// Whether ad-hoc webhooks are folded per task or Actor.
    pub ad_hoc: AdHoc,
    /// Where counts are kept across restarts.
    pub state_file: Option<PathBuf>,
    /// Timeout per API request.
    pub timeout: Duration,
    /// Client-side limit of API requests per second.
    pub max_rps: u32,
    /// API requests in flight at once.
    pub concurrency: usize,
    /// How logs are written.
    pub log_format: LogFormat,
    /// TLS and basic auth for the HTTP server (`APIFY_EXPORTER_WEB_CONFIG`).
    pub web: Option<WebConfig>,
    /// Where `web` was read from: SIGHUP reads it again.
    pub web_config_path: Option<PathBuf>,
    /// `APIFY_TOKEN_FILE`, when the token came from a file: SIGHUP reads
    /// it again.
    pub token_file: Option<PathBuf>,
    /// Limits of the HTTP server.
    pub http_limits: HttpLimits,
    /// `--demo` (or `--demo-if-no-token` without a token): read the
    /// built-in simulated account.
    pub demo: bool,
    /// What is worth a WARN line at start (an ignored token, an unknown
    /// variable): logging is set up only once the configuration is read.
    /// Never a value, only names.
    pub warnings: Vec<String>,
}

impl Config {
    /// Defaults for everything, with the given token and API origin; the
    /// starting point for tests and the demo.
    pub fn new(token: Secret, api_base_url: impl Into<String>) -> Self {
        Config {
            token,
            api_base_url: api_base_url.into(),
            selection: Selection::default(),
            listen: defaults::LISTEN,
            mode: defaults::MODE,
            interval: defaults::INTERVAL,
            min_interval: defaults::MIN_INTERVAL,
            lookback: defaults::LOOKBACK,
            metadata_interval: defaults::METADATA_INTERVAL,
            ad_hoc: defaults::AD_HOC,
            state_file: None,
            timeout: defaults::TIMEOUT,
            max_rps: defaults::MAX_RPS,
            concurrency: defaults::CONCURRENCY,
            log_format: defaults::LOG_FORMAT,
            web: None,
            web_config_path: None,
            token_file: None,
            http_limits: HttpLimits::default(),
            demo: false,
            warnings: Vec::new(),
        }
    }
}

/// A configuration value that failed validation. Displays as one line that
/// names the variable (and the flag) and the expected form; never the token.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    /// The variable, or the flag and its variable.
    pub name: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// The environment, flat, every value still a string (envy matches the
/// lower-cased variable names). The one list of the variables the
/// exporter reads: [`warnings::known_variables`] is read from it.
#[derive(Debug, Default, Deserialize)]
struct Env {
    #[serde(rename = "apify_token")]
    token: Option<String>,
    #[serde(rename = "apify_token_file")]
    token_file: Option<String>,
    #[serde(rename = "apify_api_base_url")]
    api_base_url: Option<String>,
    #[serde(rename = "apify_actor_ids")]
    actor_ids: Option<String>,
    #[serde(rename = "apify_actor_task_ids")]
    actor_task_ids: Option<String>,
    #[serde(rename = "apify_webhook_ids")]
    webhook_ids: Option<String>,
    #[serde(rename = "apify_exporter_listen")]
    listen: Option<String>,
    #[serde(rename = "apify_exporter_mode")]
    mode: Option<String>,
    #[serde(rename = "apify_exporter_interval")]
    interval: Option<String>,
    #[serde(rename = "apify_exporter_min_interval")]
    min_interval: Option<String>,
    #[serde(rename = "apify_exporter_lookback")]
    lookback: Option<String>,
    #[serde(rename = "apify_exporter_metadata_interval")]
    metadata_interval: Option<String>,
    #[serde(rename = "apify_exporter_ad_hoc")]
    ad_hoc: Option<String>,
    #[serde(rename = "apify_exporter_state_file")]
    state_file: Option<String>,
    #[serde(rename = "apify_exporter_timeout")]
    timeout: Option<String>,
    #[serde(rename = "apify_exporter_max_rps")]
    max_rps: Option<String>,
    #[serde(rename = "apify_exporter_concurrency")]
    concurrency: Option<String>,
    #[serde(rename = "apify_exporter_web_config")]
    web_config: Option<String>,
    #[serde(rename = "apify_exporter_log_format")]
    log_format: Option<String>,
}

impl Config {
    /// Reads the process environment and merges it with the parsed flags.
    pub fn load(cli: &Cli) -> Result<Config, ConfigError> {
        // envy's from_env panics on a variable that is not UTF-8; read the
        // environment by hand and refuse only our own variables if so.
        let mut vars = Vec::new();
        for (key, value) in std::env::vars_os() {
            let Some(key) = key.to_str().filter(|k| k.starts_with("APIFY_")) else {
                continue;
            };
            let value = value.into_string().map_err(|_| ConfigError {
                name: key.to_string(),
                message: "is not valid UTF-8".into(),
            })?;
            vars.push((key.to_string(), value));
        }
        let env: Env = envy::from_iter(vars).map_err(|e| ConfigError {
            name: "environment".into(),
            message: e.to_string(),
        })?;
        Config::from_parts(cli, env)
    }

    /// One line per `APIFY_*` variable of the process environment that the
    /// exporter does not read and that looks meant for it (names only,
    /// never values). Apart from [`Config::load`], so that the hints are
    /// there when a misspelt variable is what makes the load fail
    /// (`APIFY_TOKNE` set, so no token).
    pub fn unknown_variables() -> Vec<String> {
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(key, _)| key.into_string().ok())
            .collect();
        warnings::unknown_variables(names.iter().map(String::as_str))
    }

    fn from_parts(cli: &Cli, env: Env) -> Result<Config, ConfigError> {
        let pick = |flag: &Option<String>, var: &'static str, env_value: &Option<String>| match (
            flag, env_value,
        ) {
            (Some(v), _) => Some(Raw {
                name: flag_name(var),
                value: v.clone(),
            }),
            (None, Some(v)) => Some(Raw {
                name: var.to_string(),
                value: v.clone(),
            }),
            (None, None) => None,
        };

        let log_format = match pick(
            &cli.log_format,
            "APIFY_EXPORTER_LOG_FORMAT",
            &env.log_format,
        ) {
            None => defaults::LOG_FORMAT,
            Some(raw) => parse_choice(&raw)?,
        };

        let (web, web_config_path) = match pick(
            &cli.web_config,
            "APIFY_EXPORTER_WEB_CONFIG",
            &env.web_config,
        ) {
            Some(raw) if !raw.value.trim().is_empty() => {
                let path = PathBuf::from(raw.value.trim());
                let web = WebConfig::load(&path).map_err(|e| raw.fail(&e.to_string()))?;
                (Some(web), Some(path))
            }
            _ => (None, None),
        };

        // The demo serves its own token; the health check sends none.
        let token_raw = pick(&cli.token_file, "APIFY_TOKEN_FILE", &env.token_file);
        let token_given = [env.token.as_ref(), token_raw.as_ref().map(|raw| &raw.value)]
            .into_iter()
            .flatten()
            .any(|value| !value.trim().is_empty());
        let demo = cli.demo || (cli.demo_if_no_token && !token_given);
        let mut warnings = Vec::new();
        if cli.demo && token_given {
            let name = match &token_raw {
                Some(raw) => raw.name.clone(),
                None => "APIFY_TOKEN".to_string(),
            };
            warnings.push(format!(
                "{name} is ignored: --demo reads the built-in simulated account, not yours"
            ));
        }
        let (token, token_file) = if demo || cli.healthcheck {
            (Secret::new(""), None)
        } else {
            let token_file = token_raw
                .as_ref()
                .map(|raw| PathBuf::from(raw.value.trim()));
            (read_token(env.token.as_deref(), token_raw)?, token_file)
        };

        let api_base_url = match pick(&cli.api_base_url, "APIFY_API_BASE_URL", &env.api_base_url) {
            None => defaults::API_BASE_URL.to_string(),
            Some(raw) => parse_base_url(&raw)?,
        };

        let selection = Selection {
            actor_ids: parse_ids(
                pick(&cli.actor_ids, "APIFY_ACTOR_IDS", &env.actor_ids),
                IdForm::IdOrName,
            )?,
            actor_task_ids: parse_ids(
                pick(
                    &cli.actor_task_ids,
                    "APIFY_ACTOR_TASK_IDS",
                    &env.actor_task_ids,
                ),
                IdForm::IdOrName,
            )?,
            webhook_ids: parse_ids(
                pick(&cli.webhook_ids, "APIFY_WEBHOOK_IDS", &env.webhook_ids),
                IdForm::Id,
            )?,
        };

        let listen = match pick(&cli.listen, "APIFY_EXPORTER_LISTEN", &env.listen) {
            None => defaults::LISTEN,
            Some(raw) => raw.value.trim().parse().map_err(|_| {
                raw.invalid("expected host:port with an IP address, like 0.0.0.0:9723")
            })?,
        };

        let mode = match pick(&cli.mode, "APIFY_EXPORTER_MODE", &env.mode) {
            None => defaults::MODE,
            Some(raw) => parse_choice(&raw)?,
        };

        let duration = |raw: Option<Raw>, default: Duration| match raw {
            None => Ok(default),
            Some(raw) => parse_duration(&raw),
        };
        let interval = duration(
            pick(&cli.interval, "APIFY_EXPORTER_INTERVAL", &env.interval),
            defaults::INTERVAL,
        )?;
        let min_interval = duration(
            pick(
                &cli.min_interval,
                "APIFY_EXPORTER_MIN_INTERVAL",
                &env.min_interval,
            ),
            defaults::MIN_INTERVAL,
        )?;
        let lookback = duration(
            pick(&cli.lookback, "APIFY_EXPORTER_LOOKBACK", &env.lookback),
            defaults::LOOKBACK,
        )?;
        let metadata_interval = duration(
            pick(
                &cli.metadata_interval,
                "APIFY_EXPORTER_METADATA_INTERVAL",
                &env.metadata_interval,
            ),
            defaults::METADATA_INTERVAL,
        )?;
        let ad_hoc = match pick(&cli.ad_hoc, "APIFY_EXPORTER_AD_HOC", &env.ad_hoc) {
            None => defaults::AD_HOC,
            Some(raw) => parse_choice(&raw)?,
        };
        let timeout = duration(
            pick(&cli.timeout, "APIFY_EXPORTER_TIMEOUT", &env.timeout),
            defaults::TIMEOUT,
        )?;

        let state_file = pick(
            &cli.state_file,
            "APIFY_EXPORTER_STATE_FILE",
            &env.state_file,
        )
        .map(|raw| raw.value.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);

        let max_rps = match pick(&cli.max_rps, "APIFY_EXPORTER_MAX_RPS", &env.max_rps) {
            None => defaults::MAX_RPS,
            Some(raw) => parse_bounded(&raw, 1, 10_000)? as u32,
        };
        let concurrency = match pick(
            &cli.concurrency,
            "APIFY_EXPORTER_CONCURRENCY",
            &env.concurrency,
        ) {
            None => defaults::CONCURRENCY,
            Some(raw) => parse_bounded(&raw, 1, 64)? as usize,
        };

        Ok(Config {
            token,
            api_base_url,
            selection,
            listen,
            mode,
            interval,
            min_interval,
            lookback,
            metadata_interval,
            ad_hoc,
            state_file,
            timeout,
            max_rps,
            concurrency,
            log_format,
            web,
            web_config_path,
            token_file,
            http_limits: HttpLimits::default(),
            demo,
            warnings,
        })
    }

    /// Reads the token from `path` again (on SIGHUP), with the checks made
    /// at start-up. The error names `APIFY_TOKEN_FILE`, never the token.
    pub fn reread_token_file(path: &std::path::Path) -> Result<Secret, ConfigError> {
        let raw = Raw {
            name: "APIFY_TOKEN_FILE".to_string(),
            value: path.display().to_string(),
        };
        read_token(None, Some(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["apify-webhook-exporter"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap()
    }

    fn env_with_token() -> Env {
        Env {
            token: Some("tok".into()),
            ..Env::default()
        }
    }

    #[test]
    fn defaults_match_the_design_table() {
        let c = Config::from_parts(&cli(&[]), env_with_token()).unwrap();
        assert_eq!(c.api_base_url, "https://api.apify.com");
        assert_eq!(c.listen, "0.0.0.0:9723".parse().unwrap());
        assert_eq!(c.mode, Mode::Interval);
        assert_eq!(c.interval, Duration::from_secs(30));
        assert_eq!(c.min_interval, Duration::from_secs(5));
        assert_eq!(c.lookback, Duration::from_secs(86_400));
        assert_eq!(c.metadata_interval, Duration::from_secs(300));
        assert_eq!(c.ad_hoc, AdHoc::Fold);
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.max_rps, 20);
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.state_file, None);
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.selection.is_everything());
        let limits = HttpLimits {
            header_read_timeout: Duration::from_secs(10),
            write_stall_timeout: Duration::from_secs(60),
            max_connections: 1024,
            auth_queue_wait: Duration::from_secs(1),
        };
        assert_eq!(c.http_limits, limits);
    }

    #[test]
    fn a_flag_wins_over_its_variable() {
        let env = Env {
            interval: Some("10s".into()),
            mode: Some("interval".into()),
            ..env_with_token()
        };
        let c =
            Config::from_parts(&cli(&["--interval", "2m", "--mode", "on-scrape"]), env).unwrap();
        assert_eq!(c.interval, Duration::from_secs(120));
        assert_eq!(c.mode, Mode::OnScrape);
    }

    #[test]
    fn bad_values_name_the_variable_or_flag() {
        let env = Env {
            interval: Some("soon".into()),
            ..env_with_token()
        };
        let err = Config::from_parts(&cli(&[]), env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "APIFY_EXPORTER_INTERVAL: expected a positive duration of at most a year, like 500ms, 30s, 5m or 24h, got \"soon\""
        );

        let err = Config::from_parts(&cli(&["--max-rps", "0"]), env_with_token()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--max-rps (APIFY_EXPORTER_MAX_RPS): expected a whole number from 1 to 10000, got \"0\""
        );

        let env = Env {
            webhook_ids: Some("abc,../x".into()),
            ..env_with_token()
        };
        let err = Config::from_parts(&cli(&[]), env).unwrap_err();
        assert_eq!(err.name, "APIFY_WEBHOOK_IDS");
    }

    #[test]
    fn ad_hoc_and_the_metadata_period_are_read_and_checked() {
        let env = Env {
            ad_hoc: Some(" each ".into()),
            metadata_interval: Some("90s".into()),
            ..env_with_token()
        };
        let c = Config::from_parts(&cli(&[]), env).unwrap();
        assert_eq!(c.ad_hoc, AdHoc::Each);
        assert_eq!(c.metadata_interval, Duration::from_secs(90));
        let err = Config::from_parts(&cli(&["--ad-hoc", "folded"]), env_with_token()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--ad-hoc (APIFY_EXPORTER_AD_HOC): expected `fold` or `each`, got \"folded\""
        );
    }

    #[test]
    fn ids_are_trimmed_and_deduplicated() {
        let env = Env {
            actor_ids: Some(" a1, janedoe~my-actor ,a1".into()),
            ..env_with_token()
        };
        let c = Config::from_parts(&cli(&[]), env).unwrap();
        assert_eq!(c.selection.actor_ids, vec!["a1", "janedoe~my-actor"]);
        assert!(!c.selection.is_everything());
    }

    fn selection_error(var: &str, value: &str) -> String {
        let mut env = env_with_token();
        let slot = match var {
            "APIFY_ACTOR_IDS" => &mut env.actor_ids,
            "APIFY_ACTOR_TASK_IDS" => &mut env.actor_task_ids,
            _ => &mut env.webhook_ids,
        };
        *slot = Some(value.to_string());
        match Config::from_parts(&cli(&[]), env) {
            Ok(c) => panic!("{var}={value:?} accepted as {:?}", c.selection),
            Err(e) => e.to_string(),
        }
    }

    const IDS_OR_NAMES: &str = "expected a comma list of Apify ids (letters and digits, like nFJndFXA5zjCTuudP) or username~name (like janedoe~my-actor)";
    const IDS: &str =
        "expected a comma list of Apify ids (letters and digits, like Pz6sM1dK9vBf3XgUh)";

    #[test]
    fn selections_refuse_what_would_widen_or_bend_them() {
        for (var, value, problem, expected) in [
            ("APIFY_ACTOR_IDS", "..", "\"..\" is not valid", IDS_OR_NAMES),
            (
                "APIFY_ACTOR_IDS",
                " ",
                "is empty (unset it to watch every webhook)",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_WEBHOOK_IDS",
                "",
                "is empty (unset it to watch every webhook)",
                IDS,
            ),
            ("APIFY_ACTOR_IDS", ".", "\".\" is not valid", IDS_OR_NAMES),
            (
                "APIFY_ACTOR_TASK_IDS",
                "a1,,b2",
                "element 2 of 3 is empty",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_TASK_IDS",
                "a1, ",
                "element 2 of 2 is empty",
                IDS_OR_NAMES,
            ),
            ("APIFY_WEBHOOK_IDS", "a/b", "\"a/b\" is not valid", IDS),
            (
                "APIFY_WEBHOOK_IDS",
                "janedoe~hook",
                "\"janedoe~hook\" is not valid",
                IDS,
            ),
            (
                "APIFY_WEBHOOK_IDS",
                "abc,../x",
                "\"../x\" is not valid",
                IDS,
            ),
            (
                "APIFY_ACTOR_IDS",
                "janedoe~..",
                "\"janedoe~..\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "~my-actor",
                "\"~my-actor\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "janedoe~",
                "\"janedoe~\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "jd~my-actor",
                "\"jd~my-actor\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "janedoe~my_actor",
                "\"janedoe~my_actor\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "janedoe~-actor",
                "\"janedoe~-actor\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "janedoe/my-actor",
                "\"janedoe/my-actor\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "a~b~c",
                "\"a~b~c\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "abc%2F",
                "\"abc%2F\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "nFJndFXA5zjCTuudP?x=1",
                "\"nFJndFXA5zjCTuudP?x=1\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "caf\u{e9}",
                "\"caf\u{e9}\" is not valid",
                IDS_OR_NAMES,
            ),
            (
                "APIFY_ACTOR_IDS",
                "a\tb",
                "\"a\\tb\" is not valid",
                IDS_OR_NAMES,
            ),
        ] {
            assert_eq!(
                selection_error(var, value),
                format!("{var}: {problem}; {expected}"),
                "{var}={value:?}"
            );
        }
    }

    #[test]
    fn selections_take_real_ids_and_names() {
        let env = Env {
            actor_ids: Some(
                "nFJndFXA5zjCTuudP, apify~web-scraper,dusan.vystrcil~llm-dataset-processor, \
                 lexis-solutions~tiktok-trending-videos-scraper,Jane_Doe~A1"
                    .into(),
            ),
            actor_task_ids: Some("janedoe~my-task".into()),
            webhook_ids: Some("Pz6sM1dK9vBf3XgUh".into()),
            ..env_with_token()
        };
        let c = Config::from_parts(&cli(&[]), env).unwrap();
        assert_eq!(
            c.selection.actor_ids,
            vec![
                "nFJndFXA5zjCTuudP",
                "apify~web-scraper",
                "dusan.vystrcil~llm-dataset-processor",
                "lexis-solutions~tiktok-trending-videos-scraper",
                "Jane_Doe~A1",
            ]
        );
        assert_eq!(c.selection.actor_task_ids, vec!["janedoe~my-task"]);
        assert_eq!(c.selection.webhook_ids, vec!["Pz6sM1dK9vBf3XgUh"]);

        // The flag is named when the flag gave the value.
        let err = Config::from_parts(&cli(&["--webhook-ids", ".."]), env_with_token()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("--webhook-ids (APIFY_WEBHOOK_IDS): \"..\" is not valid; {IDS}")
        );
    }

    const UNSENDABLE: &str = "contains whitespace, a control character or a non-ASCII character; expected the token alone, on one line, as Apify Console shows it";

    #[test]
    fn a_token_that_cannot_be_sent_is_refused_without_being_quoted() {
        for token in [
            "apify_api_ab\ncd",
            "apify_api_ab cd",
            "apify_api_ab\tcd",
            "apify_api_ab\u{7f}cd",
            "apify_api_ab\u{a0}cd",
            "apify_api_abc\u{0}",
        ] {
            let env = Env {
                token: Some(format!(" {token}\n")),
                ..Env::default()
            };
            let err = Config::from_parts(&cli(&[]), env).unwrap_err().to_string();
            assert_eq!(err, format!("APIFY_TOKEN: {UNSENDABLE}"), "{token:?}");
        }

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        // A file of two lines: the token and something after it.
        std::fs::write(&path, "apify_api_SECRET\nsecond-line\n").unwrap();
        let env = Env {
            token_file: Some(path.display().to_string()),
            ..Env::default()
        };
        let err = Config::from_parts(&cli(&[]), env).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "APIFY_TOKEN_FILE: the token in {:?} {UNSENDABLE}",
                path.display().to_string()
            )
        );
        assert!(!err.contains("SECRET") && !err.contains("second-line"));

        // Surrounding whitespace and the final newline are not the token's.
        std::fs::write(&path, "\n  apify_api_SECRET \r\n").unwrap();
        let env = Env {
            token_file: Some(path.display().to_string()),
            ..Env::default()
        };
        let c = Config::from_parts(&cli(&[]), env).unwrap();
        assert_eq!(c.token.expose(), "apify_api_SECRET");
    }

    #[test]
    fn missing_token_is_an_error_unless_demo() {
        let err = Config::from_parts(&cli(&[]), Env::default()).unwrap_err();
        assert_eq!(err.name, "APIFY_TOKEN");
        assert!(Config::from_parts(&cli(&["--demo"]), Env::default()).is_ok());
    }

    #[test]
    fn a_token_given_with_demo_is_ignored_with_a_warning_naming_where_it_came_from() {
        let c = Config::from_parts(&cli(&["--demo"]), env_with_token()).unwrap();
        assert!(c.demo);
        assert_eq!(c.token.expose(), "");
        assert_eq!(
            c.warnings,
            ["APIFY_TOKEN is ignored: --demo reads the built-in simulated account, not yours"]
        );
        let c = Config::from_parts(&cli(&["--demo", "--token-file", "/run/t"]), Env::default())
            .unwrap();
        assert_eq!(
            c.warnings,
            ["--token-file (APIFY_TOKEN_FILE) is ignored: --demo reads the built-in simulated account, not yours"]
        );
        // Nothing to say without a token, or with a blank one.
        let blank = Env {
            token: Some(" ".into()),
            ..Env::default()
        };
        for env in [Env::default(), blank] {
            let c = Config::from_parts(&cli(&["--demo"]), env).unwrap();
            assert_eq!(c.warnings, Vec::<String>::new());
        }
    }

    #[test]
    fn demo_if_no_token_runs_the_demo_only_without_a_token() {
        let flag = cli(&["--demo-if-no-token"]);
        let c = Config::from_parts(&flag, Env::default()).unwrap();
        assert!(c.demo);
        let c = Config::from_parts(
            &flag,
            Env {
                token: Some("".into()),
                token_file: Some(" ".into()),
                ..Env::default()
            },
        )
        .unwrap();
        assert!(c.demo);

        let c = Config::from_parts(&flag, env_with_token()).unwrap();
        assert!(!c.demo);
        assert_eq!(c.token.expose(), "tok");
        assert_eq!(c.warnings, Vec::<String>::new());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file\n").unwrap();
        let env = Env {
            token_file: Some(path.display().to_string()),
            ..Env::default()
        };
        let c = Config::from_parts(&flag, env).unwrap();
        assert!(!c.demo);
        assert_eq!(c.token.expose(), "from-file");

        // A token file that is named but cannot be read is an error, not
        // the demo.
        let env = Env {
            token_file: Some(dir.path().join("absent").display().to_string()),
            ..Env::default()
        };
        let err = Config::from_parts(&flag, env).unwrap_err();
        assert_eq!(err.name, "APIFY_TOKEN_FILE");

        // --demo beside it (APIFY_EXPORTER_ARGS="--demo" in compose) wins.
        let both = cli(&["--demo-if-no-token", "--demo"]);
        let c = Config::from_parts(&both, env_with_token()).unwrap();
        assert!(c.demo);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    }

    #[test]
    fn token_file_is_read_and_trimmed_and_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "secret-value\n").unwrap();
        let env = Env {
            token_file: Some(path.display().to_string()),
            ..Env::default()
        };
        let c = Config::from_parts(&cli(&[]), env).unwrap();
        assert_eq!(c.token.expose(), "secret-value");
        assert!(!format!("{c:?}").contains("secret-value"));
        assert_eq!(c.token_file.as_deref(), Some(path.as_path()));

        // SIGHUP reads it again, with the same checks.
        std::fs::write(&path, "rotated-value\n").unwrap();
        let token = Config::reread_token_file(&path).unwrap();
        assert_eq!(token.expose(), "rotated-value");
        std::fs::write(&path, "\n").unwrap();
        let err = Config::reread_token_file(&path).unwrap_err();
        assert_eq!(err.name, "APIFY_TOKEN_FILE");

        let env = Env {
            token_file: Some(dir.path().join("absent").display().to_string()),
            ..Env::default()
        };
        let err = Config::from_parts(&cli(&[]), env).unwrap_err();
        assert_eq!(err.name, "APIFY_TOKEN_FILE");
    }

    #[test]
    fn base_url_must_be_an_http_origin_without_credentials() {
        let env = Env {
            api_base_url: Some("http://127.0.0.1:4010/".into()),
            ..env_with_token()
        };
        let c = Config::from_parts(&cli(&[]), env).unwrap();
        assert_eq!(c.api_base_url, "http://127.0.0.1:4010");

        for bad in ["ftp://x", "not a url", "https://user:pw@api.apify.com"] {
            let env = Env {
                api_base_url: Some(bad.into()),
                ..env_with_token()
            };
            let err = Config::from_parts(&cli(&[]), env).unwrap_err();
            assert_eq!(err.name, "APIFY_API_BASE_URL");
            assert!(!err.to_string().contains("pw@"), "{err}");
        }
    }

    #[test]
    fn a_bad_web_config_is_a_config_error() {
        let env = Env {
            web_config: Some("/nonexistent/web.yml".into()),
            ..env_with_token()
        };
        let err = Config::from_parts(&cli(&[]), env).unwrap_err();
        assert_eq!(err.name, "APIFY_EXPORTER_WEB_CONFIG");
        assert!(
            err.message.starts_with("cannot read /nonexistent/web.yml"),
            "{err}"
        );
    }
}
