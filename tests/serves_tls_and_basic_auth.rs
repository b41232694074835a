//! `APIFY_EXPORTER_WEB_CONFIG`: HTTPS with a certificate made for the test,
//! basic auth against a bcrypt hash, and `/healthz` left open.

mod support;

use std::time::Duration;

use apify_webhook_exporter::config::WebConfig;
use apify_webhook_exporter::demo::FakeApify;
use support::*;

/// The files a web config names, in a directory that lives as long as this.
struct Files {
    _dir: tempfile::TempDir,
    ca_pem: String,
}

/// Writes a self-signed certificate for `localhost`, its key, and the web
/// config `web_yaml` makes of the bcrypt hash of `scrape-pass`.
fn write_files(name: &str, web_yaml: impl FnOnce(&str) -> String) -> (Files, WebConfig) {
    let dir = temp_dir(&format!("tls-{name}"));
    let ca_pem = write_web_config(dir.path(), "scrape-pass", web_yaml);
    let web = WebConfig::load(&dir.path().join("web.yml")).unwrap();
    (Files { _dir: dir, ca_pem }, web)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_basic_auth_serves_only_the_right_password() {
    let (files, web) = write_files("both", |hash| {
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\nbasic_auth_users:\n  prometheus: '{hash}'\n"
        )
    });
    let h = Harness::start_without_waiting(account_with_one_webhook(), |c| c.web = Some(web)).await;

    let port: u16 = h.url.rsplit(':').next().unwrap().parse().unwrap();
    let https = trusting(&files.ca_pem, port);
    let url = |path: &str| format!("https://localhost:{port}{path}");
    let with = |path: &str, user: &str, password: &str| {
        https
            .get(url(path))
            .header("authorization", basic(user, password))
            .send()
    };

    // /healthz needs no password; it also proves the TLS handshake works.
    wait_until("ready over TLS", async || {
        let r = with("/readyz", "prometheus", "scrape-pass").await.unwrap();
        r.status() == 200
    })
    .await;
    assert_eq!(
        https.get(url("/healthz")).send().await.unwrap().status(),
        200
    );

    let r = https.get(url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Basic realm=\"apify-webhook-exporter\""
    );
    let metrics_as =
        async |user: &str, password: &str| with("/metrics", user, password).await.unwrap().status();
    assert_eq!(metrics_as("prometheus", "wrong").await, 401);
    assert_eq!(metrics_as("someone", "scrape-pass").await, 401);
    let r = with("/metrics", "prometheus", "scrape-pass").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("apify_up 1\n"));

    // Plain HTTP to the TLS port gets no metrics.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let answered = plain
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await;
    assert!(answered.map(|r| r.status() != 200).unwrap_or(true));

    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_alone_guards_plain_http() {
    let (_files, web) = write_files("auth", |hash| {
        format!("basic_auth_users:\n  prometheus: '{hash}'\n")
    });
    let fake = FakeApify::new(TOKEN);
    let h = Harness::start_without_waiting(fake, |c| c.web = Some(web)).await;
    assert_eq!(h.status("/healthz").await, 200);
    assert_eq!(h.status("/readyz").await, 401);
    let r = h
        .http
        .get(h.at("/"))
        .header("authorization", basic("prometheus", "scrape-pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    h.stop().await;
}
