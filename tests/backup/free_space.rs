//! A destination that clearly cannot hold the archive refuses the backup
//! before writing, with a clear error, instead of filling the disk
//! (issue #3). A 1 MiB tmpfs as backup_dir (in a private mount namespace:
//! root only) and 8 MiB of incompressible source.
use crate::common::*;
use std::process::Command;

#[test]
fn a_destination_too_small_is_refused_before_writing() {
    if !is_root("free-space guard test (mounts a tiny tmpfs in a private namespace)") {
        return;
    }
    if !have_tool(
        "unshare",
        "free-space guard test needs a private mount namespace",
    ) {
        return;
    }
    let dir = TempDir::new("free-space");
    let source = dir.join("source");
    std::fs::create_dir_all(&source).unwrap();
    let mut x: u64 = 0x1234_5678;
    let noise: Vec<u8> = (0..8 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(source.join("noise.bin"), noise).unwrap();
    let backups = dir.join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let config = dir.config(&format!(
        "backup_source = {}\nupdate_manager = none",
        source.display()
    ));
    let script = format!(
        "mount -t tmpfs -o size=1m sysmon-test {b} && {bin} backup --config {c}; echo \"exit=$?\"; ls -A {b}",
        b = backups.display(),
        bin = BIN,
        c = config.display()
    );
    let out = run({
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "private", "sh", "-c", &script]);
        c
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("exit=1"), "the backup must fail: {stdout}");
    assert!(
        stderr.contains("not enough space in"),
        "a clear reason: {stderr}"
    );
    // Nothing was written into the tmpfs: no archive, no temporary.
    let listing = stdout.split("exit=1").nth(1).unwrap_or("").trim();
    assert_eq!(listing, "", "files left in the destination: {listing}");
}
