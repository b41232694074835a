//! The state file: [`StateFile`] owns its path and the API origin the
//! counts belong to. The collector's [`State`] is kept as JSON, written atomically
//! (temporary file, fsync, rename, fsync of the directory) so that a crash
//! leaves either the old file or the new one, never half of one.
//!
//! A file that is not ours, of another version, for another API origin, or
//! corrupt is reported and set aside (renamed `<name>.rejected-<unix
//! time>`, never overwritten): the exporter then starts afresh with its
//! lookback, which is better than refusing to start, and the old counts can
//! still be recovered by hand. The same goes for a file that holds another
//! Apify user's state (a new token): it is set aside before the first save
//! of this user's. A path where no file can be written is the opposite: a
//! start-up error, since every save would fail.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use super::counts::{Histogram, ATTEMPTS_BUCKETS, CALL_DURATION_BUCKETS, DELIVERY_BUCKETS};
use super::route::AD_HOC_PREFIX;
use super::state::State;
use crate::clock::Millis;

const FORMAT: &str = "apify-webhook-exporter/state";
const VERSION: u32 = 1;
/// A state file larger than this is not read (ours stay far smaller).
const MAX_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write state file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not usable: {reason}")]
    Foreign { path: PathBuf, reason: String },
    /// The state could not be serialised (a bug, not an input).
    #[error("cannot serialise the state: {0}")]
    Encode(serde_json::Error),
    /// The blocking task that writes the file failed.
    #[error("state writer failed: {0}")]
    Writer(tokio::task::JoinError),
    /// No file can be created where the state file should go.
    #[error("cannot write a state file at {path}: {source}")]
    Unwritable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A rejected state file could not be moved out of the way.
    #[error("cannot set the rejected state file {path} aside as {aside}: {source}")]
    SetAside {
        path: PathBuf,
        aside: PathBuf,
        source: std::io::Error,
    },
}

/// Where the state is kept, and for which API origin: another origin is
/// another account, whose counts must not be mixed with these.
#[derive(Debug)]
pub(crate) struct StateFile {
    path: PathBuf,
    origin: String,
    /// The Apify user whose state the file holds, as last loaded or saved
    /// (`None`: not known, or no file): a state of another user must not
    /// replace it unseen.
    on_disk: Mutex<Option<String>>,
}

impl StateFile {
    /// The state file at `path`, for the API at `origin`.
    pub(crate) fn new(path: impl Into<PathBuf>, origin: impl Into<String>) -> Self {
        StateFile {
            path: path.into(),
            origin: origin.into(),
            on_disk: Mutex::new(None),
        }
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state: `Ok(None)` when there is none yet.
    pub(crate) fn load(&self) -> Result<Option<State>, PersistError> {
        let state = load(&self.path, &self.origin)?;
        if let Some(state) = &state {
            *self.on_disk() = state.user_id.clone();
        }
        Ok(state)
    }

    fn on_disk(&self) -> MutexGuard<'_, Option<String>> {
        self.on_disk.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves a rejected file out of the way (`<name>.rejected-<unix time>`,
    /// in seconds, from the clock's `now`) so that the next save cannot
    /// overwrite it; returns the new path.
    pub(crate) fn set_aside(&self, now: Millis) -> Result<PathBuf, PersistError> {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".rejected-{}", now.div_euclid(1000)));
        let aside = self.path.with_file_name(name);
        if aside.exists() {
            return Err(PersistError::SetAside {
                path: self.path.clone(),
                aside,
                source: std::io::ErrorKind::AlreadyExists.into(),
            });
        }
        match fs::rename(&self.path, &aside) {
            Ok(()) => Ok(aside),
            Err(source) => Err(PersistError::SetAside {
                path: self.path.clone(),
                aside,
                source,
            }),
        }
    }

    /// Serialises `state` now (the caller holds it still) and writes it on a
    /// blocking thread, atomically. A file holding another Apify user's
    /// state is set aside first (`now`: the clock's, for its name).
    pub(crate) async fn save(&self, state: &State, now: Millis) -> Result<(), PersistError> {
        self.set_aside_other_user(state.user_id.as_deref(), now);
        let bytes = encode(state, &self.origin).map_err(PersistError::Encode)?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write(&path, &bytes))
            .await
            .map_err(PersistError::Writer)??;
        *self.on_disk() = state.user_id.clone();
        Ok(())
    }

    /// Moves the file out of the way when it holds the state of a user
    /// other than `user` (both known). Tried once: should that fail, the
    /// save that follows replaces it, logged as an error, as the counts are
    /// then gone.
    fn set_aside_other_user(&self, user: Option<&str>, now: Millis) {
        let mut on_disk = self.on_disk();
        let other = user.is_some_and(|user| on_disk.as_deref().is_some_and(|held| held != user));
        if !other {
            return;
        }
        *on_disk = None;
        drop(on_disk);
        match self.set_aside(now) {
            Ok(aside) => tracing::warn!(
                set_aside = %aside.display(),
                "kept the other Apify user's state file aside"
            ),
            Err(PersistError::SetAside { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::error!(%error, "the other Apify user's state will be overwritten")
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct File1<S> {
    format: String,
    version: u32,
    /// The API origin the counts came from: another origin is another account.
    api_base_url: String,
    state: S,
}

/// Serialises the state for [`write()`].
fn encode(state: &State, api_base_url: &str) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&File1 {
        format: FORMAT.to_string(),
        version: VERSION,
        api_base_url: api_base_url.to_string(),
        state,
    })
}

/// Writes `bytes` to `path` atomically.
fn write(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let fail = |source| PersistError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = directory_of(path);
    let tmp = temporary_path(path, "tmp");
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename itself is durable only once the directory is synced.
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

/// Proves at start that files can be created next to the state file at
/// `path` (and that it is not a directory), so that a wrong path or
/// permission fails loudly at once instead of at every refresh.
pub(crate) fn check_writable(path: &Path) -> Result<(), PersistError> {
    let fail = |source| PersistError::Unwritable {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        return Err(fail(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        )));
    }
    let probe = temporary_path(path, "probe");
    let result = File::options()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(b"{}"));
    let _ = fs::remove_file(&probe);
    result.map_err(fail)
}

/// The directory a state file lives in.
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A hidden file next to `path`, unique per call: a write still running
/// (its refresh's scrape gone) must not share a temporary file with the
/// next one.
fn temporary_path(path: &Path, kind: &str) -> PathBuf {
    static FILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    directory_of(path).join(format!(".{name}.{kind}-{}-{n}", std::process::id()))
}

/// Reads the state file: `Ok(None)` when there is none yet.
fn load(path: &Path, api_base_url: &str) -> Result<Option<State>, PersistError> {
    let read_error = |source| PersistError::Read {
        path: path.to_path_buf(),
        source,
    };
    let foreign = |reason: String| PersistError::Foreign {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    if meta.len() > MAX_BYTES {
        return Err(foreign(format!("larger than {MAX_BYTES} bytes")));
    }
    let bytes = fs::read(path).map_err(read_error)?;
    let header: File1<serde::de::IgnoredAny> =
        serde_json::from_slice(&bytes).map_err(|e| foreign(format!("not a state file: {e}")))?;
    if header.format != FORMAT {
        return Err(foreign(format!("format is {:?}", header.format)));
    }
    if header.version != VERSION {
        return Err(foreign(format!(
            "version {} (this exporter reads {VERSION})",
            header.version
        )));
    }
    if header.api_base_url != api_base_url {
        return Err(foreign(format!(
            "written for {}, not {api_base_url}",
            header.api_base_url
        )));
    }
    let file: File1<State> =
        serde_json::from_slice(&bytes).map_err(|e| foreign(format!("corrupt: {e}")))?;
    let mut state = file.state;
    upgrade_call_durations(&mut state);
    sort_folded_event_types(&mut state);
    check_histograms(&mut state).map_err(foreign)?;
    Ok(Some(state))
}

/// Call durations counted before the 20 s and 25 s bounds existed (0.1.0
/// wrote `…, 10, 30, 60`): the calls between 10 and 30 s go into the
/// 25–30 s bucket. Every bound that existed stays exact, and so does every
/// rate from the upgrade on: the two new series start at their first
/// scrape, where `rate()` counts nothing.
fn upgrade_call_durations(state: &mut State) {
    // 0.1.0 had every bound but these two (and +Inf).
    const ADDED: [f64; 2] = [20.0, 25.0];
    const BEFORE: usize = CALL_DURATION_BUCKETS.len() - ADDED.len() + 1;
    let Some(new_at) = CALL_DURATION_BUCKETS.iter().position(|b| *b == ADDED[0]) else {
        return;
    };
    for h in state
        .webhooks
        .values_mut()
        .flat_map(|w| w.counts.call_duration.values_mut())
    {
        if h.buckets.len() == BEFORE {
            h.buckets.splice(new_at..new_at, [0; ADDED.len()]);
        }
    }
}

/// A folded ad-hoc set lists its event types sorted (`State::fold_into`);
/// a state file written before that lists them in the order first seen.
fn sort_folded_event_types(state: &mut State) {
    for (id, w) in &mut state.webhooks {
        if id.starts_with(AD_HOC_PREFIX) {
            w.info.event_types.sort_unstable();
        }
    }
}

/// The largest histogram sum a state file may hold (2^51 thousandths).
const MAX_SUM: f64 = (1u64 << 51) as f64 / 1000.0;

/// A histogram whose bucket count does not match this build's bounds, or
/// whose sum is negative or too large to add to exactly, cannot be rendered
/// truthfully.
fn check_histograms(state: &mut State) -> Result<(), String> {
    fn check<'a>(
        hs: impl Iterator<Item = &'a Histogram>,
        bounds: &[f64],
        name: &str,
    ) -> Result<(), String> {
        for h in hs {
            if h.buckets.len() != bounds.len() + 1 {
                return Err(format!("{name} buckets do not match this version"));
            }
            // Histogram::observe keeps sums exact below 2^51 thousandths.
            if !(0.0..MAX_SUM).contains(&h.sum) {
                return Err(format!("a {name} sum of {} is out of range", h.sum));
            }
        }
        Ok(())
    }
    for w in state.webhooks.values() {
        check(
            w.counts.call_duration.values(),
            CALL_DURATION_BUCKETS,
            "call duration",
        )?;
        check(w.counts.attempts.values(), ATTEMPTS_BUCKETS, "attempts")?;
        check(w.counts.delivery.values(), DELIVERY_BUCKETS, "delivery")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::cursor::Cursor;
    use crate::collector::state::ACCOUNT_CURSOR;

    fn sample() -> State {
        let mut s = State::default();
        s.cursors.insert(ACCOUNT_CURSOR.into(), Cursor::new(42));
        let w = s.webhooks.entry("W1".into()).or_default();
        w.counts
            .attempts
            .entry("FAILED".into())
            .or_default()
            .observe(ATTEMPTS_BUCKETS, 3.0);
        s
    }

    #[test]
    fn a_written_state_loads_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(load(&path, "http://a").unwrap().is_none());
        write(&path, &encode(&sample(), "http://a").unwrap()).unwrap();
        assert_eq!(load(&path, "http://a").unwrap(), Some(sample()));
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_histogram_sum_out_of_range_sets_the_file_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        for sum in [-1.0, MAX_SUM] {
            let mut bad = sample();
            let w = bad.webhooks.get_mut("W1").unwrap();
            w.counts.attempts.get_mut("FAILED").unwrap().sum = sum;
            write(&path, &encode(&bad, "http://a").unwrap()).unwrap();
            let err = load(&path, "http://a").unwrap_err().to_string();
            assert!(
                err.contains("attempts sum of") && err.contains("out of range"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_folded_set_written_before_its_event_types_were_sorted_loads_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut before = sample();
        let types = vec!["ACTOR.RUN.SUCCEEDED".to_string(), "ACTOR.RUN.FAILED".into()];
        before.webhooks.get_mut("W1").unwrap().info.event_types = types.clone();
        let folded = before.webhooks.entry("ad-hoc:T1".into()).or_default();
        folded.info.event_types = types.clone();
        write(&path, &encode(&before, "http://a").unwrap()).unwrap();
        let after = load(&path, "http://a").unwrap().unwrap();
        assert_eq!(
            after.webhooks["ad-hoc:T1"].info.event_types,
            ["ACTOR.RUN.FAILED", "ACTOR.RUN.SUCCEEDED"]
        );
        // A regular webhook keeps Apify's order.
        assert_eq!(after.webhooks["W1"].info.event_types, types);
    }

    #[test]
    fn call_durations_of_0_1_0_load_with_the_20_and_25_second_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut before = sample();
        let w = before.webhooks.get_mut("W1").unwrap();
        // 0.1.0's bounds: 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60, then +Inf.
        let old = Histogram {
            buckets: vec![1, 0, 0, 0, 2, 0, 0, 3, 4, 5, 6],
            sum: 1000.0,
        };
        w.counts.call_duration.insert("2xx".into(), old);
        write(&path, &encode(&before, "http://a").unwrap()).unwrap();

        let loaded = load(&path, "http://a").unwrap().unwrap();
        let h = &loaded.webhooks["W1"].counts.call_duration["2xx"];
        assert_eq!(CALL_DURATION_BUCKETS[8..10], [20.0, 25.0]);
        assert_eq!(h.buckets, vec![1, 0, 0, 0, 2, 0, 0, 3, 0, 0, 4, 5, 6]);
        assert_eq!((h.count(), h.sum), (21, 1000.0));
    }

    #[test]
    fn foreign_and_corrupt_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let cases: [(&[u8], &str); 4] = [
            (b"{\"format\":\"something-else\",\"version\":1,\"api_base_url\":\"http://a\",\"state\":{}}", "format"),
            (b"{\"format\":\"apify-webhook-exporter/state\",\"version\":9,\"api_base_url\":\"http://a\",\"state\":{}}", "version 9"),
            (b"{\"format\":\"apify-webhook-exporter/state\",\"version\":1,\"api_base_url\":\"http://b\",\"state\":{}}", "written for http://b"),
            (b"{\"format\":\"apify-webhook-exporter/st", "not a state file"),
        ];
        for (bytes, expected) in cases {
            fs::write(&path, bytes).unwrap();
            let err = load(&path, "http://a").unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        let mut bad = sample();
        bad.webhooks
            .get_mut("W1")
            .unwrap()
            .counts
            .attempts
            .get_mut("FAILED")
            .unwrap()
            .buckets = vec![1];
        fs::write(&path, encode(&bad, "http://a").unwrap()).unwrap();
        let err = load(&path, "http://a").unwrap_err().to_string();
        assert!(err.contains("attempts buckets"), "{err}");
    }

    #[test]
    fn a_missing_directory_or_a_directory_path_is_unwritable() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_writable(&dir.path().join("no/such/dir/state.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot write a state file at ")
                && err.contains("no/such/dir/state.json"),
            "{err}"
        );
        let err = check_writable(dir.path()).unwrap_err().to_string();
        assert!(err.contains("it is a directory"), "{err}");
        check_writable(&dir.path().join("state.json")).unwrap();
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 0, "the probe is removed");
    }

    #[test]
    fn a_rejected_file_is_set_aside_with_its_bytes_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"corrupt").unwrap();
        let file = StateFile::new(&path, "http://a");
        let aside = file.set_aside(1_764_000_000_250).unwrap();
        assert_eq!(aside, dir.path().join("state.json.rejected-1764000000"));
        assert_eq!(fs::read(&aside).unwrap(), b"corrupt");
        assert!(!path.exists());
        // A second rejection in the same second must not replace the first.
        fs::write(&path, b"other").unwrap();
        let err = file.set_aside(1_764_000_000_250).unwrap_err().to_string();
        assert!(err.contains("rejected-1764000000"), "{err}");
        assert_eq!(fs::read(&aside).unwrap(), b"corrupt");
    }

    #[tokio::test]
    async fn another_user_s_state_file_is_set_aside_before_the_first_save() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let of = |user: &str| State {
            user_id: Some(user.into()),
            ..sample()
        };
        write(&path, &encode(&of("u1"), "http://a").unwrap()).unwrap();
        let file = StateFile::new(&path, "http://a");
        assert_eq!(file.load().unwrap(), Some(of("u1")));
        file.save(&of("u1"), 1_764_000_000_000).await.unwrap();
        file.save(&State::default(), 1_764_000_001_000)
            .await
            .unwrap();
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "same user, or not known"
        );
        file.save(&of("u1"), 1_764_000_002_000).await.unwrap();
        file.save(&of("u2"), 1_764_000_003_000).await.unwrap();
        let aside = dir.path().join("state.json.rejected-1764000003");
        assert_eq!(load(&aside, "http://a").unwrap(), Some(of("u1")));
        assert_eq!(load(&path, "http://a").unwrap(), Some(of("u2")));
        file.save(&of("u2"), 1_764_000_004_000).await.unwrap();
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "set aside once"
        );
    }
}
