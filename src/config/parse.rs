//! Validation of raw values: each parser turns one string, named by the
//! variable or flag it came from, into a typed value or one error line.

use std::time::Duration;

use super::kinds::Choice;
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

/// One of the words `T` is spelled with, like `interval` or `on-scrape`.
pub(super) fn parse_choice<T: Choice>(raw: &Raw) -> Result<T, ConfigError> {
    let value = raw.value.trim();
    if let Some(choice) = T::ALL.iter().copied().find(|c| c.as_str() == value) {
        return Ok(choice);
    }
    let words: Vec<String> = T::ALL.iter().map(|c| format!("`{}`", c.as_str())).collect();
    let expected = match words.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    Err(raw.invalid(&format!("expected {expected}")))
}

/// The prefix of the exporter's own settings: any other variable under it
/// is a mistake.
pub(super) const OWN_PREFIX: &str = "APIFY_EXPORTER_";

/// The prefix shared with Apify's platform and tools.
pub(super) const APIFY_PREFIX: &str = "APIFY_";

/// The name without `APIFY_EXPORTER_` or `APIFY_`: `APIFY_EXPORTER_MAX_RPS`
/// -> `MAX_RPS`, `APIFY_TOKEN` -> `TOKEN`.
pub(super) fn stem(var: &str) -> &str {
    var.strip_prefix(OWN_PREFIX)
        .or_else(|| var.strip_prefix(APIFY_PREFIX))
        .unwrap_or(var)
}

/// `APIFY_EXPORTER_MAX_RPS` -> `--max-rps (APIFY_EXPORTER_MAX_RPS)`.
pub(super) fn flag_name(var: &str) -> String {
    format!(
        "--{} ({var})",
        stem(var).to_ascii_lowercase().replace('_', "-")
    )
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
        if !is_sendable_token(token) {
            return Err(raw.fail(&format!("the token in {path:?} {UNSENDABLE_TOKEN}")));
        }
        return Ok(Secret::new(token));
    }
    let env_error = |message: &str| ConfigError {
        name: "APIFY_TOKEN".into(),
        message: message.into(),
    };
    match env_token.map(str::trim) {
        Some("") => Err(env_error("is empty")),
        Some(token) if is_sendable_token(token) => Ok(Secret::new(token)),
        Some(_) => Err(env_error(UNSENDABLE_TOKEN)),
        None => Err(env_error(
            "not set: set APIFY_TOKEN or APIFY_TOKEN_FILE, or run with --demo",
        )),
    }
}

/// Why a token is refused; the token itself is never quoted.
const UNSENDABLE_TOKEN: &str =
    "contains whitespace, a control character or a non-ASCII character; \
     expected the token alone, on one line, as Apify Console shows it";

/// The token travels in the `Authorization` header, which takes visible
/// ASCII only: anything else (a second line in the file, a space, a
/// pasted non-breaking space) would fail every request, reported as a
/// network error, so it is refused at start instead.
fn is_sendable_token(token: &str) -> bool {
    token.bytes().all(|b| b.is_ascii_graphic())
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

/// What the elements of a selection may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdForm {
    /// An Apify id only (webhooks have no name).
    Id,
    /// An Apify id, or `username~name` (Actors and tasks).
    IdOrName,
}

impl IdForm {
    fn expected(self) -> &'static str {
        match self {
            IdForm::Id => {
                "expected a comma list of Apify ids (letters and digits, like Pz6sM1dK9vBf3XgUh)"
            }
            IdForm::IdOrName => {
                "expected a comma list of Apify ids (letters and digits, like nFJndFXA5zjCTuudP) \
                 or username~name (like janedoe~my-actor)"
            }
        }
    }

    fn accepts(self, element: &str) -> bool {
        if is_apify_id(element) {
            return true;
        }
        match (self, element.split_once('~')) {
            (IdForm::IdOrName, Some((user, name))) => is_username(user) && is_name(name),
            _ => false,
        }
    }
}

/// Apify's ids: letters and digits (17 of them, as generated today).
pub(crate) fn is_apify_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Apify's usernames: 3 to 30 letters, digits, `_`, `.` or `-`
/// (`USERNAME.ADMIN_REGEX` of `@apify/consts`, which also admits names
/// such as `apify` that new users may no longer take).
fn is_username(s: &str) -> bool {
    (3..=30).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Actor and task names: a DNS label (letters, digits and inner dashes,
/// at most 63), like `DNS_SAFE_NAME_REGEX` of `@apify/consts`.
fn is_name(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A comma list of ids, each checked against `form`: an element that is
/// not one (empty, `..`, `a/b`) stops start-up, where it would otherwise
/// widen or bend the selection. So does a blank value: a list meant to
/// narrow the selection (`APIFY_ACTOR_IDS=${ACTORS}` with `ACTORS` unset)
/// would silently watch the whole account.
pub(super) fn parse_ids(raw: Option<Raw>, form: IdForm) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    if raw.value.trim().is_empty() {
        return Err(raw.fail(&format!(
            "is empty (unset it to watch every webhook); {}",
            form.expected()
        )));
    }
    let elements: Vec<&str> = raw.value.split(',').map(str::trim).collect();
    let mut ids: Vec<String> = Vec::new();
    for (i, id) in elements.iter().enumerate() {
        if id.is_empty() {
            return Err(raw.fail(&format!(
                "element {} of {} is empty; {}",
                i + 1,
                elements.len(),
                form.expected()
            )));
        }
        if !form.accepts(id) {
            return Err(raw.fail(&format!("{id:?} is not valid; {}", form.expected())));
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
