//! HTTPS for the tests: the files a web config names, and a client that
//! trusts the certificate made for them.

use std::path::Path;

use super::DEADLINE;

/// Writes a new self-signed certificate for `localhost` to `server.crt`
/// and `server.key` in `dir`, and to `web.yml` what `web_yaml` makes of the
/// bcrypt hash of `password`; the certificate's PEM, for a client to trust.
pub fn write_web_config(
    dir: &Path,
    password: &str,
    web_yaml: impl FnOnce(&str) -> String,
) -> String {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("server.crt"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), cert.key_pair.serialize_pem()).unwrap();
    let hash = bcrypt::hash(password, 4).unwrap();
    std::fs::write(dir.join("web.yml"), web_yaml(&hash)).unwrap();
    cert.cert.pem()
}

/// A client that trusts only `ca_pem`, finds `localhost` at
/// 127.0.0.1:`port`, and opens a new connection (a new TLS handshake) for
/// every request.
pub fn trusting(ca_pem: &str, port: u16) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .pool_max_idle_per_host(0)
        .timeout(DEADLINE)
        .build()
        .unwrap()
}
