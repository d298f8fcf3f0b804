//! Damage to the history file is detected at start, logged, and skipped:
//! flipped bytes in three points make exactly those points gaps while the
//! rest is served; a file cut short is extended back to its size and
//! serves what it still had; a foreign header is set aside (renamed, its
//! bytes kept) and a new file made. The daemon starts every time.

use std::fs;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use crate::common::*;
use crate::{STEP_S, points, served, start};

const PAGE: u64 = 4096;
const SLOT: u64 = 512;
/// Three header pages, then the 3 s tier (1200 slots).
const TIER0: u64 = 3 * PAGE;

/// A daemon ran and stopped, leaving at least `n` points of cpu.
fn recorded(dir: &TempDir, n: usize) {
    let mut daemon = start(dir);
    // Written in batches every 12 s: two or three batches.
    wait_for(Duration::from_secs(60), || {
        (points(&served(&daemon), "cpu").len() >= n).then_some(())
    })
    .unwrap_or_else(|| panic!("no {n} points\n{}", daemon.dump()));
    daemon.signal(15);
    assert!(daemon.wait_exit(Duration::from_secs(10)).is_some());
}

/// Byte offsets of the written slots of the 3 s tier, with the start time
/// of their bucket.
fn written_slots(db: &std::path::Path) -> Vec<(u64, u64)> {
    let bytes = fs::read(db).unwrap();
    (0..1200u64)
        .map(|i| TIER0 + i * SLOT)
        .filter(|at| {
            bytes[*at as usize..(*at + SLOT) as usize]
                .iter()
                .any(|b| *b != 0)
        })
        .map(|at| {
            let bucket =
                u64::from_le_bytes(bytes[at as usize..at as usize + 8].try_into().unwrap());
            (at, bucket * STEP_S)
        })
        .collect()
}

#[test]
fn flipped_bytes_are_skipped_and_the_rest_served() {
    let dir = TempDir::new("history-flip");
    recorded(&dir, 5);
    let db = dir.join("state/history.db");
    let slots = written_slots(&db);
    assert!(slots.len() >= 5, "{slots:?}");
    let daemon = start(&dir);
    let intact = points(&served(&daemon), "cpu");
    drop(daemon); // kill -9: nothing more written
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&db)
        .unwrap();
    let flipped: Vec<u64> = slots[1..4].iter().map(|(_, bucket)| *bucket).collect();
    for (k, (at, _)) in slots[1..4].iter().enumerate() {
        // In the figures, in the count, in the CRC itself.
        let offset = at + [20, 401, 509][k];
        let mut b = [0u8];
        file.read_exact_at(&mut b, offset).unwrap();
        file.write_all_at(&[b[0] ^ 0x10], offset).unwrap();
    }
    drop(file);
    let daemon = start(&dir);
    assert!(
        daemon.wait_log("3 corrupt points skipped", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    let now = points(&served(&daemon), "cpu");
    for bucket in &flipped {
        assert!(intact.contains_key(bucket), "{bucket} was served before");
        assert!(!now.contains_key(bucket), "corrupt point {bucket} served");
    }
    for (t, f) in &intact {
        if !flipped.contains(t) {
            assert_eq!(now.get(t), Some(f), "intact point {t}");
        }
    }
}

#[test]
fn a_truncated_file_serves_what_it_still_has() {
    let dir = TempDir::new("history-cut");
    recorded(&dir, 4);
    let db = dir.join("state/history.db");
    let size = fs::metadata(&db).unwrap().len();
    let mut slots = written_slots(&db);
    slots.sort();
    // Cut in the middle of the third written slot (by position).
    let (cut_slot, _) = slots[2];
    let cut = cut_slot + 100;
    let kept: Vec<u64> = slots
        .iter()
        .filter(|(at, _)| *at < cut_slot)
        .map(|(_, b)| *b)
        .collect();
    fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let daemon = start(&dir);
    assert!(
        daemon.wait_log("cut short", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    assert_eq!(
        fs::metadata(&db).unwrap().len(),
        size,
        "extended back to its size"
    );
    let now = points(&served(&daemon), "cpu");
    for bucket in &kept {
        assert!(
            now.contains_key(bucket),
            "point {bucket} before the cut is served"
        );
    }
    for (_, bucket) in slots.iter().filter(|(at, _)| *at >= cut_slot) {
        assert!(
            !now.contains_key(bucket),
            "point {bucket} past the cut served"
        );
    }
}

#[test]
fn a_foreign_header_is_set_aside_never_deleted() {
    let dir = TempDir::new("history-aside");
    fs::create_dir_all(dir.join("state")).unwrap();
    let db = dir.join("state/history.db");
    let foreign = b"SQLite format 3\0 not ours".repeat(300);
    fs::write(&db, &foreign).unwrap();
    let daemon = start(&dir);
    assert!(
        daemon.wait_log("set aside as", Duration::from_secs(5)),
        "{}",
        daemon.dump()
    );
    let aside: Vec<_> = fs::read_dir(dir.join("state"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("history.db.aside-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(fs::read(&aside[0]).unwrap(), foreign, "its bytes are kept");
    assert!(fs::metadata(&db).unwrap().len() > foreign.len() as u64);
    // And it records into the new file.
    wait_for(Duration::from_secs(20), || {
        (!points(&served(&daemon), "cpu").is_empty()).then_some(())
    })
    .unwrap_or_else(|| panic!("nothing recorded\n{}", daemon.dump()));
}

/// Fuzzing found `sysmon history` waiting for good in `open()` when
/// `history.db` is a FIFO. It is refused at once, naming the file and what
/// it is.
#[test]
fn a_fifo_at_the_history_file_is_refused_not_waited_on() {
    let dir = TempDir::new("history-fifo");
    let config = dir.config("");
    fs::create_dir_all(dir.join("state")).unwrap();
    let db = dir.join("state/history.db");
    mkfifo(&db);
    let out = run_within(
        sysmon(&["history", "--config", config.to_str().unwrap()]),
        Duration::from_secs(10),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!("{}: is a FIFO, not a regular file", db.display());
    assert!(stderr.contains(&expected), "{expected} in {stderr}");
}

/// `sysmon history` on a file shorter than its header page (empty, or cut
/// at 100 bytes) says so and exits 1, leaving the file as it is (only the
/// daemon sets a file aside). Before, it said `read header: failed to
/// fill whole buffer` (hostile-input sweep 2, 2026-12-04).
#[test]
fn sysmon_history_names_a_file_shorter_than_its_header() {
    let dir = TempDir::new("history-short");
    let config = dir.config("");
    fs::create_dir_all(dir.join("state")).unwrap();
    let db = dir.join("state/history.db");
    for len in [0, 100] {
        fs::write(&db, vec![b'S'; len]).unwrap();
        let out = run_within(
            sysmon(&["history", "--config", config.to_str().unwrap()]),
            Duration::from_secs(10),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let expected = format!("{}: shorter than its header ({len} bytes)", db.display());
        assert!(stderr.contains(&expected), "{expected} in {stderr}");
        assert_eq!(fs::read(&db).unwrap().len(), len, "left as it is");
    }
}
