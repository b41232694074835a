//! The Actors and tasks webhooks belong to: `GET /v2/acts/:id` and
//! `GET /v2/actor-tasks/:id`, read only for their names.

use serde::Deserialize;

use super::decode::{is_path_segment, lenient_string};
use super::{ApiError, Client};

/// What a webhook belongs to: an Actor, or a task of one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Owner {
    Actor(String),
    ActorTask(String),
}

impl Owner {
    /// The route template it is read at.
    pub(crate) fn endpoint(&self) -> &'static str {
        match self {
            Owner::Actor(_) => "/v2/acts/:id",
            Owner::ActorTask(_) => "/v2/actor-tasks/:id",
        }
    }

    fn path(&self) -> [&str; 3] {
        match self {
            Owner::Actor(id) => ["v2", "acts", id],
            Owner::ActorTask(id) => ["v2", "actor-tasks", id],
        }
    }
}

/// The fields of an Actor or a task that the exporter reads; the rest of
/// the record is not.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(default, deserialize_with = "lenient_string")]
    username: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    name: Option<String>,
    /// A task's Actor.
    #[serde(default, deserialize_with = "lenient_string")]
    act_id: Option<String>,
}

/// What an Actor's or a task's record tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OwnerRecord {
    /// As Apify Console shows it, `username/name`; empty when the record
    /// names no owner or no name.
    pub(crate) name: String,
    /// A task's Actor; empty for an Actor.
    pub(crate) actor_id: String,
}

impl Client {
    /// The owner's record; `None` when Apify says 404.
    pub(crate) async fn owner(&self, owner: &Owner) -> Result<Option<OwnerRecord>, ApiError> {
        let record = match self
            .get::<Record>(owner.endpoint(), &owner.path(), &[])
            .await
        {
            Ok(record) => record,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let name = match (record.username, record.name) {
            (Some(user), Some(name)) if !user.is_empty() && !name.is_empty() => {
                format!("{user}/{name}")
            }
            _ => String::new(),
        };
        let actor_id = match owner {
            Owner::ActorTask(_) => record
                .act_id
                .filter(|id| is_path_segment(id))
                .unwrap_or_default(),
            Owner::Actor(_) => String::new(),
        };
        Ok(Some(OwnerRecord { name, actor_id }))
    }
}
