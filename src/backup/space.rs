//! Room in `backup_dir` for an archive: the least an archive of the
//! scanned tree can take, what the backup keeps free for other programs,
//! and when to look again while writing. Pure arithmetic over sizes; the
//! one `statvfs` is [`room`].
//!
//! Promises:
//! - [`entry_floor`] + [`data_floor`] per entry, plus [`END_RECORD_BYTES`],
//!   is a true lower bound of the archive of the tree as the scan saw it:
//!   a backup refused before writing could not have fit. The scan leaves
//!   out the data of a large stored file it cannot open (skipped when
//!   archived); files that change or turn out unreadable after the scan
//!   are not foreseen.
//! - While writing, the file system never goes more than one check step
//!   ([`CHECK_STEP_MIN_BYTES`] plus what one slice unit writes) under
//!   [`keep_free_bytes`]: the next check is due after half the margin left,
//!   at most [`CHECK_EVERY_BYTES`].

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::sys::{self, FsStats};

/// Deflate's best case: a 258-byte match at distance 1 costs at least one
/// bit of length code and one of distance code (RFC 1951, 3.2.5), so no
/// stream is smaller than 1/1032 of its input.
pub const DEFLATE_BEST_RATIO: u64 = 258 * 8 / 2;
/// A local header (30) and a central record (46), before the name and any
/// extra field, which are at least 0 bytes each.
const ENTRY_FIXED_BYTES: u64 = 30 + 46;
/// The end-of-central-directory record, written once.
pub const END_RECORD_BYTES: u64 = 22;
/// What the archive pass keeps free: 1 % of the file system, at least
/// 64 MiB and at most 4 GiB (journald's `SystemKeepFree=` cap), but never
/// more than a tenth of a file system under 640 MiB, where 64 MiB would
/// refuse every backup.
const KEEP_FREE_PERCENT: u64 = 1;
const KEEP_FREE_MIN_BYTES: u64 = 64 << 20;
const KEEP_FREE_MAX_BYTES: u64 = 4 << 30;
/// Free space is looked at after this much archive at most...
pub const CHECK_EVERY_BYTES: u64 = 4 << 20;
/// ...and at least this much (a `statvfs` per 64 KiB chunk would be cheap,
/// but it is the bound on a shrinking margin's checks: about six more).
const CHECK_STEP_MIN_BYTES: u64 = 64 << 10;

/// The least bytes an entry's headers take: its name twice, in the local
/// header and in the central record.
pub fn entry_floor(name_len: usize) -> u64 {
    ENTRY_FIXED_BYTES + 2 * name_len as u64
}

/// The least bytes a file of `size_bytes` takes in the archive: all of
/// it when it is stored (`backup_level = 0`, or a name that says it is
/// compressed already), else deflate's best case.
pub fn data_floor(size_bytes: u64, stored: bool) -> u64 {
    if stored {
        size_bytes
    } else {
        size_bytes / DEFLATE_BEST_RATIO
    }
}

/// The bytes kept free in a file system of `fs_bytes` (see the constants).
pub fn keep_free_bytes(fs_bytes: u64) -> u64 {
    (fs_bytes / 100 * KEEP_FREE_PERCENT)
        .clamp(KEEP_FREE_MIN_BYTES, KEEP_FREE_MAX_BYTES)
        .min(fs_bytes / 10)
}

/// The archive bytes to write before looking at free space again, when
/// `margin_bytes` are left above what is kept free.
pub fn next_check_after(margin_bytes: u64) -> u64 {
    (margin_bytes / 2).clamp(CHECK_STEP_MIN_BYTES, CHECK_EVERY_BYTES)
}

/// Free space as a writer that is not root sees it, and what is kept free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Room {
    /// `f_bavail × f_frsize`: root's reserved blocks are not counted, so
    /// they are never used either.
    pub available_bytes: u64,
    pub keep_free_bytes: u64,
}

impl Room {
    /// `None` for a file system that reports no size (some FUSE ones):
    /// it says nothing about its room, so nothing is refused on it.
    pub fn from_stats(stats: &FsStats) -> Option<Room> {
        if stats.blocks == 0 {
            return None;
        }
        Some(Room {
            available_bytes: stats.blocks_available.saturating_mul(stats.fragment_size),
            keep_free_bytes: keep_free_bytes(stats.blocks.saturating_mul(stats.fragment_size)),
        })
    }

    /// Bytes that may still be written before the kept-free part is
    /// reached (0 when it is reached already).
    pub fn margin_bytes(&self) -> u64 {
        self.available_bytes.saturating_sub(self.keep_free_bytes)
    }
}

/// The room in the file system holding `dir`, or `None` when `statvfs`
/// fails or the file system does not say (the backup then goes on, and a
/// full disk is still caught by the write that fails).
pub fn room(dir: &Path) -> Option<Room> {
    let c_dir = CString::new(dir.as_os_str().as_bytes()).ok()?;
    Room::from_stats(&sys::statvfs(&c_dir).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    #[test]
    fn keep_free_scales_with_the_file_system() {
        for (fs, kept) in [
            (0, 0),
            (MIB, MIB / 10),
            (100 * MIB, 10 * MIB),
            (640 * MIB, 64 * MIB),
            (GIB, 64 * MIB),
            (20 * GIB, 20 * GIB / 100),
            (400 * GIB, 4 * GIB),
            (4096 * GIB, 4 * GIB),
        ] {
            assert_eq!(keep_free_bytes(fs), kept, "file system of {fs} bytes");
        }
    }

    #[test]
    fn the_floor_is_under_what_deflate_makes_of_the_most_compressible_input() {
        use flate2::{Compress, Compression, FlushCompress};
        for size in [0usize, 1, 1031, 1032, 1 << 20, 8 << 20] {
            let input = vec![b'a'; size];
            for level in [1, 6, 9] {
                let mut c = Compress::new(Compression::new(level), false);
                let mut out = Vec::with_capacity(size / 100 + 64);
                loop {
                    let consumed = c.total_in() as usize;
                    let status = c
                        .compress_vec(&input[consumed..], &mut out, FlushCompress::Finish)
                        .unwrap();
                    if status == flate2::Status::StreamEnd {
                        break;
                    }
                    out.reserve(out.capacity().max(64));
                }
                assert!(
                    data_floor(size as u64, false) <= out.len() as u64,
                    "{size} bytes of `a` deflate to {} at level {level}",
                    out.len()
                );
            }
            assert_eq!(data_floor(size as u64, true), size as u64);
        }
    }

    #[test]
    fn checks_come_closer_as_the_margin_shrinks() {
        assert_eq!(next_check_after(GIB), CHECK_EVERY_BYTES);
        assert_eq!(next_check_after(2 * MIB), MIB);
        assert_eq!(next_check_after(0), CHECK_STEP_MIN_BYTES);
    }

    #[test]
    fn room_counts_what_a_non_root_writer_sees() {
        let stats = FsStats {
            fragment_size: 4096,
            blocks: 1000,
            blocks_free: 600,
            blocks_available: 550,
            ..FsStats::default()
        };
        let room = Room::from_stats(&stats).unwrap();
        assert_eq!(room.available_bytes, 550 * 4096);
        assert_eq!(room.keep_free_bytes, 1000 * 4096 / 10);
        assert_eq!(room.margin_bytes(), 450 * 4096);
        let unknown = FsStats { blocks: 0, ..stats };
        assert_eq!(Room::from_stats(&unknown), None);
    }
}
