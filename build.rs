//! Records build provenance for `tickwire --version`: the git commit, the DPDK
//! version pkg-config reports, the enabled target CPU features, profile and rustc.
use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn main() {
    let commit = run("git", &["rev-parse", "--short=12", "HEAD"])
        .map(|c| {
            let dirty = run("git", &["status", "--porcelain", "--untracked-files=no"]).is_some();
            if dirty {
                format!("{c}-dirty")
            } else {
                c
            }
        })
        .unwrap_or_else(|| "unknown".into());
    let dpdk = run("pkg-config", &["--modversion", "libdpdk"]).unwrap_or_else(|| "none".into());
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE")
        .unwrap_or_default()
        .replace(',', " ");
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = run(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());

    println!("cargo:rustc-env=TICKWIRE_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=TICKWIRE_DPDK_VERSION={dpdk}");
    println!("cargo:rustc-env=TICKWIRE_TARGET_FEATURES={features}");
    println!("cargo:rustc-env=TICKWIRE_PROFILE={profile}");
    println!("cargo:rustc-env=TICKWIRE_RUSTC_VERSION={rustc_version}");
    // Re-run when HEAD moves, a branch advances (commits update the ref file,
    // not HEAD), refs are packed, or the index changes (dirty state).
    let mut watch = vec![
        ".git/HEAD".to_owned(),
        ".git/index".to_owned(),
        ".git/packed-refs".to_owned(),
        ".git/refs/heads".to_owned(),
    ];
    if let Ok(head) = std::fs::read_to_string(".git/HEAD") {
        if let Some(r) = head.trim().strip_prefix("ref: ") {
            watch.push(format!(".git/{r}"));
        }
    }
    for p in watch {
        if std::path::Path::new(&p).exists() {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-changed=build.rs");
}
