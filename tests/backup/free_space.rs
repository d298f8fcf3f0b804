//! Room in `backup_dir`: a backup that cannot fit is refused before
//! writing with a clear error (issue #3), one that fits once compressed is
//! made, and one that turns out not to fit stops at what is kept free for
//! other programs, its temporary removed and older archives untouched.
//! Each runs on a small tmpfs as `backup_dir`, mounted in a private mount
//! namespace (root only; skipped loudly otherwise). What is kept free on a
//! file system that small is a tenth of it (`src/backup/space.rs`).
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::daemon::{proc_with_boot_id, wait_state};
use crate::common::*;

/// Whether this test can mount a tmpfs in a private namespace (prints
/// SKIPPED when not).
fn can_mount_tmpfs(what: &str) -> bool {
    is_root(&format!(
        "{what} (mounts a small tmpfs in a private namespace)"
    )) && have_tool(
        "unshare",
        &format!("{what} needs a private mount namespace"),
    )
}

/// `sh -c` in a private mount namespace where a tmpfs of `size` (`2m`)
/// is mounted on `at` first, then `then` runs.
fn on_a_tmpfs(size: &str, at: &Path, then: &str) -> Command {
    let script = format!(
        "mount -t tmpfs -o size={size} sysmon-test {at} && {then}",
        at = at.display()
    );
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LC_ALL", "C");
    c
}

/// `sysmon backup` into a tmpfs of `size` at `backups`; stdout ends with
/// `exit=N` and the tmpfs' listing after it.
fn backup_on_a_tmpfs(size: &str, backups: &Path, config: &Path) -> (String, String) {
    fs::create_dir_all(backups).unwrap();
    let out = run(on_a_tmpfs(
        size,
        backups,
        &format!(
            "{BIN} backup --config {}; echo \"exit=$?\"; ls -A {}",
            config.display(),
            backups.display()
        ),
    ));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `len` bytes of xorshift noise: deflate cannot shrink them.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `len` bytes of a web server's access log: every line's time, pid and
/// duration differ, five requests repeat. Deflate (level 6) makes 12 MiB
/// of it 0.87 MiB, about 14:1, as real logs go.
fn web_log(len: usize) -> Vec<u8> {
    let requests = [
        "GET /api/v1/items 200",
        "POST /api/v1/login 302",
        "GET /static/app.js 304",
        "GET /healthz 200",
        "session opened for user www-data",
    ];
    let mut log = String::with_capacity(len + 100);
    let mut i = 0usize;
    while log.len() < len {
        log.push_str(&format!(
            "2026-12-{:02} {:02}:{:02}:{:02} web-01 nginx[{}]: {} {}ms\n",
            1 + i / 86400 % 28,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60,
            4242 + i / 5000,
            requests[i * 7 % 5],
            i * 37 % 200
        ));
        i += 1;
    }
    log.truncate(len);
    log.into_bytes()
}

#[test]
fn a_destination_too_small_is_refused_before_writing() {
    if !can_mount_tmpfs("free-space guard test") {
        return;
    }
    let dir = TempDir::new("free-space");
    let source = dir.join("source");
    fs::create_dir_all(&source).unwrap();
    // Stored, not deflated, because of its name: the check knows that much
    // without reading it, so 8 MiB cannot go into 1 MiB.
    fs::write(source.join("noise.xz"), noise(8 << 20)).unwrap();
    let backups = dir.join("backups");
    let config = dir.config(&format!(
        "backup_source = {}\nupdate_manager = none",
        source.display()
    ));
    let (stdout, stderr) = backup_on_a_tmpfs("1m", &backups, &config);
    assert!(stdout.contains("exit=1"), "the backup must fail: {stdout}");
    assert!(
        stderr.contains(&format!("not enough space in {}", backups.display()))
            && stderr.contains("the archive needs at least"),
        "a clear reason: {stderr}"
    );
    // Nothing was written into the tmpfs: no archive, no temporary.
    let listing = stdout.split("exit=1").nth(1).unwrap_or("").trim();
    assert_eq!(listing, "", "files left in the destination: {listing}");
}

/// 12 MiB of logs into 2 MiB: the check before counted deflate at 4:1
/// (3 MiB) and refused, "the archive needs at least 3 MB", on exactly the
/// box whose disk is filling up; deflate makes 0.9 MiB of it.
#[test]
fn a_compressible_source_larger_than_the_free_space_is_archived() {
    if !can_mount_tmpfs("compressible-source free-space test") {
        return;
    }
    let dir = TempDir::new("free-space-logs");
    let source = dir.join("source");
    fs::create_dir_all(&source).unwrap();
    fs::write(source.join("access.log"), web_log(12 << 20)).unwrap();
    let backups = dir.join("backups");
    let config = dir.config(&format!(
        "backup_source = {}\nupdate_manager = none",
        source.display()
    ));
    let (stdout, stderr) = backup_on_a_tmpfs("2m", &backups, &config);
    assert!(
        stdout.contains("exit=0"),
        "the backup must be made: {stdout}\n{stderr}"
    );
    let listing: Vec<&str> = stdout
        .split("exit=0")
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert!(
        listing.len() == 1 && listing[0].starts_with("backup_") && listing[0].ends_with(".zip"),
        "one archive and nothing else: {listing:?}"
    );
}

/// 32 MiB of noise under a name that does not say it is compressed: the
/// check before writing cannot know, so it lets it start (its least is
/// 32 KiB); writing stops at what is kept free (0.8 MiB of 8 MiB), not
/// at a full disk. The record says why; the temporary is gone and the
/// older archive beside it is byte for byte what it was.
#[test]
fn a_backup_that_fills_the_disk_stops_at_the_reserve() {
    if !can_mount_tmpfs("reserve-while-writing test") {
        return;
    }
    let td = TempDir::new("free-space-reserve");
    let source = td.join("source");
    fs::create_dir_all(&source).unwrap();
    fs::write(source.join("noise.bin"), noise(32 << 20)).unwrap();
    let backups = td.join("backups");
    fs::create_dir_all(&backups).unwrap();
    let config = td.config(&format!(
        "update_manager = none\nmounts = /\nbackup_source = {}",
        source.display()
    ));
    let proc_root = proc_with_boot_id(&td, "33333333-3333-3333-3333-333333333333");
    let old_name = "backup_20200101_000000.zip";
    let old_bytes = noise(100 << 10);
    let old_copy = td.join("old.zip");
    fs::write(&old_copy, &old_bytes).unwrap();
    let d = Daemon::spawn(on_a_tmpfs(
        "8m",
        &backups,
        &format!(
            "cp {old} {b}/{old_name} && exec {BIN} run --listen 127.0.0.1:0 --config {c} \
             --proc-root {p}",
            old = old_copy.display(),
            b = backups.display(),
            c = config.display(),
            p = proc_root.display()
        ),
    ));
    let v = wait_state(&d, "failed", Duration::from_secs(60));
    let error = text(&v, &["backup", "last", "error"]).unwrap_or_default();
    assert!(
        error.starts_with(&format!("stopped writing to {} after ", backups.display()))
            && error.contains("MB kept free for other programs"),
        "the reason, naming the directory: {error}\n{}",
        d.dump()
    );
    let record = fs::read_to_string(td.join("state/backup_last.json")).unwrap();
    assert!(
        record.contains("stopped writing to"),
        "the record says why: {record}"
    );
    // The tmpfs as the daemon sees it, through its root.
    let seen = Path::new(&format!("/proc/{}/root", d.pid())).join(
        backups
            .strip_prefix("/")
            .expect("TempDir paths are absolute"),
    );
    let mut names: Vec<String> = fs::read_dir(&seen)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [old_name],
        "no temporary, no new archive: {names:?}\n{}",
        d.dump()
    );
    assert!(
        fs::read(seen.join(old_name)).unwrap() == old_bytes,
        "the older archive is untouched"
    );
}

/// A large file sysmon may not read (root's, mode 0600, a name that says
/// stored) is skipped when archived, so it must not count in the least the
/// archive takes: 8 MiB of it beside a small readable file, into 4 MiB, as
/// nobody. Before, the scan counted it in full and refused the backup
/// ("the archive needs at least 8.0 MB"), though the archive is 0.3 KB.
#[test]
fn an_unreadable_large_file_does_not_refuse_a_backup_that_fits() {
    if !can_mount_tmpfs("unreadable file and the free-space guard")
        || !have_tool("setpriv", "runs sysmon as nobody")
    {
        return;
    }
    let dir = TempDir::new("free-space-unreadable");
    let source = dir.join("source");
    fs::create_dir_all(&source).unwrap();
    fs::write(source.join("readable.txt"), "hello\n").unwrap();
    let secret = source.join("secret.xz");
    fs::write(&secret, noise(8 << 20)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    for d in [dir.path(), source.as_path()] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let state = dir.join("state");
    fs::create_dir_all(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o777)).unwrap();
    let backups = dir.join("backups");
    fs::create_dir_all(&backups).unwrap();
    let config = dir.config(&format!(
        "backup_source = {}\nupdate_manager = none",
        source.display()
    ));
    let out = run(on_a_tmpfs(
        "4m",
        &backups,
        &format!(
            "chmod 777 {b} && setpriv --reuid=65534 --regid=65534 --clear-groups \
             {BIN} backup --config {c}; echo \"exit=$?\"; ls -A {b}",
            b = backups.display(),
            c = config.display()
        ),
    ));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains("exit=3") && stdout.contains("INCOMPLETE: 1"),
        "written, the secret skipped: {stdout}\n{stderr}"
    );
    assert!(!stderr.contains("not enough space"), "{stderr}");
    let listing = stdout.split("exit=3").nth(1).unwrap_or("");
    assert_eq!(
        listing.lines().filter(|l| l.starts_with("backup_")).count(),
        1,
        "{listing}"
    );
}
