//! Paging dispatch lists: one pass per list, newest first, down to the
//! cursor's watermark, several lists at a time. Each page is admitted and
//! counted in one locked step, so that a pass dropped between pages (a
//! cancelled scrape, a shutdown) leaves its cursor exact; the lock is never
//! held across a request.

use std::sync::Mutex;

use futures::stream::{self, StreamExt};

use super::state::State;
use crate::api::dispatches::DispatchList;
use crate::api::{ApiError, Client, MAX_PAGE_LIMIT};

/// Bounds a pass whatever the API says: 10 million dispatches.
const MAX_DISPATCH_PAGES: usize = 10_000;

/// Pages every list (keyed by its cursor) down to its watermark, up to
/// `concurrency` lists at a time; returns every error met, the items that
/// could not be decoded included.
pub(super) async fn read_lists(
    client: &Client,
    state: &mut State,
    lists: Vec<(String, DispatchList)>,
    concurrency: usize,
) -> Vec<ApiError> {
    let shared = Mutex::new(Shared {
        state,
        skipped: Vec::new(),
    });
    let results: Vec<Result<(), ApiError>> = stream::iter(lists)
        .map(|(key, list)| read_list(client, &shared, key, list))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut errors: Vec<ApiError> = results.into_iter().filter_map(Result::err).collect();
    let shared = shared
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    errors.extend(shared.skipped);
    errors
}

/// What the concurrent passes share: the state, and the items they could
/// not decode.
struct Shared<'a> {
    state: &'a mut State,
    /// Items left out of a page because they could not be decoded.
    skipped: Vec<ApiError>,
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
    if let Some(cursor) = lock(state).state.cursors.get_mut(&key) {
        match result {
            Ok(()) => cursor.complete(),
            Err(_) => cursor.abandon(),
        }
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
    for _ in 0..MAX_DISPATCH_PAGES {
        let mut page = client.dispatch_page(list, offset, limit).await?;
        // Undecodable items still take their places in the list.
        let listed = page.items.len() + page.skipped.len();
        lock(shared).skipped.append(&mut page.skipped);
        if listed == 0 {
            return Ok(());
        }
        offset += listed;
        limit = MAX_PAGE_LIMIT;
        let mut guard = lock(shared);
        let state: &mut State = guard.state;
        let Some(cursor) = state.cursors.get_mut(key) else {
            return Ok(());
        };
        let verdict = cursor.admit_page(&page.items);
        for d in verdict.new {
            state.take_new(d);
        }
        if verdict.reached_watermark || page.total.is_some_and(|total| offset as u64 >= total) {
            return Ok(());
        }
        // A list that does not page: give up this pass (an error, so the
        // watermark stays) rather than ask for the same page thousands of
        // times.
        if verdict.stuck {
            return Err(ApiError::Paging {
                endpoint: list.endpoint(),
                offset,
                reason: "the page repeats the previous one",
            });
        }
    }
    Err(ApiError::Paging {
        endpoint: list.endpoint(),
        offset,
        reason: "too many pages",
    })
}

fn lock<'a, 'b>(m: &'a Mutex<Shared<'b>>) -> std::sync::MutexGuard<'a, Shared<'b>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
