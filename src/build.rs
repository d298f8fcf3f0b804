//! The release build links with `src/link/hot-text.ld` (`.cargo/config.toml`),
//! a file cargo does not know the binary depends on: without this, `make
//! hot-text` followed by `make build` would keep the old layout.
fn main() {
    println!("cargo:rerun-if-changed=src/link/hot-text.ld");
}
