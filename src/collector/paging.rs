//! Paging dispatch lists: one pass per list, newest first, down to the
//! cursor's watermark (or a short page), several lists at a time. Each page
//! is admitted and counted in one locked step, so that a pass dropped
//! between pages (a cancelled scrape, a shutdown) leaves its cursor exact;
//! the lock is never held across a request.
//!
//! Items that cannot be decoded, items dated more than
//! [`FUTURE_TOLERANCE_MS`] ahead of the clock, and items left out before
//! never reach the cursor: they are not counted and move no watermark.

use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use futures::stream::{self, StreamExt};

use super::cursor::Cursor;
use super::route::Routing;
use super::skipped::Skip;
use super::state::{State, MAX_ORPHANS, READ_BACK_PREFIX};
use crate::api::decode::{item_key, Millis};
use crate::api::dispatches::{Dispatch, DispatchList};
use crate::api::{ApiError, Client, Page, MAX_PAGE_LIMIT};
use crate::clock::Clock;

/// Bounds a pass whatever the API says: 10 million dispatches.
const MAX_DISPATCH_PAGES: usize = 10_000;

/// A dispatch created further ahead of the exporter's clock than this is
/// not believed (clocks differ by seconds, not minutes): it is left out.
pub(crate) const FUTURE_TOLERANCE_MS: Millis = 5 * 60_000;

/// Pages every list (keyed by its cursor) down to its watermark, up to
/// `concurrency` lists at a time; returns every error met, and the items
/// left out (each once per page that listed it).
pub(super) async fn read_lists(
    client: &Client,
    state: &mut State,
    lists: Vec<(String, DispatchList)>,
    routing: &Routing,
    concurrency: usize,
    clock: &dyn Clock,
) -> (Vec<ApiError>, Vec<Skip>) {
    let shared = Mutex::new(Shared {
        state,
        skipped: Vec::new(),
        routing,
        clock,
    });
    let results: Vec<Result<(), ApiError>> = stream::iter(lists)
        .map(|(key, list)| read_list(client, &shared, key, list))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let errors: Vec<ApiError> = results.into_iter().filter_map(Result::err).collect();
    let shared = shared
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (errors, shared.skipped)
}

/// What the concurrent passes share: the state, and the items they left
/// out.
struct Shared<'a> {
    state: &'a mut State,
    /// Items left out of a page: undecodable, or dated too far ahead.
    skipped: Vec<Skip>,
    /// Which series set each new dispatch counts in.
    routing: &'a Routing,
    /// Read at each page, not once per refresh: a list whose pass starts
    /// late in a long refresh must not take new dispatches for future ones.
    clock: &'a dyn Clock,
}

/// One pass over one list: begun, then completed or abandoned on its cursor.
async fn read_list(
    client: &Client,
    state: &Mutex<Shared<'_>>,
    key: String,
    list: DispatchList,
) -> Result<(), ApiError> {
    let limit = match lock(state).state.cursors.get_mut(&key) {
        Some(cursor) => {
            cursor.begin();
            cursor.first_page_limit()
        }
        None => return Ok(()),
    };
    let result = read_pages(client, state, &key, &list, limit).await;
    let mut shared = lock(state);
    let state = &mut shared.state;
    match (&result, key.strip_prefix(READ_BACK_PREFIX)) {
        // A read-back is done once it reached its floor.
        (Ok(()), Some(id)) => {
            state.cursors.remove(&key);
            state.read_back.remove(id);
        }
        (Ok(()), None) => state
            .cursors
            .get_mut(&key)
            .into_iter()
            .for_each(Cursor::complete),
        (Err(_), _) => state
            .cursors
            .get_mut(&key)
            .into_iter()
            .for_each(Cursor::abandon),
    }
    result
}

/// Reads pages and counts new dispatches until the watermark (or the end).
/// Each page is admitted and counted in one locked step, so that dropping
/// this future between pages leaves the cursor exact.
async fn read_pages(
    client: &Client,
    shared: &Mutex<Shared<'_>>,
    key: &str,
    list: &DispatchList,
    first_limit: usize,
) -> Result<(), ApiError> {
    let mut offset = 0usize;
    let mut limit = first_limit;
    let mut previous: Option<u64> = None;
    for _ in 0..MAX_DISPATCH_PAGES {
        let page = client.dispatch_page(list, offset, limit).await?;
        // A list that does not page answers the same items at every offset.
        // Seen here, before anything is left out of the page, so that a page
        // whose every item is skipped cannot hide it from the cursor's own
        // check below (and cost thousands of requests).
        let print = fingerprint(&page);
        if page.listed() > 0 && previous == Some(print) {
            return Err(stuck(list, offset));
        }
        previous = Some(print);
        // Undecodable items still take their places in the list.
        let listed = page.listed();
        let last = page.is_last(limit);
        let mut guard = lock(shared);
        let Shared {
            state,
            skipped,
            routing,
            clock,
        } = &mut *guard;
        let horizon = clock.now_millis().saturating_add(FUTURE_TOLERANCE_MS);
        // Items reported before are left out without a word.
        skipped.extend(
            page.skipped
                .into_iter()
                .filter(|u| !state.skipped.contains(&u.key))
                .map(|u| Skip::undecodable(u.key, &u.error)),
        );
        if listed == 0 {
            return Ok(());
        }
        offset += listed;
        limit = MAX_PAGE_LIMIT;
        let (future, admissible): (Vec<Dispatch>, Vec<Dispatch>) = page
            .items
            .into_iter()
            .filter(|d| !state.skipped.contains(&item_key(&d.id)))
            .partition(|d| d.created_at > horizon);
        skipped.extend(future.iter().map(Skip::future));
        // Dispatches of webhooks not read yet wait in memory: past the
        // bound, this pass stops here (before the cursor takes the page)
        // and goes on once they were read, rather than drop any.
        if state.orphans.len() >= MAX_ORPHANS {
            return Err(ApiError::Paging {
                endpoint: list.endpoint(),
                offset,
                reason: "too many dispatches of webhooks not read yet",
            });
        }
        let Some(cursor) = state.cursors.get_mut(key) else {
            return Ok(());
        };
        let verdict = cursor.admit_page(&admissible);
        match key.strip_prefix(READ_BACK_PREFIX) {
            Some(id) => verdict.new.iter().for_each(|d| state.take_read_back(id, d)),
            None => verdict.new.iter().for_each(|d| state.take_new(d, routing)),
        }
        // A short page is the end of the list, whatever `total` says.
        if verdict.reached_watermark || last {
            return Ok(());
        }
        // A list that does not page: give up this pass (an error, so the
        // watermark stays) rather than ask for the same page thousands of
        // times.
        if verdict.stuck {
            return Err(stuck(list, offset));
        }
    }
    Err(ApiError::Paging {
        endpoint: list.endpoint(),
        offset,
        reason: "too many pages",
    })
}

/// The error of a pass given up because its list does not page.
fn stuck(list: &DispatchList, offset: usize) -> ApiError {
    ApiError::Paging {
        endpoint: list.endpoint(),
        offset,
        reason: "the page repeats the previous one",
    }
}

/// What identifies a page's contents: its items' ids and its left-out
/// items' keys, in order.
fn fingerprint(page: &Page<Dispatch>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for d in &page.items {
        d.id.hash(&mut h);
    }
    for u in &page.skipped {
        u.key.hash(&mut h);
    }
    h.finish()
}

fn lock<'a, 'b>(m: &'a Mutex<Shared<'b>>) -> std::sync::MutexGuard<'a, Shared<'b>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
