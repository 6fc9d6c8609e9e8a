//! Build provenance recorded by the root `build.rs`.

/// Git commit the binary was built from (`unknown` outside a checkout).
pub const GIT_COMMIT: &str = env!("TICKWIRE_GIT_COMMIT");
/// DPDK version found by pkg-config at build time (`none` when absent).
pub const DPDK_VERSION: &str = env!("TICKWIRE_DPDK_VERSION");
/// Target CPU features enabled for this build.
pub const TARGET_FEATURES: &str = env!("TICKWIRE_TARGET_FEATURES");
/// Build profile (`debug` or `release`).
pub const PROFILE: &str = env!("TICKWIRE_PROFILE");
/// rustc version used for the build.
pub const RUSTC_VERSION: &str = env!("TICKWIRE_RUSTC_VERSION");

/// One multi-line human-readable summary, as `tickwire --version` prints it.
pub fn summary() -> String {
    format!(
        "tickwire {}\ncommit: {}\nprofile: {}\nrustc: {}\ndpdk (pkg-config at build): {}\ntarget features: {}",
        env!("CARGO_PKG_VERSION"),
        GIT_COMMIT,
        PROFILE,
        RUSTC_VERSION,
        DPDK_VERSION,
        TARGET_FEATURES
    )
}
