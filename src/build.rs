//! The release build links with `src/link/hot-text.ld` and
//! `src/link/no-unwind-tables.ld` (`.cargo/config.toml`), files cargo does
//! not know the binary depends on: without this, `make hot-text` followed
//! by `make build` would keep the old layout.
//!
//! It also writes the dashboard's Content-Security-Policy header
//! (`$OUT_DIR/csp.txt`, [`csp::policy_for`] of `src/index.html`, which
//! `src/http.rs` includes): hashing the 35 KB page took about 3.3 million
//! instructions of every start, before the port answered (issue 16).

#[path = "csp.rs"]
mod csp;

fn main() {
    println!("cargo:rerun-if-changed=src/link/hot-text.ld");
    println!("cargo:rerun-if-changed=src/link/no-unwind-tables.ld");
    println!("cargo:rerun-if-changed=src/index.html");
    println!("cargo:rerun-if-changed=src/csp.rs");
    let root = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let page = root.join("src/index.html");
    let html = std::fs::read(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("csp.txt");
    std::fs::write(&out, csp::policy_for(&html))
        .unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}
