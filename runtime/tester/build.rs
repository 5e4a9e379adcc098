//! Build metadata for `vm.getFoundryVersion`: forja answers as Foundry 1.7.1
//! and fills the `+<sha>.<timestamp>.<profile>` part, which Foundry's format
//! leaves to the build, with forja's own commit, commit time and profile.
//! The commit time (not the build time) keeps builds reproducible.

use std::{path::Path, process::Command};

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A new commit changes the answer of a release build (what `cargo
    // install` makes): watch HEAD, the branch it names and the packed refs
    // (only files that exist: a missing one reruns always). A dev build keeps
    // the commit it was first built at, because watching HEAD there would
    // recompile this crate and every crate above it after each commit.
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    if release {
        let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(branch);
        }
        for name in &watched {
            if let Some(path) = git(&["rev-parse", "--git-path", name]) {
                let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
                if path.is_file() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
    }

    // Outside a git checkout (a source archive): zeros, as long as Foundry's.
    let sha = git(&["rev-parse", "HEAD"])
        .filter(|sha| sha.len() >= 10)
        .map(|sha| sha[..10].to_string())
        .unwrap_or_else(|| "0".repeat(10));
    let timestamp = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .or_else(|| git(&["log", "-1", "--format=%ct"]))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default()
                .to_string()
        });
    // The profile's directory name (`debug`, `release`, a custom profile):
    // OUT_DIR is target/<profile>/build/<package>-<hash>/out.
    let profile = std::env::var("OUT_DIR")
        .ok()
        .and_then(|out| {
            Path::new(&out)
                .components()
                .rev()
                .nth(3)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
        })
        .or_else(|| std::env::var("PROFILE").ok())
        .unwrap_or_else(|| "debug".into());
    println!("cargo:rustc-env=FORJA_BUILD_METADATA={sha}.{timestamp}.{profile}");
}
