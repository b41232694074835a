//! The demo account's history as a function of time: which dispatch exists
//! at any instant, what its calls will be, and how many each webhook has
//! had, all computed from the time alone. Two demos started hours apart
//! show the same dispatch, with the same id and the same calls, at the same
//! instant, so an exporter restarted against a new demo finds the account
//! exactly where it left it, plus what happened while it was away.
//!
//! Time is cut into slots of [`SLOT_MS`] counted from [`ANCHOR`]; each slot
//! holds one dispatch. The webhooks are dealt over decks of [`DECK`] slots,
//! each webhook as many cards as its weight, shuffled per deck, so a
//! webhook's lifetime count is a sum over decks rather than a replay of
//! every slot. Besides the slots, every [`STUCK_EVERY`] the misconfigured
//! webhook gets a dispatch that stays ACTIVE for hours, waiting for its
//! retries, so that there is always one old enough for the stuck alert.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::cast::{Condition, ACTOR_PRICES, USER_ID, WEBHOOKS};
use super::draws::{apify_id, millis, pick_weighted};
use super::live_dispatch::LiveDispatch;
use super::receivers::{misconfigured_call, Receiver};
use super::times::timestamp;

/// Where slot 0 starts; webhooks' lifetime counts grow from here.
pub(super) const ANCHOR: OffsetDateTime = time::macros::datetime!(2026-11-01 00:00:00 UTC);
/// One dispatch per slot: about 900 an hour.
const SLOT_MS: i64 = 4_000;
/// Slots per deck: the webhooks' weights add up to this.
const DECK: i64 = 100;
/// A slot's dispatch is created within its first `CREATED_WITHIN_MS` and
/// shows its first call at most `FIRST_CALL_MS` later: before the next
/// slot's, so dispatches appear in the order of their `createdAt`.
const CREATED_WITHIN_MS: i64 = 3_000;
const FIRST_CALL_MS: std::ops::RangeInclusive<i64> = 40..=300;
/// How often a stuck dispatch is created, and how long it waits for its
/// last retry: longer than the stuck alert's 2 h for an hour and more, so
/// one is always past it.
const STUCK_EVERY: Duration = Duration::hours(1);
const STUCK_RETRIES_AFTER: [Duration; 3] = [
    Duration::minutes(37),
    Duration::minutes(100),
    Duration::minutes(195),
];
/// Within its slot, after the slot's own dispatch has shown its first call.
const STUCK_OFFSET_MS: i64 = 3_500;

/// What a dispatch's draws are for: each stream has its own sequence.
#[derive(Clone, Copy)]
enum Stream {
    Deck = 1,
    Slot = 2,
    Stuck = 3,
}

/// The account's schedule for one seed.
#[derive(Clone, Copy)]
pub(super) struct Schedule {
    seed: u64,
}

impl Schedule {
    pub(super) fn new(seed: u64) -> Schedule {
        Schedule { seed }
    }

    /// Every dispatch created at or after `from` whose first call has
    /// started by `now`, oldest first.
    pub(super) fn shown_between(
        &self,
        from: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Vec<LiveDispatch> {
        let mut out = Vec::new();
        for slot in slot_of(from)..=slot_of(now) {
            out.extend(
                self.slot_dispatches(slot)
                    .into_iter()
                    .filter(|d| d.created_at >= from && d.shown_from() <= now),
            );
        }
        out
    }

    /// The dispatches created in `slot`, oldest first: its own and, once
    /// every [`STUCK_EVERY`], a stuck one.
    pub(super) fn slot_dispatches(&self, slot: i64) -> Vec<LiveDispatch> {
        let mut out = vec![self.slot_dispatch(slot)];
        if slot.rem_euclid(stuck_every_slots()) == 0 {
            out.push(self.stuck_dispatch(slot.div_euclid(stuck_every_slots())));
        }
        out
    }

    /// `stats.totalDispatches` of webhook `index` at `now`: its lifetime
    /// count before the anchor, plus every dispatch shown since.
    pub(super) fn total(&self, index: usize, now: OffsetDateTime) -> u64 {
        let earlier = WEBHOOKS[index].earlier_dispatches;
        let current = slot_of(now);
        if current < 0 {
            return earlier;
        }
        // Slots before the current one are all shown; the current one's
        // dispatch may not be yet.
        let shown_slots = current + i64::from(self.slot_dispatch(current).shown_from() <= now);
        let decks = shown_slots.div_euclid(DECK);
        let in_last = shown_slots.rem_euclid(DECK) as usize;
        let weight = u64::from(WEBHOOKS[index].weight);
        let last_deck = self.deck(decks);
        let dealt = last_deck[..in_last].iter().filter(|w| **w == index).count() as u64;
        let mut total = earlier + decks.unsigned_abs() * weight + dealt;
        if WEBHOOKS[index].receiver == Receiver::Misconfigured {
            let newest = current.div_euclid(stuck_every_slots());
            let newest_shown = self.stuck_dispatch(newest).shown_from() <= now;
            total += newest.unsigned_abs() + u64::from(newest_shown);
        }
        total
    }

    /// Which webhook each slot of deck `deck` belongs to.
    fn deck(&self, deck: i64) -> Vec<usize> {
        let mut cards: Vec<usize> = WEBHOOKS
            .iter()
            .enumerate()
            .flat_map(|(index, w)| std::iter::repeat_n(index, w.weight as usize))
            .collect();
        cards.shuffle(&mut self.rng(Stream::Deck, deck));
        cards
    }

    fn slot_dispatch(&self, slot: i64) -> LiveDispatch {
        let mut rng = self.rng(Stream::Slot, slot);
        let webhook = self.deck(slot.div_euclid(DECK))[slot.rem_euclid(DECK) as usize];
        let created_at = slot_start(slot) + millis(&mut rng, 0..=CREATED_WITHIN_MS);
        let first_call = created_at + millis(&mut rng, FIRST_CALL_MS);
        let skeleton = skeleton(&mut rng, webhook, created_at);
        let (calls, outcome) = WEBHOOKS[webhook].receiver.plan_calls(&mut rng, first_call);
        LiveDispatch::new(webhook, created_at, skeleton, calls, outcome)
    }

    /// The `n`th stuck dispatch: a 404, then retries an hour and more apart
    /// that all fail too.
    fn stuck_dispatch(&self, n: i64) -> LiveDispatch {
        let mut rng = self.rng(Stream::Stuck, n);
        let webhook = WEBHOOKS
            .iter()
            .position(|w| w.receiver == Receiver::Misconfigured)
            .unwrap_or_default();
        let created_at =
            slot_start(n * stuck_every_slots()) + Duration::milliseconds(STUCK_OFFSET_MS);
        let first_call = created_at + millis(&mut rng, 100..=300);
        let skeleton = skeleton(&mut rng, webhook, created_at);
        let mut calls = vec![misconfigured_call(&mut rng, first_call)];
        for after in STUCK_RETRIES_AFTER {
            let started_at = created_at + after + millis(&mut rng, 0..=120_000);
            calls.push(misconfigured_call(&mut rng, started_at));
        }
        LiveDispatch::new(webhook, created_at, skeleton, calls, "FAILED")
    }

    /// The draws of one dispatch (or deck): the same for the same seed,
    /// stream and number, whenever they are made.
    fn rng(&self, stream: Stream, n: i64) -> StdRng {
        let mixed = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17)
            ^ (stream as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        StdRng::seed_from_u64(self.seed ^ mixed)
    }
}

/// The dispatch as the API shows it, without `status` and `calls`.
fn skeleton(rng: &mut StdRng, webhook: usize, created_at: OffsetDateTime) -> serde_json::Value {
    let spec = &WEBHOOKS[webhook];
    let event_type = pick_weighted(rng, spec.event_types);
    let id = apify_id(rng);
    let event_data = match (&spec.condition, event_type.starts_with("ACTOR.BUILD.")) {
        (Condition::Actor(actor), true) => {
            json!({ "actorId": actor, "actorBuildId": apify_id(rng) })
        }
        (Condition::Actor(actor), false) => {
            json!({ "actorId": actor, "actorRunId": apify_id(rng) })
        }
        (Condition::Task(task), _) => {
            json!({ "actorId": ACTOR_PRICES, "actorTaskId": task, "actorRunId": apify_id(rng) })
        }
    };
    json!({
        "id": id,
        "userId": USER_ID,
        "webhookId": spec.id,
        "createdAt": timestamp(created_at),
        "eventType": event_type,
        "eventData": event_data,
        "webhook": {
            "actionType": "HTTP_REQUEST",
            "condition": spec.condition_json(),
            "requestUrl": spec.request_url,
            "isAdHoc": false,
        },
    })
}

fn stuck_every_slots() -> i64 {
    STUCK_EVERY.whole_milliseconds() as i64 / SLOT_MS
}

/// The slot `t` falls in (negative before the anchor).
pub(super) fn slot_of(t: OffsetDateTime) -> i64 {
    let millis = (t - ANCHOR).whole_milliseconds();
    i64::try_from(millis.div_euclid(i128::from(SLOT_MS))).unwrap_or(i64::MAX)
}

fn slot_start(slot: i64) -> OffsetDateTime {
    ANCHOR + Duration::milliseconds(slot.saturating_mul(SLOT_MS))
}
