//! `sysmon verify ARCHIVE`: checks at least what Info-ZIP's `unzip -t`
//! checks, so that an archive it passes is one `unzip` restores.
//!
//! For every entry of the central directory (read with the `zip` crate's
//! reader, an implementation independent of our writer):
//! - the local header it points to is compared with it, field by field:
//!   signature, flags, method, CRC, both sizes (the zip64 extra field's
//!   when the 32-bit fields say so) and the name, byte for byte; `unzip`
//!   refuses or warns on each of these (issue 11: 13 of 400 single-byte
//!   mutations of a real archive passed before, all in local headers);
//! - its data is decompressed to the end and its CRC and size checked;
//! - the version needed to extract, in both headers, is one Info-ZIP
//!   `unzip` 6.0 can do (4.6 at most).
//!
//! And the end records must agree with the central directory (disk
//! numbers, entry counts, and the directory ending where they begin), as
//! `unzip` requires and the `zip` crate's reader does not.
//!
//! Streaming: memory stays bounded whatever the entry sizes.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_FIXED_LEN: usize = 30;
const CENTRAL_FIXED_LEN: usize = 46;
const EOCD_SIG: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const EXTRA_ZIP64: u16 = 0x0001;
/// Info-ZIP `unzip` 6.0 skips entries that need a later version than 4.6.
const MAX_VERSION_NEEDED: u8 = 46;
/// General purpose flag bit 3: CRC and sizes follow the data instead.
const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub entries: u64,
    pub bytes: u64,
    /// `name: error` for each entry that failed.
    pub errors: Vec<String>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// The fields a local header must share with its central record.
#[derive(Debug, PartialEq, Eq)]
struct Header {
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
}

/// The sizes of a local header's zip64 extra field, for the 32-bit size
/// fields that hold 0xFFFFFFFF (uncompressed first, as APPNOTE 4.5.3 says).
fn local_zip64_sizes(extra: &[u8], header: &mut Header) -> Result<(), String> {
    let mut rest = extra;
    while rest.len() >= 4 {
        let (id, len) = (u16_at(rest, 0), usize::from(u16_at(rest, 2)));
        let body = rest.get(4..4 + len).ok_or("local extra field overruns")?;
        if id == EXTRA_ZIP64 {
            let mut at = 0;
            for size in [&mut header.uncompressed, &mut header.compressed] {
                if *size == u64::from(u32::MAX) {
                    if body.len() < at + 8 {
                        return Err("local zip64 field too short".into());
                    }
                    *size = u64_at(body, at);
                    at += 8;
                }
            }
            return Ok(());
        }
        rest = &rest[4 + len..];
    }
    Ok(())
}

/// Compares the local header of one entry with its central record.
fn check_local_header(
    file: &File,
    central: &Header,
    name: &[u8],
    local_at: u64,
) -> Result<(), String> {
    let mut fixed = [0u8; LOCAL_FIXED_LEN];
    file.read_exact_at(&mut fixed, local_at)
        .map_err(|e| format!("local header at offset {local_at}: {e}"))?;
    if u32_at(&fixed, 0) != LOCAL_SIG {
        return Err(format!("no local header at offset {local_at}"));
    }
    if fixed[4] > MAX_VERSION_NEEDED {
        return Err(format!("local header needs version {}", fixed[4]));
    }
    let (name_len, extra_len) = (
        usize::from(u16_at(&fixed, 26)),
        usize::from(u16_at(&fixed, 28)),
    );
    let mut variable = vec![0u8; name_len + extra_len];
    file.read_exact_at(&mut variable, local_at + LOCAL_FIXED_LEN as u64)
        .map_err(|e| format!("local header at offset {local_at}: {e}"))?;
    let (local_name, extra) = variable.split_at(name_len);
    if local_name != name {
        return Err(format!(
            "local header names it {:?}",
            String::from_utf8_lossy(local_name)
        ));
    }
    let mut local = Header {
        flags: u16_at(&fixed, 6),
        method: u16_at(&fixed, 8),
        crc: u32_at(&fixed, 14),
        compressed: u64::from(u32_at(&fixed, 18)),
        uncompressed: u64::from(u32_at(&fixed, 22)),
    };
    local_zip64_sizes(extra, &mut local)?;
    if local.flags & FLAG_DATA_DESCRIPTOR != 0 && local.flags == central.flags {
        // CRC and sizes are in the data descriptor, not the local header.
        local.crc = central.crc;
        local.compressed = central.compressed;
        local.uncompressed = central.uncompressed;
    }
    if &local != central {
        return Err(format!(
            "local header differs from the central directory: {local:?} there, {central:?} here"
        ));
    }
    Ok(())
}

/// Checks the end of central directory record (and the zip64 ones when
/// it defers to them): one disk, `entries` entries, and the central
/// directory ending exactly where the end records begin.
/// Returns where the central directory starts and ends.
fn check_end_records(file: &File, entries: u64) -> Result<(u64, u64), String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let tail_len = len.min(EOCD_LEN as u64 + 0xFFFF);
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact_at(&mut tail, len - tail_len)
        .map_err(|e| format!("end records: {e}"))?;
    // The last signature whose comment length reaches the end of the file.
    let at = (0..=tail.len().saturating_sub(EOCD_LEN))
        .rev()
        .find(|&i| {
            u32_at(&tail, i) == EOCD_SIG
                && i + EOCD_LEN + usize::from(u16_at(&tail, i + 20)) == tail.len()
        })
        .ok_or("no end of central directory record that ends the file")?;
    let eocd = &tail[at..at + EOCD_LEN];
    let eocd_at = len - tail_len + at as u64;
    let (disk, cd_disk) = (u16_at(eocd, 4), u16_at(eocd, 6));
    let (on_disk, total) = (u16_at(eocd, 8), u16_at(eocd, 10));
    let (mut cd_len, mut cd_at) = (u64::from(u32_at(eocd, 12)), u64::from(u32_at(eocd, 16)));
    let mut cd_end = eocd_at;
    let mut counts = (u64::from(on_disk), u64::from(total));
    if disk != 0 || cd_disk != 0 {
        return Err(format!(
            "end record names disk {disk}/{cd_disk}: split archives are not ours"
        ));
    }
    let zip64 =
        on_disk == 0xFFFF || total == 0xFFFF || cd_len == 0xFFFF_FFFF || cd_at == 0xFFFF_FFFF;
    if zip64 {
        let locator_at = eocd_at.checked_sub(20).ok_or("no zip64 end locator")?;
        let mut locator = [0u8; 20];
        file.read_exact_at(&mut locator, locator_at)
            .map_err(|e| format!("zip64 end locator: {e}"))?;
        if u32_at(&locator, 0) != ZIP64_LOCATOR_SIG
            || u32_at(&locator, 4) != 0
            || u32_at(&locator, 16) != 1
        {
            return Err("bad zip64 end locator".into());
        }
        let record_at = u64_at(&locator, 8);
        let mut record = [0u8; 56];
        file.read_exact_at(&mut record, record_at)
            .map_err(|e| format!("zip64 end record: {e}"))?;
        if u32_at(&record, 0) != ZIP64_EOCD_SIG
            || u32_at(&record, 16) != 0
            || u32_at(&record, 20) != 0
        {
            return Err("bad zip64 end record".into());
        }
        counts = (u64_at(&record, 24), u64_at(&record, 32));
        cd_len = u64_at(&record, 40);
        cd_at = u64_at(&record, 48);
        cd_end = record_at;
    }
    if counts != (entries, entries) {
        return Err(format!(
            "end record counts {}/{} entries, the central directory holds {entries}",
            counts.0, counts.1
        ));
    }
    if cd_at.checked_add(cd_len) != Some(cd_end) {
        return Err(format!(
            "end record puts the central directory at {cd_at}+{cd_len}, it ends at {cd_end}"
        ));
    }
    Ok((cd_at, cd_end))
}

/// Reads an entry's data to the end (the reader checks the CRC there).
fn read_to_end(entry: &mut impl Read, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let n = entry.read(buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// Checks the whole archive. `Err` when it cannot be opened as a zip at
/// all; entry errors are listed in the report.
pub fn verify(path: &Path) -> Result<Report, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let raw = file
        .try_clone()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| format!("{}: not a readable zip archive: {e}", path.display()))?;
    let mut report = Report::default();
    // Where the next central record must begin: records are contiguous,
    // from where the end records say to where they begin.
    let (mut next_record, cd_end) = match check_end_records(&raw, archive.len() as u64) {
        Ok(bounds) => (Some(bounds.0), bounds.1),
        Err(e) => {
            report.errors.push(e);
            (None, 0)
        }
    };
    let mut buf = vec![0u8; 256 * 1024];
    for i in 0..archive.len() {
        report.entries += 1;
        let checked = archive
            .by_index_raw(i)
            .map_err(|e| e.to_string())
            .and_then(|entry| {
                let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
                let mut record = [0u8; CENTRAL_FIXED_LEN];
                raw.read_exact_at(&mut record, entry.central_header_start())
                    .map_err(|e| format!("{name}: central record: {e}"))?;
                if u32_at(&record, 0) != CENTRAL_SIG {
                    return Err(format!("{name}: no central record"));
                }
                let central = Header {
                    flags: u16_at(&record, 8),
                    method: u16_at(&record, 10),
                    crc: entry.crc32(),
                    compressed: entry.compressed_size(),
                    uncompressed: entry.size(),
                };
                if central.crc != u32_at(&record, 16) {
                    return Err(format!("{name}: central record misread"));
                }
                let record_len = CENTRAL_FIXED_LEN as u64
                    + u64::from(u16_at(&record, 28))
                    + u64::from(u16_at(&record, 30))
                    + u64::from(u16_at(&record, 32));
                if let Some(expected) = next_record {
                    if entry.central_header_start() != expected {
                        next_record = None;
                        return Err(format!(
                            "{name}: central record not where the previous one ends"
                        ));
                    }
                    next_record = Some(expected + record_len);
                }
                if record[6] > MAX_VERSION_NEEDED {
                    return Err(format!(
                        "{name}: central record needs version {}",
                        record[6]
                    ));
                }
                check_local_header(&raw, &central, entry.name_raw(), entry.header_start())
                    .map_err(|e| format!("{name}: {e}"))?;
                Ok(name)
            });
        let name = match checked {
            Ok(name) => name,
            Err(e) => {
                report.errors.push(format!("entry {i}: {e}"));
                continue;
            }
        };
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                report.errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        match read_to_end(&mut entry, &mut buf) {
            Ok(n) if n == entry.size() => report.bytes += n,
            Ok(n) => report
                .errors
                .push(format!("{name}: {n} bytes read, {} expected", entry.size())),
            Err(e) => report.errors.push(format!("{name}: {e}")),
        }
    }
    if next_record.is_some_and(|end| end != cd_end) {
        report
            .errors
            .push("the central directory does not end where the end records begin".into());
    }
    Ok(report)
}
