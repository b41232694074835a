//! SIGHUP, sent to the real binary: the token file and the web config are
//! read again (a rotated token, a renewed certificate, a changed password),
//! a bad new web config is logged and the old one kept, and the process
//! lives on until SIGTERM.

mod support;

use support::*;

const ROTATED: &str = "apify_api_RotatedTokenValue987654321";

/// The web config: TLS from the files `write_web_config` writes, and the
/// user `prometheus` with the password hashed as `hash`.
fn web_yml(hash: &str) -> String {
    format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: '{hash}'\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rereads_the_token_file_and_the_web_config() {
    let fake = account_with_one_webhook();
    let (api, fake_shutdown) = serve_fake(&fake).await;

    let dir = temp_dir("sighup");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let first_ca = write_web_config(dir.path(), "first-pass", web_yml);
    let port = free_port();
    let mut logged = Logged::spawn(
        exporter()
            .env("APIFY_TOKEN_FILE", &token_file)
            .env("APIFY_API_BASE_URL", &api)
            .env("APIFY_EXPORTER_WEB_CONFIG", dir.path().join("web.yml"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--mode", "on-scrape", "--min-interval", "1ms"]),
    );

    let first = trusting(&first_ca, port);
    let url = format!("https://localhost:{port}/metrics");
    let scrape = async |client: &reqwest::Client, password: &str| {
        let r = client
            .get(&url)
            .header("authorization", basic("prometheus", password))
            .send()
            .await?;
        Ok::<_, reqwest::Error>((r.status().as_u16(), r.text().await?))
    };
    wait_until("first scrape", async || {
        scrape(&first, "first-pass").await.is_ok()
    })
    .await;
    let (status, body) = scrape(&first, "first-pass").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("apify_up 1\n"), "{body}");

    // Apify now accepts only the rotated token: without a reload, the
    // refresh fails.
    fake.set_token(ROTATED);
    let (status, body) = scrape(&first, "first-pass").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("apify_up 0\n"), "{body}");
    assert!(body.contains("apify_exporter_refresh_errors_total{reason=\"auth\"} 1\n"));

    // The token, the certificate and the password all change; then SIGHUP.
    std::fs::write(&token_file, format!("{ROTATED}\n")).unwrap();
    let second_ca = write_web_config(dir.path(), "second-pass", web_yml);
    signal(&logged.child, "-HUP");
    let second = trusting(&second_ca, port);
    wait_until("the new certificate and password", async || {
        scrape(&second, "second-pass")
            .await
            .is_ok_and(|(status, _)| status == 200)
    })
    .await;
    fake.clear_requests();
    let (status, body) = scrape(&second, "second-pass").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("apify_up 1\n"), "{body}");
    let sent: Vec<_> = fake
        .requests()
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert!(!sent.is_empty());
    assert!(
        sent.iter()
            .all(|a| a.as_deref() == Some(&format!("Bearer {ROTATED}"))),
        "{sent:?}"
    );
    assert_eq!(scrape(&second, "first-pass").await.unwrap().0, 401);
    assert!(
        scrape(&first, "first-pass").await.is_err(),
        "the old certificate is still served"
    );

    wait_until("the reload logged", async || {
        logged.with_message("reloaded on SIGHUP").len() == 1
    })
    .await;
    let reloaded = &logged.with_message("reloaded on SIGHUP")[0];
    assert_eq!(reloaded["level"], "INFO");
    assert_eq!(reloaded["fields"]["token"], "re-read from APIFY_TOKEN_FILE");
    assert_eq!(reloaded["fields"]["web_config"], "re-read");
    assert_eq!(reloaded["fields"]["tls"], true);
    assert_eq!(reloaded["fields"]["basic_auth_users"], 1);

    // A broken web config and an empty token file: logged, the ones in
    // force kept.
    std::fs::write(
        dir.path().join("web.yml"),
        "basic_auth_users:\n  prometheus: plaintext\n",
    )
    .unwrap();
    std::fs::write(&token_file, "\n").unwrap();
    signal(&logged.child, "-HUP");
    wait_until("the second reload logged", async || {
        logged.with_message("reloaded on SIGHUP").len() == 2
    })
    .await;
    let kept = &logged.with_message("reloaded on SIGHUP")[1];
    assert_eq!(
        kept["fields"]["web_config"],
        "kept (the file cannot be used)"
    );
    assert_eq!(kept["fields"]["token"], "kept (the file cannot be used)");
    let errors = logged.with_message("SIGHUP: keeping the old API token");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["level"], "ERROR");
    let error = errors[0]["fields"]["error"].as_str().unwrap();
    assert!(error.starts_with("APIFY_TOKEN_FILE: "), "{error}");
    let errors = logged.with_message("SIGHUP: keeping the old web config");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["level"], "ERROR");
    assert_eq!(
        errors[0]["fields"]["error"],
        "APIFY_EXPORTER_WEB_CONFIG: basic_auth_users: the password of \"prometheus\" is not a bcrypt hash"
    );
    // Still the second password, and still the rotated token.
    let (status, body) = scrape(&second, "second-pass").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("apify_up 1\n"), "{body}");

    // Alive through both, and stopped as usual by SIGTERM.
    assert!(logged.child.try_wait().unwrap().is_none());
    let status = logged.terminate();
    assert_eq!(status.code(), Some(0));
    let logs = logged.text();
    assert!(!logs.contains(TOKEN) && !logs.contains(ROTATED), "{logs}");
    fake_shutdown.cancel();
}
