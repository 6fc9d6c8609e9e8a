//! Build script for `tickwire-sys`.
//!
//! 1. Probes `libdpdk >= 22.11` with pkg-config (Debian: `apt-get install libdpdk-dev`).
//! 2. Compiles `shim/shim.c` (out-of-line wrappers for DPDK's static-inline
//!    hot-path functions) with *all* of pkg-config's `--cflags`.
//! 3. Runs bindgen over `shim/wrapper.h` with the same cflags as clang args.
//! 4. Emits link directives: the static shim first, then pkg-config's `-l`s
//!    (shared libraries; PMDs are dlopen'ed by EAL from its plugin dir).

use std::env;
use std::path::PathBuf;

const MIN_DPDK: &str = "22.11";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=shim/shim.c");
    println!("cargo:rerun-if-changed=shim/shim.h");
    println!("cargo:rerun-if-changed=shim/wrapper.h");
    println!("cargo:rerun-if-env-changed=LIBCLANG_PATH");

    // --- 1. pkg-config probe -------------------------------------------------
    // cargo_metadata(false): we emit the link lines ourselves, *after* the
    // static shim, so that `--as-needed` sees the shim's references to
    // librte_* before the shared libraries.
    let dpdk = pkg_config::Config::new()
        .atleast_version(MIN_DPDK)
        .cargo_metadata(false)
        .env_metadata(true)
        .probe("libdpdk")
        .unwrap_or_else(|e| {
            panic!(
                "\n\ntickwire-sys needs DPDK >= {MIN_DPDK} development files found via \
                 pkg-config (libdpdk.pc).\n\
                 On Debian/Ubuntu: `apt-get install libdpdk-dev pkg-config`\n\
                 (or set PKG_CONFIG_PATH to a DPDK install's lib/pkgconfig).\n\
                 pkg-config said: {e}\n"
            )
        });

    // Everything from `pkg-config --cflags libdpdk`, verbatim, in order
    // (Debian's include `-include rte_config.h` and `-march=corei7`).
    let cflags = pkg_config_output(&["--cflags", "libdpdk"]);

    // --- 2. C shim -------------------------------------------------------------
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let shim_dir = manifest_dir.join("shim");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    let mut build = cc::Build::new();
    build
        .file(shim_dir.join("shim.c"))
        .include(&shim_dir)
        .opt_level(3);
    for flag in &cflags {
        build.flag(flag);
    }
    // DPDK headers trigger a few of these with -Wextra; keep the shim quiet.
    build.flag_if_supported("-Wno-unused-parameter");
    build.cargo_metadata(false);
    build.compile("tw_shim");
    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-lib=static=tw_shim");

    // --- 4. link DPDK (after the shim) ----------------------------------------
    for path in &dpdk.link_paths {
        println!("cargo:rustc-link-search=native={}", path.display());
    }
    for lib in &dpdk.libs {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
    // Exposed to dependents' build scripts as DEP_RTE_EAL_* (links = "rte_eal").
    println!("cargo:version={}", dpdk.version);
    println!(
        "cargo:include={}",
        env::join_paths(&dpdk.include_paths)
            .expect("include paths")
            .to_string_lossy()
    );

    // --- 3. bindgen ------------------------------------------------------------
    let bindings = bindgen::Builder::default()
        .header(shim_dir.join("wrapper.h").to_str().expect("UTF-8 path"))
        .clang_args(&cflags)
        .clang_arg(format!("-I{}", shim_dir.display()))
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .use_core()
        .ctypes_prefix("::core::ffi")
        .layout_tests(true)
        .derive_default(true)
        .derive_debug(true)
        .impl_debug(false)
        .prepend_enum_name(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .generate_comments(false)
        .allowlist_function("rte_.*")
        .allowlist_function("tw_.*")
        .allowlist_type("rte_.*")
        .allowlist_var("RTE_.*")
        .allowlist_var("E_RTE_.*")
        .allowlist_var("SOCKET_ID_ANY")
        // rte_ring_create flags (RING_F_SP_ENQ, RING_F_SC_DEQ, ...).
        .allowlist_var("RING_F_.*")
        .allowlist_var("LCORE_ID_ANY")
        // Per-lcore variables are C `__thread`s; an `extern static` would read
        // the wrong address. Use tw_errno()/tw_lcore_id() instead.
        .blocklist_item("per_lcore_.*")
        // Packed protocol headers that bindgen cannot express in Rust
        // (checked against 22.11.11):
        // - rte_l2tpv2_combined_msg_hdr: packed struct containing an aligned
        //   bitfield unit -> E0588 "packed type cannot transitively contain a
        //   #[repr(align)] type".
        // - rte_gtp_psc_generic_hdr: packed bitfields; its derived Debug fails
        //   for rte_flow_item_gtp_psc (E0277).
        // - rte_arp_hdr / rte_arp_ipv4: not reached by this wrapper today (no
        //   rte_arp.h), but the same packed+aligned problem if it ever is.
        // Nothing in tickwire reads their fields from Rust (headers are parsed
        // in tickwire-core), so opaque blobs of the right size are enough.
        .opaque_type("rte_l2tpv2_combined_msg_hdr")
        .opaque_type("rte_gtp_psc_generic_hdr")
        .opaque_type("rte_arp_hdr")
        .opaque_type("rte_arp_ipv4")
        // Constants built from function-like macros (RTE_BIT64(...)), e.g.
        // RTE_ETH_RSS_IP, RTE_ETH_RX_OFFLOAD_*: evaluate them with clang.
        .clang_macro_fallback()
        // ...and keep its scratch files (wrapper-precompile.h, .pch) out of the
        // source tree.
        .clang_macro_fallback_build_dir(&out_dir)
        .generate()
        .expect("bindgen failed on shim/wrapper.h (is libclang-dev installed? LIBCLANG_PATH?)");

    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("write bindings.rs");
}

/// `pkg-config ARGS...` split on whitespace (DPDK's flags contain no quoted spaces).
fn pkg_config_output(args: &[&str]) -> Vec<String> {
    let pc = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let out = std::process::Command::new(&pc)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running `{pc} {}`: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "`{pc} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("pkg-config output is UTF-8")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}
