//! The test helpers' own promise about /tmp: a test's directory is gone
//! when the test ends, passed or failed, unless `SYSMON_KEEP_TEST_DIRS`
//! asks to keep a failed one. Before, a failed test kept its tree for
//! good, and /tmp held dozens of `sysmon-test-*` trees of earlier runs.
mod common;
use common::*;
use std::path::PathBuf;

/// A test that fails (panics) with a tree in its directory: the tree is
/// removed when the panic unwinds through the `TempDir`, unless the
/// variable is set (then it is kept, as asked, and removed here).
#[test]
fn a_failed_tests_directory_is_removed_unless_asked_to_keep() {
    let mut made: Option<PathBuf> = None;
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let dir = TempDir::new("failing-on-purpose");
        std::fs::create_dir_all(dir.join("state/deep")).unwrap();
        std::fs::write(dir.join("state/deep/file"), "x").unwrap();
        made = Some(dir.path().to_path_buf());
        panic!("a test failing on purpose");
    }));
    assert!(failed.is_err());
    let made = made.unwrap();
    if std::env::var_os(KEEP_TEST_DIRS).is_some() {
        assert!(made.is_dir(), "{KEEP_TEST_DIRS} is set: kept");
        std::fs::remove_dir_all(&made).unwrap();
    } else {
        assert!(!made.exists(), "{} left behind", made.display());
    }
}

/// A passing test leaves nothing either.
#[test]
fn a_passed_tests_directory_is_removed() {
    let dir = TempDir::new("passing");
    std::fs::write(dir.join("file"), "x").unwrap();
    let path = dir.path().to_path_buf();
    drop(dir);
    assert!(!path.exists(), "{} left behind", path.display());
}
