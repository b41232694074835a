//! Wall-clock time in Apify's unit (milliseconds since the Unix epoch),
//! behind a trait so that the collector's notion of "now" (the lookback,
//! the age of ACTIVE dispatches) can be driven by a test.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch. Milliseconds are Apify's precision,
/// and integers compare exactly, which the watermark needs.
pub type Millis = i64;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> Millis;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> Millis {
        now_millis()
    }
}

/// The system clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// The system's wall clock now, in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Wall-clock time that follows tokio's clock from a fixed start: under
/// `tokio::time::pause()`, advancing tokio's time advances this clock by
/// exactly as much, so a test can age dispatches without waiting.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start_millis: Millis,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `start_millis` now.
    pub fn starting_at(start_millis: Millis) -> Self {
        TokioClock {
            start_millis,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now_millis(&self) -> Millis {
        let elapsed = i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.start_millis.saturating_add(elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_moves_with_paused_time() {
        let clock = TokioClock::starting_at(1_000);
        assert_eq!(clock.now_millis(), 1_000);
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!(clock.now_millis(), 91_000);
    }
}
