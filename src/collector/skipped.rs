//! Items left out of counting (they could not be decoded, or they are
//! dated too far ahead), remembered by key so that each is reported once,
//! however often a list shows it again, and is never counted later.
//!
//! The memory is part of the state, so it survives a restart with a state
//! file. It is bounded: past [`MAX_REMEMBERED`] keys the oldest is
//! forgotten (should that item still be listed, it is reported once more).

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::SkipReason;
use crate::api::decode::{format_timestamp, item_key};
use crate::api::dispatches::Dispatch;
use crate::api::ApiError;

/// Keys remembered at most. Items are re-read while they sit on a first
/// page (100 to 1000 items per list), so a few thousand cover every list a
/// refresh reads.
pub(crate) const MAX_REMEMBERED: usize = 10_000;

/// An item a refresh left out, before it is known whether it was reported
/// already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skip {
    /// The dispatch id (a webhook's is prefixed `webhook:`), or a digest of
    /// the item when it has no id.
    pub(crate) key: String,
    pub(crate) reason: SkipReason,
    /// What was wrong, for the log.
    pub(crate) detail: String,
}

impl Skip {
    /// An item that could not be decoded, remembered by `key`.
    pub(crate) fn undecodable(key: String, error: &ApiError) -> Skip {
        Skip {
            key,
            reason: SkipReason::Undecodable,
            detail: error.to_string(),
        }
    }

    /// A dispatch dated too far ahead to be believed.
    pub(crate) fn future(d: &Dispatch) -> Skip {
        Skip {
            key: item_key(&d.id).into_owned(),
            reason: SkipReason::FutureTimestamp,
            detail: format!(
                "createdAt {} is ahead of the clock",
                format_timestamp(d.created_at)
            ),
        }
    }
}

/// A bounded set of keys, oldest first: the items already reported, and
/// the webhooks known to be ad-hoc.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub(crate) struct RecentKeys {
    order: VecDeque<String>,
    keys: HashSet<String>,
}

impl RecentKeys {
    /// True when `key` was left out before: the item is not counted.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// Remembers `key`; true when it is new, and so to be reported.
    pub(crate) fn remember(&mut self, key: &str) -> bool {
        if self.keys.contains(key) {
            return false;
        }
        self.keys.insert(key.to_string());
        self.order.push_back(key.to_string());
        while self.order.len() > MAX_REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.keys.remove(&oldest);
            }
        }
        true
    }
}

impl From<Vec<String>> for RecentKeys {
    fn from(keys: Vec<String>) -> Self {
        let mut items = RecentKeys::default();
        for key in keys {
            items.remember(&key);
        }
        items
    }
}

impl From<RecentKeys> for Vec<String> {
    fn from(items: RecentKeys) -> Self {
        items.order.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_is_new_once_and_the_oldest_is_forgotten_first() {
        let mut s = RecentKeys::default();
        assert!(s.remember("a"));
        assert!(!s.remember("a"));
        assert!(s.contains("a"));
        for i in 0..MAX_REMEMBERED {
            assert!(s.remember(&format!("k{i}")));
        }
        assert!(!s.contains("a"), "the oldest went first");
        assert!(s.contains("k0"));
        assert!(s.contains(&format!("k{}", MAX_REMEMBERED - 1)));
        assert_eq!(s.order.len(), MAX_REMEMBERED);
        assert_eq!(s.keys.len(), MAX_REMEMBERED);
    }

    #[test]
    fn round_trips_through_json_in_order() {
        let mut s = RecentKeys::default();
        for key in ["b", "a", "sha256:00ff"] {
            s.remember(key);
        }
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"["b","a","sha256:00ff"]"#);
        let back: RecentKeys = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert!(!serde_json::from_str::<RecentKeys>("[]")
            .unwrap()
            .contains("b"));
    }
}
