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

use clap::Parser;
use serde::Deserialize;

use crate::secret::Secret;

pub mod web;

pub use web::WebConfig;

/// Where the dispatches come from: all of the user's webhooks, or a selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub actor_ids: Vec<String>,
    pub actor_task_ids: Vec<String>,
    pub webhook_ids: Vec<String>,
}

impl Selection {
    /// True when nothing narrows the selection: every webhook of the user is
    /// watched, so the account-wide dispatch list can be used.
    pub fn is_everything(&self) -> bool {
        self.actor_ids.is_empty() && self.actor_task_ids.is_empty() && self.webhook_ids.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A background loop refreshes every `interval`; scrapes read the cache.
    Interval,
    /// Each scrape refreshes, unless a refresh finished within `min_interval`.
    OnScrape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration. `Debug` is safe to log: the token is a
/// [`Secret`].
#[derive(Debug, Clone)]
pub struct Config {
    pub token: Secret,
    pub api_base_url: String,
    pub selection: Selection,
    pub listen: SocketAddr,
    pub mode: Mode,
    pub interval: Duration,
    pub min_interval: Duration,
    pub lookback: Duration,
    pub state_file: Option<PathBuf>,
    pub timeout: Duration,
    pub max_rps: u32,
    pub concurrency: usize,
    pub log_format: LogFormat,
    /// TLS and basic auth for the HTTP server (`APIFY_EXPORTER_WEB_CONFIG`).
    pub web: Option<WebConfig>,
    pub demo: bool,
}

impl Config {
    /// Defaults for everything, with the given token and API origin; the
    /// starting point for tests and the demo.
    pub fn new(token: Secret, api_base_url: impl Into<String>) -> Self {
        Config {
            token,
            api_base_url: api_base_url.into(),
            selection: Selection::default(),
            listen: SocketAddr::from(([0, 0, 0, 0], 9723)),
            mode: Mode::Interval,
            interval: Duration::from_secs(30),
            min_interval: Duration::from_secs(5),
            lookback: Duration::from_secs(24 * 3600),
            state_file: None,
            timeout: Duration::from_secs(10),
            max_rps: 20,
            concurrency: 4,
            log_format: LogFormat::Text,
            web: None,
            demo: false,
        }
    }
}

/// A configuration value that failed validation. Displays as one line that
/// names the variable (and the flag) and the expected form; never the token.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: String,
    pub message: String,
}

/// The environment, flat, every value still a string (envy matches the
/// lower-cased variable names).
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

/// Prometheus exporter for Apify webhook dispatches.
///
/// Every option can also be set by the environment variable named in its
/// help; a flag wins over its variable. The API token is read only from
/// APIFY_TOKEN or APIFY_TOKEN_FILE, never from a flag, so that it does not
/// show in the process list.
#[derive(Debug, Parser)]
#[command(name = "apify-webhook-exporter", version, about, long_about)]
pub struct Cli {
    /// Run against a built-in simulated Apify account (no token needed).
    #[arg(long)]
    pub demo: bool,

    /// Check GET /healthz of an exporter on the configured listen address
    /// (127.0.0.1 when it listens on all interfaces) and exit 0 if healthy:
    /// the container HEALTHCHECK.
    #[arg(long)]
    pub healthcheck: bool,

    /// File holding the API token [env: APIFY_TOKEN_FILE] (or set APIFY_TOKEN).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<String>,

    /// API origin [env: APIFY_API_BASE_URL] [default: https://api.apify.com]
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

    /// Listen address [env: APIFY_EXPORTER_LISTEN] [default: 0.0.0.0:9723]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// `interval` or `on-scrape` [env: APIFY_EXPORTER_MODE] [default: interval]
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,

    /// Refresh period [env: APIFY_EXPORTER_INTERVAL] [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,

    /// On-scrape reuse window [env: APIFY_EXPORTER_MIN_INTERVAL] [default: 5s]
    #[arg(long, value_name = "DURATION")]
    pub min_interval: Option<String>,

    /// Backfill window at first start [env: APIFY_EXPORTER_LOOKBACK] [default: 24h]
    #[arg(long, value_name = "DURATION")]
    pub lookback: Option<String>,

    /// Persisted state path [env: APIFY_EXPORTER_STATE_FILE] [default: none]
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<String>,

    /// Timeout per API request [env: APIFY_EXPORTER_TIMEOUT] [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Client-side API request rate limit, per second [env: APIFY_EXPORTER_MAX_RPS] [default: 20]
    #[arg(long, value_name = "N")]
    pub max_rps: Option<String>,

    /// Parallel API requests [env: APIFY_EXPORTER_CONCURRENCY] [default: 4]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<String>,

    /// Web config file: TLS and basic auth, exporter-toolkit format [env: APIFY_EXPORTER_WEB_CONFIG]
    #[arg(long, value_name = "PATH")]
    pub web_config: Option<String>,

    /// `text` or `json` [env: APIFY_EXPORTER_LOG_FORMAT] [default: text]. Log level: RUST_LOG (default info).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
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
            None => LogFormat::Text,
            Some(raw) => match raw.value.trim() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(raw.invalid("expected `text` or `json`")),
            },
        };

        let web = match pick(
            &cli.web_config,
            "APIFY_EXPORTER_WEB_CONFIG",
            &env.web_config,
        ) {
            Some(raw) if !raw.value.trim().is_empty() => Some(
                WebConfig::load(std::path::Path::new(raw.value.trim()))
                    .map_err(|e| raw.fail(&e.to_string()))?,
            ),
            _ => None,
        };

        // The demo serves its own token; the health check sends none.
        let token = if cli.demo || cli.healthcheck {
            Secret::new("")
        } else {
            read_token(
                env.token.as_deref(),
                pick(&cli.token_file, "APIFY_TOKEN_FILE", &env.token_file),
            )?
        };

        let api_base_url = match pick(&cli.api_base_url, "APIFY_API_BASE_URL", &env.api_base_url) {
            None => "https://api.apify.com".to_string(),
            Some(raw) => parse_base_url(&raw)?,
        };

        let selection = Selection {
            actor_ids: parse_ids(pick(&cli.actor_ids, "APIFY_ACTOR_IDS", &env.actor_ids))?,
            actor_task_ids: parse_ids(pick(
                &cli.actor_task_ids,
                "APIFY_ACTOR_TASK_IDS",
                &env.actor_task_ids,
            ))?,
            webhook_ids: parse_ids(pick(
                &cli.webhook_ids,
                "APIFY_WEBHOOK_IDS",
                &env.webhook_ids,
            ))?,
        };

        let listen = match pick(&cli.listen, "APIFY_EXPORTER_LISTEN", &env.listen) {
            None => SocketAddr::from(([0, 0, 0, 0], 9723)),
            Some(raw) => raw.value.trim().parse().map_err(|_| {
                raw.invalid("expected host:port with an IP address, like 0.0.0.0:9723")
            })?,
        };

        let mode = match pick(&cli.mode, "APIFY_EXPORTER_MODE", &env.mode) {
            None => Mode::Interval,
            Some(raw) => match raw.value.trim() {
                "interval" => Mode::Interval,
                "on-scrape" => Mode::OnScrape,
                _ => return Err(raw.invalid("expected `interval` or `on-scrape`")),
            },
        };

        let defaults = Config::new(token.clone(), api_base_url.clone());
        let duration = |raw: Option<Raw>, default: Duration| match raw {
            None => Ok(default),
            Some(raw) => parse_duration(&raw),
        };
        let interval = duration(
            pick(&cli.interval, "APIFY_EXPORTER_INTERVAL", &env.interval),
            defaults.interval,
        )?;
        let min_interval = duration(
            pick(
                &cli.min_interval,
                "APIFY_EXPORTER_MIN_INTERVAL",
                &env.min_interval,
            ),
            defaults.min_interval,
        )?;
        let lookback = duration(
            pick(&cli.lookback, "APIFY_EXPORTER_LOOKBACK", &env.lookback),
            defaults.lookback,
        )?;
        let timeout = duration(
            pick(&cli.timeout, "APIFY_EXPORTER_TIMEOUT", &env.timeout),
            defaults.timeout,
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
            None => defaults.max_rps,
            Some(raw) => parse_bounded(&raw, 1, 10_000)? as u32,
        };
        let concurrency = match pick(
            &cli.concurrency,
            "APIFY_EXPORTER_CONCURRENCY",
            &env.concurrency,
        ) {
            None => defaults.concurrency,
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
            state_file,
            timeout,
            max_rps,
            concurrency,
            log_format,
            web,
            demo: cli.demo,
        })
    }
}

/// A raw value and the name it came under (the variable, or the flag).
struct Raw {
    name: String,
    value: String,
}

impl Raw {
    /// An error that quotes the bad value; never used for the token.
    fn invalid(&self, expected: &str) -> ConfigError {
        ConfigError {
            name: self.name.clone(),
            message: format!("{expected}, got {:?}", self.value),
        }
    }

    fn fail(&self, message: &str) -> ConfigError {
        ConfigError {
            name: self.name.clone(),
            message: message.to_string(),
        }
    }
}

/// `APIFY_EXPORTER_MAX_RPS` -> `--max-rps (APIFY_EXPORTER_MAX_RPS)`.
fn flag_name(var: &str) -> String {
    let stem = var
        .strip_prefix("APIFY_EXPORTER_")
        .or_else(|| var.strip_prefix("APIFY_"))
        .unwrap_or(var);
    format!("--{} ({var})", stem.to_ascii_lowercase().replace('_', "-"))
}

fn read_token(env_token: Option<&str>, file: Option<Raw>) -> Result<Secret, ConfigError> {
    if let Some(raw) = file {
        let path = raw.value.trim();
        let text = std::fs::read_to_string(path)
            .map_err(|e| raw.fail(&format!("cannot read token file {path:?}: {e}")))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(raw.fail(&format!("token file {path:?} is empty")));
        }
        return Ok(Secret::new(token));
    }
    match env_token.map(str::trim) {
        Some(token) if !token.is_empty() => Ok(Secret::new(token)),
        Some(_) => Err(ConfigError {
            name: "APIFY_TOKEN".into(),
            message: "is empty".into(),
        }),
        None => Err(ConfigError {
            name: "APIFY_TOKEN".into(),
            message: "not set: set APIFY_TOKEN or APIFY_TOKEN_FILE, or run with --demo".into(),
        }),
    }
}

fn parse_base_url(raw: &Raw) -> Result<String, ConfigError> {
    // The value is not echoed: a pasted URL may carry a token.
    let expected = "expected an http(s) origin like https://api.apify.com";
    let url = url::Url::parse(raw.value.trim()).map_err(|_| raw.fail(expected))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(raw.fail(expected));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(
            raw.fail("must not carry credentials or a query; the token goes in APIFY_TOKEN")
        );
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Apify ids are alphanumeric; Actors may also be named `owner~name`. Other
/// characters would end up inside a request path, so they are refused.
fn parse_ids(raw: Option<Raw>) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<String> = Vec::new();
    for id in raw
        .value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let valid = id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '~' | '-' | '_' | '.'));
        if !valid {
            return Err(raw.invalid("expected a comma list of ids (letters, digits, ~ - _ .)"));
        }
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

/// Longer durations are refused: no setting needs them, and timers
/// overflow far beyond.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

fn parse_duration(raw: &Raw) -> Result<Duration, ConfigError> {
    let expected = "expected a positive duration of at most a year, like 500ms, 30s, 5m or 24h";
    let d = humantime::parse_duration(raw.value.trim()).map_err(|_| raw.invalid(expected))?;
    if d.is_zero() || d > MAX_DURATION {
        return Err(raw.invalid(expected));
    }
    Ok(d)
}

fn parse_bounded(raw: &Raw, min: u64, max: u64) -> Result<u64, ConfigError> {
    let expected = format!("expected a whole number from {min} to {max}");
    match raw.value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(raw.invalid(&expected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.max_rps, 20);
        assert_eq!(c.concurrency, 4);
        assert_eq!(c.state_file, None);
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.selection.is_everything());
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
    fn ids_are_trimmed_and_deduplicated() {
        let env = Env {
            actor_ids: Some(" a1, janedoe~my-actor ,,a1".into()),
            ..env_with_token()
        };
        let c = Config::from_parts(&cli(&[]), env).unwrap();
        assert_eq!(c.selection.actor_ids, vec!["a1", "janedoe~my-actor"]);
        assert!(!c.selection.is_everything());
    }

    #[test]
    fn missing_token_is_an_error_unless_demo() {
        let err = Config::from_parts(&cli(&[]), Env::default()).unwrap_err();
        assert_eq!(err.name, "APIFY_TOKEN");
        assert!(Config::from_parts(&cli(&["--demo"]), Env::default()).is_ok());
    }

    #[test]
    fn token_file_is_read_and_trimmed_and_never_echoed() {
        let dir = std::env::temp_dir().join(format!("awe-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "secret-value\n").unwrap();
        let env = Env {
            token_file: Some(path.display().to_string()),
            ..Env::default()
        };
        let c = Config::from_parts(&cli(&[]), env).unwrap();
        assert_eq!(c.token.expose(), "secret-value");
        assert!(!format!("{c:?}").contains("secret-value"));

        let env = Env {
            token_file: Some(dir.join("absent").display().to_string()),
            ..Env::default()
        };
        let err = Config::from_parts(&cli(&[]), env).unwrap_err();
        assert_eq!(err.name, "APIFY_TOKEN_FILE");
        std::fs::remove_dir_all(&dir).unwrap();
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
