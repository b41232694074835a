//! Routes: `/metrics`, `/`, `/healthz`, `/readyz`; 404 elsewhere, 405 for
//! methods other than GET and HEAD.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderValue, ACCEPT_ENCODING, ALLOW, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE,
    RETRY_AFTER, VARY, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};

use super::auth::{BasicAuth, Verdict};
use super::Source;

const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The landing page; `{status}` is replaced by the readiness text,
/// HTML-escaped.
const INDEX: &str = "<!doctype html>
<html><head><meta charset=\"utf-8\"><title>Apify webhook exporter</title></head>
<body><h1>Apify webhook exporter</h1>
<p>Prometheus metrics of Apify webhook dispatches.</p>
<p>Last refresh: {status}</p>
<ul>
<li><a href=\"metrics\">/metrics</a>: the metrics</li>
<li><a href=\"healthz\">/healthz</a>: the process is alive</li>
<li><a href=\"readyz\">/readyz</a>: the first refresh has been tried, and how the last one went</li>
</ul></body></html>
";

pub(crate) async fn handle<B>(
    req: Request<B>,
    source: Arc<dyn Source>,
    auth: Option<Arc<BasicAuth>>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    // Liveness says nothing about the data: it stays open, so that a
    // container health check needs no password.
    if let Some(auth) = auth.filter(|_| path != "/healthz") {
        let header = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match auth.check(header).await {
            Verdict::Allowed => {}
            Verdict::Denied => {
                let mut r = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
                r.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"apify-webhook-exporter\""),
                );
                return r;
            }
            Verdict::Busy => {
                let mut r = text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many password checks at once; retry later\n",
                );
                r.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
        }
    }
    if !matches!(path, "/" | "/metrics" | "/healthz" | "/readyz") {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match path {
        "/metrics" => {
            let gzip = accepts_gzip(req.headers().get_all(ACCEPT_ENCODING));
            let encoded = source.metrics().await;
            let body = if gzip {
                encoded.gzip.clone()
            } else {
                encoded.text.clone()
            };
            let mut r = Response::new(Full::new(body));
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
            h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
            if gzip {
                h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            r
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => {
            let readiness = source.readiness();
            let status = if readiness.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            text(status, format!("{}\n", readiness.text))
        }
        _ => {
            let status = html_escape::encode_text(&source.readiness().text).into_owned();
            let page = INDEX.replace("{status}", &status);
            let mut r = Response::new(Full::new(Bytes::from(page)));
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// True when `Accept-Encoding` lists gzip (or `*`) with a non-zero q-value.
fn accepts_gzip<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> bool {
    values
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            if !coding.eq_ignore_ascii_case("gzip") && coding != "*" {
                return false;
            }
            parts
                .filter_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .all(|q| q.trim().parse::<f32>().is_ok_and(|q| q > 0.0))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        accepts_gzip([&HeaderValue::from_str(value).unwrap()])
    }

    #[test]
    fn gzip_negotiation_honours_q_values() {
        assert!(accepts("gzip"));
        assert!(accepts("deflate, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("identity"));
        assert!(!accepts("br, deflate"));
    }
}
