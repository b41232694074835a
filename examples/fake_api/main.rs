//! The crate's fake Apify API ([`FakeApify`]) as its own process on
//! 127.0.0.1, for what runs the exporter as a separate program: the
//! benchmarks (`scripts/bench.sh`) and the end-to-end test (`scripts/e2e.py`).
//!
//!     fake_api bench <webhooks> <dispatches> <event-types-per-webhook>
//!     fake_api e2e
//!
//! `bench` fills an account of the chosen size once (see `bench.rs`); `e2e`
//! serves the end-to-end test's four webhooks and ad-hoc runs, and keeps their dispatches
//! moving with the clock (see `e2e.rs` and `e2e_driver.rs`). Either prints
//! `listening <base url>` on stdout once ready, then serves until killed.
//!
//! Control, one command a line on stdin, each acknowledged on stdout:
//!   `revoke-token`  every API answer becomes 401 `token-not-valid` (`token revoked`)
//!   `accept-token`  the token works again (`token accepted`)
//! The control lives on stdin rather than on an HTTP route, so that nothing
//! the exporter can reach, here or in `--demo`, changes the fake.

mod bench;
mod e2e;
mod e2e_driver;

use std::io::BufRead;
use std::time::Duration;

use apify_webhook_exporter::demo::FakeApify;
use tokio_util::sync::CancellationToken;

const USAGE: &str =
    "usage: fake_api bench <webhooks> <dispatches> <event-types-per-webhook>\n       fake_api e2e";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shutdown = CancellationToken::new();
    let (fake, runs) = match args.first().map(String::as_str) {
        Some("bench") => bench::account(&args[1..]),
        Some("e2e") => {
            let fake = FakeApify::new(e2e::TOKEN);
            e2e_driver::start(fake.clone(), shutdown.clone());
            (fake, bench::Runs::default())
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    fake.spawn(listener, shutdown.clone());
    println!("listening {base_url}");
    std::thread::spawn(move || read_commands(&fake, runs));
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Applies the commands read from stdin until it closes (a closed stdin
/// only ends the control; the fake keeps serving).
fn read_commands(fake: &FakeApify, mut bench_runs: bench::Runs) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        let words: Vec<&str> = line.split_whitespace().collect();
        let count = |word: &str| word.parse::<u64>().ok();
        match words.as_slice() {
            ["revoke-token"] => {
                fake.revoke_token(true);
                println!("token revoked");
            }
            ["accept-token"] => {
                fake.revoke_token(false);
                println!("token accepted");
            }
            [] => {}
            ["new", n] if count(n).is_some() => {
                let n = count(n).unwrap_or(0);
                bench_runs.new_dispatches(fake, n);
                println!("added {n} dispatches");
            }
            ["adhoc", n, rest @ ..]
                if count(n).is_some() && matches!(rest, [] | ["summary"]) =>
            {
                let n = count(n).unwrap_or(0);
                bench_runs.ad_hoc_runs(fake, n, !rest.is_empty());
                println!("added {n} ad-hoc runs");
            }
            _ => eprintln!(
                "fake_api: unknown command {:?} (revoke-token, accept-token, new <n>, adhoc <n> [summary])",
                line.trim()
            ),
        }
    }
}
