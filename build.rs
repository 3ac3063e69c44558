// sqlx::migrate! embeds migrations/ at compile time: a new migration file
// must rebuild the crate even when no Rust source changed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=build.rs");
    // The mailroom binary is linked at a fixed address (not PIE): a PIE of this
    // size has ~73,000 relative relocations that the loader applies at every
    // start, touching ~900 pages, and an MTA starts `ingest -` once per mail.
    // Linux x86-64 only; elsewhere the platform default stays.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if os == "linux" && arch == "x86_64" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
