//! The release build links with `src/link/hot-text.ld` and
//! `src/link/no-unwind-tables.ld` (`.cargo/config.toml`), files cargo does
//! not know the binary depends on: without this, `make hot-text` followed
//! by `make build` would keep the old layout.
fn main() {
    println!("cargo:rerun-if-changed=src/link/hot-text.ld");
    println!("cargo:rerun-if-changed=src/link/no-unwind-tables.ld");
}
