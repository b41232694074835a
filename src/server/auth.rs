//! Basic auth for the HTTP server, against the bcrypt hashes of the web
//! config's `basic_auth_users`.

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use base64::Engine;

use crate::config::WebConfig;

/// The decoy hash could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(bcrypt::BcryptError);

/// Basic auth against bcrypt hashes. bcrypt is slow on purpose (tens of
/// milliseconds), so header values already verified are remembered: a
/// scraper sends the same one every time.
pub(crate) struct BasicAuth {
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
    /// Basic auth for the web config's users; `None` when it names none.
    pub(crate) fn from_config(
        web: Option<&WebConfig>,
    ) -> Result<Option<Arc<BasicAuth>>, AuthError> {
        match web {
            Some(web) if !web.users.is_empty() => Ok(Some(Arc::new(Self::new(web.users.clone())?))),
            _ => Ok(None),
        }
    }

    fn new(users: BTreeMap<String, String>) -> Result<BasicAuth, AuthError> {
        // Same cost as the users' hashes, so the decoy takes as long.
        let cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let decoy = bcrypt::hash("decoy password nobody has", cost).map_err(AuthError)?;
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
    pub(crate) async fn check(self: &Arc<Self>, header: Option<&str>) -> bool {
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

    #[tokio::test]
    async fn basic_auth_checks_bcrypt_and_remembers_success() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let c = WebConfig::parse(
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
            std::path::Path::new("."),
        )
        .unwrap();
        let auth = BasicAuth::from_config(Some(&c)).unwrap().unwrap();
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
