//! Long history in one file, `state_dir/history.db`: a fixed-size,
//! preallocated round-robin store of down-sampled tiers (by default
//! 1-minute points for 2 days, 10-minute points for 30 days, 1-hour points
//! for a year), each point keeping min, mean and max of the raw samples it
//! covers. The in-memory ring of [`crate::history`] stays the finest tier
//! (every sample, `history` long); this file is what survives a restart.
//!
//! # File format (version 1; all integers little-endian)
//! ```text
//! page 0        header: "SYSMONHF", version u32, page size u32 (4096),
//!               slot size u32 (512), series per slot u32 (32), tier count
//!               u32, then per tier: step in seconds u32, slot count u32;
//!               CRC-32 of bytes 0..4092 at 4092.
//! pages 1, 2    two copies of the series-name table: generation u64, count
//!               u32, then 32 names of 64 bytes (length u8 + UTF-8); CRC at
//!               4092. Written alternately; the valid copy with the higher
//!               generation wins, so a torn write of one leaves the other.
//! pages 3..     each tier's region, page-aligned, of fixed 512-byte slots
//!               (8 per page). Slot: bucket u64 (its time is bucket * step),
//!               flags u32 (0), series used u32, then per series min, mean,
//!               max as f32 (12 bytes each, 16..400), then per series the
//!               sample count u16 (400..464; 0: no value), zeros, CRC-32 of
//!               bytes 0..508 at 508.
//! ```
//! Bucket `b` of a tier lives in slot `b % slots`. A slot is served only
//! when its CRC holds and its bucket is the one the reader asks for: a
//! never-written slot (all zeros), a torn or flipped one, or one still
//! holding an older lap of the ring is a gap, never data. The file never
//! grows: it is written to its final size with zeros when made (real
//! blocks, so overwriting it later changes no file-system metadata). A file
//! shorter than its shape is extended with zeros (what was cut is lost, the
//! rest served). A file with another magic, version or shape (tiers
//! changed in the config) is renamed aside (`history.db.aside-UNIX`) and
//! logged, never deleted; a fresh one is made.
//!
//! # Writes
//! Each tier keeps one accumulator in memory (the bucket being filled).
//! When a sample falls into a later bucket, the finished one is written:
//! one `pwrite` of the whole 4 KiB page holding its slot, then
//! `fdatasync`, through a second descriptor opened `O_DIRECT` when the file
//! system allows (a buffered write dirties the page cache's whole folio,
//! 32 KiB measured on Linux 6.18, and all of it reaches the disk). So each tier writes once per its step (at the defaults
//! 1440 + 144 + 24 pages a day, 6.3 MiB). On stop the partial buckets are
//! written too, and at start a bucket found in the file for the current
//! time is taken up again, so a restart inside a minute loses nothing. A
//! `kill -9` or power loss loses at most the partial buckets (one batch).
//!
//! # Time and clock steps
//! Points are placed on a time axis anchored once to the wall clock and
//! advanced by the monotonic clock (`anchor_wall + (now - anchor_mono)`),
//! so slewing and small jitter never move a point. When the wall clock
//! differs from the axis by more than [`STEP_TOLERANCE_MS`], that is a
//! step, and the axis is anchored again at the new wall time:
//! - a step forward (of a year, say): the partial buckets are written
//!   under their old times when the next sample falls into a later bucket,
//!   as at any boundary; the new points follow at the new time and what
//!   lies between is a gap. Nothing is lost or overwritten.
//! - a step back (of a day, say; or a box without an RTC booting in the
//!   past): a tier never writes a bucket older than the newest it has, so
//!   no slot is overwritten with mislabelled data. Samples whose bucket is
//!   older are not written to the file (they still reach the in-memory ring
//!   and the dashboard's live view) until the clock passes the newest
//!   bucket; they are counted in [`Stats::held_back`]. Readers serve only
//!   buckets up to the current time, so points recorded before the step,
//!   now "in the future", are hidden until the clock reaches them.
//!
//! # Memory
//! The store holds its accumulators, one page buffer and the name table:
//! a few KiB, whatever the tiers' length. Reading a range reads the file
//! on demand, slot by slot, into at most [`MAX_RANGE_POINTS`] output
//! points. Recording and writing allocate nothing once a series is named.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use crate::config::history::{DEFAULT_TIERS, MAX_TIERS, TierSpec, format_tiers, parse_tiers};
use crate::sample::Sample;

pub const MAGIC: [u8; 8] = *b"SYSMONHF";
pub const VERSION: u32 = 1;
pub const PAGE: usize = 4096;
pub const SLOT: usize = 512;
/// Series per slot, and names in the file's table. A name, once given an
/// index, keeps it for the life of the file; further series are not stored
/// (logged once).
pub const FILE_SERIES: usize = 32;
/// A name's bytes (mount points longer than this are not stored).
pub const NAME_MAX: usize = 63;
const NAME_FIELD: usize = 64;
const HEADER_PAGES: usize = 3;
const SLOTS_PER_PAGE: usize = PAGE / SLOT;
/// How far the wall clock may drift from the anchored axis before it counts
/// as a step.
pub const STEP_TOLERANCE_MS: u64 = 2_000;
/// Most points a range answer holds (the `points=` of a range query is
/// clamped to this, and it is the default).
pub const MAX_RANGE_POINTS: usize = 1_500;

/// The size of a file of these tiers, in bytes.
pub fn file_size(tiers: &[TierSpec]) -> u64 {
    let pages: u64 = tiers.iter().map(|t| tier_pages(t) as u64).sum();
    (HEADER_PAGES as u64 + pages) * PAGE as u64
}

fn tier_pages(t: &TierSpec) -> usize {
    (t.slots as usize).div_ceil(SLOTS_PER_PAGE)
}

/// Byte offset of each tier's region.
fn tier_offsets(tiers: &[TierSpec]) -> [u64; MAX_TIERS] {
    let mut offsets = [0; MAX_TIERS];
    let mut at = (HEADER_PAGES * PAGE) as u64;
    for (i, t) in tiers.iter().enumerate() {
        offsets[i] = at;
        at += (tier_pages(t) * PAGE) as u64;
    }
    offsets
}

// ---------------------------------------------------------------- CRC-32

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE, as zip and gzip use).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

/// Seals a block whose last 4 bytes hold the CRC of the rest.
fn seal(block: &mut [u8]) {
    let end = block.len() - 4;
    let crc = crc32(&block[..end]);
    block[end..].copy_from_slice(&crc.to_le_bytes());
}

fn sealed(block: &[u8]) -> bool {
    let end = block.len() - 4;
    crc32(&block[..end]) == u32_at(block, end)
}

// ---------------------------------------------------------------- slots

/// One series' figures in one bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub min: f32,
    pub mean: f32,
    pub max: f32,
    /// Raw samples folded in (0: no value).
    pub count: u16,
}

/// What a slot holds, as read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SlotState {
    /// All zeros: never written.
    Empty,
    /// Written, but its CRC does not hold (torn or flipped).
    Corrupt,
    Valid {
        bucket: u64,
    },
}

pub fn slot_state(slot: &[u8]) -> SlotState {
    if slot.iter().all(|b| *b == 0) {
        SlotState::Empty
    } else if !sealed(slot) || u32_at(slot, 8) != 0 {
        SlotState::Corrupt
    } else {
        SlotState::Valid {
            bucket: u64_at(slot, 0),
        }
    }
}

/// Series `i`'s point in a slot already known [`SlotState::Valid`].
pub fn slot_point(slot: &[u8], i: usize) -> Option<Point> {
    let count = u16_at(slot, 400 + 2 * i);
    (count > 0).then(|| Point {
        min: f32_at(slot, 16 + 12 * i),
        mean: f32_at(slot, 20 + 12 * i),
        max: f32_at(slot, 24 + 12 * i),
        count,
    })
}

/// A bucket being filled: per series min, sum, max and count.
#[derive(Clone, Copy)]
struct Acc {
    bucket: u64,
    min: [f32; FILE_SERIES],
    max: [f32; FILE_SERIES],
    sum: [f64; FILE_SERIES],
    count: [u16; FILE_SERIES],
}

impl Acc {
    fn new(bucket: u64) -> Acc {
        Acc {
            bucket,
            min: [0.0; FILE_SERIES],
            max: [0.0; FILE_SERIES],
            sum: [0.0; FILE_SERIES],
            count: [0; FILE_SERIES],
        }
    }

    fn add(&mut self, i: usize, v: f32) {
        if self.count[i] == 0 {
            self.min[i] = v;
            self.max[i] = v;
        } else {
            self.min[i] = self.min[i].min(v);
            self.max[i] = self.max[i].max(v);
        }
        self.sum[i] += f64::from(v);
        self.count[i] = self.count[i].saturating_add(1);
    }

    /// Takes up a slot read back from the file (a restart within a bucket).
    fn load(&mut self, slot: &[u8]) {
        for i in 0..FILE_SERIES {
            if let Some(p) = slot_point(slot, i) {
                self.min[i] = p.min;
                self.max[i] = p.max;
                self.sum[i] = f64::from(p.mean) * f64::from(p.count);
                self.count[i] = p.count;
            }
        }
    }

    fn encode(&self, slot: &mut [u8]) {
        slot.fill(0);
        slot[0..8].copy_from_slice(&self.bucket.to_le_bytes());
        slot[12..16].copy_from_slice(&(FILE_SERIES as u32).to_le_bytes());
        for i in 0..FILE_SERIES {
            let n = self.count[i];
            if n == 0 {
                continue;
            }
            let mean = (self.sum[i] / f64::from(n)) as f32;
            for (k, v) in [self.min[i], mean, self.max[i]].into_iter().enumerate() {
                let at = 16 + 12 * i + 4 * k;
                slot[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            slot[400 + 2 * i..402 + 2 * i].copy_from_slice(&n.to_le_bytes());
        }
        seal(slot);
    }
}

// ---------------------------------------------------------------- header

fn encode_header(tiers: &[TierSpec], page: &mut [u8]) {
    page.fill(0);
    page[0..8].copy_from_slice(&MAGIC);
    for (k, v) in [
        VERSION,
        PAGE as u32,
        SLOT as u32,
        FILE_SERIES as u32,
        tiers.len() as u32,
    ]
    .into_iter()
    .enumerate()
    {
        page[8 + 4 * k..12 + 4 * k].copy_from_slice(&v.to_le_bytes());
    }
    for (i, t) in tiers.iter().enumerate() {
        page[28 + 8 * i..32 + 8 * i].copy_from_slice(&t.step_s.to_le_bytes());
        page[32 + 8 * i..36 + 8 * i].copy_from_slice(&t.slots.to_le_bytes());
    }
    seal(page);
}

/// The tiers a header page describes, or why it is not one we can read.
pub fn decode_header(page: &[u8]) -> Result<Vec<TierSpec>, String> {
    if page.len() < PAGE || page[0..8] != MAGIC {
        return Err("not a sysmon history file (bad magic)".into());
    }
    if !sealed(&page[..PAGE]) {
        return Err("header checksum does not match".into());
    }
    let shape = [u32_at(page, 8), u32_at(page, 12), u32_at(page, 16)];
    if shape[0] != VERSION {
        return Err(format!(
            "version {} (this sysmon reads {VERSION})",
            shape[0]
        ));
    }
    if shape[1..] != [PAGE as u32, SLOT as u32] || u32_at(page, 20) != FILE_SERIES as u32 {
        return Err("page, slot or series size differs".into());
    }
    let n = u32_at(page, 24) as usize;
    if n == 0 || n > MAX_TIERS {
        return Err(format!("{n} tiers"));
    }
    Ok((0..n)
        .map(|i| TierSpec {
            step_s: u32_at(page, 28 + 8 * i),
            slots: u32_at(page, 32 + 8 * i),
        })
        .collect())
}

/// The series-name table: the valid copy of pages 1 and 2 with the higher
/// generation, or (0, none) when neither is valid.
fn read_names(file: &File, page: &mut [u8]) -> (u64, Vec<String>) {
    let mut best: (u64, Vec<String>) = (0, Vec::new());
    for copy in 1..=2u64 {
        if file.read_exact_at(page, copy * PAGE as u64).is_err() || !sealed(page) {
            continue;
        }
        let generation = u64_at(page, 0);
        let count = (u32_at(page, 8) as usize).min(FILE_SERIES);
        if generation == 0 || generation < best.0 {
            continue;
        }
        let names = (0..count)
            .map(|i| {
                let at = 16 + NAME_FIELD * i;
                let len = usize::from(page[at]).min(NAME_MAX);
                String::from_utf8_lossy(&page[at + 1..at + 1 + len]).into_owned()
            })
            .collect();
        best = (generation, names);
    }
    best
}

fn encode_names(generation: u64, names: &[String], page: &mut [u8]) {
    page.fill(0);
    page[0..8].copy_from_slice(&generation.to_le_bytes());
    page[8..12].copy_from_slice(&(names.len() as u32).to_le_bytes());
    for (i, name) in names.iter().enumerate() {
        let at = 16 + NAME_FIELD * i;
        page[at] = name.len() as u8;
        page[at + 1..at + 1 + name.len()].copy_from_slice(name.as_bytes());
    }
    seal(page);
}

// ---------------------------------------------------------------- opening

/// What opening found, for the log and for tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Opened {
    /// The file was made now (none was there, or the old one set aside).
    pub created: bool,
    /// Where an unreadable or differently shaped file was moved, and why.
    pub set_aside: Option<(PathBuf, String)>,
    /// The file was shorter than its shape: bytes it had.
    pub truncated_from: Option<u64>,
    /// Slots whose CRC did not hold, per tier (skipped, never served).
    pub corrupt_slots: [u32; MAX_TIERS],
    pub valid_slots: [u32; MAX_TIERS],
}

/// Counters of what recording did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Pages written (each one `pwrite` of [`PAGE`] bytes).
    pub pages_written: u64,
    /// Samples not written to a tier because their bucket was older than
    /// its newest (the clock stepped back); counted once per tier.
    pub held_back: u64,
    /// Times the wall clock stepped away from the axis.
    pub clock_steps: u64,
    /// Write errors (logged once each time the error changes).
    pub write_errors: u64,
}

struct Tier {
    spec: TierSpec,
    offset: u64,
    /// The bucket being filled.
    acc: Option<Acc>,
    /// The newest bucket in the file (none written yet: `None`).
    newest: Option<u64>,
}

/// The writer: owned by the daemon, fed each sample.
pub struct Store {
    path: PathBuf,
    file: File,
    tiers: Vec<Tier>,
    names: Vec<String>,
    names_generation: u64,
    /// Names `..names_on_disk` are in the file's table; later ones wait
    /// for [`Store::write_names`].
    names_on_disk: usize,
    /// Wall time (ms) at `anchor_mono`.
    anchor_wall_ms: u64,
    anchor_mono: Instant,
    /// The same file opened with `O_DIRECT` for the page writes, when the
    /// file system takes it (not tmpfs): a buffered write of 4 KiB dirties
    /// the page cache's whole folio, which on Linux 6.x can be 32 KiB or
    /// more, and that is what reaches the disk; a direct write is the page.
    direct: Option<File>,
    page: AlignedPage,
    stats: Stats,
    /// A series was dropped for want of room in the table (logged once).
    overflowed: bool,
    last_error_logged: Option<io::ErrorKind>,
}

fn io_context(path: &Path, what: &str, e: io::Error) -> String {
    format!("{}: {what}: {e}", path.display())
}

/// Writes a file of `tiers`, zeros throughout, to `path` (through a
/// temporary name and a rename, so a crash leaves no half-made file).
fn create(path: &Path, tiers: &[TierSpec]) -> Result<File, String> {
    let tmp = path.with_extension("db.new");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600) // whatever the umask: `run` sets 077, a library user may not
        .open(&tmp)
        .map_err(|e| io_context(&tmp, "create", e))?;
    let mut page = vec![0u8; PAGE];
    encode_header(tiers, &mut page);
    file.write_all_at(&page, 0)
        .map_err(|e| io_context(&tmp, "write", e))?;
    encode_names(1, &[], &mut page);
    file.write_all_at(&page, PAGE as u64)
        .map_err(|e| io_context(&tmp, "write", e))?;
    zero_fill(&file, 2 * PAGE as u64, file_size(tiers))
        .map_err(|e| io_context(&tmp, "write", e))?;
    file.sync_all().map_err(|e| io_context(&tmp, "fsync", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_context(path, "rename", e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::fsutil::fsync_dir(dir).map_err(|e| e.to_string())?;
    }
    Ok(file)
}

/// Writes zeros from `from` to `to` (real blocks rather than a hole or an
/// unwritten extent, so later overwrites need no metadata change).
fn zero_fill(file: &File, from: u64, to: u64) -> io::Result<()> {
    let zeros = vec![0u8; 64 * 1024];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// The unix time now, for naming a set-aside file.
fn unix_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Store {
    /// Opens (or makes) the file at `path` for `tiers`, checks every slot,
    /// and anchors the time axis at (`now`, `wall_ms`). Errors only when the
    /// file can be neither opened nor made; anything found inside is
    /// reported in [`Opened`] and never refuses the start.
    pub fn open(
        path: &Path,
        tiers: &[TierSpec],
        now: Instant,
        wall_ms: u64,
    ) -> Result<(Store, Opened), String> {
        assert!(!tiers.is_empty() && tiers.len() <= MAX_TIERS);
        let mut opened = Opened::default();
        let mut aligned = AlignedPage::new();
        let page = aligned.get();
        let existing = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_context(path, "open", e)),
        };
        let file = match existing {
            None => {
                opened.created = true;
                create(path, tiers)?
            }
            Some(file) => {
                let len = file
                    .metadata()
                    .map_err(|e| io_context(path, "stat", e))?
                    .len();
                let problem = match file.read_exact_at(page, 0) {
                    Err(_) => Some("shorter than its header".to_string()),
                    Ok(()) => match decode_header(page) {
                        Err(why) => Some(why),
                        Ok(found) if found != tiers => Some(format!(
                            "its tiers ({}) differ from history_tiers ({})",
                            format_tiers(&found),
                            format_tiers(tiers)
                        )),
                        Ok(_) => None,
                    },
                };
                match problem {
                    Some(why) => {
                        let aside = path.with_extension(format!("db.aside-{}", unix_s()));
                        std::fs::rename(path, &aside)
                            .map_err(|e| io_context(path, "rename aside", e))?;
                        opened.set_aside = Some((aside, why));
                        opened.created = true;
                        create(path, tiers)?
                    }
                    None => {
                        let full = file_size(tiers);
                        if len < full {
                            opened.truncated_from = Some(len);
                            zero_fill(&file, len, full)
                                .and_then(|()| file.sync_all())
                                .map_err(|e| io_context(path, "extend", e))?;
                        }
                        file
                    }
                }
            }
        };
        let (names_generation, names) = read_names(&file, page);
        let offsets = tier_offsets(tiers);
        let mut store = Store {
            path: path.to_path_buf(),
            file,
            tiers: Vec::with_capacity(tiers.len()),
            names: Vec::with_capacity(FILE_SERIES),
            names_generation,
            names_on_disk: 0,
            anchor_wall_ms: wall_ms,
            anchor_mono: now,
            direct: OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_DIRECT)
                .open(path)
                .ok(),
            page: aligned,
            stats: Stats::default(),
            overflowed: false,
            last_error_logged: None,
        };
        store.names.extend(names);
        store.names_on_disk = store.names.len();
        for (i, spec) in tiers.iter().enumerate() {
            let mut newest = None;
            let mut newest_slot = [0u8; SLOT];
            scan_tier(
                &store.file,
                spec,
                offsets[i],
                |index, slot| match slot_state(slot) {
                    SlotState::Empty => {}
                    SlotState::Corrupt => opened.corrupt_slots[i] += 1,
                    SlotState::Valid { bucket } if bucket % u64::from(spec.slots) != index => {
                        opened.corrupt_slots[i] += 1
                    }
                    SlotState::Valid { bucket } => {
                        opened.valid_slots[i] += 1;
                        if newest.is_none_or(|n| bucket > n) {
                            newest = Some(bucket);
                            newest_slot.copy_from_slice(slot);
                        }
                    }
                },
            )
            .map_err(|e| io_context(path, "read", e))?;
            // A restart inside the newest bucket takes it up again.
            let current = wall_ms / 1000 / u64::from(spec.step_s);
            let acc = (newest == Some(current)).then(|| {
                let mut acc = Acc::new(current);
                acc.load(&newest_slot);
                acc
            });
            store.tiers.push(Tier {
                spec: *spec,
                offset: offsets[i],
                acc,
                newest,
            });
        }
        Ok((store, opened))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn tiers(&self) -> impl Iterator<Item = TierSpec> + '_ {
        self.tiers.iter().map(|t| t.spec)
    }

    /// The axis time (ms) for `now`, re-anchoring on a wall-clock step.
    fn axis_ms(&mut self, now: Instant, wall_ms: u64) -> u64 {
        let since = now.saturating_duration_since(self.anchor_mono).as_millis() as u64;
        let axis = self.anchor_wall_ms.saturating_add(since);
        if axis.abs_diff(wall_ms) > STEP_TOLERANCE_MS {
            self.stats.clock_steps += 1;
            self.anchor_wall_ms = wall_ms;
            self.anchor_mono = now;
            return wall_ms;
        }
        axis
    }

    /// Records the figures of `sample` taken at `now` (wall time `wall_ms`).
    pub fn record(&mut self, now: Instant, wall_ms: u64, sample: &Sample) {
        let mut values = [f32::NAN; FILE_SERIES];
        crate::history::for_each_series(sample, |prefix, name, value| {
            if let Some(i) = self.series_index(prefix, name) {
                values[i] = value as f32;
            }
        });
        // The in-memory ring leaves load and temperatures out (its output
        // is kept as it was); they come last, so they never crowd out the
        // dashboard's series from the table.
        if let Some(i) = self.series_index("load1", "") {
            values[i] = sample.load.load[0] as f32;
        }
        for t in &sample.temperatures {
            let Some(celsius) = t.celsius.filter(|c| c.is_finite()) else {
                continue;
            };
            if let Some(i) = self.series_index_of(&["temp:", &t.chip, "/", &t.sensor]) {
                values[i] = celsius as f32;
            }
        }
        self.record_values(now, wall_ms, &values);
    }

    /// Records one sample given as values by series index (NaN: none).
    pub fn record_values(&mut self, now: Instant, wall_ms: u64, values: &[f32; FILE_SERIES]) {
        let mut values = *values;
        if !self.write_names() {
            values[self.names_on_disk..].fill(f32::NAN);
        }
        let t_s = self.axis_ms(now, wall_ms) / 1000;
        for k in 0..self.tiers.len() {
            let tier = &self.tiers[k];
            let bucket = t_s / u64::from(tier.spec.step_s);
            let floor = tier.acc.map(|a| a.bucket).max(tier.newest);
            if floor.is_some_and(|f| bucket < f) {
                self.stats.held_back += 1;
                continue;
            }
            if let Some(acc) = tier.acc.filter(|a| a.bucket < bucket) {
                self.write_bucket(k, &acc);
                self.tiers[k].acc = None;
            }
            let acc = self.tiers[k].acc.get_or_insert_with(|| Acc::new(bucket));
            for (i, v) in values.iter().enumerate() {
                if !v.is_nan() {
                    acc.add(i, *v);
                }
            }
        }
    }

    /// Writes every partial bucket (at stop).
    pub fn flush(&mut self) {
        for k in 0..self.tiers.len() {
            if let Some(acc) = self.tiers[k].acc {
                self.write_bucket(k, &acc);
            }
        }
    }

    /// One pwrite of the page holding the bucket's slot, then fdatasync.
    fn write_bucket(&mut self, k: usize, acc: &Acc) {
        let tier = &self.tiers[k];
        let index = (acc.bucket % u64::from(tier.spec.slots)) as usize;
        let at = tier.offset + (index * SLOT) as u64;
        let page_at = at - at % PAGE as u64;
        let within = (at - page_at) as usize;
        let result = self.write_page(page_at, |page| {
            acc.encode(&mut page[within..within + SLOT]);
        });
        match result {
            Ok(()) => {
                self.stats.pages_written += 1;
                let tier = &mut self.tiers[k];
                tier.newest = Some(tier.newest.map_or(acc.bucket, |n| n.max(acc.bucket)));
                self.last_error_logged = None;
            }
            Err(e) => {
                self.stats.write_errors += 1;
                if self.last_error_logged != Some(e.kind()) {
                    self.last_error_logged = Some(e.kind());
                    crate::log::error(format_args!("history: {}: write: {e}", self.path.display()));
                }
            }
        }
    }

    /// Reads the page at `page_at`, lets `patch` change it, writes it back
    /// (directly when the file system allows) and waits for the disk.
    fn write_page(&mut self, page_at: u64, patch: impl Fn(&mut [u8])) -> io::Result<()> {
        let page = self.page.get();
        if let Some(direct) = &self.direct {
            let result = direct
                .read_exact_at(page, page_at)
                .and_then(|()| {
                    patch(page);
                    direct.write_all_at(page, page_at)
                })
                .and_then(|()| direct.sync_data());
            match result {
                // Refused as a direct write: from now on buffered.
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => self.direct = None,
                other => return other,
            }
        }
        self.file
            .read_exact_at(page, page_at)
            .and_then(|()| {
                patch(page);
                self.file.write_all_at(page, page_at)
            })
            .and_then(|()| self.file.sync_data())
    }

    /// The index of series `prefix + name`, naming it in the file if new.
    /// Allocates only when it names.
    fn series_index(&mut self, prefix: &str, name: &str) -> Option<usize> {
        self.series_index_of(&[prefix, name])
    }

    /// The index of the series named by `parts` put end to end.
    fn series_index_of(&mut self, parts: &[&str]) -> Option<usize> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let found = self.names.iter().position(|s| {
            let mut at = 0;
            s.len() == len
                && parts.iter().all(|p| {
                    at += p.len();
                    s.as_bytes()[at - p.len()..at] == *p.as_bytes()
                })
        });
        if found.is_some() {
            return found;
        }
        if self.names.len() >= FILE_SERIES || len > NAME_MAX {
            if !self.overflowed {
                self.overflowed = true;
                crate::log::warn(format_args!(
                    "history: {} is not kept in {} ({FILE_SERIES} series at most, \
                     names up to {NAME_MAX} bytes; logged once)",
                    parts.concat(),
                    self.path.display()
                ));
            }
            return None;
        }
        self.names.push(parts.concat());
        Some(self.names.len() - 1)
    }

    /// Writes the name table if a series was named since it was last
    /// written: once per sample that names any (the rates of every device
    /// appear at the same, second, sample), always before a slot uses the
    /// new index. On failure the new names are forgotten (logged) and
    /// `false` returned.
    fn write_names(&mut self) -> bool {
        if self.names.len() == self.names_on_disk {
            return true;
        }
        self.names_generation += 1;
        let copy = 1 + self.names_generation % 2;
        let (generation, names) = (self.names_generation, std::mem::take(&mut self.names));
        let written = self.write_page(copy * PAGE as u64, |page| {
            encode_names(generation, &names, page)
        });
        self.names = names;
        match written {
            Ok(()) => {
                self.stats.pages_written += 1;
                self.names_on_disk = self.names.len();
                true
            }
            Err(e) => {
                crate::log::error(format_args!(
                    "history: {}: write names: {e}",
                    self.path.display()
                ));
                self.names.truncate(self.names_on_disk);
                false
            }
        }
    }

    /// A `/history.json?range=` answer from the file (see [`render_range`]).
    pub fn render_range(
        &self,
        range_s: u64,
        points: Option<usize>,
        wall_ms: u64,
        out: &mut String,
    ) -> io::Result<()> {
        let tiers: Vec<TierSpec> = self.tiers().collect();
        render_range(
            &self.file,
            &tiers,
            &self.names,
            range_s,
            points,
            wall_ms,
            out,
        )
    }
}

/// A page-sized buffer aligned to a page, as `O_DIRECT` requires of
/// memory (made once; no allocator alignment promise needed).
struct AlignedPage {
    buf: Box<[u8]>,
    start: usize,
}

impl AlignedPage {
    fn new() -> AlignedPage {
        let buf = vec![0u8; 2 * PAGE].into_boxed_slice();
        let start = (PAGE - buf.as_ptr() as usize % PAGE) % PAGE;
        AlignedPage { buf, start }
    }

    fn get(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + PAGE]
    }
}

/// Calls `f(index, slot)` for every slot of a tier, reading a page at a
/// time. Slots past the end of a short file are not visited.
fn scan_tier(
    file: &File,
    spec: &TierSpec,
    offset: u64,
    mut f: impl FnMut(u64, &[u8]),
) -> io::Result<()> {
    let mut page = [0u8; PAGE];
    for p in 0..tier_pages(spec) {
        match file.read_exact_at(&mut page, offset + (p * PAGE) as u64) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        for s in 0..SLOTS_PER_PAGE {
            let index = (p * SLOTS_PER_PAGE + s) as u64;
            if index < u64::from(spec.slots) {
                f(index, &page[s * SLOT..(s + 1) * SLOT]);
            }
        }
    }
    Ok(())
}

/// The tier a range is read from: the finest whose span covers it, else
/// the longest.
pub fn pick_tier(tiers: &[TierSpec], range_s: u64) -> usize {
    tiers
        .iter()
        .enumerate()
        .filter(|(_, t)| t.span_s() >= range_s)
        .min_by_key(|(_, t)| t.step_s)
        .or_else(|| tiers.iter().enumerate().max_by_key(|(_, t)| t.span_s()))
        .map_or(0, |(i, _)| i)
}

/// Consecutive buckets folded into one output point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fold {
    pub min: f32,
    pub max: f32,
    /// The sum of the samples (each bucket's mean times its count).
    pub sum: f64,
    /// Samples folded in (0: no value).
    pub count: u32,
}

const NO_FOLD: Fold = Fold {
    min: f32::INFINITY,
    max: f32::NEG_INFINITY,
    sum: 0.0,
    count: 0,
};

impl Fold {
    fn add(&mut self, p: Point) {
        self.min = self.min.min(p.min);
        self.max = self.max.max(p.max);
        self.sum += f64::from(p.mean) * f64::from(p.count);
        self.count += u32::from(p.count);
    }

    pub fn mean(&self) -> f64 {
        self.sum / f64::from(self.count.max(1))
    }
}

/// A range read from the file: `points[i][s]` is series `s` at point `i`,
/// which covers `[end_s - (n-i) * interval_s, end_s - (n-1-i) * interval_s)`.
pub struct Range<'a> {
    pub range_s: u64,
    /// The step of the tier read.
    pub tier_s: u64,
    /// Each output point's width (`tier_s` times the buckets folded).
    pub interval_s: u64,
    pub end_s: u64,
    pub names: &'a [String],
    pub points: Vec<[Fold; FILE_SERIES]>,
}

/// Reads the last `range_s` seconds before `wall_ms` from the best tier
/// (see [`pick_tier`]). Each output point folds `ceil(buckets / points)`
/// consecutive buckets (min of mins, max of maxes, the mean weighted by
/// sample count); the last ends with the bucket holding `wall_ms`. Buckets
/// after that (the clock stepped back) are not read. Allocates the points
/// (at most [`MAX_RANGE_POINTS`]); reads slot by slot.
pub fn read_range<'a>(
    file: &File,
    tiers: &[TierSpec],
    names: &'a [String],
    range_s: u64,
    points: Option<usize>,
    wall_ms: u64,
) -> io::Result<Range<'a>> {
    let k = pick_tier(tiers, range_s);
    let spec = tiers[k];
    let step = u64::from(spec.step_s);
    let offset = tier_offsets(tiers)[k];
    let buckets = range_s.div_ceil(step).clamp(1, u64::from(spec.slots)) as usize;
    let points = points
        .unwrap_or(MAX_RANGE_POINTS)
        .clamp(1, MAX_RANGE_POINTS)
        .min(buckets);
    let per = buckets.div_ceil(points);
    let n = buckets.div_ceil(per);
    let last = wall_ms / 1000 / step;
    let first = (last + 1).saturating_sub((n * per) as u64);
    let series = names.len().min(FILE_SERIES);
    let mut folds = vec![[NO_FOLD; FILE_SERIES]; n];
    let mut slot = [0u8; SLOT];
    for bucket in first..=last {
        // Point i covers buckets (last - (n-1-i)*per - per, last - (n-1-i)*per].
        let from_end = (last - bucket) as usize / per;
        let Some(i) = (n - 1).checked_sub(from_end) else {
            continue;
        };
        let index = bucket % u64::from(spec.slots);
        match file.read_exact_at(&mut slot, offset + index * SLOT as u64) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => continue,
            Err(e) => return Err(e),
        }
        if slot_state(&slot) != (SlotState::Valid { bucket }) {
            continue;
        }
        for (s, fold) in folds[i].iter_mut().enumerate().take(series) {
            if let Some(p) = slot_point(&slot, s) {
                fold.add(p);
            }
        }
    }
    Ok(Range {
        range_s,
        tier_s: step,
        interval_s: step * per as u64,
        end_s: (last + 1) * step,
        names: &names[..series],
        points: folds,
    })
}

impl Range<'_> {
    /// Whether series `s` has a value anywhere in the range.
    pub fn has_values(&self, s: usize) -> bool {
        self.points.iter().any(|p| p[s].count > 0)
    }

    /// As JSON into `out` (cleared first):
    /// `{"range_s","tier_s","interval_s","end","points","aggregate":"min,mean,max",
    /// "series":{"cpu":{"min":[..],"mean":[..],"max":[..]},..}}`, `null`
    /// where a point has no value; series with none in the range left out.
    pub fn to_json(&self, out: &mut String) {
        out.clear();
        let _ = write!(
            out,
            "{{\"range_s\":{},\"tier_s\":{},\"interval_s\":{},\"end\":{},\"points\":{},\
             \"aggregate\":\"min,mean,max\",\"series\":{{",
            self.range_s,
            self.tier_s,
            self.interval_s,
            self.end_s,
            self.points.len()
        );
        let mut first_series = true;
        for (s, name) in self.names.iter().enumerate() {
            if !self.has_values(s) {
                continue;
            }
            if !first_series {
                out.push(',');
            }
            first_series = false;
            crate::history::json_string(out, name);
            out.push_str(":{");
            for (j, field) in ["min", "mean", "max"].into_iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                let _ = write!(out, "\"{field}\":[");
                for (i, p) in self.points.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let f = p[s];
                    if f.count == 0 {
                        out.push_str("null");
                        continue;
                    }
                    let v = match j {
                        0 => f64::from(f.min),
                        1 => f.mean(),
                        _ => f64::from(f.max),
                    };
                    let _ = write!(out, "{}", (v * 10.0).round() / 10.0);
                }
                out.push(']');
            }
            out.push('}');
        }
        out.push_str("}}");
    }
}

/// [`read_range`] as JSON ([`Range::to_json`]) into `out`.
pub fn render_range(
    file: &File,
    tiers: &[TierSpec],
    names: &[String],
    range_s: u64,
    points: Option<usize>,
    wall_ms: u64,
    out: &mut String,
) -> io::Result<()> {
    out.clear();
    read_range(file, tiers, names, range_s, points, wall_ms)?.to_json(out);
    Ok(())
}

/// Opens the file read-only (for `sysmon history`, alongside the writer):
/// its tiers and series names.
pub fn open_read_only(path: &Path) -> Result<(File, Vec<TierSpec>, Vec<String>), String> {
    let file = File::open(path).map_err(|e| io_context(path, "open", e))?;
    let mut page = vec![0u8; PAGE];
    file.read_exact_at(&mut page, 0)
        .map_err(|e| io_context(path, "read header", e))?;
    let tiers = decode_header(&page).map_err(|why| format!("{}: {why}", path.display()))?;
    let (_, names) = read_names(&file, &mut page);
    Ok((file, tiers, names))
}

#[cfg(test)]
mod tests;
