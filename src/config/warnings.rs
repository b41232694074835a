//! Start-up warnings about the environment: variables that look meant for
//! the exporter but that it does not read (a misspelt
//! `APIFY_EXPORTER_INTERVALL` would otherwise be ignored without a word).
//!
//! The variables the exporter reads are the field names of
//! [`super::Env`], read from its `Deserialize` implementation: there is no
//! second list to keep in step. Only names are ever quoted, never values.

use super::parse::{stem, APIFY_PREFIX, OWN_PREFIX};
use super::Env;

/// Variables that Apify's platform sets inside an Actor run, or that its
/// SDKs and CLI read (`ApifyEnvVars` of the Python SDK, `ApifyEnv` of the
/// JavaScript one). The exporter may run beside them, so they are never
/// reported, however close to one of the exporter's names they are
/// (`APIFY_ACTOR_ID` is one letter from `APIFY_ACTOR_IDS`).
const APIFY_OWN: &[&str] = &[
    "APIFY_ACT_ID",
    "APIFY_ACT_RUN_ID",
    "APIFY_ACTOR_BUILD_ID",
    "APIFY_ACTOR_BUILD_NUMBER",
    "APIFY_ACTOR_EVENTS_WS_URL",
    "APIFY_ACTOR_ID",
    "APIFY_ACTOR_MAX_PAID_DATASET_ITEMS",
    "APIFY_ACTOR_PRICING_INFO",
    "APIFY_ACTOR_RUN_ID",
    "APIFY_ACTOR_TASK_ID",
    "APIFY_API_PUBLIC_BASE_URL",
    "APIFY_CHARGED_ACTOR_EVENT_COUNTS",
    "APIFY_CHROME_EXECUTABLE_PATH",
    "APIFY_CONTAINER_PORT",
    "APIFY_CONTAINER_URL",
    "APIFY_DEDICATED_CPUS",
    "APIFY_DEFAULT_BROWSER_PATH",
    "APIFY_DEFAULT_DATASET_ID",
    "APIFY_DEFAULT_KEY_VALUE_STORE_ID",
    "APIFY_DEFAULT_REQUEST_QUEUE_ID",
    "APIFY_DISABLE_BROWSER_SANDBOX",
    "APIFY_DISABLE_OUTDATED_WARNING",
    "APIFY_FACT",
    "APIFY_HEADLESS",
    "APIFY_INPUT_KEY",
    "APIFY_INPUT_SECRETS_PRIVATE_KEY_FILE",
    "APIFY_INPUT_SECRETS_PRIVATE_KEY_PASSPHRASE",
    "APIFY_IS_AT_HOME",
    "APIFY_LOCAL_STORAGE_DIR",
    "APIFY_LOG_FORMAT",
    "APIFY_LOG_LEVEL",
    "APIFY_MAX_USED_CPU_RATIO",
    "APIFY_MEMORY_MBYTES",
    "APIFY_META_ORIGIN",
    "APIFY_METAMORPH_AFTER_SLEEP_MILLIS",
    "APIFY_PERSIST_STATE_INTERVAL_MILLIS",
    "APIFY_PERSIST_STORAGE",
    "APIFY_PROXY_HOSTNAME",
    "APIFY_PROXY_PASSWORD",
    "APIFY_PROXY_PORT",
    "APIFY_PROXY_STATUS_URL",
    "APIFY_PURGE_ON_START",
    "APIFY_SDK_LATEST_VERSION",
    "APIFY_STARTED_AT",
    "APIFY_SYSTEM_INFO_INTERVAL_MILLIS",
    "APIFY_TIMEOUT_AT",
    "APIFY_USER_ID",
    "APIFY_WORKFLOW_KEY",
    "APIFY_XVFB",
];

/// Read when the exporter is built, not when it runs: `build.rs` bakes it
/// into `--version`, and `cargo run` passes it on to the process, so the
/// Quickstart's own command would otherwise warn about it.
const BUILD_TIME: &[&str] = &["APIFY_EXPORTER_REVISION"];

/// Every environment variable the exporter reads (besides `RUST_LOG`),
/// upper case, in the order the private `Env` struct of `config` declares them.
pub(super) fn known_variables() -> Vec<String> {
    serde_aux::serde_introspection::serde_introspect::<Env>()
        .iter()
        .map(|name| name.to_ascii_uppercase())
        .collect()
}

/// One warning line per variable in `names` that starts with `APIFY_`
/// and that the exporter does not read: always under `APIFY_EXPORTER_`;
/// under plain `APIFY_` only when it is close to one of the exporter's own
/// names (a likely typo) and not one of Apify's. In the order of the
/// names, sorted: the environment has none of its own.
pub(super) fn unknown_variables<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let known = known_variables();
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_unstable();
    let mut out = Vec::new();
    for name in names {
        // As `Config::load` reads them: the prefix as written, the rest in
        // any case (envy compares lower-cased names).
        let upper = name.to_ascii_uppercase();
        if !name.starts_with(APIFY_PREFIX)
            || known.contains(&upper)
            || APIFY_OWN.contains(&upper.as_str())
            || BUILD_TIME.contains(&upper.as_str())
        {
            continue;
        }
        let closest = closest(&upper, &known);
        let ignored = format!("{name} is not a setting of this exporter and is ignored");
        match closest {
            Some(known) => out.push(format!("{ignored}; did you mean {known}?")),
            None if upper.starts_with(OWN_PREFIX) => {
                out.push(format!("{ignored} (--help lists the settings)"))
            }
            None => {}
        }
    }
    out
}

/// The known name `name` most likely misspells, if any: compared whole,
/// and with the prefixes taken off both (so that `APIFY_EXPORTER_TOKEN`
/// finds `APIFY_TOKEN` and `APIFY_INTERVAL` finds
/// `APIFY_EXPORTER_INTERVAL`). Close means at most a third of the known
/// name's letters differ (an edit, a swap), and no more than two.
fn closest<'k>(name: &str, known: &'k [String]) -> Option<&'k str> {
    known
        .iter()
        .filter_map(|candidate| {
            let whole = strsim::damerau_levenshtein(name, candidate);
            let stripped = strsim::damerau_levenshtein(stem(name), stem(candidate));
            let (distance, length) = if stripped < whole {
                (stripped, stem(candidate).len())
            } else {
                (whole, candidate.len())
            };
            (distance <= 2 && distance * 3 <= length).then_some((distance, candidate.as_str()))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_variables_are_the_fields_of_env() {
        let known = known_variables();
        assert_eq!(known[0], "APIFY_TOKEN");
        assert!(known.contains(&"APIFY_EXPORTER_INTERVAL".to_string()));
        assert!(known.contains(&"APIFY_EXPORTER_AD_HOC".to_string()));
    }

    /// The README's configuration table documents every variable the
    /// exporter reads, and nothing it does not.
    #[test]
    fn every_variable_of_the_readme_table_is_known_and_every_known_one_documented() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## Configuration")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap();
        let documented: Vec<&str> = section
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split('`').next())
            .filter(|name| name.starts_with(APIFY_PREFIX))
            .collect();
        let mut known = known_variables();
        assert!(documented.len() >= 19, "{documented:?}");
        for name in &documented {
            assert!(known.contains(&name.to_string()), "{name} is not read");
        }
        known.retain(|k| !documented.contains(&k.as_str()));
        assert_eq!(known, Vec::<String>::new(), "not in README's table");
    }

    #[test]
    fn a_misspelt_setting_is_named_with_the_closest_known_one() {
        let said = "is not a setting of this exporter and is ignored; did you mean";
        assert_eq!(
            unknown_variables([
                "APIFY_WEBHOOK_ID",
                "APIFY_EXPORTER_INTERVALL",
                "APIFY_EXPORTER_INTREVAL",
                "APIFY_EXPORTER_STATEFILE",
                "APIFY_EXPORTER_TOKEN",
                "APIFY_INTERVAL",
                "APIFY_TOKENFILE",
            ]),
            [
                format!("APIFY_EXPORTER_INTERVALL {said} APIFY_EXPORTER_INTERVAL?"),
                format!("APIFY_EXPORTER_INTREVAL {said} APIFY_EXPORTER_INTERVAL?"),
                format!("APIFY_EXPORTER_STATEFILE {said} APIFY_EXPORTER_STATE_FILE?"),
                format!("APIFY_EXPORTER_TOKEN {said} APIFY_TOKEN?"),
                format!("APIFY_INTERVAL {said} APIFY_EXPORTER_INTERVAL?"),
                format!("APIFY_TOKENFILE {said} APIFY_TOKEN_FILE?"),
                format!("APIFY_WEBHOOK_ID {said} APIFY_WEBHOOK_IDS?"),
            ]
        );
    }

    #[test]
    fn an_unknown_exporter_setting_is_reported_even_when_nothing_is_close() {
        assert_eq!(
            unknown_variables(["APIFY_EXPORTER_FROBNICATE"]),
            ["APIFY_EXPORTER_FROBNICATE is not a setting of this exporter and is ignored (--help lists the settings)"]
        );
    }

    #[test]
    fn apify_s_own_variables_and_known_ones_are_not_reported() {
        let mut names: Vec<String> = APIFY_OWN.iter().map(|s| s.to_string()).collect();
        names.extend(known_variables());
        names.extend(BUILD_TIME.iter().map(|s| s.to_string()));
        // Not Apify's, but nowhere near a setting: not worth a word.
        names.push("APIFY_SOMETHING_ELSE".into());
        names.push("APIFY_PROXY_GROUPS".into());
        names.push("APIFY_EXPORTER_interval".into());
        names.push("apify_exporter_intervall".into());
        names.push("PATH".into());
        names.push("EXPORTER_INTERVALL".into());
        assert_eq!(
            unknown_variables(names.iter().map(String::as_str)),
            Vec::<String>::new()
        );
    }
}
