//! The exactly-once paging cursor of one dispatch list.
//!
//! A list is read newest-first, page by page, down to the watermark left by
//! the last complete pass. [`Cursor::admit_page`] decides, for each listed
//! dispatch, whether it is new, already counted, or below the watermark, and
//! notices a list that does not page. Memory is constant in the number of
//! dispatches read: a pass is described by the span it covered (newest and
//! oldest `createdAt`, with the ids at those two instants), never by the set
//! of ids it saw.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::api::decode::Millis;
use crate::api::dispatches::Dispatch;
use crate::api::MAX_PAGE_LIMIT;

/// First page size once a watermark exists: an idle refresh reads only a
/// handful of items.
const IDLE_FIRST_PAGE: usize = 100;

/// Where a dispatch list was read up to.
///
/// Memory is constant in the number of dispatches read: a pass is described
/// by the span it covered (newest and oldest `createdAt`, with the ids at
/// those two instants), never by the set of ids it saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// Dispatches created before this are never fetched: the lookback
    /// boundary of the first pass.
    pub(crate) floor: Millis,
    /// The newest `createdAt` of the last complete pass, with the ids
    /// created at exactly that instant (several can share a millisecond).
    pub(crate) watermark: Option<Watermark>,
    /// Spans counted by passes that did not complete: the next pass reads
    /// the same range again and must not count them twice.
    #[serde(default)]
    pub(crate) partial: Vec<Span>,
    /// The pass under way, updated in the same step that counts each page,
    /// so that a pass dropped half-way (a cancelled scrape, a shutdown)
    /// still leaves an exact record of what it counted.
    #[serde(default)]
    pub(crate) current: Option<Span>,
}

/// An instant and the ids created at it that were seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Watermark {
    pub(crate) at: Millis,
    pub(crate) ids: BTreeSet<String>,
}

/// Every dispatch created strictly between `low.at` and `top.at`, plus the
/// ids listed at the two ends: what one pass over a newest-first list saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Span {
    pub(crate) top: Watermark,
    pub(crate) low: Watermark,
}

impl Span {
    fn at(id: &str, at: Millis) -> Span {
        let point = Watermark {
            at,
            ids: BTreeSet::from([id.to_string()]),
        };
        Span {
            top: point.clone(),
            low: point,
        }
    }

    fn contains(&self, id: &str, at: Millis) -> bool {
        (at < self.top.at && at > self.low.at)
            || (at == self.top.at && self.top.ids.contains(id))
            || (at == self.low.at && self.low.ids.contains(id))
    }

    /// Grows the span by an item of the list.
    fn extend(&mut self, id: &str, at: Millis) {
        for (end, newer) in [(&mut self.top, true), (&mut self.low, false)] {
            if at == end.at {
                end.ids.insert(id.to_string());
            } else if (at > end.at) == newer {
                *end = Watermark {
                    at,
                    ids: BTreeSet::from([id.to_string()]),
                };
            }
        }
    }

    /// Widens this span to cover `other` too, whatever lies between.
    fn extend_to(&mut self, other: &Span) {
        if other.top.at > self.top.at {
            self.top = other.top.clone();
        }
        if other.low.at < self.low.at {
            self.low = other.low.clone();
        }
    }

    /// Joins two spans that overlap (strictly, so that no instant at an end
    /// is assumed fully covered).
    fn merge(&mut self, other: &Span) -> bool {
        if !(self.low.at < other.top.at && other.low.at < self.top.at) {
            return false;
        }
        for (mine, theirs, newer) in [
            (&mut self.top, &other.top, true),
            (&mut self.low, &other.low, false),
        ] {
            if theirs.at == mine.at {
                mine.ids.extend(theirs.ids.iter().cloned());
            } else if (theirs.at > mine.at) == newer {
                *mine = theirs.clone();
            }
        }
        true
    }
}

/// Unfinished passes remembered per cursor before they are folded.
const MAX_PARTIAL_SPANS: usize = 32;

/// What to do with one listed dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Older than the watermark (or the lookback): this and every later item
    /// of the newest-first list were handled before.
    Stop,
    /// Already counted.
    Skip,
    /// New: count it.
    New,
}

/// What one page told the cursor.
#[derive(Debug)]
pub(crate) struct PageVerdict<'a> {
    /// Dispatches new to this cursor, in list order: count them.
    pub(crate) new: Vec<&'a Dispatch>,
    /// The page reached the watermark (or the lookback): the pass is done.
    pub(crate) reached_watermark: bool,
    /// The page reached no further back than the one before: the API is
    /// not paging (it ignores `offset`). Never set for an empty page.
    pub(crate) stuck: bool,
}

impl Cursor {
    pub(crate) fn new(floor: Millis) -> Self {
        Cursor {
            floor,
            watermark: None,
            partial: Vec::new(),
            current: None,
        }
    }

    /// Starts a pass; one left unfinished is kept as a partial span.
    pub(crate) fn begin(&mut self) {
        self.abandon();
    }

    /// `desc=true` first page size: small once there is a watermark.
    pub(crate) fn first_page_limit(&self) -> usize {
        if self.watermark.is_some() {
            IDLE_FIRST_PAGE
        } else {
            MAX_PAGE_LIMIT
        }
    }

    /// Admits one page of the list, in order, up to the watermark.
    pub(crate) fn admit_page<'a>(&mut self, page: &'a [Dispatch]) -> PageVerdict<'a> {
        let low_before = self.low();
        let mut verdict = PageVerdict {
            new: Vec::new(),
            reached_watermark: false,
            stuck: false,
        };
        for d in page {
            match self.admit(&d.id, d.created_at) {
                Admit::Stop => {
                    verdict.reached_watermark = true;
                    break;
                }
                Admit::Skip => {}
                Admit::New => verdict.new.push(d),
            }
        }
        // A page with nothing to admit (every item left out) tells nothing.
        verdict.stuck = !page.is_empty() && low_before.is_some() && self.low() == low_before;
        verdict
    }

    /// How far back the pass under way has read: its oldest instant and
    /// how many ids it saw there.
    fn low(&self) -> Option<(Millis, usize)> {
        self.current.as_ref().map(|s| (s.low.at, s.low.ids.len()))
    }

    pub(crate) fn admit(&mut self, id: &str, created_at: Millis) -> Admit {
        if created_at < self.passed_below() {
            return Admit::Stop;
        }
        // A dispatch created after this pass began shows up on a later page
        // (new ones push the list down): above the pass's newest. It is
        // left for the next pass, which starts above it; it must not raise
        // this pass's top, or the watermark would pass it uncounted.
        let arrived_since = self.current.as_ref().is_some_and(|s| {
            created_at > s.top.at
                || (created_at == s.top.at && s.top.at > s.low.at && !s.top.ids.contains(id))
        });
        if arrived_since {
            return Admit::Skip;
        }
        // New dispatches arriving while paging push the list down, so a
        // later page repeats items already read: newer than the oldest
        // seen, or at its instant with a known id.
        let repeated = self.current.as_ref().is_some_and(|s| {
            created_at > s.low.at || (created_at == s.low.at && s.low.ids.contains(id))
        });
        match &mut self.current {
            Some(span) => span.extend(id, created_at),
            None => self.current = Some(Span::at(id, created_at)),
        }
        // Not below the watermark (that stopped above), so this is: at the
        // watermark with a known id, or in a span an unfinished pass counted.
        if repeated || self.has_passed(id, created_at) {
            return Admit::Skip;
        }
        Admit::New
    }

    /// The pass read down to the watermark: move the watermark up to the
    /// newest item seen; every partial span is now below it.
    pub(crate) fn complete(&mut self) {
        if let Some(span) = self.current.take() {
            let top = span.top;
            match &mut self.watermark {
                Some(w) if w.at == top.at => w.ids.extend(top.ids),
                Some(w) if w.at > top.at => {}
                _ => self.watermark = Some(top),
            }
        }
        self.partial.clear();
    }

    /// The pass stopped on an error: remember what it counted.
    pub(crate) fn abandon(&mut self) {
        let Some(mut span) = self.current.take() else {
            return;
        };
        // Growing, the span may come to overlap spans it did not at first.
        loop {
            let before = self.partial.len();
            self.partial.retain(|old| !span.merge(old));
            if self.partial.len() == before {
                break;
            }
        }
        self.partial.push(span);
        if self.partial.len() > MAX_PARTIAL_SPANS {
            // Failing passes that never overlap (a busy list failing at the
            // same page every time): fold them into one span. Dispatches in
            // the gaps are then not counted: a bounded undercount rather
            // than unbounded memory.
            tracing::warn!(
                spans = self.partial.len(),
                "folding unfinished passes into one"
            );
            let mut all = std::mem::take(&mut self.partial).into_iter();
            if let Some(mut folded) = all.next() {
                for s in all {
                    folded.extend_to(&s);
                }
                self.partial.push(folded);
            }
        }
    }

    /// Whether a pass over this list would leave `id`, created at `at`, as
    /// handled before: below the watermark (or at it, with a known id), or
    /// inside a span an unfinished pass read.
    pub(crate) fn has_passed(&self, id: &str, at: Millis) -> bool {
        let below = self
            .watermark
            .as_ref()
            .is_some_and(|w| at < w.at || (at == w.at && w.ids.contains(id)));
        below || self.partial.iter().any(|s| s.contains(id, at))
    }

    /// Every dispatch created before this instant has been handled (or
    /// lies below the lookback): the watermark, or the floor before the
    /// first complete pass.
    pub(crate) fn passed_below(&self) -> Millis {
        self.watermark.as_ref().map_or(self.floor, |w| w.at)
    }

    /// The newest instant this cursor has counted up to, finished or not.
    pub(crate) fn counted_up_to(&self) -> Option<Millis> {
        let tops = self
            .partial
            .iter()
            .chain(self.current.iter())
            .map(|s| s.top.at);
        tops.chain(self.watermark.iter().map(|w| w.at)).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a newest-first list the way the collector does.
    fn pass_over(cursor: &mut Cursor, items: &[(&str, Millis)]) -> Vec<String> {
        cursor.begin();
        let mut new = Vec::new();
        for (id, at) in items {
            match cursor.admit(id, *at) {
                Admit::Stop => break,
                Admit::Skip => {}
                Admit::New => new.push(id.to_string()),
            }
        }
        cursor.complete();
        new
    }

    #[test]
    fn the_watermark_stops_paging_and_handles_shared_milliseconds() {
        let mut c = Cursor::new(100);
        // The floor (lookback) excludes `old`.
        let new = pass_over(&mut c, &[("c", 300), ("b", 300), ("a", 200), ("old", 50)]);
        assert_eq!(new, vec!["c", "b", "a"]);
        assert_eq!(c.watermark.as_ref().map(|w| w.at), Some(300));
        // Idle: nothing new, the first item already stops... after the ids at 300.
        assert!(pass_over(&mut c, &[("c", 300), ("b", 300), ("a", 200)]).is_empty());
        assert_eq!(c.watermark.as_ref().map(|w| w.ids.len()), Some(2));
        // A late arrival in the same millisecond as the watermark is new.
        let new = pass_over(
            &mut c,
            &[("e", 400), ("d", 300), ("c", 300), ("b", 300), ("a", 200)],
        );
        assert_eq!(new, vec!["e", "d"]);
        assert_eq!(c.first_page_limit(), 100);
    }

    #[test]
    fn shifted_pages_repeat_items_but_count_them_once() {
        let mut c = Cursor::new(0);
        c.begin();
        // Page 1, then two new dispatches arrive and page 2 repeats "b", "a".
        let page1 = [("d", 40), ("c", 30), ("b", 20)];
        let page2 = [("b", 20), ("a", 10)];
        let mut new = Vec::new();
        for (id, at) in page1.iter().chain(page2.iter()) {
            if c.admit(id, *at) == Admit::New {
                new.push(*id);
            }
        }
        assert_eq!(new, vec!["d", "c", "b", "a"]);
    }

    #[test]
    fn an_interrupted_pass_keeps_its_span_and_the_old_watermark() {
        let mut c = Cursor::new(0);
        pass_over(&mut c, &[("a", 10)]);
        // The pass reads "c" then is dropped before reaching the watermark;
        // the next pass's begin() keeps what it counted.
        c.begin();
        assert_eq!(c.admit("c", 30), Admit::New);
        assert_eq!(c.watermark.as_ref().map(|w| w.at), Some(10));
        // The next pass sees "c" again: skipped; "b" is new.
        let new = pass_over(&mut c, &[("d", 40), ("c", 30), ("b", 20), ("a", 10)]);
        assert_eq!(new, vec!["d", "b"]);
        assert!(c.partial.is_empty());
        assert_eq!(c.watermark.as_ref().map(|w| w.at), Some(40));
    }

    #[test]
    fn disjoint_interrupted_passes_are_both_remembered() {
        let mut c = Cursor::new(0);
        pass_over(&mut c, &[("a", 10)]);
        c.begin();
        for (id, at) in [("f", 60), ("e", 50)] {
            assert_eq!(c.admit(id, at), Admit::New);
        }
        c.abandon();
        c.begin();
        for (id, at) in [("h", 80), ("g", 70)] {
            assert_eq!(c.admit(id, at), Admit::New);
        }
        c.abandon();
        assert_eq!(c.partial.len(), 2);
        // A third failed pass covering both merges them into one.
        c.begin();
        for (id, at) in [
            ("i", 90),
            ("h", 80),
            ("g", 70),
            ("f", 60),
            ("e", 50),
            ("d", 40),
        ] {
            c.admit(id, at);
        }
        c.abandon();
        assert_eq!(c.partial.len(), 1);
        let new = pass_over(
            &mut c,
            &[
                ("i", 90),
                ("h", 80),
                ("e", 50),
                ("d", 40),
                ("c", 30),
                ("a", 10),
            ],
        );
        assert_eq!(new, vec!["c"]);
    }

    #[test]
    fn dispatches_arriving_during_a_pass_are_left_to_the_next() {
        let mut c = Cursor::new(0);
        pass_over(&mut c, &[("a", 10)]);
        // Page 1 reads "c", "b"; then "e" and "d" arrive, and a later page
        // (of a list shifted by them) shows them again below "b".
        c.begin();
        assert_eq!(c.admit("c", 30), Admit::New);
        assert_eq!(c.admit("b", 20), Admit::New);
        assert_eq!(c.admit("e", 50), Admit::Skip, "arrived during the pass");
        assert_eq!(c.admit("d", 40), Admit::Skip, "arrived during the pass");
        assert_eq!(c.admit("c", 30), Admit::Skip, "repeated");
        assert_eq!(c.admit("a", 10), Admit::Skip, "at the watermark");
        assert_eq!(c.admit("z", 5), Admit::Stop);
        c.complete();
        assert_eq!(c.watermark.as_ref().map(|w| w.at), Some(30));
        // The next pass counts them.
        let new = pass_over(&mut c, &[("e", 50), ("d", 40), ("c", 30), ("b", 20)]);
        assert_eq!(new, vec!["e", "d"]);
    }

    #[test]
    fn a_run_of_one_millisecond_across_pages_is_counted_in_one_pass() {
        let mut c = Cursor::new(0);
        let new = pass_over(
            &mut c,
            &[("x1", 70), ("x2", 70), ("x3", 70), ("x4", 70), ("w", 60)],
        );
        assert_eq!(new, vec!["x1", "x2", "x3", "x4", "w"]);
        // Arriving at the top's instant once the pass went below it: next pass.
        c.begin();
        assert_eq!(c.admit("y1", 80), Admit::New);
        assert_eq!(c.admit("y0", 75), Admit::New);
        assert_eq!(c.admit("y2", 80), Admit::Skip);
        c.complete();
        assert_eq!(
            pass_over(&mut c, &[("y2", 80), ("y1", 80), ("y0", 75)]),
            vec!["y2"]
        );
    }

    #[test]
    fn a_page_with_nothing_to_admit_is_not_taken_for_a_stuck_list() {
        let mut c = Cursor::new(0);
        c.begin();
        let first = [test_dispatch("b", 20)];
        assert!(!c.admit_page(&first).stuck);
        // Every item of the next page was left out before the cursor.
        let verdict = c.admit_page(&[]);
        assert!(!verdict.stuck && !verdict.reached_watermark);
        // The same page again is.
        assert!(c.admit_page(&first).stuck);
    }

    fn test_dispatch(id: &str, at: Millis) -> Dispatch {
        crate::collector::test_data::dispatch(
            id,
            "W1",
            "ACTOR.RUN.SUCCEEDED",
            crate::api::dispatches::DispatchStatus::Succeeded,
            at,
            Vec::new(),
        )
    }

    #[test]
    fn has_passed_what_is_below_the_watermark_or_in_a_partial_span() {
        let mut c = Cursor::new(0);
        pass_over(&mut c, &[("b", 20), ("a", 10)]);
        c.begin();
        c.admit("e", 50);
        c.admit("d", 40);
        c.abandon();
        assert!(c.has_passed("a", 10) && c.has_passed("x", 15) && c.has_passed("b", 20));
        assert!(
            !c.has_passed("y", 20),
            "a new id at the watermark's instant"
        );
        assert!(
            !c.has_passed("f", 30),
            "between the watermark and the partial span"
        );
        assert!(c.has_passed("d", 40) && c.has_passed("x", 45) && c.has_passed("e", 50));
        assert!(!c.has_passed("g", 60));
    }

    #[test]
    fn too_many_unfinished_passes_are_folded() {
        let mut c = Cursor::new(0);
        for i in 0..40 {
            c.begin();
            c.admit(&format!("n{i}"), 1000 + i * 10);
            c.abandon();
        }
        assert!(c.partial.len() <= MAX_PARTIAL_SPANS);
        assert_eq!(c.counted_up_to(), Some(1390));
    }
}
