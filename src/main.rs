//! The binary: parse flags and environment, set up logging, bind, run.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use apify_webhook_exporter::config::{Cli, Config, LogFormat};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    let unknown = Config::unknown_variables();
    let config = match Config::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("apify-webhook-exporter: {e}");
            // A misspelt variable may be why (a token under another name).
            for hint in &unknown {
                eprintln!("apify-webhook-exporter: also: {hint}");
            }
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    // The health check runs every 30 s in the same environment: the
    // serving process has said it already.
    if !cli.healthcheck {
        for warning in config.warnings.iter().chain(&unknown) {
            tracing::warn!("{warning}");
        }
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("apify-webhook-exporter: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cli.healthcheck {
        return runtime.block_on(healthcheck(&config));
    }
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(listen = %config.listen, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    match apify_webhook_exporter::run(config, listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "exporter failed");
            ExitCode::from(e.exit_code())
        }
    }
}

/// SIGTERM or SIGINT start a graceful shutdown.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutdown requested");
    shutdown.cancel();
}

/// `--healthcheck`: the container HEALTHCHECK, which has no curl.
async fn healthcheck(config: &Config) -> ExitCode {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    // Over TLS this checks our own process on loopback, by IP address: the
    // certificate names a public host, so it is not verified here.
    let tls = config.web.as_ref().is_some_and(|w| w.tls.is_some());
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .danger_accept_invalid_certs(tls)
        .build()
    {
        Ok(c) => c,
        Err(_) => return ExitCode::FAILURE,
    };
    let scheme = if tls { "https" } else { "http" };
    let url = format!("{scheme}://{addr}/healthz");
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("unhealthy: {url} answered {}", r.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!(
                "unhealthy: {url}: {}",
                apify_webhook_exporter::api::error_chain(&e.without_url())
            );
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = apify_webhook_exporter::config::logging::filter(rust_log.as_deref());
    // Colours only for a person at a terminal, not for log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
