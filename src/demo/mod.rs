//! The demo account: an in-process fake of the Apify API and a simulation
//! that keeps it busy.
//!
//! - [`fake_api`] owns [`FakeApify`], the fake API server the integration
//!   tests, `--demo` and `examples/fake_api` point the exporter at.
//! - [`simulation`] owns [`start`]: it serves a [`FakeApify`] on 127.0.0.1
//!   and keeps it showing the account as it stands at every moment, so
//!   that `apify-webhook-exporter --demo` shows metrics that move, and an
//!   exporter restarted with its state file carries on exactly.
//! - The simulation's parts: `schedule` (the account's history as a
//!   function of time), `cast` (the webhooks, as data), `receivers` (how
//!   each receiver answers), `live_dispatch` (a dispatch revealed by the
//!   clock), `draws` (the seeded randomness) and `times` (Apify's time
//!   format).

mod cast;
mod draws;
pub mod fake_api;
mod live_dispatch;
mod receivers;
mod schedule;
pub mod simulation;
mod times;

pub use fake_api::{FakeApify, Fault, Gate, RecordedRequest};
pub use simulation::{account_at, history, start, start_with, DemoApi, DEMO_ORIGIN, WINDOW};
