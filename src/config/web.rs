//! `APIFY_EXPORTER_WEB_CONFIG`: TLS and basic auth for the HTTP server, in
//! the web configuration file format of the Prometheus exporter toolkit
//! (`tls_server_config`, `basic_auth_users` with bcrypt hashes), so that a
//! file written for node_exporter works here.
//!
//! Supported: `cert_file`/`key_file` (or inline `cert`/`key`),
//! `client_auth_type` (`NoClientCert`, `RequireAndVerifyClientCert`,
//! `VerifyClientCertIfGiven`) with `client_ca_file`, `min_version` /
//! `max_version` (`TLS12`, `TLS13`), and `basic_auth_users`. Any other key
//! is refused by name rather than ignored. The file is read at start-up
//! and again on SIGHUP.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio_rustls::rustls;

/// The bcrypt costs accepted in `basic_auth_users`.
const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=14;

/// A web config that cannot be used, with the key at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WebConfigError(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tls_server_config: Option<TlsFile>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
}

/// The loaded web configuration.
#[derive(Clone)]
pub struct WebConfig {
    /// The TLS server settings, when `tls_server_config` is given.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// `basic_auth_users`: user name -> bcrypt hash, each checked to be one.
    /// Empty when basic auth is off.
    pub users: BTreeMap<String, String>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("basic_auth_users", &self.users.len())
            .finish()
    }
}

impl WebConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| WebConfigError(format!("cannot read {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base)
    }

    /// Parses the file's text; relative paths are taken from `base`, the
    /// file's own directory.
    pub fn parse(text: &str, base: &Path) -> Result<WebConfig, WebConfigError> {
        let file: File = serde_yaml_ng::from_str(text).map_err(|e| {
            WebConfigError(format!(
                "not a valid web config: {}",
                without_quoted_strings(&e.to_string())
            ))
        })?;
        let tls = match file.tls_server_config {
            Some(t) => Some(Arc::new(tls_config(t, base)?)),
            None => None,
        };
        let users = file.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            let Ok(parts) = hash.parse::<bcrypt::HashParts>() else {
                return Err(WebConfigError(format!(
                    "basic_auth_users: the password of {user:?} is not a bcrypt hash"
                )));
            };
            // bcrypt hashes only from cost 4, and each step doubles the work
            // of every password check (and of the server's decoy hash, made
            // at the users' highest cost): cost 16 takes seconds, 31 would
            // hang start-up. Exporter-toolkit users pick 10 to 12.
            if !BCRYPT_COSTS.contains(&parts.get_cost()) {
                return Err(WebConfigError(format!(
                    "basic_auth_users: the password of {user:?} has bcrypt cost {}; {} to {} are supported (10 to 12 are usual)",
                    parts.get_cost(),
                    BCRYPT_COSTS.start(),
                    BCRYPT_COSTS.end(),
                )));
            }
        }
        Ok(WebConfig { tls, users })
    }
}

/// serde quotes a string found where it wanted something else (`invalid
/// type: string "-----BEGIN PRIVATE KEY-----...", expected struct
/// TlsFile`): a key or a password hash one indent off. The error line goes
/// to stderr and logs, so the value is left out; the key path, the
/// position and what was expected stay.
fn without_quoted_strings(message: &str) -> String {
    const QUOTED: &str = "string \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(QUOTED) {
        out.push_str(&rest[..at]);
        out.push_str("a string");
        // The value is written as by `{:?}`: it ends at the first quote
        // that no backslash escapes.
        let mut chars = rest[at + QUOTED.len()..].char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    end = Some(at + QUOTED.len() + i + 1);
                    break;
                }
                _ => {}
            }
        }
        match end {
            Some(end) => rest = &rest[end..],
            // No closing quote: drop the rest rather than risk quoting it.
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

fn tls_config(t: TlsFile, base: &Path) -> Result<rustls::ServerConfig, WebConfigError> {
    let fail = |m: String| WebConfigError(format!("tls_server_config: {m}"));
    let resolve = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            base.join(p)
        }
    };
    let read = |p: &PathBuf| {
        let p = resolve(p);
        std::fs::read(&p).map_err(|e| fail(format!("cannot read {}: {e}", p.display())))
    };
    let cert_pem = match (&t.cert_file, &t.cert) {
        (Some(file), None) => read(file)?,
        (None, Some(inline)) => inline.clone().into_bytes(),
        (Some(_), Some(_)) => return Err(fail("give cert_file or cert, not both".into())),
        (None, None) => return Err(fail("cert_file is required".into())),
    };
    let key_pem = match (&t.key_file, &t.key) {
        (Some(file), None) => read(file)?,
        (None, Some(inline)) => inline.clone().into_bytes(),
        (Some(_), Some(_)) => return Err(fail("give key_file or key, not both".into())),
        (None, None) => return Err(fail("key_file is required".into())),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| fail(format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(fail("no certificate in the PEM data".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| fail(format!("key: {e}")))?;

    let version = |v: &str| match v {
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        other => Err(fail(format!(
            "unsupported TLS version {other:?} (TLS12 or TLS13)"
        ))),
    };
    let min = version(t.min_version.as_deref().unwrap_or("TLS12"))?;
    let max = version(t.max_version.as_deref().unwrap_or("TLS13"))?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [&rustls::version::TLS12, &rustls::version::TLS13]
            .into_iter()
            .filter(|v| {
                let rank = |x: &rustls::SupportedProtocolVersion| u16::from(x.version);
                rank(v) >= rank(min) && rank(v) <= rank(max)
            })
            .collect();
    if versions.is_empty() {
        return Err(fail("min_version is above max_version".into()));
    }

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| fail(e.to_string()))?;
    let mode = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let builder = match mode {
        "NoClientCert" => builder.with_no_client_auth(),
        "RequireAndVerifyClientCert" | "VerifyClientCertIfGiven" => {
            let ca_file = t
                .client_ca_file
                .as_ref()
                .ok_or_else(|| fail(format!("client_auth_type {mode} needs client_ca_file")))?;
            let mut roots = rustls::RootCertStore::empty();
            for ca in CertificateDer::pem_slice_iter(&read(ca_file)?) {
                let ca = ca.map_err(|e| fail(format!("client_ca_file: {e}")))?;
                roots
                    .add(ca)
                    .map_err(|e| fail(format!("client_ca_file: {e}")))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == "VerifyClientCertIfGiven" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| fail(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        other => {
            return Err(fail(format!(
                "unsupported client_auth_type {other:?} (NoClientCert, RequireAndVerifyClientCert, VerifyClientCertIfGiven)"
            )))
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| fail(format!("certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_changes_nothing() {
        let c = WebConfig::parse("{}", Path::new(".")).unwrap();
        assert!(c.tls.is_none() && c.users.is_empty());
    }

    #[test]
    fn bcrypt_cost_above_14_is_refused_naming_the_user_not_the_hash() {
        // Parsing alone: a cost-31 hash would take days to check, so
        // refusing it must not hash anything.
        let salt_and_hash = "abcdefghijklmnopqrstuuWW0DhBHrHwvoTPEvpc4PFOYBrd/Zp0K";
        for cost in [15, 16, 31] {
            let hash = format!("$2y${cost}${salt_and_hash}");
            let text =
                format!("basic_auth_users:\n  alice: '$2y$10${salt_and_hash}'\n  bob: '{hash}'\n");
            let err = WebConfig::parse(&text, Path::new("."))
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                format!("basic_auth_users: the password of \"bob\" has bcrypt cost {cost}; 4 to 14 are supported (10 to 12 are usual)")
            );
            assert!(!err.contains(salt_and_hash));
        }
        let text = format!("basic_auth_users:\n  alice: '$2y$14${salt_and_hash}'\n");
        let c = WebConfig::parse(&text, Path::new(".")).unwrap();
        assert_eq!(c.users.len(), 1);
    }

    #[test]
    fn a_secret_in_the_wrong_place_is_not_quoted() {
        let key = "-----BEGIN PRIVATE KEY-----MIIEvQ\\\"secret";
        let err = WebConfig::parse(&format!("tls_server_config: \"{key}\"\n"), Path::new("."))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a valid web config: tls_server_config: invalid type: a string, expected struct TlsFile at line 1 column 20"
        );
        let err =
            WebConfig::parse("basic_auth_users: '$2y$10$hash'\n", Path::new(".")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a valid web config: basic_auth_users: invalid type: a string, expected a map at line 1 column 19"
        );
        assert_eq!(
            without_quoted_strings(r#"x: string "a\"b\\" then string "c" end"#),
            "x: a string then a string end"
        );
        assert_eq!(
            without_quoted_strings(r#"cut: string "abc"#),
            "cut: a string"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_by_name() {
        let err = WebConfig::parse("rate_limit:\n  burst: 2\n", Path::new(".")).unwrap_err();
        assert!(err.to_string().contains("rate_limit"), "{err}");
        let err = WebConfig::parse("basic_auth_users:\n  alice: plaintext\n", Path::new("."))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "basic_auth_users: the password of \"alice\" is not a bcrypt hash"
        );
        let cost_3 = "$2b$03$abcdefghijklmnopqrstuuWW0DhBHrHwvoTPEvpc4PFOYBrd/Zp0K";
        let err = WebConfig::parse(
            &format!("basic_auth_users:\n  alice: '{cost_3}'\n"),
            Path::new("."),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "basic_auth_users: the password of \"alice\" has bcrypt cost 3; 4 to 14 are supported (10 to 12 are usual)"
        );
        let err = WebConfig::parse("tls_server_config:\n  key_file: k.pem\n", Path::new("."))
            .unwrap_err();
        assert_eq!(err.to_string(), "tls_server_config: cert_file is required");
        let err = WebConfig::parse(
            "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: k.pem\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("tls_server_config: cannot read /nonexistent/c.pem"),
            "{err}"
        );
    }
}
