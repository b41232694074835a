//! State file failures are loud: a path where nothing can be written stops
//! the start with exit 2, a failed save is counted, a failed final save
//! makes the exit code non-zero, and a rejected file is set aside.

mod support;

use support::*;

/// The body of `GET path` on the exporter, when it answers 200.
fn get_ok(port: u16, path: &str) -> Option<String> {
    http_get(port, path).and_then(|(code, text)| (code == 200).then_some(text))
}

#[test]
fn an_unwritable_state_path_stops_the_start_with_exit_2_and_one_line() {
    let dir = temp_dir("state-unwritable");
    let path = dir.path().join("missing-dir").join("state.json");
    let out = exporter()
        .args(["--demo", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--state-file")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(&format!("cannot write a state file at {}", path.display())),
        "{stderr}"
    );
}

#[test]
fn failed_saves_are_counted_and_a_failed_final_save_exits_1() {
    let dir = temp_dir("state-save-fails");
    let state_dir = dir.path().join("state");
    std::fs::create_dir(&state_dir).unwrap();
    let port = free_port();
    let mut logged = Logged::spawn(
        exporter()
            .args(["--demo", "--interval", "1s"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--state-file")
            .arg(state_dir.join("state.json")),
    );
    let m = block_until_some("the first save", || {
        get_ok(port, "/metrics")
            .map(Scrape)
            .filter(|_| state_dir.join("state.json").exists())
    });
    assert_eq!(
        m.get("apify_exporter_state_save_failures_total", &[]),
        Some(0.0)
    );

    // The volume goes away under the exporter: every save now fails, and
    // refreshing goes on.
    std::fs::remove_dir_all(&state_dir).unwrap();
    let m = block_until_some("a failed save counted", || {
        get_ok(port, "/metrics").map(Scrape).filter(|m| {
            m.get("apify_exporter_state_save_failures_total", &[])
                .is_some_and(|n| n >= 1.0)
        })
    });
    assert_eq!(m.get("apify_up", &[]), Some(1.0));

    let status = logged.terminate();
    assert_eq!(status.code(), Some(1), "the final save failed");
    let logs = logged.text();
    assert!(logs.contains("final state save failed"), "{logs}");
    assert!(logs.contains("state not saved"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_state_file_is_set_aside_and_never_overwritten() {
    let dir = temp_dir("state-rejected");
    let state_file = dir.path().join("state.json");
    let rejected: &[u8] = b"{\"format\": \"apify-webhook-exp";
    std::fs::write(&state_file, rejected).unwrap();
    let fake = account_with_one_dispatch("SUCCEEDED", 60_000);
    let h = Harness::start(fake, |c| c.state_file = Some(state_file.clone())).await;
    let m = h.scrape().await;
    assert_eq!(m.up(), 1.0);
    assert_eq!(m.succeeded_total(), 1.0);
    h.stop().await;

    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[0], "state.json");
    let aside = names[1]
        .strip_prefix("state.json.rejected-")
        .unwrap_or_else(|| panic!("{names:?}"));
    let at: i64 = aside.parse().unwrap();
    assert!((now_ms() / 1000 - at).abs() < 600, "{at}");
    assert_eq!(std::fs::read(dir.path().join(&names[1])).unwrap(), rejected);
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(written["format"], "apify-webhook-exporter/state");
}
