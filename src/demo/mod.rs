//! The demo account: an in-process fake of the Apify API and a simulation
//! that keeps it busy.
//!
//! - [`fake_api`] owns [`FakeApify`], the fake API server the integration
//!   tests, `--demo` and `examples/fake_api` point the exporter at.
//! - [`simulation`] owns [`start`]: it serves a [`FakeApify`] on 127.0.0.1,
//!   seeds a day of history and keeps adding and resolving dispatches, so
//!   that `apify-webhook-exporter --demo` shows metrics that move.
//! - The simulation's parts: `cast` (the webhooks, as data), `receivers`
//!   (how each receiver answers), `live_dispatch` (a dispatch revealed by
//!   the clock), `draws` (the seeded randomness) and `times` (Apify's time
//!   format).

mod cast;
mod draws;
pub mod fake_api;
mod live_dispatch;
mod receivers;
pub mod simulation;
mod times;

pub use fake_api::{FakeApify, Fault, RecordedRequest};
pub use simulation::{start, start_with, DemoApi};
