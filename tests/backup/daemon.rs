//! The backup inside the daemon runs once per kernel boot, keeps
//! `/data.json` live and showing progress during a large backup, and is
//! never left as a corrupt or half-named archive by an interruption
//! (SIGTERM, kill -9), a directory swapped for a symlink mid-backup, or
//! unreadable files (then it is partial, not ok) (issue #3).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{backup_named, temporaries, unzip_ok};
use crate::common::{
    Daemon, TempDir, assert_promtool_accepts, field, have_tool, mkfifo, number, run,
    running_as_root, sysmon, text,
};
use miniserde::json::Value;

/// A copy of the VM /proc fixture with its own `sys/kernel/random/boot_id`.
pub(super) fn proc_with_boot_id(td: &TempDir, boot_id: &str) -> PathBuf {
    let root = td.join("proc");
    if !root.exists() {
        let out = run({
            let mut c = Command::new("cp");
            c.arg("-r")
                .arg(crate::common::fixture("proc/debian12-vm-2core"))
                .arg(&root);
            c
        });
        assert!(out.status.success());
    }
    fs::create_dir_all(root.join("sys/kernel/random")).unwrap();
    fs::write(
        root.join("sys/kernel/random/boot_id"),
        format!("{boot_id}\n"),
    )
    .unwrap();
    root
}

/// About `mb` MB: 1 MB text files (compressible, deflated) and one large
/// pseudo-random file (stored).
fn big_tree(dir: &Path, mb: usize) {
    fs::create_dir_all(dir.join("text")).unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words: Vec<String> = (0..4000)
        .map(|i| format!("w{}{}", i, ["alpha", "beta", "gamma", "delta"][i % 4]))
        .collect();
    let mut block = String::with_capacity(1 << 20);
    while block.len() < 1 << 20 {
        block.push_str(&words[(next() % words.len() as u64) as usize]);
        block.push(if next() % 12 == 0 { '\n' } else { ' ' });
    }
    let text_files = mb * 2 / 3;
    for i in 0..text_files {
        let mut f = fs::File::create(dir.join(format!("text/f{i:04}.txt"))).unwrap();
        // Rotate the block so that files differ.
        let cut = (i * 7919) % block.len();
        let cut = (cut..block.len())
            .find(|&c| block.is_char_boundary(c))
            .unwrap_or(0);
        f.write_all(&block.as_bytes()[cut..]).unwrap();
        f.write_all(&block.as_bytes()[..cut]).unwrap();
    }
    let mut f = fs::File::create(dir.join("random.bin")).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..(mb - text_files) {
        for chunk in buf.chunks_mut(8) {
            chunk.copy_from_slice(&next().to_le_bytes());
        }
        f.write_all(&buf).unwrap();
    }
}

fn start(config: &Path, proc_root: &Path) -> Daemon {
    Daemon::start(&[
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        proc_root.to_str().unwrap(),
    ])
}

/// Polls /data.json until `backup.state` is `want` (or time runs out).
pub(super) fn wait_state(d: &Daemon, want: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let v = d.data();
        if text(&v, &["backup", "state"]).as_deref() == Some(want) {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "backup state never became {want}; last {}\n{}",
            miniserde::json::to_string(&v),
            d.dump()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn once_per_boot() {
    let td = TempDir::new("backup-boot-once");
    let backups = td.join("backups");
    let (_src, config, proc_root, mut d, v) =
        daemon_after_boot_backup(&td, "11111111-1111-1111-1111-111111111111");
    assert!(text(&v, &["backup", "last", "file"]).is_some_and(|f| Path::new(&f).exists()));
    assert_eq!(backup_named(&backups).len(), 1);
    d.signal(15);
    d.wait_exit(Duration::from_secs(5))
        .expect("stops on SIGTERM");

    // Same boot: no second backup, and the last result is still shown.
    let mut d = start(&config, &proc_root);
    assert!(
        d.wait_log("already made for this boot", Duration::from_secs(5)),
        "{}",
        d.dump()
    );
    for _ in 0..10 {
        let v = d.data();
        assert_eq!(
            text(&v, &["backup", "state"]).as_deref(),
            Some("ok"),
            "{}",
            d.dump()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        backup_named(&backups).len(),
        1,
        "no backup again in the same boot"
    );
    d.signal(15);
    d.wait_exit(Duration::from_secs(5))
        .expect("stops on SIGTERM");

    // A new boot: a new backup.
    let proc_root = proc_with_boot_id(&td, "22222222-2222-2222-2222-222222222222");
    let d = start(&config, &proc_root);
    assert!(
        d.wait_log("backup done", Duration::from_secs(30)),
        "{}",
        d.dump()
    );
    wait_state(&d, "ok", Duration::from_secs(5));
    assert_eq!(backup_named(&backups).len(), 2, "{}", d.dump());
}

/// A backup source in `td` of one file, and a config that backs it up:
/// (source, config).
fn source_of_one_file(td: &TempDir) -> (PathBuf, PathBuf) {
    let src = td.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f.txt"), "data\n").unwrap();
    let config = td.config(&format!(
        "update_manager = none\nmounts = /\nbackup_source = {}",
        src.display()
    ));
    (src, config)
}

/// A daemon in `td` backing up a source of one file, with a /proc root of
/// boot `boot_id`, once its boot backup is done: (source, config, proc
/// root, daemon, its /data.json with `backup.state` ok).
fn daemon_after_boot_backup(
    td: &TempDir,
    boot_id: &str,
) -> (PathBuf, PathBuf, PathBuf, Daemon, Value) {
    let (src, config) = source_of_one_file(td);
    let proc_root = proc_with_boot_id(td, boot_id);
    let d = start(&config, &proc_root);
    let v = wait_state(&d, "ok", Duration::from_secs(30));
    (src, config, proc_root, d, v)
}

/// The daemon started again in the boot whose backup was made: it says
/// so (and makes none); it and its /data.json.
fn restarted_in_the_same_boot(config: &Path, proc_root: &Path) -> (Daemon, Value) {
    let d = start(config, proc_root);
    assert!(
        d.wait_log("already made for this boot", Duration::from_secs(5)),
        "{}",
        d.dump()
    );
    let v = d.data();
    (d, v)
}

/// The archive `sysmon backup` reports on stdout (`archive:  PATH`).
fn backup_by_hand(config: &Path) -> String {
    let out = run(sysmon(&["backup", "--config", config.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0), "sysmon backup by hand");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("archive:").map(|a| a.trim().to_string()))
        .expect("sysmon backup names its archive")
}

/// A backup made by hand (`sysmon backup`) is recorded as the daemon
/// records its own: a running daemon shows it as the last backup (at
/// SIGHUP here; it also looks once a minute), in /data.json and /metrics,
/// and so does one started later. Before, the daemon kept showing its own
/// older run, and `alert_backup_age` fired after a backup by hand.
#[test]
fn a_backup_made_by_hand_is_the_last_one_the_daemon_shows() {
    let td = TempDir::new("backup-by-hand");
    let (_src, config, proc_root, mut d, v) =
        daemon_after_boot_backup(&td, "33333333-3333-3333-3333-333333333333");
    let boot_archive = text(&v, &["backup", "last", "file"]).expect("the boot backup's file");

    let by_hand = backup_by_hand(&config);
    assert_ne!(by_hand, boot_archive);
    d.signal(1);
    let shown = crate::common::wait_for(Duration::from_secs(10), || {
        let v = d.data();
        (text(&v, &["backup", "last", "file"]).as_deref() == Some(by_hand.as_str())).then_some(v)
    });
    let v = shown.unwrap_or_else(|| {
        panic!(
            "the running daemon never showed {by_hand}: {}\n{}",
            miniserde::json::to_string(&d.data()),
            d.dump()
        )
    });
    let time = number(&v, &["backup", "last", "time"]).unwrap();
    let metrics = d.get("/metrics").body_text();
    assert!(
        metrics
            .lines()
            .any(|l| l == format!("sysmon_backup_last_success_timestamp_seconds {time}")),
        "/metrics shows the backup by hand (time {time}):\n{metrics}"
    );
    d.signal(15);
    d.wait_exit(Duration::from_secs(5))
        .expect("stops on SIGTERM");

    // With no daemon running: the next start shows it (and makes no boot
    // backup: this boot's was made).
    let by_hand = backup_by_hand(&config);
    let (d, v) = restarted_in_the_same_boot(&config, &proc_root);
    assert_eq!(
        text(&v, &["backup", "last", "file"]).as_deref(),
        Some(by_hand.as_str()),
        "{}",
        d.dump()
    );
    assert_eq!(text(&v, &["backup", "state"]).as_deref(), Some("ok"));
}

/// The last success outlives failed runs and restarts: after a good boot
/// backup, a failed `sysmon backup` by hand (taken up by the running daemon
/// at SIGHUP) and a restart, /metrics still has
/// `sysmon_backup_last_success_timestamp_seconds` at the good run's time
/// and its size, duration and skipped counts
/// (`sysmon_backup_last_size_bytes`, ...), the figures /data.json's
/// `backup.last.last_success_at` and `backup.last.last_success` show. The
/// Prometheus age alert, `time() - ... > 36h`, and the size panels depend
/// on it. Before, the series went with the first failure, and a restart
/// forgot the success. Beside it, `sysmon_backup_last_run_success` and
/// `sysmon_backup_last_run_timestamp_seconds` say the last run (the good
/// one, then the failed one) and when it started, from the same record.
#[test]
fn the_last_success_outlives_a_failed_backup_and_a_restart() {
    let td = TempDir::new("backup-last-success");
    let (src, config, proc_root, mut d, v) =
        daemon_after_boot_backup(&td, "44444444-4444-4444-4444-444444444444");
    let good = number(&v, &["backup", "last", "time"]).expect("the boot backup's time");
    let good_bytes = number(&v, &["backup", "last", "bytes"]).expect("the boot backup's size");
    assert!(good_bytes > 0);
    assert_eq!(
        number(&v, &["backup", "last", "last_success_at"]),
        Some(good)
    );
    assert_shows_the_last_run(&d, good, true);

    fs::remove_dir_all(&src).unwrap();
    let out = run(sysmon(&["backup", "--config", config.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    d.signal(1);
    let failed = crate::common::wait_for(Duration::from_secs(10), || {
        let v = d.data();
        (text(&v, &["backup", "state"]).as_deref() == Some("failed")).then_some(v)
    });
    let v = failed.unwrap_or_else(|| panic!("the daemon never took up the failure\n{}", d.dump()));
    assert_shows_the_success(&d, &v, good, good_bytes);
    let failed_at = number(&v, &["backup", "last", "time"]).expect("the failed run's time");
    assert!(failed_at >= good, "{failed_at} < {good}");
    assert_shows_the_last_run(&d, failed_at, false);
    d.signal(15);
    d.wait_exit(Duration::from_secs(5))
        .expect("stops on SIGTERM");

    // Same boot: no backup at start; the failure by hand is the last run.
    let (d, v) = restarted_in_the_same_boot(&config, &proc_root);
    assert_eq!(
        text(&v, &["backup", "state"]).as_deref(),
        Some("failed"),
        "{}",
        d.dump()
    );
    assert!(text(&v, &["backup", "last", "error"]).is_some());
    assert_shows_the_success(&d, &v, good, good_bytes);
    assert_shows_the_last_run(&d, failed_at, false);
}

/// A record the daemon could not read at start (no descriptors left,
/// EMFILE: injected by a debug build's knob for the start's read and the
/// one before the run is written) was taken as missing: the failed boot
/// backup of the next boot was then written over it without
/// `last_success_at`, and the last success was gone for good. The failed
/// result is now kept in memory while the record cannot be read, and
/// written, carrying the record's success, once it can (here at SIGHUP;
/// the daemon also looks once a minute).
#[test]
fn a_record_unreadable_at_start_keeps_its_last_success() {
    let td = TempDir::new("backup-record-emfile");
    let (src, config, _, mut d, v) =
        daemon_after_boot_backup(&td, "55555555-5555-5555-5555-555555555555");
    let good = number(&v, &["backup", "last", "time"]).expect("the boot backup's time");
    d.signal(15);
    d.wait_exit(Duration::from_secs(5))
        .expect("stops on SIGTERM");
    let record = td.join("state/backup_last.json");
    let recorded = fs::read_to_string(&record).unwrap();

    // A new boot, its backup due and failing (the source gone).
    fs::remove_dir_all(&src).unwrap();
    let proc_root = proc_with_boot_id(&td, "66666666-6666-6666-6666-666666666666");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--proc-root",
        proc_root.to_str().unwrap(),
    ];
    let d = Daemon::start_with(&args, |cmd| {
        cmd.env("SYSMON_TEST_BACKUP_RECORD_READ_ERRORS", "2");
    });
    wait_state(&d, "failed", Duration::from_secs(30));
    assert_eq!(
        fs::read_to_string(&record).unwrap(),
        recorded,
        "the record was replaced while it could not be read\n{}",
        d.dump()
    );
    assert!(d.wait_log("Too many open files", Duration::from_secs(1)));

    // Readable again: the failed run is recorded with the old success.
    d.signal(1);
    let written = crate::common::wait_for(Duration::from_secs(10), || {
        let text = fs::read_to_string(&record).ok()?;
        (text != recorded).then_some(text)
    })
    .unwrap_or_else(|| panic!("the failed run was never recorded\n{}", d.dump()));
    let v: Value = miniserde::json::from_str(&written).unwrap();
    assert!(text(&v, &["error"]).is_some(), "{written}");
    assert_eq!(number(&v, &["last_success_at"]), Some(good), "{written}");
    let shown = d.data();
    assert_eq!(
        number(&shown, &["backup", "last", "last_success_at"]),
        Some(good),
        "{}",
        d.dump()
    );
}

/// /metrics says the last run started at `time` and succeeded or not, in
/// an exposition promtool accepts.
fn assert_shows_the_last_run(d: &Daemon, time: u64, ok: bool) {
    let metrics = d.get("/metrics").body_text();
    for line in [
        format!("sysmon_backup_last_run_success {}", u8::from(ok)),
        format!("sysmon_backup_last_run_timestamp_seconds {time}"),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?}:\n{metrics}"
        );
    }
    if have_tool(
        "promtool",
        "promtool check metrics (Debian package prometheus)",
    ) {
        assert_promtool_accepts(metrics.as_bytes());
    }
}

/// /data.json (`v`) and /metrics show the success at `time` of `bytes`
/// while the last run failed.
fn assert_shows_the_success(d: &Daemon, v: &Value, time: u64, bytes: u64) {
    let metrics = d.get("/metrics").body_text();
    for line in [
        format!("sysmon_backup_last_success_timestamp_seconds {time}"),
        format!("sysmon_backup_last_size_bytes {bytes}"),
        "sysmon_backup_last_files_skipped 0".to_string(),
        "sysmon_backup_last_files_unreadable 0".to_string(),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?}:\n{metrics}"
        );
    }
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("sysmon_backup_last_duration_seconds ")),
        "{metrics}"
    );
    let json = miniserde::json::to_string(v);
    assert_eq!(
        number(v, &["backup", "last", "last_success_at"]),
        Some(time),
        "{json}"
    );
    assert_eq!(
        number(v, &["backup", "last", "last_success", "bytes"]),
        Some(bytes),
        "{json}"
    );
}

#[test]
fn data_json_stays_live_and_shows_progress_during_a_large_backup() {
    if !have_tool("unzip", "checking the archive") {
        return;
    }
    let td = TempDir::new("backup-live");
    let src = td.join("src");
    big_tree(&src, 300);
    let config = td.config(&format!(
        "update_manager = none\nmounts = /\nbackup_source = {}",
        src.display()
    ));
    let proc_root = proc_with_boot_id(&td, "33333333-3333-3333-3333-333333333333");
    let d = start(&config, &proc_root);
    // An answer this slow counts as held (see the assert below).
    const SLOW: Duration = Duration::from_millis(500);
    let started = Instant::now();
    let mut progress: Vec<u64> = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut slow = Vec::new();
    let mut previous = String::new();
    let last = loop {
        let t = Instant::now();
        let v = d.data();
        let took = t.elapsed();
        slowest = slowest.max(took);
        let seen = format!(
            "{:?} {:?} {:?}",
            text(&v, &["backup", "state"]),
            text(&v, &["backup", "progress", "phase"]),
            number(&v, &["backup", "progress", "bytes_done"])
        );
        if took >= SLOW {
            slow.push(format!(
                "{took:?} at {:?}: after {previous}, now {seen}",
                started.elapsed()
            ));
        }
        previous = seen;
        match text(&v, &["backup", "state"]).as_deref() {
            Some("running") => {
                if let Some(done) = number(&v, &["backup", "progress", "bytes_done"]) {
                    progress.push(done);
                }
            }
            Some("ok") => break v,
            Some("pending") => {}
            other => panic!(
                "unexpected state {other:?}: {}\n{}",
                miniserde::json::to_string(&v),
                d.dump()
            ),
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "backup too slow\n{}",
            d.dump()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!(
        "{} samples while running, slowest answer {slowest:?}",
        progress.len()
    );
    // Live means every answer comes between two slices, never after the
    // backup: a loop held by the backup answers once, after seconds (~7 s),
    // and `distinct` below counts the answers seen while it ran. A slice
    // is 5 ms (BACKUP_SLICE); slices that held the loop half a second would
    // make most answers slow. On a machine shared with other tests one
    // answer may still wait for the CPU, so one in twenty may reach SLOW
    // and none a second. SLOW was 100 ms, a figure of a quiet machine
    // (this test failed once at load 20 on two cores).
    let answers = progress.len().max(1);
    assert!(
        slowest < Duration::from_secs(1) && slow.len() * 20 <= answers,
        "/data.json answered in {SLOW:?} or more {} times of {answers} \
         (slowest {slowest:?}):\n{}\n{}",
        slow.len(),
        slow.join("\n"),
        d.dump()
    );
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress never goes back: {progress:?}"
    );
    let distinct = progress.windows(2).filter(|w| w[0] < w[1]).count();
    assert!(distinct >= 3, "progress seen increasing: {progress:?}");
    let file = text(&last, &["backup", "last", "file"]).unwrap();
    assert_eq!(number(&last, &["backup", "last", "skipped"]), Some(0));
    assert!(unzip_ok(Path::new(&file)));
}

#[test]
fn interruption_never_leaves_a_bad_archive() {
    if !have_tool("unzip", "checking archives after interruption") {
        return;
    }
    let td = TempDir::new("backup-interrupt");
    let backups = td.join("backups");
    // An older archive, made by the CLI from a small tree.
    let small = td.join("small");
    fs::create_dir_all(&small).unwrap();
    fs::write(small.join("old.txt"), "older archive\n").unwrap();
    let small_conf = td.join("small.conf");
    fs::write(
        &small_conf,
        format!(
            "backup_dir = {}\nbackup_source = {}\n",
            backups.display(),
            small.display()
        ),
    )
    .unwrap();
    assert_eq!(
        run(sysmon(&[
            "backup",
            "--config",
            small_conf.to_str().unwrap()
        ]))
        .status
        .code(),
        Some(0)
    );
    let older = backup_named(&backups);
    assert_eq!(older.len(), 1);
    let older_bytes = fs::read(&older[0]).unwrap();

    let src = td.join("src");
    big_tree(&src, 80);
    let config = td.config(&format!(
        "update_manager = none\nmounts = /\nbackup_source = {}",
        src.display()
    ));
    let proc_root = proc_with_boot_id(&td, "44444444-4444-4444-4444-444444444444");
    let wait_archiving = |d: &Daemon| {
        let start = Instant::now();
        loop {
            let v = d.data();
            if number(&v, &["backup", "progress", "bytes_done"]).is_some_and(|n| n > 0)
                && !temporaries(&backups).is_empty()
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "never saw the backup writing\n{}",
                d.dump()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    // SIGTERM mid-backup: the daemon removes its temporary and exits.
    let mut d = start(&config, &proc_root);
    wait_archiving(&d);
    d.signal(15);
    let status = d
        .wait_exit(Duration::from_secs(5))
        .expect("stops within 5 s of SIGTERM");
    assert!(status.success());
    assert!(
        temporaries(&backups).is_empty(),
        "SIGTERM removes the temporary"
    );
    assert_eq!(backup_named(&backups), older);

    // kill -9 mid-backup: the temporary stays, but never under a final name.
    let mut d = start(&config, &proc_root);
    wait_archiving(&d);
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    let left = temporaries(&backups);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        backup_named(&backups),
        older,
        "no final name for an unfinished archive"
    );

    // The next start removes the leftover and completes a backup.
    let d = start(&config, &proc_root);
    assert!(
        d.wait_log("removed 1 leftover temporary", Duration::from_secs(5)),
        "{}",
        d.dump()
    );
    assert!(!left[0].exists());
    wait_state(&d, "ok", Duration::from_secs(300));
    assert!(
        temporaries(&backups).is_empty(),
        "{:?}",
        temporaries(&backups)
    );
    let now = backup_named(&backups);
    assert_eq!(now.len(), 2, "{now:?}");
    for a in &now {
        assert!(unzip_ok(a), "{}", a.display());
    }
    assert_eq!(
        fs::read(&older[0]).unwrap(),
        older_bytes,
        "older archive untouched"
    );
}

/// Issue 11: the unprivileged owner of a directory inside a source swaps
/// `u/d` for a symlink to a root-only directory outside the sources while
/// the walk is reading a large file below it (`u/d/sub/big.bin`). Before,
/// the walk reopened `u/d` by path when it came back, followed the symlink
/// and archived the outside `zz_secret.txt`. Now it must not hold one byte
/// of it, and the swap must be in the result's skipped list and the log.
#[test]
fn a_directory_swapped_for_a_symlink_mid_backup_leaks_nothing() {
    if !have_tool("unzip", "listing and extracting the archive") {
        return;
    }
    const MARKER: &str = "SYSMON-OUTSIDE-SECRET-3b9f2c71";
    let td = TempDir::new("backup-swap");
    let src = td.join("src");
    let d = src.join("u/d");
    fs::create_dir_all(d.join("sub")).unwrap();
    // Sparse: about 2 s of deflate, a 2 MB archive, no disk used.
    let big = fs::File::create(d.join("sub/big.bin")).unwrap();
    big.set_len(2 << 30).unwrap();
    drop(big);
    fs::write(d.join("zz_secret.txt"), "placeholder\n").unwrap();
    let outside = td.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("zz_secret.txt"), format!("{MARKER}\n")).unwrap();
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o700)).unwrap();
    let config = td.config(&format!(
        "update_manager = none\nmounts = /\nbackup_source = {}",
        src.display()
    ));
    let proc_root = proc_with_boot_id(&td, "55555555-5555-5555-5555-555555555555");
    let daemon = start(&config, &proc_root);

    // Swap while the large file is less than a quarter read: the walk is
    // in `sub` and comes back to `d` only after the swap. The daemon is
    // stopped for the two calls so that it cannot move on in between.
    let started = Instant::now();
    loop {
        let v = daemon.data();
        let state = text(&v, &["backup", "state"]);
        let done = number(&v, &["backup", "progress", "bytes_done"]).unwrap_or(0);
        let total = number(&v, &["backup", "progress", "bytes_total"]).unwrap_or(0);
        let phase = text(&v, &["backup", "progress", "phase"]);
        if phase.as_deref() == Some("archiving") && done > 0 && done < total / 4 {
            daemon.signal(libc::SIGSTOP);
            fs::rename(&d, src.join("u/d.moved")).unwrap();
            std::os::unix::fs::symlink(&outside, &d).unwrap();
            daemon.signal(libc::SIGCONT);
            eprintln!("swapped at {done} of {total} bytes");
            break;
        }
        assert!(
            matches!(state.as_deref(), Some("pending" | "running")),
            "missed the large file: {}\n{}",
            miniserde::json::to_string(&v),
            daemon.dump()
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{}",
            daemon.dump()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let last = loop {
        let v = daemon.data();
        if !matches!(
            text(&v, &["backup", "state"]).as_deref(),
            Some("pending" | "running")
        ) {
            break v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}",
            daemon.dump()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let json = miniserde::json::to_string(&last);
    assert_eq!(text(&last, &["backup", "last", "error"]), None, "{json}");
    assert_eq!(
        number(&last, &["backup", "last", "skipped"]),
        Some(1),
        "{json}"
    );
    let Some(Value::Array(list)) = field(&last, &["backup", "last", "skipped_list"]) else {
        panic!("no skipped_list: {json}");
    };
    assert_eq!(text(&list[0], &["path"]).as_deref(), d.to_str(), "{json}");
    let reason = text(&list[0], &["reason"]).unwrap_or_default();
    assert!(reason.starts_with("replaced while backing up"), "{json}");
    assert!(
        daemon.wait_log(
            &format!("skipped {}: replaced while backing up", d.display()),
            Duration::from_secs(1)
        ),
        "{}",
        daemon.dump()
    );

    // Not one byte from outside: not in the raw archive, not in any entry.
    let archive = PathBuf::from(text(&last, &["backup", "last", "file"]).unwrap());
    let raw = fs::read(&archive).unwrap();
    assert!(!raw.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()));
    let listing = run({
        let mut c = Command::new("unzip");
        c.arg("-Z1").arg(&archive);
        c
    });
    let names = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(names.lines().any(|n| n == "src/u/d/sub/big.bin"), "{names}");
    assert!(!names.contains("zz_secret.txt"), "{names}");
    let extracted = td.join("extracted");
    let out = run({
        let mut c = Command::new("unzip");
        c.arg("-q")
            .arg(&archive)
            .arg("-x")
            .arg("*/big.bin")
            .arg("-d")
            .arg(&extracted);
        c
    });
    assert!(out.status.success(), "{out:?}");
    for file in crate::common::files_below(&extracted) {
        let data = fs::read(extracted.join(&file)).unwrap_or_default();
        assert!(
            !data.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
            "{file}"
        );
    }
}

/// Issue 18: a backup that could not read some files for lack of permission
/// (sysmon without CAP_DAC_READ_SEARCH, /etc/shadow) was shown as plain
/// "ok". It is `partial`, with the count in /data.json, /metrics and the log.
#[test]
fn a_backup_missing_unreadable_files_is_partial_not_ok() {
    let td = TempDir::new("backup-partial");
    let src = crate::common::tree_with_an_unreadable_file(&td);
    let config = td.config(&format!(
        "backup_source = {}\nupdate_manager = none\nmounts = /",
        src.display()
    ));
    let Some(d) = Daemon::start_unprivileged(&["--config", config.to_str().unwrap()]) else {
        return;
    };
    let v = wait_state(&d, "partial", Duration::from_secs(20));
    assert_eq!(
        number(&v, &["backup", "last", "skipped_permission"]),
        Some(1)
    );
    assert_eq!(number(&v, &["backup", "last", "skipped"]), Some(1));
    assert!(text(&v, &["backup", "last", "error"]).is_none());
    let metrics = d.get("/metrics").body_text();
    assert!(
        metrics.contains("\nsysmon_backup_last_files_unreadable 1\n"),
        "{metrics}"
    );
    // The other job gauges show the same record as /data.json's `last`.
    let last = |key| number(&v, &["backup", "last", key]).unwrap();
    for line in [
        format!(
            "\nsysmon_backup_last_success_timestamp_seconds {}\n",
            last("time")
        ),
        format!("\nsysmon_backup_last_size_bytes {}\n", last("bytes")),
        "\nsysmon_backup_last_files_skipped 1\n".to_string(),
        "\nsysmon_backup_running 0\n".to_string(),
    ] {
        assert!(metrics.contains(&line), "{line:?} in {metrics}");
    }
    assert!(
        metrics.contains("\nsysmon_backup_last_duration_seconds "),
        "{metrics}"
    );
    assert!(
        d.wait_log(
            "backup incomplete: 1 file(s) could not be read",
            Duration::from_secs(2)
        ),
        "{}",
        d.dump()
    );
}

/// Fuzzing found a directory sysmon may not list listed as `cannot list
/// directory: permission denied` but not counted: `skipped_permission: 0`,
/// no INCOMPLETE, the backup plain `ok` (the count compared the reason's
/// text with "permission denied"). Skips are counted by kind now: the
/// directory counts beside the file.
#[test]
fn a_backup_missing_an_unreadable_directory_is_partial_not_ok() {
    let td = TempDir::new("backup-partial-dir");
    let src = crate::common::tree_with_an_unreadable_file(&td);
    let locked = src.join("locked");
    fs::create_dir(&locked).unwrap();
    fs::write(locked.join("inside"), "unlisted\n").unwrap();
    // As root the tree is nobody's and the daemon runs as nobody: a
    // directory root keeps 0700 is one it may not list.
    let mode = if running_as_root() { 0o700 } else { 0o000 };
    fs::set_permissions(&locked, fs::Permissions::from_mode(mode)).unwrap();
    let config = td.config(&format!(
        "backup_source = {}\nupdate_manager = none\nmounts = /",
        src.display()
    ));
    let Some(d) = Daemon::start_unprivileged(&["--config", config.to_str().unwrap()]) else {
        return;
    };
    let v = wait_state(&d, "partial", Duration::from_secs(20));
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(
        number(&v, &["backup", "last", "skipped_permission"]),
        Some(2),
        "{}",
        d.dump()
    );
    assert_eq!(number(&v, &["backup", "last", "skipped"]), Some(2));
    let listed = format!(
        "backup: skipped {}: cannot list directory: permission denied",
        locked.display()
    );
    assert!(d.logged(&listed) > 0, "{listed}\n{}", d.dump());
    let metrics = d.get("/metrics").body_text();
    assert!(
        metrics.contains("\nsysmon_backup_last_files_unreadable 2\n"),
        "{metrics}"
    );
    assert!(
        d.wait_log(
            "backup incomplete: 2 file(s) could not be read",
            Duration::from_secs(2)
        ),
        "{}",
        d.dump()
    );
}

/// Fuzzing found that a FIFO at a state file's name (`boots.log`,
/// `backup_last.json`, `backup_boot_id`) or at a leftover temporary's name
/// held the daemon in `open()` for good (the port never answered, SIGTERM
/// ignored). Each is refused at once and logged with its path; the FIFO
/// temporary is left alone (never opened, never unlinked), a regular
/// leftover after it is still removed, and the boot's backup is made.
#[test]
fn fifos_at_state_files_or_temporary_names_never_hold_the_daemon() {
    let td = TempDir::new("backup-fifos");
    let (_src, config) = source_of_one_file(&td);
    let (state, backups) = (td.join("state"), td.join("backups"));
    for dir in [&state, &backups] {
        fs::create_dir_all(dir).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    }
    let state_fifos = ["boots.log", "backup_last.json", "backup_boot_id"].map(|n| state.join(n));
    let fifo_temporary = backups.join(".backup_20200101_000000.zip.tmp-2");
    for fifo in state_fifos.iter().chain([&fifo_temporary]) {
        mkfifo(fifo);
    }
    let regular_temporary = backups.join(".backup_20200101_000001.zip.tmp-3");
    fs::write(&regular_temporary, "left by a crash").unwrap();

    let proc_root = proc_with_boot_id(&td, "55555555-5555-5555-5555-555555555555");
    let d = start(&config, &proc_root);
    wait_state(&d, "ok", Duration::from_secs(30));
    for fifo in state_fifos.iter().chain([&fifo_temporary]) {
        let refused = format!("{}: is a FIFO, not a regular file", fifo.display());
        assert!(d.logged(&refused) > 0, "{refused}\n{}", d.dump());
    }
    assert!(
        fs::symlink_metadata(&fifo_temporary)
            .unwrap()
            .file_type()
            .is_fifo(),
        "a FIFO at a temporary's name is left alone"
    );
    assert!(!regular_temporary.exists(), "{}", d.dump());
    assert_eq!(backup_named(&backups).len(), 1, "{}", d.dump());
}

/// A record whose `duration_s` cannot be a run's (negative: edited by
/// hand, or a corrupt state file; a run's own duration is measured on the
/// monotonic clock and never is) was served as it was read: /metrics'
/// `sysmon_backup_last_duration_seconds` printed -1e300 as 301 digits. Now
/// the figure is left out where it is shown (null in /data.json, no series
/// in /metrics), with a warning naming the file; every other figure of the
/// record stays.
#[test]
fn a_recorded_duration_that_cannot_be_a_runs_is_left_out() {
    let td = TempDir::new("backup-insane-duration");
    let state = td.join("state");
    fs::create_dir_all(&state).unwrap();
    let record = state.join("backup_last.json");
    fs::write(
        &record,
        r#"{"file":"/b/backup_1000.zip","time":1000,"bytes":4096,"files":3,"skipped":0,"skipped_permission":0,"duration_s":-1e300,"error":null,"skipped_list":[],"last_success_at":1000,"last_success":{"file":"/b/backup_1000.zip","bytes":4096,"files":3,"skipped":0,"skipped_permission":0,"duration_s":-1e300}}"#,
    )
    .unwrap();
    let d = Daemon::on_fixture(&td, "metrics_cache = 0s");
    let metrics = d.get("/metrics").body_text();
    assert!(
        metrics.contains("\nsysmon_backup_last_size_bytes 4096\n"),
        "the other figures stay:\n{metrics}"
    );
    let longest = metrics.lines().map(str::len).max().unwrap_or(0);
    let duration = metrics
        .lines()
        .find(|l| l.starts_with("sysmon_backup_last_duration_seconds "));
    assert_eq!(duration, None, "longest line {longest} bytes:\n{metrics}");
    let v = d.data();
    assert_eq!(number(&v, &["backup", "last", "bytes"]), Some(4096));
    for path in [
        &["backup", "last", "duration_s"][..],
        &["backup", "last", "last_success", "duration_s"],
    ] {
        assert!(
            matches!(crate::common::field(&v, path), Some(Value::Null)),
            "{path:?}: {:?}",
            crate::common::field(&v, path)
        );
    }
    let said = format!("{}: duration_s", record.display());
    assert_eq!(d.logged(&said), 1, "{}", d.dump());
}
