//! The API token reaches Apify in the Authorization header and nowhere
//! else: not in logs (at every level), not in `/metrics`, not in errors, even
//! when Apify's own error message quotes it.

mod support;

use std::sync::Arc;

use apify_webhook_exporter::demo::Fault;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_shows_in_no_log_and_no_metric() {
    // tracing-subscriber writes to an `Arc<File>` (`&File` is `Write`).
    let log_file = tempfile::NamedTempFile::new().unwrap();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(Arc::new(log_file.reopen().unwrap()))
        .init();

    let fake = account_with_one_webhook();
    // An answer that quotes the token in a field: serde's decode message
    // quotes the field, and the token starts 10 characters before the
    // message is cut, so masking after the cut would leave `apify_api_`.
    let quoted = "x".repeat(262) + TOKEN;
    let mut echo = dispatch("d-echo", W1, RUN_OK, "SUCCEEDED", now_ms(), vec![]);
    echo["createdAt"] = serde_json::Value::String(quoted);
    fake.put_dispatch(echo);
    let h = Harness::start(fake, |_| {}).await;
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
    let logs = std::fs::read_to_string(log_file.path()).unwrap();
    assert!(
        logs.contains("token-not-valid: Token *** is not valid"),
        "{logs}"
    );
    assert!(logs.contains("refresh error"));
    assert!(!logs.contains(TOKEN), "token in logs:\n{logs}");
    assert!(
        logs.contains(&format!(
            "not an RFC 3339 timestamp: \"{}***",
            "x".repeat(262)
        )),
        "{logs}"
    );
    assert!(
        !logs.contains(&TOKEN[..10]),
        "token's start in logs:\n{logs}"
    );
    assert!(!m.mentions(TOKEN) && !m2.mentions(TOKEN));
}
