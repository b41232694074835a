//! The seeded draws the demo's engine and receivers share. Every one takes
//! the simulation's single RNG, so one seed replays the same account.

use rand::rngs::StdRng;
use rand::Rng;
use time::Duration;

/// One of `choices`, each as likely as its weight.
pub(super) fn pick_weighted<T: Copy>(rng: &mut StdRng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, weight)| weight).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for (choice, weight) in choices {
        if ticket < *weight {
            return *choice;
        }
        ticket -= weight;
    }
    // Only reached with all weights zero; the demo's tables have none.
    choices[0].0
}

/// A duration of a uniformly drawn number of milliseconds.
pub(super) fn millis(rng: &mut StdRng, range: std::ops::RangeInclusive<i64>) -> Duration {
    Duration::milliseconds(rng.random_range(range))
}

/// 17 alphanumeric characters, like Apify's ids.
pub(super) fn apify_id(rng: &mut StdRng) -> String {
    rng.sample_iter(rand::distr::Alphanumeric)
        .take(17)
        .map(char::from)
        .collect()
}
