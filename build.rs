//! Bakes the git revision into `apify_exporter_build_info`. A build outside
//! a git checkout (or with APIFY_EXPORTER_REVISION set, as the Dockerfile
//! may do) still works.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=APIFY_EXPORTER_REVISION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    if std::env::var("APIFY_EXPORTER_REVISION").is_ok() {
        return;
    }
    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let Some(revision) = revision {
        println!("cargo:rustc-env=APIFY_EXPORTER_REVISION={revision}");
    }
}
