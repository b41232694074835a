//! Basic auth for the HTTP server, against the bcrypt hashes of the web
//! config's `basic_auth_users`.
//!
//! bcrypt is slow on purpose, and anyone who reaches the port can make us
//! run it. So checks go through a bounded queue: one per two cores run at
//! once (so that serving keeps a core even under a flood), a few more wait (as many as one second of bcrypt work on this machine,
//! measured when the decoy hash is made), none waits longer than the
//! configured bound, and a check that finds the queue full is answered 503
//! at once. Credentials already verified skip the queue: a scraper sends
//! the same ones every time, so a flood of wrong passwords cannot hold up
//! the right one.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use ring::hmac;
use tokio::sync::Semaphore;

use crate::config::WebConfig;

/// Basic auth could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(String);

/// The answer to one request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A known user with the right password.
    Allowed,
    /// No credentials, or wrong ones.
    Denied,
    /// The queue is full (or the wait too long): try again later.
    Busy,
}

/// bcrypt runs at most this many at once, each on a core: half of them,
/// at least one, at most four.
fn workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).clamp(1, 4)
}
/// At most this many checks wait, however cheap the hashes.
const MAX_WAITING: usize = 64;
/// How many distinct verified credentials are remembered.
const VERIFIED_CACHE: usize = 64;

/// Basic auth against bcrypt hashes.
pub(crate) struct BasicAuth {
    users: BTreeMap<String, String>,
    /// HMAC-SHA256, under `key`, of credentials verified: the passwords
    /// themselves are never kept.
    verified: Mutex<HashSet<[u8; 32]>>,
    /// Random, made per process (and per reload).
    key: hmac::Key,
    /// Checked against for unknown users, so that a wrong name costs the
    /// same time as a wrong password (no user enumeration by timing).
    decoy: String,
    /// Places in the queue, running ones included.
    places: Arc<Semaphore>,
    /// bcrypt runs.
    workers: Arc<Semaphore>,
    /// The longest a check waits for a worker.
    max_wait: Duration,
}

impl BasicAuth {
    /// Basic auth for the web config's users; `None` when it names none.
    /// Makes the decoy hash (as slow as the users' own) off the async
    /// threads.
    pub(crate) async fn from_config(
        web: Option<&WebConfig>,
        max_wait: Duration,
    ) -> Result<Option<Arc<BasicAuth>>, AuthError> {
        let users = match web {
            Some(web) if !web.users.is_empty() => web.users.clone(),
            _ => return Ok(None),
        };
        let auth = tokio::task::spawn_blocking(move || Self::new(users, max_wait))
            .await
            .map_err(|e| AuthError(format!("the decoy hash was not made: {e}")))??;
        Ok(Some(Arc::new(auth)))
    }

    fn new(users: BTreeMap<String, String>, max_wait: Duration) -> Result<BasicAuth, AuthError> {
        // Same cost as the users' hashes, so the decoy takes as long.
        let cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let started = Instant::now();
        let decoy = bcrypt::hash("decoy password nobody has", cost)
            .map_err(|e| AuthError(format!("cannot make the decoy hash: {e}")))?;
        let one_check = started.elapsed();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map_err(|_| AuthError("no randomness for the credential cache key".into()))?;
        let workers = workers();
        let waiting = queue_depth(one_check, max_wait, workers);
        tracing::debug!(?one_check, workers, waiting, "basic auth queue sized");
        Ok(BasicAuth {
            users,
            verified: Mutex::new(HashSet::new()),
            key,
            decoy,
            places: Arc::new(Semaphore::new(workers + waiting)),
            workers: Arc::new(Semaphore::new(workers)),
            max_wait,
        })
    }

    /// Whether these are exactly the users (and hashes) checked against.
    pub(crate) fn has_users(&self, users: &BTreeMap<String, String>) -> bool {
        self.users == *users
    }

    /// How many users the config names.
    pub(crate) fn users(&self) -> usize {
        self.users.len()
    }

    /// Checks `header` (the `Authorization` value) against the users.
    pub(crate) async fn check(&self, header: Option<&str>) -> Verdict {
        let Some((user, password)) = header.and_then(decode_basic) else {
            return Verdict::Denied;
        };
        let tag = self.tag(&user, &password);
        if self.lock().contains(&tag) {
            return Verdict::Allowed;
        }
        let Ok(place) = Arc::clone(&self.places).try_acquire_owned() else {
            return Verdict::Busy;
        };
        let worker =
            match tokio::time::timeout(self.max_wait, Arc::clone(&self.workers).acquire_owned())
                .await
            {
                Ok(Ok(worker)) => worker,
                Ok(Err(_)) | Err(_) => return Verdict::Busy,
            };
        let (hash, known) = match self.users.get(&user) {
            Some(hash) => (hash.clone(), true),
            None => (self.decoy.clone(), false),
        };
        // The permits go with the bcrypt run: a client that hangs up must
        // not free a worker while its hash is still being computed.
        let matches = tokio::task::spawn_blocking(move || {
            let _held = (place, worker);
            bcrypt::verify(password, &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if !(known && matches) {
            return Verdict::Denied;
        }
        let mut verified = self.lock();
        if verified.len() >= VERIFIED_CACHE {
            verified.clear();
        }
        verified.insert(tag);
        Verdict::Allowed
    }

    /// The cache key of a user and password: unambiguous (the user's length
    /// goes first), and useless without the key.
    fn tag(&self, user: &str, password: &str) -> [u8; 32] {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(&(user.len() as u64).to_be_bytes());
        context.update(user.as_bytes());
        context.update(password.as_bytes());
        let mut tag = [0; 32];
        tag.copy_from_slice(context.sign().as_ref());
        tag
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How many checks may wait behind the running ones: as many as the
/// `workers` get through in `max_wait`, when one takes `one_check`.
fn queue_depth(one_check: Duration, max_wait: Duration, workers: usize) -> usize {
    let per_worker = max_wait.as_secs_f64() / one_check.as_secs_f64().max(1e-6);
    ((per_worker * workers as f64) as usize).min(MAX_WAITING)
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

    fn header(user: &str, pw: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
        )
    }

    async fn auth_for(password: &str, cost: u32) -> Arc<BasicAuth> {
        let hash = bcrypt::hash(password, cost).unwrap();
        let c = WebConfig::parse(
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
            std::path::Path::new("."),
        )
        .unwrap();
        BasicAuth::from_config(Some(&c), Duration::from_secs(1))
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn basic_auth_checks_bcrypt_and_remembers_success() {
        let auth = auth_for("s3cret", 4).await;
        assert_eq!(
            auth.check(Some(&header("alice", "s3cret"))).await,
            Verdict::Allowed
        );
        let remembered = auth.tag("alice", "s3cret");
        assert!(auth.lock().contains(&remembered));
        assert_eq!(auth.lock().len(), 1);
        assert_eq!(
            auth.check(Some(&header("alice", "wrong"))).await,
            Verdict::Denied
        );
        assert_eq!(
            auth.check(Some(&header("bob", "s3cret"))).await,
            Verdict::Denied
        );
        assert_eq!(auth.check(Some("Bearer abc")).await, Verdict::Denied);
        assert_eq!(auth.check(None).await, Verdict::Denied);
        assert_eq!(auth.lock().len(), 1, "failures are not remembered");
    }

    #[test]
    fn cache_keys_separate_user_from_password_and_hide_both() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"test key");
        let auth = BasicAuth {
            users: BTreeMap::new(),
            verified: Mutex::new(HashSet::new()),
            key,
            decoy: String::new(),
            places: Arc::new(Semaphore::new(1)),
            workers: Arc::new(Semaphore::new(1)),
            max_wait: Duration::from_secs(1),
        };
        assert_ne!(auth.tag("ab", "c"), auth.tag("a", "bc"));
        let tag = auth.tag("alice", "s3cret");
        assert!(!tag.windows(6).any(|w| w == b"s3cret"));
    }

    #[test]
    fn the_queue_holds_one_second_of_work_at_most_64() {
        let second = Duration::from_secs(1);
        assert_eq!(queue_depth(Duration::from_millis(250), second, 2), 8);
        assert_eq!(queue_depth(Duration::from_millis(250), second, 1), 4);
        assert_eq!(queue_depth(Duration::from_millis(1500), second, 2), 1);
        assert_eq!(queue_depth(Duration::from_secs(3), second, 2), 0);
        assert_eq!(queue_depth(Duration::from_micros(10), second, 1), 64);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_at_once_and_a_remembered_password_gets_in() {
        let auth = auth_for("s3cret", 4).await;
        assert_eq!(
            auth.check(Some(&header("alice", "s3cret"))).await,
            Verdict::Allowed
        );
        // Every place taken, as by a flood of wrong passwords in flight.
        let total = auth.places.available_permits();
        let taken = Arc::clone(&auth.places)
            .acquire_many_owned(total as u32)
            .await
            .unwrap();
        let started = Instant::now();
        assert_eq!(
            auth.check(Some(&header("alice", "wrong"))).await,
            Verdict::Busy
        );
        assert_eq!(
            auth.check(Some(&header("alice", "s3cret"))).await,
            Verdict::Allowed
        );
        assert!(started.elapsed() < Duration::from_millis(100));
        drop(taken);
        // Workers busy, a place free: the check waits at most max_wait.
        let running = auth.workers.available_permits() as u32;
        let workers = Arc::clone(&auth.workers)
            .acquire_many_owned(running)
            .await
            .unwrap();
        let auth_fast = BasicAuth {
            max_wait: Duration::from_millis(50),
            ..Arc::try_unwrap(auth).ok().unwrap()
        };
        let started = Instant::now();
        assert_eq!(
            auth_fast.check(Some(&header("alice", "other"))).await,
            Verdict::Busy
        );
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(50) && waited < Duration::from_secs(1));
        drop(workers);
    }
}
