//! A small streaming zip writer: local header, data, then a patch of the
//! header's CRC and sizes once they are known; the central directory at the
//! end. Written here rather than with the `zip` crate's writer because that
//! one only takes names as `str`: a file name that is not UTF-8 must reach
//! the archive byte for byte (without the UTF-8 flag, so Info-ZIP `unzip`
//! restores the exact bytes), and we also want one entry written in slices
//! across poll calls with our own buffer. The `zip` crate's reader checks
//! what this writes (`verify.rs`, the tests).
//!
//! Invariants:
//! - Entries are sequential: [`ZipOut::start_entry`], any number of data
//!   writes, [`ZipOut::finish_entry`]; the header of the open entry is
//!   patched in the buffer, or with `pwrite` if it was already flushed, so
//!   no data descriptors are needed and every local header is exact (which
//!   is what salvage tools such as `zip -FF` rely on).
//! - "Version made by" is Unix (3) and external attributes carry `st_mode`,
//!   so unzip restores permissions and recreates symlinks.
//! - Modification times, to the second, from 1601 to the year 60056: the
//!   DOS fields hold 1980..2107 (local time, 2 s steps, clamped outside);
//!   the extended timestamp field (0x5455) holds the 32 bits Info-ZIP
//!   reads, signed before 1970 (to 1901-12-13) and unsigned after
//!   2038-01-19 (to 2106-02-07, which unzip reads as such when the DOS date
//!   is past 2038); the NTFS field (0x000a, 100 ns ticks since 1601) holds
//!   every time outside 1970..2038-01-19, so an entry of a normal time is
//!   byte for byte what it was before it existed. Times outside the NTFS
//!   range are clamped to it, and [`mtime_storable`] tells the caller to
//!   report them.
//! - zip64: an entry whose size may reach 4 GiB gets zip64 sizes from the
//!   start (its size is known from `fstat`, and the reader never reads more
//!   than that); offsets past 4 GiB and more than 65535 entries get zip64
//!   central fields and the zip64 end records.
//! - Memory: one output buffer of [`BUF_CAP`] plus the central directory,
//!   which is the only thing that grows with the number of entries:
//!   46 + name + 9 bytes per entry (+ 20 for a zip64 entry, + 12 for an
//!   offset past 4 GiB).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

use flate2::{Compress, FlushCompress, Status};

/// The longest entry name a zip holds: its length is a 16-bit field.
pub const MAX_NAME_BYTES: usize = u16::MAX as usize;
pub const METHOD_STORE: u16 = 0;
pub const METHOD_DEFLATE: u16 = 8;

/// Size of the output buffer; data is handed to the kernel in writes of
/// about this size.
pub const BUF_CAP: usize = 512 * 1024;
/// Keep at least this much free in the buffer before deflating into it.
const MIN_SPARE: usize = 64 * 1024;
/// Writeback window: each full window is handed to the disk, and the one
/// before it waited for, so at most about two windows are ever dirty.
const WRITEBACK_WINDOW: u64 = 4 << 20;
/// Entries this large or larger get zip64 sizes from the start: deflate may
/// expand incompressible data by a little, so stay well clear of 4 GiB.
pub const ZIP64_ENTRY_THRESHOLD: u64 = 0xF000_0000;
const U32_MAX: u64 = 0xFFFF_FFFF;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
/// Unix (3) in the high byte, spec version 6.3 in the low byte.
const VERSION_MADE_BY: u16 = (3 << 8) | 63;
const FLAG_UTF8: u16 = 1 << 11;
const EXTRA_UT: u16 = 0x5455;
const EXTRA_NTFS: u16 = 0x000a;
const EXTRA_ZIP64: u16 = 0x0001;
/// Offset of the CRC field in a local header.
const LOCAL_CRC_AT: u64 = 14;
/// The UT field: 2 id + 2 size + 1 flags + 4 mtime.
const UT_LEN: usize = 9;
/// The NTFS field: 2 id + 2 size + 4 reserved + 2 tag + 2 size + 3 times.
const NTFS_LEN: usize = 36;
/// Seconds from 1601-01-01 (the NTFS epoch) to 1970-01-01.
const NTFS_EPOCH_S: i64 = 11_644_473_600;
const NTFS_TICKS_PER_S: i64 = 10_000_000;

/// What the archive says about one entry besides its data.
pub struct Entry<'a> {
    /// The path inside the archive, `/`-separated; directories end in `/`.
    pub name: &'a [u8],
    /// `st_mode`, file type bits included.
    pub mode: u32,
    pub mtime_unix_s: i64,
    pub method: u16,
    /// Whether the data may reach 4 GiB (see [`ZIP64_ENTRY_THRESHOLD`]).
    pub zip64: bool,
}

/// The entry being written, returned by `start_entry`.
#[derive(Debug)]
pub struct OpenEntry {
    header_at: u64,
    /// Where the zip64 sizes are, in the local header (from its start)
    /// and in the central record.
    zip64_local_at: u64,
    zip64_central_at: usize,
    zip64: bool,
    /// Where this entry's central record starts in `central`.
    central_at: usize,
}

/// Data facts known once the entry's data is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    pub crc: u32,
    pub compressed: u64,
    pub uncompressed: u64,
}

pub struct ZipOut {
    file: File,
    /// Bytes not yet written to `file`; they start at offset `flushed`.
    buf: Vec<u8>,
    flushed: u64,
    writeback_from: u64,
    /// The window handed to the disk last, `(offset, len)`.
    previous_window: Option<(u64, u64)>,
    central: Vec<u8>,
    entries: u64,
    /// The local header being built; kept to reuse its allocation.
    header: Vec<u8>,
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn low32(x: u64) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// DOS date and time (local, 2-second resolution) for the legacy header
/// fields, clamped to the range they can hold (1980 to 2107).
pub fn dos_date_time(unix_s: i64) -> (u16, u16) {
    let Some((year, month, day, hour, minute, second)) = crate::sys::local_time_fields(unix_s)
    else {
        return (0x21, 0); // 1980-01-01 00:00:00
    };
    if year < 1980 {
        return (0x21, 0);
    }
    if year > 2107 {
        return ((127 << 9) | (12 << 5) | 31, (23 << 11) | (59 << 5) | 29);
    }
    let date = ((year - 1980) as u16) << 9 | (month as u16) << 5 | day as u16;
    let time = (hour as u16) << 11 | (minute as u16) << 5 | (second / 2) as u16;
    (date, time)
}

/// The UT field's 32 bits for `unix_s`, if it has them: signed before
/// 1970, unsigned after 2038 (see the module docs).
fn ut_time(unix_s: i64) -> Option<u32> {
    (i64::from(i32::MIN)..=i64::from(u32::MAX))
        .contains(&unix_s)
        .then_some(unix_s as u32)
}

/// Whether the time needs the NTFS field: every reader agrees on the UT
/// field only between 1970 and 2038-01-19.
fn needs_ntfs(unix_s: i64) -> bool {
    !(0..=i64::from(i32::MAX)).contains(&unix_s)
}

/// NTFS ticks for `unix_s`, clamped to what 64 bits hold (1601..60056).
fn ntfs_ticks(unix_s: i64) -> u64 {
    let max_s = (u64::MAX / NTFS_TICKS_PER_S as u64) as i64 - NTFS_EPOCH_S;
    let clamped = unix_s.clamp(-NTFS_EPOCH_S, max_s);
    (clamped + NTFS_EPOCH_S) as u64 * NTFS_TICKS_PER_S as u64
}

/// Whether the archive can hold `unix_s` exactly (to the second): from
/// 1601-01-01 to about the year 60056. Others are clamped to that range.
pub fn mtime_storable(unix_s: i64) -> bool {
    let max_s = (u64::MAX / NTFS_TICKS_PER_S as u64) as i64 - NTFS_EPOCH_S;
    (-NTFS_EPOCH_S..=max_s).contains(&unix_s)
}

/// The time fields of an entry's extra field (UT and NTFS, as needed).
fn put_time_fields(v: &mut Vec<u8>, unix_s: i64) {
    if let Some(ut) = ut_time(unix_s) {
        put16(v, EXTRA_UT);
        put16(v, 5);
        v.push(1); // mtime present
        put32(v, ut);
    }
    if needs_ntfs(unix_s) {
        let ticks = ntfs_ticks(unix_s);
        put16(v, EXTRA_NTFS);
        put16(v, 32);
        put32(v, 0); // reserved
        put16(v, 1); // attribute tag 1: the three times
        put16(v, 24);
        // Modification, access and creation: all we have is the first.
        put64(v, ticks);
        put64(v, ticks);
        put64(v, ticks);
    }
}

/// Length of what [`put_time_fields`] writes.
fn time_fields_len(unix_s: i64) -> usize {
    let ut = if ut_time(unix_s).is_some() { UT_LEN } else { 0 };
    ut + if needs_ntfs(unix_s) { NTFS_LEN } else { 0 }
}

fn flags_for(name: &[u8]) -> u16 {
    if !name.is_ascii() && std::str::from_utf8(name).is_ok() {
        FLAG_UTF8
    } else {
        0
    }
}

impl ZipOut {
    pub fn new(file: File) -> ZipOut {
        ZipOut {
            file,
            buf: Vec::with_capacity(BUF_CAP),
            flushed: 0,
            writeback_from: 0,
            previous_window: None,
            central: Vec::new(),
            entries: 0,
            header: Vec::new(),
        }
    }

    /// Bytes of archive produced so far.
    pub fn position(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    /// Bytes produced but not yet handed to the kernel (at most [`BUF_CAP`]).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Bytes held for the central directory (the per-entry memory).
    pub fn central_len(&self) -> usize {
        self.central.len()
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buf)?;
        self.flushed += self.buf.len() as u64;
        self.buf.clear();
        let window = self.flushed - self.writeback_from;
        if window >= WRITEBACK_WINDOW {
            // Hints only (errors change nothing): the final fsync is what
            // guarantees durability; this keeps it, and every wait, short.
            let _ = crate::sys::start_writeback(&self.file, self.writeback_from, window);
            if let Some((at, len)) = self.previous_window {
                let _ = crate::sys::wait_writeback(&self.file, at, len);
            }
            self.previous_window = Some((self.writeback_from, window));
            self.writeback_from = self.flushed;
        }
        Ok(())
    }

    /// Appends raw bytes to the archive.
    pub fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.buf.len() == BUF_CAP {
                self.flush_buf()?;
            }
            let n = bytes.len().min(BUF_CAP - self.buf.len());
            self.buf.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Runs `compress` over all of `input` (or, with `Finish`, until the
    /// stream ends), writing its output straight into the buffer.
    pub fn deflate(
        &mut self,
        compress: &mut Compress,
        mut input: &[u8],
        flush: FlushCompress,
    ) -> io::Result<()> {
        loop {
            if BUF_CAP - self.buf.len() < MIN_SPARE {
                self.flush_buf()?;
            }
            let before = compress.total_in();
            let status = compress
                .compress_vec(input, &mut self.buf, flush)
                .map_err(io::Error::other)?;
            let used = usize::try_from(compress.total_in() - before).unwrap_or(input.len());
            input = &input[used..];
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                _ => input.is_empty(),
            };
            if done {
                return Ok(());
            }
        }
    }

    /// Overwrites `bytes` at archive offset `at` (inside what was written).
    fn patch(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        let split = usize::try_from(self.flushed.saturating_sub(at))
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        if split > 0 {
            self.file.write_all_at(&bytes[..split], at)?;
        }
        if split < bytes.len() {
            let start = (at + split as u64 - self.flushed) as usize;
            self.buf[start..start + bytes.len() - split].copy_from_slice(&bytes[split..]);
        }
        Ok(())
    }

    /// Writes the local header (CRC and sizes to be patched by
    /// `finish_entry`) and the central record (likewise).
    pub fn start_entry(&mut self, entry: &Entry<'_>) -> io::Result<OpenEntry> {
        let header_at = self.position();
        let name_len = u16::try_from(entry.name.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "name longer than 65535 bytes")
        })?;
        let (date, time) = dos_date_time(entry.mtime_unix_s);
        let flags = flags_for(entry.name);
        let version_needed: u16 = if entry.zip64 { 45 } else { 20 };
        let times_len = time_fields_len(entry.mtime_unix_s);
        let size_field = if entry.zip64 { u32::MAX } else { 0 };

        // Built in a buffer kept across entries: one allocation fewer per file.
        let mut h = std::mem::take(&mut self.header);
        h.clear();
        put32(&mut h, LOCAL_SIG);
        put16(&mut h, version_needed);
        put16(&mut h, flags);
        put16(&mut h, entry.method);
        put16(&mut h, time);
        put16(&mut h, date);
        put32(&mut h, 0); // crc, patched
        put32(&mut h, size_field); // compressed size, patched
        put32(&mut h, size_field); // uncompressed size, patched
        put16(&mut h, name_len);
        put16(
            &mut h,
            (times_len + if entry.zip64 { 20 } else { 0 }) as u16,
        );
        h.extend_from_slice(entry.name);
        put_time_fields(&mut h, entry.mtime_unix_s);
        let zip64_local_at = h.len() as u64 + 4;
        if entry.zip64 {
            put16(&mut h, EXTRA_ZIP64);
            put16(&mut h, 16);
            put64(&mut h, 0); // uncompressed, patched
            put64(&mut h, 0); // compressed, patched
        }
        let written = self.write(&h);
        self.header = h;
        written?;

        let offset_zip64 = header_at >= U32_MAX;
        let zip64_len: u16 = if entry.zip64 { 16 } else { 0 } + if offset_zip64 { 8 } else { 0 };
        let c = &mut self.central;
        let central_at = c.len();
        put32(c, CENTRAL_SIG);
        put16(c, VERSION_MADE_BY);
        put16(c, if entry.zip64 || offset_zip64 { 45 } else { 20 });
        put16(c, flags);
        put16(c, entry.method);
        put16(c, time);
        put16(c, date);
        put32(c, 0); // crc, patched
        put32(c, size_field); // compressed, patched
        put32(c, size_field); // uncompressed, patched
        put16(c, name_len);
        put16(
            c,
            times_len as u16 + if zip64_len > 0 { 4 + zip64_len } else { 0 },
        );
        put16(c, 0); // comment length
        put16(c, 0); // disk number
        put16(c, 0); // internal attributes
        let dos_dir = if entry.mode & libc::S_IFMT == libc::S_IFDIR {
            0x10
        } else {
            0
        };
        put32(c, (entry.mode << 16) | dos_dir);
        put32(c, low32(header_at));
        c.extend_from_slice(entry.name);
        put_time_fields(c, entry.mtime_unix_s);
        let zip64_central_at = c.len() - central_at + 4;
        if zip64_len > 0 {
            put16(c, EXTRA_ZIP64);
            put16(c, zip64_len);
            if entry.zip64 {
                put64(c, 0); // uncompressed, patched
                put64(c, 0); // compressed, patched
            }
            if offset_zip64 {
                put64(c, header_at);
            }
        }
        Ok(OpenEntry {
            header_at,
            zip64_local_at,
            zip64_central_at,
            zip64: entry.zip64,
            central_at,
        })
    }

    /// Fills in the CRC and sizes of the entry just written.
    pub fn finish_entry(&mut self, open: OpenEntry, sizes: Sizes) -> io::Result<()> {
        if !open.zip64 && (sizes.compressed >= U32_MAX || sizes.uncompressed >= U32_MAX) {
            // Cannot happen: callers set `zip64` from the size they read up to.
            return Err(io::Error::other("entry reached 4 GiB without zip64 fields"));
        }
        let (compressed32, uncompressed32) = if open.zip64 {
            (u32::MAX, u32::MAX)
        } else {
            (low32(sizes.compressed), low32(sizes.uncompressed))
        };
        let mut fixed = [0u8; 12];
        fixed[..4].copy_from_slice(&sizes.crc.to_le_bytes());
        fixed[4..8].copy_from_slice(&compressed32.to_le_bytes());
        fixed[8..].copy_from_slice(&uncompressed32.to_le_bytes());
        self.patch(open.header_at + LOCAL_CRC_AT, &fixed)?;
        let mut wide = [0u8; 16];
        wide[..8].copy_from_slice(&sizes.uncompressed.to_le_bytes());
        wide[8..].copy_from_slice(&sizes.compressed.to_le_bytes());
        if open.zip64 {
            let at = open.header_at + open.zip64_local_at;
            self.patch(at, &wide)?;
        }
        let c = &mut self.central[open.central_at..];
        c[16..28].copy_from_slice(&fixed);
        if open.zip64 {
            let at = open.zip64_central_at;
            c[at..at + 16].copy_from_slice(&wide);
        }
        self.entries += 1;
        Ok(())
    }

    /// Writes the central directory and end records, flushes and fsyncs.
    /// The file is complete when this returns Ok.
    pub fn finish(mut self) -> io::Result<File> {
        let cd_at = self.position();
        let central = std::mem::take(&mut self.central);
        self.write(&central)?;
        drop(central);
        let cd_len = self.position() - cd_at;
        let entries = self.entries;
        let mut end = Vec::with_capacity(98);
        let needs_zip64 = entries >= 0xFFFF || cd_at >= U32_MAX || cd_len >= U32_MAX;
        if needs_zip64 {
            let zip64_eocd_at = self.position();
            put32(&mut end, ZIP64_EOCD_SIG);
            put64(&mut end, 44); // size of the rest of this record
            put16(&mut end, VERSION_MADE_BY);
            put16(&mut end, 45);
            put32(&mut end, 0); // this disk
            put32(&mut end, 0); // disk with the central directory
            put64(&mut end, entries);
            put64(&mut end, entries);
            put64(&mut end, cd_len);
            put64(&mut end, cd_at);
            put32(&mut end, ZIP64_LOCATOR_SIG);
            put32(&mut end, 0);
            put64(&mut end, zip64_eocd_at);
            put32(&mut end, 1); // total disks
        }
        let entries16 = u16::try_from(entries)
            .ok()
            .filter(|&n| n < 0xFFFF)
            .unwrap_or(0xFFFF);
        put32(&mut end, EOCD_SIG);
        put16(&mut end, 0);
        put16(&mut end, 0);
        put16(&mut end, entries16);
        put16(&mut end, entries16);
        put32(&mut end, low32(cd_len));
        put32(&mut end, low32(cd_at));
        put16(&mut end, 0); // comment length
        self.write(&end)?;
        self.flush_buf()?;
        self.file.sync_all()?;
        Ok(self.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("sysmon-zipwrite-{name}-{}", std::process::id()))
    }

    #[test]
    fn written_archive_reads_back_with_the_zip_crate() {
        let path = temp("basic");
        let mut out = ZipOut::new(File::create(&path).unwrap());
        let data = b"hello hello hello hello".repeat(1000);
        // A stored entry.
        let open = out
            .start_entry(&Entry {
                name: b"a/stored.txt",
                mode: 0o100640,
                mtime_unix_s: 1_700_000_000,
                method: METHOD_STORE,
                zip64: false,
            })
            .unwrap();
        out.write(&data).unwrap();
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        let n = data.len() as u64;
        out.finish_entry(
            open,
            Sizes {
                crc: crc.sum(),
                compressed: n,
                uncompressed: n,
            },
        )
        .unwrap();
        // A deflated zip64 entry.
        let open = out
            .start_entry(&Entry {
                name: b"a/deflated.txt",
                mode: 0o100600,
                mtime_unix_s: 1_700_000_000,
                method: METHOD_DEFLATE,
                zip64: true,
            })
            .unwrap();
        let mut c = Compress::new(flate2::Compression::new(6), false);
        let start = out.position();
        out.deflate(&mut c, &data, FlushCompress::None).unwrap();
        out.deflate(&mut c, &[], FlushCompress::Finish).unwrap();
        let compressed = out.position() - start;
        assert_eq!(compressed, c.total_out());
        out.finish_entry(
            open,
            Sizes {
                crc: crc.sum(),
                compressed,
                uncompressed: n,
            },
        )
        .unwrap();
        // A directory and a name that is not UTF-8.
        let open = out
            .start_entry(&Entry {
                name: b"a/empty/",
                mode: 0o40755,
                mtime_unix_s: 0,
                method: METHOD_STORE,
                zip64: false,
            })
            .unwrap();
        out.finish_entry(open, Sizes::default()).unwrap();
        let open = out
            .start_entry(&Entry {
                name: b"a/\xff\xfe",
                mode: 0o100644,
                mtime_unix_s: 5,
                method: METHOD_STORE,
                zip64: false,
            })
            .unwrap();
        out.finish_entry(
            open,
            Sizes {
                crc: 0,
                compressed: 0,
                uncompressed: 0,
            },
        )
        .unwrap();
        out.finish().unwrap();

        let mut archive = zip::ZipArchive::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(archive.len(), 4);
        for name in ["a/stored.txt", "a/deflated.txt"] {
            let mut f = archive.by_name(name).unwrap();
            let mut back = Vec::new();
            f.read_to_end(&mut back).unwrap();
            assert_eq!(back, data, "{name}");
            assert_eq!(
                f.unix_mode().map(|m| m & 0o777),
                Some(if name.contains("stored") {
                    0o640
                } else {
                    0o600
                })
            );
        }
        let raw: Vec<Vec<u8>> = (0..4)
            .map(|i| archive.by_index_raw(i).unwrap().name_raw().to_vec())
            .collect();
        assert_eq!(raw[3], b"a/\xff\xfe");
        assert!(archive.by_index(2).unwrap().is_dir());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn dos_time_is_clamped() {
        assert_eq!(dos_date_time(-5), (0x21, 0));
        let (date, _) = dos_date_time(1_700_000_000);
        assert_eq!(date >> 9, 2023 - 1980);
    }

    /// Times outside 1970..2038 add the NTFS field, and the zip64 sizes
    /// after it are still patched in the right place; a normal time gives
    /// the same bytes as before the NTFS field existed (UT only).
    #[test]
    fn time_fields_and_zip64_patching() {
        let path = temp("times");
        let mut out = ZipOut::new(File::create(&path).unwrap());
        let data = b"0123456789".repeat(100);
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        let times = [
            1_700_000_000,
            -315_619_200,
            2_208_988_800,
            7_258_118_400,
            -20_000_000_000,
        ];
        for (i, &mtime) in times.iter().enumerate() {
            let name = format!("f{i}");
            let open = out
                .start_entry(&Entry {
                    name: name.as_bytes(),
                    mode: 0o100644,
                    mtime_unix_s: mtime,
                    method: METHOD_STORE,
                    zip64: i % 2 == 1,
                })
                .unwrap();
            out.write(&data).unwrap();
            let n = data.len() as u64;
            let sizes = Sizes {
                crc: crc.sum(),
                compressed: n,
                uncompressed: n,
            };
            out.finish_entry(open, sizes).unwrap();
        }
        out.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // The normal entry: fixed header, name, then only the 9-byte UT field.
        assert_eq!(u16::from_le_bytes([bytes[28], bytes[29]]), 9);
        assert_eq!(&bytes[32..41], b"\x55\x54\x05\x00\x01\x00\xf1\x53\x65");
        let mut archive = zip::ZipArchive::new(File::open(&path).unwrap()).unwrap();
        for i in 0..times.len() {
            let mut f = archive.by_index(i).unwrap();
            let mut back = Vec::new();
            f.read_to_end(&mut back).unwrap();
            assert_eq!(back, data, "entry {i}");
        }
        assert!(mtime_storable(-NTFS_EPOCH_S) && !mtime_storable(-NTFS_EPOCH_S - 1));
        assert!(mtime_storable(1_000_000_000_000) && !mtime_storable(i64::MAX));
        std::fs::remove_file(&path).unwrap();
    }
}
