//! Bakes the git revision into `--version` and `apify_exporter_build_info`
//! as `APIFY_EXPORTER_REVISION` (`unknown` outside a git checkout). Set
//! that variable to override it, as the Dockerfile does from its
//! `REVISION` build argument (the build context has no `.git`).
//!
//! Cargo re-runs this script only when a watched file changes, so it
//! watches what a commit moves: `HEAD`, the branch ref `HEAD` names and
//! `packed-refs`, found by asking git where they are, which also holds in
//! a worktree (where `.git` is a file pointing elsewhere) and in a fresh
//! clone (where the branch is only in `packed-refs`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=APIFY_EXPORTER_REVISION");
    let given = std::env::var("APIFY_EXPORTER_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty());
    if given.is_none() {
        for path in watched() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let revision = given
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=APIFY_EXPORTER_REVISION={revision}");
}

/// The files whose change means a new revision.
fn watched() -> Vec<PathBuf> {
    let (Some(git_dir), Some(common_dir)) = (
        git(&["rev-parse", "--git-dir"]),
        git(&["rev-parse", "--git-common-dir"]),
    ) else {
        return Vec::new();
    };
    let (git_dir, common_dir) = (PathBuf::from(git_dir), PathBuf::from(common_dir));
    let mut paths = vec![git_dir.join("HEAD")];
    // Detached, HEAD holds the commit itself; on a branch, its name.
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let loose = common_dir.join(&branch);
        if loose.exists() {
            paths.push(loose);
        } else if let Some(dir) = loose.ancestors().skip(1).find(|d| d.exists()) {
            // Packed only (a fresh clone): the next commit writes the
            // loose ref under the nearest directory that exists (for a
            // branch `feature/x`, `refs/heads` until `feature/` is made);
            // cargo watches a directory's whole tree.
            paths.push(dir.to_path_buf());
        }
    }
    let packed = common_dir.join("packed-refs");
    if packed.exists() {
        paths.push(packed);
    }
    paths
}

/// One line of git's output, or `None` when git is absent or fails.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    Command::new("git")
        .args(args)
        .current_dir(Path::new(&dir))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
