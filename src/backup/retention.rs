//! Archive names, retention and leftover temporaries in `backup_dir`.
//!
//! Invariants: only names matching `backup_\d{8}_\d{6}(_\d+)?\.zip` are
//! ever deleted by retention, and never the archive just made, which is
//! the newest real backup: whatever the names say, it was written last.
//!
//! The rule: the archive just made plus the `keep - 1` newest others are
//! kept. Others are ranked by the time in the name (then the `_N` suffix),
//! except that a name dated after the archive just made (written while
//! the clock was wrong, or made by hand) ranks as older than every other:
//! such an archive is the first to go, so it can never push out real
//! backups, and it is kept only while fewer than `keep` others exist. A temporary
//! (`.backup_*.zip.tmp-PID`) is deleted only when no process holds its
//! `flock`, i.e. its writer is gone (crashed, killed), never while a
//! daemon or `sysmon backup` is still writing it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::{fsutil, log};

/// `backup_STAMP.zip`, or `backup_STAMP_N.zip` for the N-th in one second.
pub fn archive_name(stamp: &str, n: u32) -> String {
    if n <= 1 {
        format!("backup_{stamp}.zip")
    } else {
        format!("backup_{stamp}_{n}.zip")
    }
}

/// The sort key `(YYYYmmddHHMMSS, N)` of one of our archive names.
pub fn parse_archive_name(name: &[u8]) -> Option<(u64, u32)> {
    let rest = name.strip_prefix(b"backup_")?.strip_suffix(b".zip")?;
    let all_digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let (date, rest) = (rest.get(..8)?, rest.get(8..)?);
    let rest = rest.strip_prefix(b"_")?;
    let (time, rest) = (rest.get(..6)?, rest.get(6..)?);
    if !all_digits(date) || !all_digits(time) {
        return None;
    }
    let n = match rest {
        [] => 1,
        [b'_', digits @ ..] if all_digits(digits) && digits.len() <= 9 => {
            std::str::from_utf8(digits).ok()?.parse().ok()?
        }
        _ => return None,
    };
    let stamp: u64 = std::str::from_utf8(date).ok()?.parse::<u64>().ok()? * 1_000_000
        + std::str::from_utf8(time).ok()?.parse::<u64>().ok()?;
    Some((stamp, n))
}

/// Whether `name` is one of our hidden temporaries (any process's).
pub fn is_temporary(name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(b".backup_") else {
        return false;
    };
    rest.windows(9).any(|w| w == b".zip.tmp-")
}

/// Deletes archives beyond the `keep` newest by the rule in the module
/// docs, never `just_made`. Returns the deleted paths.
pub fn prune(dir: &Path, keep: u32, just_made: &Path) -> io::Result<Vec<PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    let newest = just_made
        .file_name()
        .and_then(|n| parse_archive_name(n.as_bytes()))
        .map_or(u64::MAX, |(stamp, _)| stamp);
    // (dated after the archive just made, stamp, N): `false` sorts last.
    let mut archives: Vec<((bool, u64, u32), PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| fsutil::with_path(dir, e))? {
        let entry = entry.map_err(|e| fsutil::with_path(dir, e))?;
        let name = entry.file_name();
        let Some(key) = parse_archive_name(name.as_bytes()) else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        if path != just_made {
            let future = key.0 > newest;
            if future {
                crate::log::warn(format_args!(
                    "backup retention: {} is dated after the archive just made \
                     (the clock was wrong?): it counts as the oldest",
                    path.display()
                ));
            }
            archives.push(((!future, key.0, key.1), path));
        }
    }
    // The archive just made counts as one of the kept.
    let keep_others = (keep as usize).saturating_sub(1);
    crate::sort::sort(&mut archives);
    // Oldest first: the future-dated ones, then by the time in the name.
    let excess = archives.len().saturating_sub(keep_others);
    let mut deleted = Vec::new();
    for (_, path) in archives.into_iter().take(excess) {
        fs::remove_file(&path).map_err(|e| fsutil::with_path(&path, e))?;
        deleted.push(path);
    }
    if !deleted.is_empty() {
        fsutil::fsync_dir(dir)?;
    }
    Ok(deleted)
}

/// Removes temporaries left by a writer that is gone. Returns how many.
/// Only regular files are removed (a FIFO or anything else at such a name
/// is never opened and is left alone); an entry that cannot be checked or
/// removed is logged and the others are still seen to. `Err` only when
/// the directory cannot be listed.
pub fn remove_leftover_temporaries(dir: &Path) -> io::Result<usize> {
    use std::os::unix::ffi::OsStrExt;
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(fsutil::with_path(dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| fsutil::with_path(dir, e))?;
        if !is_temporary(entry.file_name().as_bytes()) {
            continue;
        }
        match remove_if_abandoned(&entry) {
            Ok(true) => removed += 1,
            // Gone meanwhile: its writer renamed or removed it.
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => log::warn(format_args!("backup: leftover temporary left alone: {e}")),
        }
    }
    if removed > 0 {
        fsutil::fsync_dir(dir)?;
    }
    Ok(removed)
}

/// Removes the temporary `entry` when it is a regular file that no writer
/// holds (its `flock` free): `Ok(false)` when a live writer holds it.
fn remove_if_abandoned(entry: &fs::DirEntry) -> io::Result<bool> {
    let path = entry.path();
    // The entry's own type (never a symlink's target), before any open: a
    // FIFO is not even opened.
    let file_type = entry.file_type().map_err(|e| fsutil::with_path(&path, e))?;
    if !file_type.is_file() {
        let mode = fs::symlink_metadata(&path).map_or(0, |m| {
            use std::os::unix::fs::MetadataExt;
            m.mode() & libc::S_IFMT
        });
        return Err(fsutil::not_regular(&path, fsutil::file_type_name(mode)));
    }
    // Checked again on the descriptor: the name may have been swapped.
    let file = fsutil::open_regular(&path, fsutil::Links::Refuse)?;
    if !crate::sys::try_lock_exclusive(&file).map_err(|e| fsutil::with_path(&path, e))? {
        return Ok(false);
    }
    fs::remove_file(&path).map_err(|e| fsutil::with_path(&path, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            parse_archive_name(b"backup_20240102_030405.zip"),
            Some((20240102030405, 1))
        );
        assert_eq!(
            parse_archive_name(b"backup_20240102_030405_12.zip"),
            Some((20240102030405, 12))
        );
        for bad in [
            &b"backup_2024010_030405.zip"[..],
            b"backup_20240102_030405.zip.tmp-1",
            b"backup_20240102_030405_.zip",
            b"xbackup_20240102_030405.zip",
            b"backup_20240102-030405.zip",
            b"backup_20240102_030405_x.zip",
        ] {
            assert_eq!(
                parse_archive_name(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            archive_name("20240102_030405", 1),
            "backup_20240102_030405.zip"
        );
        assert_eq!(
            archive_name("20240102_030405", 2),
            "backup_20240102_030405_2.zip"
        );
        assert!(is_temporary(b".backup_20240102_030405.zip.tmp-77"));
        assert!(!is_temporary(b"backup_20240102_030405.zip"));
        // `_10` sorts after `_9`, both after the plain name.
        let mut keys = [
            &b"backup_20240102_030405_10.zip"[..],
            b"backup_20240102_030405_9.zip",
        ]
        .map(|n| parse_archive_name(n).unwrap())
        .to_vec();
        keys.push(parse_archive_name(b"backup_20240102_030405.zip").unwrap());
        keys.sort();
        assert_eq!(keys.iter().map(|k| k.1).collect::<Vec<_>>(), [1, 9, 10]);
    }

    /// Issue 11: an archive dated in the future (a clock wrong once) went
    /// last by name and so was kept forever, pushing out real ones. It now
    /// counts as the oldest, and the archive just made is always kept.
    #[test]
    fn future_dated_archives_never_push_out_real_ones() {
        let dir = std::env::temp_dir().join(format!("sysmon-retention-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let names = [
            "backup_20991231_235959.zip",
            "backup_20400101_000000_2.zip",
            "backup_20260101_000000.zip",
            "backup_20260102_000000.zip",
            "backup_20260103_000000.zip",
        ];
        for n in names {
            fs::write(dir.join(n), n).unwrap();
        }
        let just_made = dir.join("backup_20260104_000000.zip");
        fs::write(&just_made, "new").unwrap();
        let left = |dir: &Path| {
            let mut v: Vec<String> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        // keep = 5: one of the future-dated ones goes, no real one.
        let deleted = prune(&dir, 5, &just_made).unwrap();
        assert_eq!(deleted, [dir.join("backup_20400101_000000_2.zip")]);
        // keep = 3: the other future one, then the oldest real one.
        prune(&dir, 3, &just_made).unwrap();
        assert_eq!(
            left(&dir),
            [
                "backup_20260102_000000.zip",
                "backup_20260103_000000.zip",
                "backup_20260104_000000.zip"
            ]
        );
        // keep = 1: the archive just made, whatever the others are named.
        fs::write(dir.join("backup_21000101_000000.zip"), "future").unwrap();
        prune(&dir, 1, &just_made).unwrap();
        assert_eq!(left(&dir), ["backup_20260104_000000.zip"]);
        // Made while the clock was ahead: older real ones rank normally.
        let ahead = dir.join("backup_20990101_000000.zip");
        fs::write(&ahead, "ahead").unwrap();
        prune(&dir, 2, &ahead).unwrap();
        assert_eq!(
            left(&dir),
            ["backup_20260104_000000.zip", "backup_20990101_000000.zip"]
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
