//! The HTTP server's edges: a flood of wrong passwords does not hold up the
//! right one, connections over the cap are closed at once, and a client
//! that stops sending is dropped. The limits are shrunk through
//! `Config::http_limits` so that the tests run in a second. (A client that
//! stops reading needs a body larger than the kernel's buffers: that test
//! is in `src/server/mod.rs`, with a 16 MB body made up for it.)

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apify_webhook_exporter::config::{Mode, WebConfig};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A client that opens a connection per request, so that none is left
/// holding one of the server's few places.
fn unpooled() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(DEADLINE)
        .build()
        .unwrap()
}

fn addr(h: &Harness) -> String {
    h.url.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_wrong_passwords_does_not_delay_the_right_one() {
    // Cost 10, as in the htpasswd example: tens of milliseconds per check,
    // so that 300 wrong passwords are seconds of bcrypt work.
    let dir = temp_dir("flood");
    let prometheus = bcrypt::hash("scrape-pass", 10).unwrap();
    let grafana = bcrypt::hash("other-pass", 10).unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(
        &path,
        format!("basic_auth_users:\n  prometheus: '{prometheus}'\n  grafana: '{grafana}'\n"),
    )
    .unwrap();
    let web = WebConfig::load(&path).unwrap();
    // Interval mode, as Prometheus is usually served: a scrape is the
    // password check and the cached body, no refresh.
    let h = Harness::start_without_waiting(account_with_one_webhook(), |c| {
        c.web = Some(web);
        c.mode = Mode::Interval;
        c.interval = Duration::from_secs(3600);
    })
    .await;
    let right = basic("prometheus", "scrape-pass");
    // The first scrape verifies the password (and the server remembers it).
    wait_until("ready with the password", async || {
        let r = h.http.get(h.at("/readyz")).header("authorization", &right);
        r.send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;

    let flood_client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap();
    let busy = Arc::new(AtomicUsize::new(0));
    let flood: Vec<_> = (0..300)
        .map(|i| {
            let request = flood_client
                .get(h.at("/metrics"))
                .header("authorization", basic("prometheus", &format!("guess-{i}")));
            let busy = Arc::clone(&busy);
            tokio::spawn(async move {
                let r = request.send().await.unwrap();
                let status = r.status().as_u16();
                let retry_after = r.headers().get("retry-after").cloned();
                if status == 503 {
                    assert_eq!(retry_after.unwrap(), "1");
                    busy.fetch_add(1, Ordering::SeqCst);
                }
                status
            })
        })
        .collect();
    // Once a 503 has come back, the queue is full.
    wait_until("the password queue full", async || {
        busy.load(Ordering::SeqCst) > 0
    })
    .await;

    let started = Instant::now();
    let r = h
        .http
        .get(h.at("/metrics"))
        .header("authorization", &right)
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("apify_up 1\n"));
    assert!(
        took < Duration::from_secs(1),
        "the right password took {took:?}"
    );

    // A right password not checked before waits in the queue like the
    // flood, but only a bounded time (300 checks would be seconds): it is
    // let in, or told to come back.
    let started = Instant::now();
    let r = h
        .http
        .get(h.at("/metrics"))
        .header("authorization", basic("grafana", "other-pass"))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert!([200, 503].contains(&r.status().as_u16()), "{}", r.status());
    assert!(
        took < Duration::from_secs(3),
        "a new password took {took:?}"
    );

    let mut statuses = Vec::new();
    for request in flood {
        statuses.push(request.await.unwrap());
    }
    let denied = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!(denied + refused, 300, "{statuses:?}");
    assert!(denied > 0 && refused > 0, "401: {denied}, 503: {refused}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once() {
    let h = Harness::start_without_waiting(account_with_one_webhook(), |c| {
        c.http_limits.max_connections = 2;
    })
    .await;
    let addr = addr(&h);
    // Two idle connections take both places (accepted in order).
    let mut first = TcpStream::connect(&addr).await.unwrap();
    let _second = TcpStream::connect(&addr).await.unwrap();
    let mut third = TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    assert_eq!(read_to_close(&mut third).await, b"");
    assert!(started.elapsed() < Duration::from_secs(2));

    // The first is served, then closed as asked: a place comes free.
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8(read_to_close(&mut first).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nok\n"), "{answer}");
    let client = unpooled();
    wait_until("a place free again", async || {
        let r = client.get(h.at("/healthz")).send().await;
        r.is_ok_and(|r| r.status() == 200)
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_no_request_is_dropped() {
    let h = Harness::start_without_waiting(account_with_one_webhook(), |c| {
        c.http_limits.header_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut idle = TcpStream::connect(addr(&h)).await.unwrap();
    let started = Instant::now();
    idle.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    assert_eq!(read_to_close(&mut idle).await, b"");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    h.stop().await;
}
