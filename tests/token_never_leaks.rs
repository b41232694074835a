//! The API token reaches Apify in the Authorization header and nowhere
//! else: not in logs (at every level), not in `/metrics`, not in errors, even
//! when Apify's own error message quotes it.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use apify_webhook_exporter::demo::Fault;
use support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_shows_in_no_log_and_no_metric() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .init();

    let h = Harness::start(account_with_one_webhook(), |_| {}).await;
    h.fake.inject(
        route::WEBHOOKS,
        Fault::status(
            401,
            "token-not-valid",
            &format!("Token {TOKEN} is not valid"),
        ),
    );
    let m = h.scrape().await;
    assert_eq!(m.up(), 0.0);
    h.fake.inject(route::DISPATCHES, Fault::Malformed);
    let m2 = h.scrape().await;
    let requests = h.fake.requests();
    h.stop().await;

    assert!(requests
        .iter()
        .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")[..])));
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("token-not-valid: Token *** is not valid"),
        "{logs}"
    );
    assert!(logs.contains("refresh error"));
    assert!(!logs.contains(TOKEN), "token in logs:\n{logs}");
    assert!(!m.mentions(TOKEN) && !m2.mentions(TOKEN));
}
