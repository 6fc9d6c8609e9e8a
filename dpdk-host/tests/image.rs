//! The container image (`docker/Containerfile`, `scripts/image.sh`): built
//! FROM scratch with buildah (vfs storage private to the test), then its
//! default command (the built-in sample through `net_pcap`) run with
//! `buildah run --isolation chroot`, output in a mounted directory:
//!
//! * the host applied every message of the sample, every frame classified
//!   once, every snapshot sent (`--stats-json`, against the sample's
//!   manifest);
//! * the FIX in its TX pcap equals `tickwire replay` of the same sample,
//!   field by field except SendingTime (52) and CheckSum (10).
//!
//! Where the sandbox refuses `buildah run` before tickwire starts, the same
//! root filesystem is run with plain chroot(8) and the test says so
//! (`TICKWIRE_IMAGE_RUN=chroot` does that from the start).
//! The image, its containers and the storage are removed at the end. Needs
//! root and buildah (the script installs Debian's when missing).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// The engine sizes in the image's CMD (docker/Containerfile).
const ENGINE: [&str; 4] = ["--max-orders", "100000", "--max-levels", "200000"];

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/image.sh")
}

/// `scripts/image.sh VERB` with the test's tag, staging dir and storage.
fn image_sh(verb: &str, env: &[(&str, &Path)], tag: &str) -> Finished {
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .arg(verb)
        .env("TAG", tag)
        .env("TICKWIRE_BIN", BIN);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_with_timeout(&mut cmd, Duration::from_secs(300))
}

/// Removes the image, its containers and the private storage on drop.
struct Cleanup<'a> {
    env: &'a [(&'a str, &'a Path)],
    tag: &'a str,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let c = image_sh("clean", self.env, self.tag);
        if !c.status.success() {
            eprintln!("image clean failed:\n{}", c.stderr);
        }
    }
}

#[test]
fn image_runs_the_sample_like_the_replayer() {
    let t0 = Instant::now();
    let dir = TempDir::new("image");
    let (stage, storage, out) = (dir.join("stage"), dir.join("storage"), dir.join("out"));
    let env = [
        ("STAGE", stage.as_path()),
        ("STORAGE", storage.as_path()),
        ("OUT", out.as_path()),
    ];
    let tag = format!("test-{}", std::process::id());
    let _cleanup = Cleanup {
        env: &env,
        tag: &tag,
    };

    let b = image_sh("build", &env, &tag);
    b.assert_success("scripts/image.sh build");
    let built = t0.elapsed();
    let size = lines_starting(&b.stderr, "== image: built");
    eprintln!("{}", size.join("\n"));

    // TICKWIRE_IMAGE_RUN=chroot skips buildah run (a sandbox where it hangs).
    let chroot_only = std::env::var_os("TICKWIRE_IMAGE_RUN").is_some_and(|v| v == "chroot");
    let (mut how, mut r) = if chroot_only {
        (
            "chroot (TICKWIRE_IMAGE_RUN=chroot)",
            image_sh("chroot", &env, &tag),
        )
    } else {
        (
            "buildah run --isolation chroot",
            image_sh("run", &env, &tag),
        )
    };
    let started = |f: &Finished| {
        !lines_starting(&f.stderr, "tickwire").is_empty() || f.stderr.contains("EAL:")
    };
    if !r.status.success() && !started(&r) {
        // Refused before tickwire started (not an image fault): same rootfs,
        // plain chroot.
        eprintln!(
            "NOTE: buildah run was refused here, running the same root filesystem with chroot:\n{}",
            r.stderr
        );
        how = "chroot (buildah run refused)";
        r = image_sh("chroot", &env, &tag);
    }
    r.assert_success(how);
    let ran = t0.elapsed() - built;

    // The sample inside the image and its ground truth.
    let sample = stage.join("rootfs/sample/sample.pcap");
    let m = read_json(&stage.join("rootfs/sample/sample.manifest.json"));
    let frames = u(&m, "pcap.packets.frames");
    let h = read_json(&out.join("stats.json"));

    // Every message of the sample applied; every frame classified once.
    assert_eq!(u(&h, "rx_packets"), frames, "rx_packets == frames");
    assert_eq!(u(&h, "packets.total"), frames, "packets.total == frames");
    assert_eq!(u(&h, "packets.applied"), frames, "every frame applied");
    assert_eq!(
        u(&h, "messages.applied"),
        u(&m, "total_messages"),
        "every message of the sample applied"
    );
    for k in ["duplicate", "missing", "malformed"] {
        assert_eq!(u(&h, &format!("messages.{k}")), 0, "messages.{k}");
    }
    assert_eq!(h["reconciled"]["rx_equals_classified"], true);
    assert_eq!(
        h["reconciled"]["fix_snapshots_equal_sent_plus_dropped"],
        true
    );
    assert_eq!(u(&h, "fix.dropped"), 0);
    assert_eq!(h["hugepages"], false);

    // The FIX it sent equals the replayer's on the same sample.
    let tx = std::fs::read(out.join("fix.pcap")).expect("the image wrote /out/fix.pcap");
    let (fix, datagrams) = fix_from_capture(&tx, 30001, 1500 - 28);
    let got = fix_messages("image", &fix);
    let rep = replay(&dir, "sample", &sample, &ENGINE);
    let want = fix_messages("replayer", &rep.fix);
    assert!(got.len() > 100, "only {} FIX messages", got.len());
    check_snapshot_layout("image", &got, 3);
    assert_fix_equal("image vs replayer", &got, &want, &[52, 10]);
    assert_eq!(u(&h, "fix.sent"), got.len() as u64);
    assert_eq!(u(&h, "fix.datagrams_sent"), datagrams as u64);

    eprintln!(
        "image: built in {:.1} s, ran the sample with {how} in {:.1} s: {frames} frames, {} messages applied, {} FIX messages equal to the replayer's",
        built.as_secs_f64(),
        ran.as_secs_f64(),
        u(&h, "messages.applied"),
        got.len()
    );
}
