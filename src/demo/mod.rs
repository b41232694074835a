//! The demo account: an in-process fake of the Apify API and a simulation
//! that keeps it busy.
//!
//! - [`fake_api`] owns [`FakeApify`], the fake API server the integration
//!   tests and `--demo` point the exporter at.
//! - [`simulation`] owns [`start`]: it serves a [`FakeApify`] on 127.0.0.1,
//!   seeds a day of history and keeps adding and resolving dispatches, so
//!   that `apify-webhook-exporter --demo` shows metrics that move.

pub mod fake_api;
pub mod simulation;

pub use fake_api::{FakeApify, Fault, RecordedRequest};
pub use simulation::{start, start_with, DemoApi};
