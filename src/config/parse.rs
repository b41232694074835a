//! Validation of raw values: each parser turns one string, named by the
//! variable or flag it came from, into a typed value or one error line.

use std::time::Duration;

use super::ConfigError;
use crate::secret::Secret;

/// A raw value and the name it came under (the variable, or the flag).
pub(super) struct Raw {
    pub(super) name: String,
    pub(super) value: String,
}

impl Raw {
    /// An error that quotes the bad value; never used for the token.
    pub(super) fn invalid(&self, expected: &str) -> ConfigError {
        ConfigError {
            name: self.name.clone(),
            message: format!("{expected}, got {:?}", self.value),
        }
    }

    pub(super) fn fail(&self, message: &str) -> ConfigError {
        ConfigError {
            name: self.name.clone(),
            message: message.to_string(),
        }
    }
}

/// `APIFY_EXPORTER_MAX_RPS` -> `--max-rps (APIFY_EXPORTER_MAX_RPS)`.
pub(super) fn flag_name(var: &str) -> String {
    let stem = var
        .strip_prefix("APIFY_EXPORTER_")
        .or_else(|| var.strip_prefix("APIFY_"))
        .unwrap_or(var);
    format!("--{} ({var})", stem.to_ascii_lowercase().replace('_', "-"))
}

pub(super) fn read_token(
    env_token: Option<&str>,
    file: Option<Raw>,
) -> Result<Secret, ConfigError> {
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

pub(super) fn parse_base_url(raw: &Raw) -> Result<String, ConfigError> {
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
pub(super) fn parse_ids(raw: Option<Raw>) -> Result<Vec<String>, ConfigError> {
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

pub(super) fn parse_duration(raw: &Raw) -> Result<Duration, ConfigError> {
    let expected = "expected a positive duration of at most a year, like 500ms, 30s, 5m or 24h";
    let d = humantime::parse_duration(raw.value.trim()).map_err(|_| raw.invalid(expected))?;
    if d.is_zero() || d > MAX_DURATION {
        return Err(raw.invalid(expected));
    }
    Ok(d)
}

pub(super) fn parse_bounded(raw: &Raw, min: u64, max: u64) -> Result<u64, ConfigError> {
    let expected = format!("expected a whole number from {min} to {max}");
    match raw.value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(raw.invalid(&expected)),
    }
}
