//! `sysmon verify ARCHIVE`: checks at least what Info-ZIP's `unzip -t`
//! checks, so that an archive it passes is one `unzip` restores.
//!
//! For every entry of the central directory (walked here record by record
//! from where the end records put it, with its own parser: nothing of the
//! writer's code is shared; the tests read archives with the `zip` crate's
//! reader as an independent oracle):
//! - the local header it points to is compared with it, field by field:
//!   signature, flags, method, CRC, both sizes (the zip64 extra field's
//!   when the 32-bit fields say so) and the name, byte for byte; `unzip`
//!   refuses or warns on each of these (issue 11: 13 of 400 single-byte
//!   mutations of a real archive passed before, all in local headers);
//! - its data is decompressed to the end and its CRC and size checked
//!   (stored, or deflate inflated through `flate2`, the same zlib-rs
//!   inflater the `zip` crate's reader used; the deflate stream must end
//!   where its compressed size says, and encrypted entries are refused);
//! - the version needed to extract, in both headers, is one Info-ZIP
//!   `unzip` 6.0 can do (4.6 at most).
//!
//! And the end records must agree with the central directory (disk
//! numbers, entry counts, and the directory ending where they begin), as
//! `unzip` requires.
//!
//! The walk was the `zip` crate's reader until issue 16: with it (and its
//! indexmap and hashbrown tables) the release binary carried about 40 KB
//! for what is a loop over fixed-layout records.
//!
//! Streaming: memory stays bounded whatever the entry sizes.

use crate::owned::{owned, text_of};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use flate2::{Crc, Decompress, FlushDecompress, Status};

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
/// General purpose flag bit 0: the data is encrypted.
const FLAG_ENCRYPTED: u16 = 1;
const METHOD_STORED: u16 = 0;
const METHOD_DEFLATE: u16 = 8;
/// What the data check reads and inflates at a time: memory stays bounded
/// whatever the entry sizes.
const CHUNK: usize = 128 * 1024;

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

/// The values of a zip64 extra field, for the fields given (in APPNOTE
/// 4.5.3's order: uncompressed size, compressed size, local header offset)
/// whose 32-bit form holds 0xFFFFFFFF. `which` names the header in errors.
fn zip64_fields(extra: &[u8], fields: &mut [&mut u64], which: &str) -> Result<(), String> {
    let mut rest = extra;
    while rest.len() >= 4 {
        let (id, len) = (u16_at(rest, 0), usize::from(u16_at(rest, 2)));
        let body = rest
            .get(4..4 + len)
            .ok_or_else(|| format!("{which} extra field overruns"))?;
        if id == EXTRA_ZIP64 {
            let mut at = 0;
            for field in fields.iter_mut() {
                if **field == u64::from(u32::MAX) {
                    if body.len() < at + 8 {
                        return Err(format!("{which} zip64 field too short"));
                    }
                    **field = u64_at(body, at);
                    at += 8;
                }
            }
            return Ok(());
        }
        rest = &rest[4 + len..];
    }
    Ok(())
}

/// One record of the central directory, as read from the file.
struct CentralRecord {
    header: Header,
    name: Vec<u8>,
    version_needed: u8,
    /// Where its local header is.
    local_at: u64,
    /// Its length in the directory: the next record starts there.
    len: u64,
}

/// Reads the central directory record at `at`.
fn read_central_record(file: &File, at: u64) -> Result<CentralRecord, String> {
    let mut fixed = [0u8; CENTRAL_FIXED_LEN];
    file.read_exact_at(&mut fixed, at)
        .map_err(|e| format!("central record at offset {at}: {e}"))?;
    if u32_at(&fixed, 0) != CENTRAL_SIG {
        return Err(format!("no central record at offset {at}"));
    }
    let (name_len, extra_len, comment_len) = (
        usize::from(u16_at(&fixed, 28)),
        usize::from(u16_at(&fixed, 30)),
        usize::from(u16_at(&fixed, 32)),
    );
    let mut name = vec![0u8; name_len + extra_len];
    file.read_exact_at(&mut name, at + CENTRAL_FIXED_LEN as u64)
        .map_err(|e| format!("central record at offset {at}: {e}"))?;
    let extra = name.split_off(name_len);
    let mut header = Header {
        flags: u16_at(&fixed, 8),
        method: u16_at(&fixed, 10),
        crc: u32_at(&fixed, 16),
        compressed: u64::from(u32_at(&fixed, 20)),
        uncompressed: u64::from(u32_at(&fixed, 24)),
    };
    let mut local_at = u64::from(u32_at(&fixed, 42));
    zip64_fields(
        &extra,
        &mut [
            &mut header.uncompressed,
            &mut header.compressed,
            &mut local_at,
        ],
        "central",
    )
    .map_err(|e| format!("{}: {e}", String::from_utf8_lossy(&name)))?;
    Ok(CentralRecord {
        header,
        name,
        version_needed: fixed[6],
        local_at,
        len: (CENTRAL_FIXED_LEN + name_len + extra_len + comment_len) as u64,
    })
}

/// Compares the local header of one entry with its central record;
/// returns where the entry's data begins.
fn check_local_header(
    file: &File,
    central: &Header,
    name: &[u8],
    local_at: u64,
) -> Result<u64, String> {
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
    zip64_fields(
        extra,
        &mut [&mut local.uncompressed, &mut local.compressed],
        "local",
    )?;
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
    Ok(local_at + (LOCAL_FIXED_LEN + name_len + extra_len) as u64)
}

/// Where the end records put the central directory, and what they say of it.
struct EndRecords {
    cd_at: u64,
    /// Where the end records begin: the directory must end there.
    cd_end: u64,
    entries: u64,
    /// A disagreement that still lets the directory be walked.
    problem: Option<String>,
}

/// Reads the end of central directory record (and the zip64 ones when
/// it defers to them) of `file`, `len` bytes long. `Err` when there is no
/// directory to walk (a file shorter than an end record among them: no
/// index into the tail below is then out of bounds); a directory on
/// another disk, entry counts that differ or a directory that does not end
/// where the end records begin are its `problem`.
fn check_end_records(file: &File, len: u64) -> Result<EndRecords, String> {
    if len < EOCD_LEN as u64 {
        return Err(too_short(len));
    }
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
    let mut problem = None;
    if disk != 0 || cd_disk != 0 {
        problem = Some(format!(
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
    if counts.0 != counts.1 {
        problem = Some(format!(
            "end record counts {}/{} entries",
            counts.0, counts.1
        ));
    }
    if cd_at.checked_add(cd_len) != Some(cd_end) {
        problem = Some(format!(
            "end record puts the central directory at {cd_at}+{cd_len}, it ends at {cd_end}"
        ));
    }
    Ok(EndRecords {
        cd_at,
        cd_end,
        entries: counts.1,
        problem,
    })
}

/// What [`check_data`] reuses from one entry to the next.
struct DataCheck {
    inflate: Decompress,
    input: Vec<u8>,
    output: Vec<u8>,
}

impl DataCheck {
    fn new() -> Self {
        DataCheck {
            inflate: Decompress::new(false),
            input: vec![0u8; CHUNK],
            output: vec![0u8; CHUNK],
        }
    }
}

/// Reads one entry's data from `data_at` to its compressed size, inflating
/// it when deflated, and checks its uncompressed size and CRC against the
/// central record's. Returns the uncompressed size.
fn check_data(
    file: &File,
    central: &Header,
    data_at: u64,
    work: &mut DataCheck,
) -> Result<u64, String> {
    if central.flags & FLAG_ENCRYPTED != 0 {
        return Err(owned("encrypted: not an archive sysmon writes"));
    }
    let mut crc = Crc::new();
    let (mut at, end) = (data_at, data_at.saturating_add(central.compressed));
    // Fills `input` with the next chunk of compressed data (empty at the end).
    let mut next_chunk = |input: &mut [u8]| -> Result<usize, String> {
        let n = (end - at).min(input.len() as u64) as usize;
        file.read_exact_at(&mut input[..n], at)
            .map_err(|e| format!("data at offset {at}: {e}"))?;
        at += n as u64;
        Ok(n)
    };
    let produced = match central.method {
        METHOD_STORED => {
            loop {
                let n = next_chunk(&mut work.input)?;
                if n == 0 {
                    break;
                }
                crc.update(&work.input[..n]);
            }
            central.compressed
        }
        METHOD_DEFLATE => {
            let DataCheck {
                inflate,
                input,
                output,
            } = work;
            inflate.reset(false);
            let (mut pos, mut len) = (0, 0);
            loop {
                if pos == len {
                    (pos, len) = (0, next_chunk(input)?);
                }
                let (was_in, was_out) = (inflate.total_in(), inflate.total_out());
                let status = inflate
                    .decompress(&input[pos..len], output, FlushDecompress::None)
                    .map_err(|e| format!("deflate data: {e}"))?;
                let consumed = (inflate.total_in() - was_in) as usize;
                let out = (inflate.total_out() - was_out) as usize;
                pos += consumed;
                crc.update(&output[..out]);
                if inflate.total_out() > central.uncompressed {
                    return Err(format!(
                        "inflates to more than its {} bytes",
                        central.uncompressed
                    ));
                }
                if status == Status::StreamEnd {
                    break;
                }
                // The output has room every time: no progress means the
                // input ran out (or the inflater is stuck: never loop on it).
                if consumed == 0 && out == 0 {
                    return Err(owned("deflate data ends before the stream does"));
                }
            }
            if pos != len || at != end {
                return Err("deflate stream ends before the compressed size does".into());
            }
            inflate.total_out()
        }
        method => {
            return Err(format!(
                "compression method {method}: not one sysmon writes"
            ));
        }
    };
    if produced != central.uncompressed {
        return Err(format!(
            "{produced} bytes, the central directory says {}",
            central.uncompressed
        ));
    }
    if crc.sum() != central.crc {
        return Err(format!(
            "CRC {:08x}, the central directory says {:08x}",
            crc.sum(),
            central.crc
        ));
    }
    Ok(produced)
}

/// Why a file of `len` bytes (fewer than [`EOCD_LEN`]) is no archive.
fn too_short(len: u64) -> String {
    format!("not a zip archive: {len} bytes, shorter than an end record ({EOCD_LEN} bytes)")
}

/// Checks the whole archive. `Err` when it cannot be opened as a zip at
/// all; entry errors are listed in the report.
pub fn verify(path: &Path) -> Result<Report, String> {
    // A FIFO or a device is refused, never waited on or read without end;
    // a symlink the user named is followed.
    let raw =
        crate::fsutil::open_regular(path, crate::fsutil::Links::Follow).map_err(|e| text_of(&e))?;
    let len = raw
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if len < EOCD_LEN as u64 {
        return Err(format!("{}: {}", path.display(), too_short(len)));
    }
    let end = check_end_records(&raw, len)
        .map_err(|e| format!("{}: not a readable zip archive: {e}", path.display()))?;
    let mut report = Report::default();
    report.errors.extend(end.problem);
    // Records are contiguous, from where the end records say to where they
    // begin; a record that cannot be read ends the walk.
    let mut next_record = Some(end.cd_at);
    let mut work = DataCheck::new();
    for i in 0..end.entries {
        let Some(at) = next_record else {
            break;
        };
        report.entries += 1;
        let record = match read_central_record(&raw, at) {
            Ok(record) => record,
            Err(e) => {
                report.errors.push(format!("entry {i}: {e}"));
                next_record = None;
                continue;
            }
        };
        next_record = at.checked_add(record.len);
        let name = String::from_utf8_lossy(&record.name).into_owned();
        let checked = if record.version_needed > MAX_VERSION_NEEDED {
            Err(format!(
                "{name}: central record needs version {}",
                record.version_needed
            ))
        } else {
            check_local_header(&raw, &record.header, &record.name, record.local_at)
                .map_err(|e| format!("{name}: {e}"))
        };
        let data_at = match checked {
            Ok(found) => found,
            Err(e) => {
                report.errors.push(format!("entry {i}: {e}"));
                continue;
            }
        };
        match check_data(&raw, &record.header, data_at, &mut work) {
            Ok(n) => report.bytes += n,
            Err(e) => report.errors.push(format!("{name}: {e}")),
        }
    }
    if next_record.is_some_and(|end_at| end_at != end.cd_end) {
        report.errors.push(owned(
            "the central directory does not end where the end records begin",
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::zipwrite::{self, Entry, Sizes, ZipOut};
    use flate2::{Compress, Compression, FlushCompress};

    struct Temp(std::path::PathBuf);
    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// An archive of one entry `f.txt` holding `raw` as its data, with the
    /// method and the CRC and sizes the central directory is to claim.
    fn one_entry(name: &str, method: u16, raw: &[u8], sizes: Sizes) -> Temp {
        let path =
            std::env::temp_dir().join(format!("sysmon-verify-{name}-{}.zip", std::process::id()));
        let mut out = ZipOut::new(File::create(&path).unwrap());
        let open = out
            .start_entry(&Entry {
                name: b"f.txt",
                mode: 0o100644,
                mtime_unix_s: 1_700_000_000,
                method,
                zip64: false,
            })
            .unwrap();
        out.write(raw).unwrap();
        out.finish_entry(open, sizes).unwrap();
        out.finish().unwrap();
        Temp(path)
    }

    fn crc(data: &[u8]) -> u32 {
        let mut crc = Crc::new();
        crc.update(data);
        crc.sum()
    }

    fn deflated(data: &[u8]) -> Vec<u8> {
        let mut c = Compress::new(Compression::new(6), false);
        let mut out = Vec::with_capacity(data.len() + 64);
        c.compress_vec(data, &mut out, FlushCompress::Finish)
            .unwrap();
        out
    }

    /// The data: longer than one inflate chunk, compressible.
    fn text() -> Vec<u8> {
        (0..40_000u32)
            .flat_map(|i| format!("line {i} of the file\n").into_bytes())
            .collect()
    }

    fn errors_of(archive: &Temp) -> Vec<String> {
        verify(&archive.0).unwrap().errors
    }

    /// Fuzzing found `verify` indexing past the end of a file shorter than
    /// an end record (an empty file, a bare end-record signature): a
    /// panic, which aborts the release binary. Each is refused instead.
    #[test]
    fn a_file_shorter_than_an_end_record_is_refused() {
        let path = std::env::temp_dir().join(format!("sysmon-verify-short-{}", std::process::id()));
        let _cleanup = Temp(path.clone());
        for short in [
            &b""[..],
            b"PK\x05\x06abc",
            &[
                0x50, 0x4b, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        ] {
            std::fs::write(&path, short).unwrap();
            let err = verify(&path).unwrap_err();
            let expected = format!(
                "{}: not a zip archive: {} bytes, shorter than an end record (22 bytes)",
                path.display(),
                short.len()
            );
            assert_eq!(err, expected);
        }
        std::fs::write(&path, b"PK\x05\x06").unwrap();
        let file = File::open(&path).unwrap();
        assert!(
            check_end_records(&file, 4).is_err(),
            "checked on its own too"
        );
    }

    #[test]
    fn intact_stored_and_deflated_entries_pass() {
        let data = text();
        let sizes = |compressed: usize| Sizes {
            crc: crc(&data),
            compressed: compressed as u64,
            uncompressed: data.len() as u64,
        };
        let stored = one_entry("stored", zipwrite::METHOD_STORE, &data, sizes(data.len()));
        let report = verify(&stored.0).unwrap();
        assert_eq!(report.errors, Vec::<String>::new());
        assert_eq!((report.entries, report.bytes), (1, data.len() as u64));

        let raw = deflated(&data);
        assert!(raw.len() > 1000 && raw.len() < CHUNK, "{}", raw.len());
        let deflate = one_entry("deflate", zipwrite::METHOD_DEFLATE, &raw, sizes(raw.len()));
        let report = verify(&deflate.0).unwrap();
        assert_eq!(report.errors, Vec::<String>::new());
        assert_eq!((report.entries, report.bytes), (1, data.len() as u64));
    }

    #[test]
    fn a_wrong_crc_or_size_is_reported() {
        let data = text();
        let raw = deflated(&data);
        let wrong_crc = Sizes {
            crc: crc(&data) ^ 1,
            compressed: raw.len() as u64,
            uncompressed: data.len() as u64,
        };
        let archive = one_entry("crc", zipwrite::METHOD_DEFLATE, &raw, wrong_crc);
        let errors = errors_of(&archive);
        assert!(errors.len() == 1 && errors[0].contains("CRC"), "{errors:?}");

        // More data than the central directory says: stopped there, not
        // inflated to the end (a bomb costs no more than its claimed size).
        let short = Sizes {
            crc: crc(&data),
            compressed: raw.len() as u64,
            uncompressed: 1000,
        };
        let archive = one_entry("size", zipwrite::METHOD_DEFLATE, &raw, short);
        let errors = errors_of(&archive);
        assert!(
            errors.len() == 1 && errors[0].contains("more than its 1000"),
            "{errors:?}"
        );
    }

    /// The zip crate's reader, which `verify` inflated with before issue 16,
    /// stops at the end of the deflate stream and ignores any bytes between
    /// there and the compressed size, and so does Info-ZIP's `unzip -t`
    /// (checked by hand: "OK"). `verify` is stricter: sysmon's writer never
    /// leaves such bytes, so they are damage, or something hidden.
    #[test]
    fn bytes_after_the_deflate_stream_are_reported() {
        let data = text();
        let mut raw = deflated(&data);
        raw.extend_from_slice(b"trailing");
        let sizes = Sizes {
            crc: crc(&data),
            compressed: raw.len() as u64,
            uncompressed: data.len() as u64,
        };
        let archive = one_entry("trailing", zipwrite::METHOD_DEFLATE, &raw, sizes);
        let errors = errors_of(&archive);
        assert!(
            errors.len() == 1 && errors[0].contains("ends before the compressed size"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_deflate_stream_cut_short_is_reported() {
        let data = text();
        let raw = deflated(&data);
        let cut = &raw[..raw.len() / 2];
        let sizes = Sizes {
            crc: crc(&data),
            compressed: cut.len() as u64,
            uncompressed: data.len() as u64,
        };
        let archive = one_entry("cut", zipwrite::METHOD_DEFLATE, cut, sizes);
        let errors = errors_of(&archive);
        assert!(
            errors.len() == 1 && errors[0].contains("ends before the stream does"),
            "{errors:?}"
        );
    }

    /// Patches the same 16-bit field of the local header (at `local`) and
    /// of the central record (at `central`) of a one-entry archive.
    /// The central directory walk: a record that is not one, or that
    /// leaves the directory short of where the end records begin, is
    /// reported (the walk is verify's own since issue 16).
    #[test]
    fn a_damaged_central_directory_is_reported() {
        let data = text();
        let sizes = Sizes {
            crc: crc(&data),
            compressed: data.len() as u64,
            uncompressed: data.len() as u64,
        };
        let archive = one_entry("central", METHOD_STORED, &data, sizes);
        assert_eq!(errors_of(&archive), Vec::<String>::new());
        let good = std::fs::read(&archive.0).unwrap();
        let cd = good
            .windows(4)
            .rposition(|w| w == CENTRAL_SIG.to_le_bytes())
            .unwrap();
        let mut bytes = good.clone();
        bytes[cd] ^= 1;
        std::fs::write(&archive.0, &bytes).unwrap();
        let errors = errors_of(&archive);
        assert!(
            errors.len() == 1 && errors[0].contains("no central record"),
            "{errors:?}"
        );
        // A comment length that runs the record past the end records.
        let mut bytes = good;
        bytes[cd + 32] = 1;
        std::fs::write(&archive.0, &bytes).unwrap();
        let errors = errors_of(&archive);
        assert!(
            errors
                .iter()
                .any(|e| e.contains("does not end where the end records begin")),
            "{errors:?}"
        );
    }

    fn patch_both(archive: &Temp, local: usize, central: usize, value: u16) {
        let mut bytes = std::fs::read(&archive.0).unwrap();
        let cd = bytes
            .windows(4)
            .rposition(|w| w == CENTRAL_SIG.to_le_bytes())
            .unwrap();
        bytes[local..local + 2].copy_from_slice(&value.to_le_bytes());
        bytes[cd + central..cd + central + 2].copy_from_slice(&value.to_le_bytes());
        std::fs::write(&archive.0, bytes).unwrap();
    }

    #[test]
    fn methods_and_encryption_sysmon_does_not_write_are_reported() {
        let data = b"some data".to_vec();
        let sizes = Sizes {
            crc: crc(&data),
            compressed: data.len() as u64,
            uncompressed: data.len() as u64,
        };
        let bzip2 = one_entry("bzip2", zipwrite::METHOD_STORE, &data, sizes);
        patch_both(&bzip2, 8, 10, 12);
        let errors = errors_of(&bzip2);
        assert!(
            errors.len() == 1 && errors[0].contains("method 12"),
            "{errors:?}"
        );

        let sizes = Sizes {
            crc: crc(&data),
            compressed: data.len() as u64,
            uncompressed: data.len() as u64,
        };
        let encrypted = one_entry("encrypted", zipwrite::METHOD_STORE, &data, sizes);
        let bytes = std::fs::read(&encrypted.0).unwrap();
        let flags = u16_at(&bytes, 6) | FLAG_ENCRYPTED;
        patch_both(&encrypted, 6, 8, flags);
        let errors = errors_of(&encrypted);
        assert!(
            errors.len() == 1 && errors[0].contains("encrypted"),
            "{errors:?}"
        );
    }
}
