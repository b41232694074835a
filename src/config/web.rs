//! `APIFY_EXPORTER_WEB_CONFIG`: TLS and basic auth for the HTTP server, in
//! the web configuration file format of the Prometheus exporter toolkit
//! (`tls_server_config`, `basic_auth_users` with bcrypt hashes), so that a
//! file written for node_exporter works here.
//!
//! Supported: `cert_file`/`key_file` (or inline `cert`/`key`),
//! `client_auth_type` (`NoClientCert`, `RequireAndVerifyClientCert`,
//! `VerifyClientCertIfGiven`) with `client_ca_file`, `min_version` /
//! `max_version` (`TLS12`, `TLS13`), and `basic_auth_users`. Any other key
//! is refused by name rather than ignored. The file is read once, at
//! start-up.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio_rustls::rustls;

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
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub auth: Option<Arc<BasicAuth>>,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field(
                "basic_auth_users",
                &self.auth.as_ref().map(|a| a.users.len()),
            )
            .finish()
    }
}

impl WebConfig {
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| WebConfigError(format!("cannot read {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base)
    }

    /// Parses the file's text; relative paths are taken from `base`, the
    /// file's own directory.
    pub fn parse(text: &str, base: &Path) -> Result<WebConfig, WebConfigError> {
        let file: File = serde_yaml_ng::from_str(text)
            .map_err(|e| WebConfigError(format!("not a valid web config: {e}")))?;
        let tls = match file.tls_server_config {
            Some(t) => Some(Arc::new(tls_config(t, base)?)),
            None => None,
        };
        let auth = match file.basic_auth_users {
            Some(users) if !users.is_empty() => Some(Arc::new(BasicAuth::new(users)?)),
            _ => None,
        };
        Ok(WebConfig { tls, auth })
    }
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

/// Basic auth against bcrypt hashes. bcrypt is slow on purpose (tens of
/// milliseconds), so header values already verified are remembered: a
/// scraper sends the same one every time.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// Keyed hashes (SipHash, random key per process) of verified header
    /// values: the passwords themselves are not kept.
    verified: Mutex<HashSet<u64>>,
    keys: std::collections::hash_map::RandomState,
    /// Checked against for unknown users, so that a wrong name costs the
    /// same time as a wrong password (no user enumeration by timing).
    decoy: String,
    /// At most this many bcrypt runs at once: anyone can make us run one.
    running: tokio::sync::Semaphore,
}

/// How many distinct verified header values are remembered.
const VERIFIED_CACHE: usize = 64;

impl BasicAuth {
    fn new(users: BTreeMap<String, String>) -> Result<BasicAuth, WebConfigError> {
        for (user, hash) in &users {
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(WebConfigError(format!(
                    "basic_auth_users: the password of {user:?} is not a bcrypt hash"
                )));
            }
        }
        // Same cost as the users' hashes, so the decoy takes as long.
        let cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let decoy = bcrypt::hash("decoy password nobody has", cost)
            .map_err(|e| WebConfigError(format!("basic_auth_users: {e}")))?;
        Ok(BasicAuth {
            users,
            verified: Mutex::new(HashSet::new()),
            keys: std::collections::hash_map::RandomState::new(),
            decoy,
            running: tokio::sync::Semaphore::new(2),
        })
    }

    /// True when `header` (the `Authorization` value) names a user whose
    /// password matches. Runs bcrypt off the async threads.
    pub async fn check(self: &Arc<Self>, header: Option<&str>) -> bool {
        let Some(header) = header else {
            return false;
        };
        let fingerprint = self.keys.hash_one(header);
        if self.lock().contains(&fingerprint) {
            return true;
        }
        let Some((user, password)) = decode_basic(header) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(hash) => (hash.clone(), true),
            None => (self.decoy.clone(), false),
        };
        let Ok(_permit) = self.running.acquire().await else {
            return false;
        };
        let matches =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let ok = known && matches;
        if ok {
            let mut verified = self.lock();
            if verified.len() >= VERIFIED_CACHE {
                verified.clear();
            }
            verified.insert(fingerprint);
        }
        ok
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<u64>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_changes_nothing() {
        let c = WebConfig::parse("{}", Path::new(".")).unwrap();
        assert!(c.tls.is_none() && c.auth.is_none());
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

    #[tokio::test]
    async fn basic_auth_checks_bcrypt_and_remembers_success() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let c = WebConfig::parse(
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
            Path::new("."),
        )
        .unwrap();
        let auth = c.auth.unwrap();
        let header = |user: &str, pw: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
            )
        };
        assert!(auth.check(Some(&header("alice", "s3cret"))).await);
        let remembered = auth.keys.hash_one(header("alice", "s3cret"));
        assert!(auth.lock().contains(&remembered));
        assert!(!auth.check(Some(&header("alice", "wrong"))).await);
        assert!(!auth.check(Some(&header("bob", "s3cret"))).await);
        assert!(!auth.check(Some("Bearer abc")).await);
        assert!(!auth.check(None).await);
    }
}
