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
//!               sample count u16 (400..464; 0: no value; 65,535 for more:
//!               the mean is exact, a fold weighs it as 65,535), zeros, CRC-32 of
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
//! logged, never deleted; a fresh one is made. Making a file and checking
//! every slot of one run in slices of bounded time, requests answered
//! between them (`history_file/opening.rs`); samples recorded meanwhile
//! wait and are then placed as if the opening had been one piece.
//!
//! # Writes
//! Each tier keeps one accumulator in memory (the bucket being filled).
//! When a sample falls into a later bucket, the finished one is encoded
//! into the tier's page buffer (an image of the file page holding its
//! slot); the buffers are written in batches: when the time axis enters a
//! new batch period ([`batch_s`]: four steps of the finest tier, at most
//! [`MAX_BATCH_S`] = 4 minutes), each buffer holding unwritten buckets is
//! written with one `pwrite` of its 4 KiB page, then one `fdatasync` for
//! the batch. The writes go through a second descriptor opened `O_DIRECT`
//! when the file system allows (a buffered write dirties the page cache's
//! whole folio, 32 KiB measured on Linux 6.18, and all of it reaches the
//! disk). What a batch costs besides its pages: the write updates the
//! file's mtime, which dirties the inode's 4 KiB block once per batch
//! (measured: `write_bytes` grew 8 KiB per single 4 KiB page written a
//! minute apart on ext4 without a journal; with a journal jbd2 writes it,
//! uncharged to us). Both descriptors are opened `O_NOATIME` (the
//! owner's right): under `relatime` the first read after a write would
//! update atime and dirty that block once more. At the defaults a day is
//! 360 batches of one minute-tier page (a batch boundary is also that
//! tier's page boundary, 8 slots), plus 144 and 24 pages of the coarser
//! tiers riding in the same batches, plus 360 inode blocks: 888 blocks,
//! 3.5 MiB (one write and one sync per tier step was 1608 pages and as
//! many inode blocks, 10.7 MiB measured). On stop the partial buckets and the staged pages are
//! written, and at start a bucket found in the file for the current time
//! is taken up again, so a restart inside a step loses nothing. A `kill
//! -9` or power loss loses what is in memory only: the finished buckets
//! of the current batch (at most [`MAX_BATCH_S`] of the finest tier) and
//! the buckets in progress. A reader of the daemon is served those from
//! memory over the file (see [`Held`]); `sysmon history` reads the file
//! alone.
//!
//! # Time and clock steps
//! Points are placed on a time axis anchored once to the wall clock and
//! advanced by the monotonic clock (`anchor_wall + (now - anchor_mono)`),
//! so slewing and small jitter never move a point. When the wall clock
//! differs from the axis by more than [`STEP_TOLERANCE_MS`], that is a
//! step: the axis is anchored again at the new wall time, and the step is
//! taken to show that the old anchor was wrong. The monotonic clock is the
//! truth about intervals, so every sample still in memory is re-timed:
//! `true time = new wall - (monotonic at the step - monotonic of the
//! sample)`. What makes that possible is the journal
//! (`history_file/journal.rs`): the last 64 steps of samples (64 minutes
//! at the defaults; the grain is the gcd of the tiers' steps, the finest
//! step at the defaults), each folded per series into min, max, sum and
//! count. At a step, in either direction (`Store::retime`):
//! - each tier's samples that are in memory only (its step in progress
//!   and its staged, unwritten buckets) are taken out again, the staged
//!   slots given back the file's bytes;
//! - each journal step is moved by the step and placed again, whole, in
//!   the bucket of its middle (never after the new now): a sample lands
//!   at most half the grain (30 s at the defaults) from its true time's
//!   bucket, and exactly there when the step is a whole number of grains.
//!   Each tier's min, mean, max and count are then those of the re-timed
//!   samples;
//! - what was already written stays where it was written, under the old
//!   time: at most what the batches wrote since the start or the last
//!   step. A step within the first batch period after start (the usual
//!   NTP case: up to 4 minutes at the defaults) moves everything. What
//!   left the journal (older than its 64 steps) but is still in a tier's
//!   step in progress stays at its old bucket too.
//!
//! A tier never writes a bucket older than the newest it has, so no slot
//! is ever overwritten with mislabelled data. A sample (or a re-timed
//! step) whose bucket is older than a tier's newest (the clock behind the
//! file: a box without an RTC booting in the past, or a step back) is
//! *held back*: the journal keeps it for that tier ([`Stats::held_back`])
//! and a later step forward that re-times it past the newest places it
//! ([`Stats::held_back_placed`]): a Raspberry Pi that boots in the past
//! and gets its time from NTP within 64 minutes loses nothing. Held-back
//! samples are lost ([`Stats::held_back_lost`]) when the journal is full
//! (the oldest go), when the tier's clock passes its newest point without
//! a step (their time is then behind points the tier holds for good), and
//! at a stop or reload (logged). A bucket the clock comes back to (the
//! tier's newest) is taken up again, so writing it adds to what it held.
//! Readers serve only buckets up to the current time, so points "in the
//! future" after a step back are hidden until the clock reaches them.
//! The in-memory ring of [`crate::history`] (the dashboard's live view)
//! needs none of this: it places samples by monotonic ticks and dates them
//! from its newest sample's wall time, so a step moves it whole.
//!
//! # Memory
//! The store holds its accumulators, a page buffer per tier and one more,
//! the name table and the journal (64 steps of 464 bytes: 29 KiB, made
//! once): under 100 KiB, whatever the tiers' length.
//! Answering a range streams ([`render_range`]): it reads the file a page
//! at a time, folds one series at a time into at most
//! [`MAX_RANGE_POINTS`] points (36 KB) and prints them into the reused
//! response buffer, so an answer costs that buffer (at most 1500 points ×
//! 3 numbers per series with values) and 40 KB more, whatever the range.
//! Recording and writing allocate nothing once a series is named.

use crate::owned::owned;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use crate::config::history::{
    DEFAULT_TIERS, MAX_SLOTS, MAX_STEP_S, MAX_TIERS, TierSpec, format_tiers, parse_tiers,
};
use crate::sample::Sample;
use journal::{Journal, Step};

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
/// The longest a finished bucket waits in memory before it is written.
pub const MAX_BATCH_S: u64 = 240;

/// Seconds between batch writes for these tiers: four steps of the finest
/// tier (half its page of 8 slots, so that at the defaults a batch boundary
/// is also the minute tier's page boundary and each page is written once
/// per batch), at most [`MAX_BATCH_S`], at least one step.
pub fn batch_s(tiers: &[TierSpec]) -> u64 {
    let finest = tiers.iter().map(|t| u64::from(t.step_s)).min().unwrap_or(1);
    (4 * finest).min(MAX_BATCH_S).max(finest).max(1)
}

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

/// A bucket being filled: per series min, sum, max and count. The count is
/// exact in memory (a daily bucket at `interval = 1s` takes 86,400
/// samples), so the mean written is; the slot's count field is 16 bits and
/// says 65,535 for more (readers weigh such a point as 65,535 samples when
/// they fold it with others).
#[derive(Clone, Copy)]
struct Acc {
    bucket: u64,
    min: [f32; FILE_SERIES],
    max: [f32; FILE_SERIES],
    sum: [f64; FILE_SERIES],
    count: [u32; FILE_SERIES],
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

    fn is_empty(&self) -> bool {
        self.count.iter().all(|n| *n == 0)
    }

    /// Takes up a slot read back from the file (a restart within a bucket).
    fn load(&mut self, slot: &[u8]) {
        for i in 0..FILE_SERIES {
            if let Some(p) = slot_point(slot, i) {
                self.min[i] = p.min;
                self.max[i] = p.max;
                self.sum[i] = f64::from(p.mean) * f64::from(p.count);
                self.count[i] = u32::from(p.count);
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
            let n = u16::try_from(n).unwrap_or(u16::MAX);
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
/// A header whose checksum holds may still come from a bug or a hand:
/// every tier it returns has a step of 1 to [`MAX_STEP_S`] seconds and 1
/// to [`MAX_SLOTS`] slots, as `history_tiers` allows, so the readers may
/// divide by either and bound by both.
pub fn decode_header(page: &[u8]) -> Result<Vec<TierSpec>, String> {
    if page.len() < PAGE || page[0..8] != MAGIC {
        return Err(owned("not a sysmon history file (bad magic)"));
    }
    if !sealed(&page[..PAGE]) {
        return Err(owned("header checksum does not match"));
    }
    let shape = [u32_at(page, 8), u32_at(page, 12), u32_at(page, 16)];
    if shape[0] != VERSION {
        return Err(format!(
            "version {} (this sysmon reads {VERSION})",
            shape[0]
        ));
    }
    if shape[1..] != [PAGE as u32, SLOT as u32] || u32_at(page, 20) != FILE_SERIES as u32 {
        return Err(owned("page, slot or series size differs"));
    }
    let n = u32_at(page, 24) as usize;
    if n == 0 || n > MAX_TIERS {
        return Err(format!("{n} tiers"));
    }
    let tiers: Vec<TierSpec> = (0..n)
        .map(|i| TierSpec {
            step_s: u32_at(page, 28 + 8 * i),
            slots: u32_at(page, 32 + 8 * i),
        })
        .collect();
    for (i, tier) in tiers.iter().enumerate() {
        check_tier(tier).map_err(|why| format!("tier {}: {why}", i + 1))?;
    }
    Ok(tiers)
}

/// Why a tier read from a header is none `history_tiers` can describe.
fn check_tier(tier: &TierSpec) -> Result<(), String> {
    if !(1..=MAX_STEP_S).contains(&tier.step_s) {
        return Err(format!("step of {} s (1 to {MAX_STEP_S} s)", tier.step_s));
    }
    if !(1..=MAX_SLOTS).contains(&tier.slots) {
        return Err(format!("{} slots (1 to {MAX_SLOTS})", tier.slots));
    }
    Ok(())
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
    /// Batches written (each one `fdatasync` after its pages; the name
    /// table's writes are synced on their own and not counted).
    pub syncs: u64,
    /// Samples a tier could not take because their bucket was older than
    /// its newest (the clock behind the file, or stepped back): held in the
    /// journal; counted once per tier.
    pub held_back: u64,
    /// Held-back samples a step forward re-timed past the tier's newest
    /// and placed there; per tier.
    pub held_back_placed: u64,
    /// Held-back samples dropped, per tier: the journal full (the oldest
    /// go), the clock passing the tier's newest without a step (their time
    /// is then behind what the tier holds for good), or a stop.
    pub held_back_lost: u64,
    /// Samples in memory that a clock step moved to their re-timed buckets
    /// (not yet written when the step came); per tier.
    pub retimed: u64,
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
    /// The newest bucket finished (in the file or staged; none: `None`).
    newest: Option<u64>,
    /// The file offset of the page this tier's buffer in [`Store::pages`]
    /// holds, once one was read: finished buckets are encoded there and
    /// the page written at the next batch boundary.
    page_at: Option<u64>,
    /// The buffer holds finished buckets not yet written.
    dirty: bool,
    /// The oldest bucket staged and not yet written (what a kill loses).
    unwritten_from: Option<u64>,
    /// The newest bucket staged into the page buffer: what the next write
    /// puts in the file for good.
    last_staged: Option<u64>,
    /// The bucket of the oldest journal step that is movable in this tier
    /// (none: nothing is). From there on the tier's buckets hold nothing
    /// but movable steps, besides `base`.
    movable_from: Option<u64>,
    /// What bucket `movable_from` held before its first movable step (taken
    /// up from the file at a restart, or steps that left the journal).
    base: Option<Acc>,
    /// `newest` before bucket `movable_from` was begun.
    newest_settled: Option<u64>,
}

/// The writer: owned by the daemon, fed each sample.
pub struct Store {
    path: PathBuf,
    /// The descriptor first opened (or made) at `path`, kept only for its
    /// `flock`: a second sysmon on the same `state_dir` (a `run --listen`
    /// tried beside the service) finds the file in use and runs without
    /// it, rather than both writing their pages over each other's.
    _lock: File,
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
    /// Page 0: scratch (the name table); page `1 + k`: tier `k`'s staged
    /// page.
    pages: AlignedPages,
    /// Seconds between batch writes ([`batch_s`]), and the batch period
    /// (axis time / `batch_s`) of the last sample.
    batch_s: u64,
    batch_period: u64,
    stats: Stats,
    /// A series was dropped for want of room in the table (logged once).
    overflowed: bool,
    /// Per series index, the end (axis time, s) of the newest step that
    /// holds a value of it, in the file or in memory (0: none). An index
    /// whose series has had no value for the longest tier's span is given
    /// to a new name when the table is full: no answer reads that far back.
    last_value_s: [u64; FILE_SERIES],
    /// The axis time (s) of the sample being recorded.
    now_s: u64,
    /// Indexes given to a new name since the table was last written, with
    /// the name they had (put back if the write fails).
    renamed: Vec<(usize, String)>,
    last_error_logged: Option<io::ErrorKind>,
    /// The last [`journal::STEPS`] steps of samples, by the monotonic
    /// clock: what a clock step re-times.
    journal: Journal,
    /// Tiers that may have held-back steps in the journal (a superset).
    held_mask: u8,
    /// Samples were held back since open (logged once).
    held_logged: bool,
    /// The opening's work still to do in slices (see [`opening`]); `None`
    /// once done.
    opening: Option<Box<opening::Opening>>,
    /// How the opening ended, until [`Store::take_opened`] takes it.
    outcome: Option<Result<Opened, String>>,
}

fn io_context(path: &Path, what: &str, e: io::Error) -> String {
    format!("{}: {what}: {e}", path.display())
}

/// Begins a file of `tiers` under a temporary name beside `path`: its
/// header and an empty name table. The zeros (real blocks rather than a
/// hole or an unwritten extent, so later overwrites need no metadata
/// change), the sync and the rename to `path` follow in slices
/// ([`opening`]), so a crash leaves no half-made file. Returns the file and
/// its temporary name.
///
/// Whatever was left at the temporary name (a crash while making one, or a
/// symlink planted there) is removed first and the file made anew with
/// `O_EXCL` and `O_NOFOLLOW`: never written through a link, never renamed
/// over `path` unless made here. On an error the temporary is removed.
fn begin_create(path: &Path, tiers: &[TierSpec]) -> Result<(File, PathBuf), String> {
    let tmp = path.with_extension("db.new");
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_context(&tmp, "remove leftover", e)),
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true) // O_CREAT | O_EXCL
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600) // whatever the umask: `run` sets 077, a library user may not
        .open(&tmp)
        .map_err(|e| io_context(&tmp, "create", e))?;
    if let Err(e) = write_empty_header(&file, tiers) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_context(&tmp, "write", e));
    }
    Ok((file, tmp))
}

/// Writes the header of `tiers`, an empty name table and its empty other
/// copy at the start of a new file.
fn write_empty_header(file: &File, tiers: &[TierSpec]) -> io::Result<()> {
    let mut page = vec![0u8; PAGE];
    encode_header(tiers, &mut page);
    file.write_all_at(&page, 0)?;
    encode_names(1, &[], &mut page);
    file.write_all_at(&page, PAGE as u64)?;
    // The other copy of the table, empty, so that the fill, which starts
    // after the header pages, never covers a table written meanwhile.
    page.fill(0);
    file.write_all_at(&page, 2 * PAGE as u64)
}

/// The file at `path` opened read-write with `flags` and `O_NOATIME`, or
/// without `O_NOATIME` where that is refused (not the file's owner).
/// `O_NOATIME`: under `relatime` the first read after each write would
/// update atime, and dirty the inode's 4 KiB block again (a page read in
/// when a tier's steps move to the next page, a range answer).
fn open_flags(path: &Path, flags: i32) -> Option<File> {
    let open = |flags| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(flags)
            .open(path)
    };
    open(flags | libc::O_NOATIME).or_else(|_| open(flags)).ok()
}

/// Takes `file`'s `flock` without waiting; `Err` names `path` when
/// another process holds it. A file system without `flock` is no error.
fn lock(path: &Path, file: &File) -> Result<(), String> {
    match crate::sys::try_lock_exclusive(file) {
        Ok(false) => Err(format!(
            "{}: in use by another sysmon (locked): two writers would mix their points",
            path.display()
        )),
        _ => Ok(()),
    }
}

/// The unix time now, for naming a set-aside file.
fn unix_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Store {
    /// Opens (or makes) the file at `path` for `tiers`, checks every slot,
    /// and anchors the time axis at (`now`, `wall_ms`), in one piece (tests,
    /// tools). The daemon uses [`Store::begin`] and lets it run in slices.
    /// Errors only when the file can be neither opened nor made; anything
    /// found inside is reported in [`Opened`] and never refuses the start.
    pub fn open(
        path: &Path,
        tiers: &[TierSpec],
        now: Instant,
        wall_ms: u64,
    ) -> Result<(Store, Opened), String> {
        let mut store = Store::begin(path, tiers, now, wall_ms)?;
        store.run_opening(None);
        let opened = store.take_opened().expect("the opening ran to its end")?;
        Ok((store, opened))
    }

    /// Opens the file at `path` for `tiers` as far as is quick (the header
    /// read, a bad file set aside, a new one begun, the name table read)
    /// and anchors the time axis at (`now`, `wall_ms`); the rest (zeros for
    /// a new or cut file, the check of every slot) is left to
    /// [`Store::poll_opening`] (see [`opening`]). Errors only when the file
    /// can be neither opened nor made.
    pub fn begin(
        path: &Path,
        tiers: &[TierSpec],
        now: Instant,
        wall_ms: u64,
    ) -> Result<Store, String> {
        assert!(!tiers.is_empty() && tiers.len() <= MAX_TIERS);
        let mut opened = Opened::default();
        let mut aligned = AlignedPages::new(1 + tiers.len());
        let page = aligned.get(0);
        let full = file_size(tiers);
        let existing = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_context(path, "open", e)),
        };
        if let Some(file) = &existing {
            lock(path, file)?;
        }
        let mut fill_from = None;
        let mut rename_from = None;
        let file = match existing {
            Some(file) => {
                let len = file
                    .metadata()
                    .map_err(|e| io_context(path, "stat", e))?
                    .len();
                let problem = match file.read_exact_at(page, 0) {
                    Err(_) => Some(owned("shorter than its header")),
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
                if let Some(why) = problem {
                    let aside = path.with_extension(format!("db.aside-{}", unix_s()));
                    std::fs::rename(path, &aside)
                        .map_err(|e| io_context(path, "rename aside", e))?;
                    opened.set_aside = Some((aside, why));
                    None
                } else {
                    if len < full {
                        opened.truncated_from = Some(len);
                        // The header pages at once (a name table may be
                        // written before the fill's slices reach it).
                        let header_end = (HEADER_PAGES * PAGE) as u64;
                        if len < header_end {
                            let zeros = vec![0u8; (header_end - len) as usize];
                            file.write_all_at(&zeros, len)
                                .map_err(|e| io_context(path, "extend", e))?;
                        }
                        fill_from = Some(len.max(header_end));
                    }
                    Some(file)
                }
            }
            None => None,
        };
        let file = match file {
            Some(file) => file,
            None => {
                opened.created = true;
                let (file, tmp) = begin_create(path, tiers)?;
                lock(&tmp, &file)?;
                fill_from = Some((HEADER_PAGES * PAGE) as u64);
                rename_from = Some(tmp);
                file
            }
        };
        let live = rename_from.as_deref().unwrap_or(path);
        // Reads of this descriptor (range answers) leave atime alone too.
        let (file, lock_held) = match open_flags(live, 0) {
            Some(reopened) => (reopened, file),
            None => (
                file.try_clone().map_err(|e| io_context(live, "dup", e))?,
                file,
            ),
        };
        let (names_generation, names) = read_names(&file, page);
        let offsets = tier_offsets(tiers);
        let mut store = Store {
            path: path.to_path_buf(),
            _lock: lock_held,
            direct: open_flags(live, libc::O_DIRECT),
            file,
            tiers: Vec::with_capacity(tiers.len()),
            names: Vec::with_capacity(FILE_SERIES),
            names_generation,
            names_on_disk: 0,
            anchor_wall_ms: wall_ms,
            anchor_mono: now,
            pages: aligned,
            batch_s: batch_s(tiers),
            batch_period: wall_ms / 1000 / batch_s(tiers),
            stats: Stats::default(),
            overflowed: false,
            last_value_s: [0; FILE_SERIES],
            now_s: wall_ms / 1000,
            renamed: Vec::new(),
            last_error_logged: None,
            journal: Journal::new(tiers.iter().map(|t| t.step_s)),
            held_mask: 0,
            held_logged: false,
            opening: Some(Box::new(opening::Opening::new(
                opened,
                fill_from,
                full,
                rename_from,
                now,
                wall_ms,
            ))),
            outcome: None,
        };
        store.names.extend(names);
        store.names_on_disk = store.names.len();
        for (i, spec) in tiers.iter().enumerate() {
            store.tiers.push(Tier {
                spec: *spec,
                offset: offsets[i],
                acc: None,
                newest: None,
                page_at: None,
                dirty: false,
                unwritten_from: None,
                last_staged: None,
                movable_from: None,
                base: None,
                newest_settled: None,
            });
        }
        Ok(store)
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

    /// The axis time (ms) for `now`. A wall clock more than
    /// [`STEP_TOLERANCE_MS`] away from the axis is a step: the axis is
    /// anchored again at `wall_ms`, and what the journal holds is re-timed
    /// by as much ([`Store::retime`]).
    fn axis_ms(&mut self, now: Instant, wall_ms: u64) -> u64 {
        let since = now.saturating_duration_since(self.anchor_mono).as_millis() as u64;
        let axis = self.anchor_wall_ms.saturating_add(since);
        if axis.abs_diff(wall_ms) > STEP_TOLERANCE_MS {
            self.stats.clock_steps += 1;
            self.anchor_wall_ms = wall_ms;
            self.anchor_mono = now;
            let delta_ms = (i128::from(wall_ms) - i128::from(axis))
                .clamp(i128::from(i64::MIN), i128::from(i64::MAX))
                as i64;
            self.retime(delta_ms, wall_ms);
            return wall_ms;
        }
        axis
    }

    /// The oldest bucket tier `k` may still write: its step in progress,
    /// or after its newest finished one.
    fn floor(&self, k: usize) -> Option<u64> {
        let tier = &self.tiers[k];
        tier.acc.map(|a| a.bucket).max(tier.newest)
    }

    /// A clock step of `delta_ms`, the monotonic clock being the truth
    /// about intervals: every tier's movable samples are taken out
    /// ([`Store::roll_back`]), each journal step is moved by `delta_ms` (no
    /// later than `now_ms`, the new axis time: a step in progress is not
    /// put in the future), and placed again, oldest first, in every tier
    /// that held it or held it back: at its new bucket, or held back when
    /// that is older than the tier's newest.
    #[cold]
    fn retime(&mut self, delta_ms: i64, now_ms: u64) {
        for k in 0..self.tiers.len() {
            if let Some(from) = self.tiers[k].movable_from {
                self.roll_back(k, from);
            }
        }
        // Each step's tiers to place it in (its bits cleared first, so that
        // a page written while placing settles only what is placed).
        let mut was = [(0u8, 0u8); journal::STEPS];
        for (i, was) in was.iter_mut().enumerate().take(self.journal.len()) {
            let step = self.journal.get_mut(i);
            step.mid_ms = step.mid_ms.saturating_add_signed(delta_ms).min(now_ms);
            *was = (step.movable, step.held_back);
            step.movable = 0;
            step.held_back = 0;
        }
        let (mut moved, mut placed, mut held) = (0u64, 0u64, 0u64);
        for (i, &(was_movable, was_held)) in was.iter().enumerate().take(self.journal.len()) {
            let step = *self.journal.get(i);
            let samples = u64::from(step.samples);
            for k in 0..self.tiers.len() {
                let bit = 1u8 << k;
                if (was_movable | was_held) & bit == 0 {
                    continue;
                }
                let bucket = step.bucket(self.tiers[k].spec.step_s);
                if self.floor(k).is_some_and(|f| bucket < f) {
                    self.journal.get_mut(i).held_back |= bit;
                    self.held_mask |= bit;
                    held += samples;
                    if was_movable & bit != 0 {
                        self.stats.held_back += samples;
                    }
                    continue;
                }
                self.open_bucket(k, bucket);
                step.fold_into(self.tiers[k].acc.as_mut().expect("opened"));
                self.journal.get_mut(i).movable |= bit;
                if was_held & bit != 0 {
                    placed += samples;
                } else {
                    moved += samples;
                }
            }
        }
        self.stats.retimed += moved;
        self.stats.held_back_placed += placed;
        crate::log::info(format_args!(
            "history: the wall clock stepped {}{}.{:03} s; samples in memory moved with it \
             (by the monotonic clock): {moved} re-timed, {placed} held back placed, {held} \
             held back (older than the newest point) in {}",
            if delta_ms < 0 { "-" } else { "+" },
            delta_ms.unsigned_abs() / 1000,
            delta_ms.unsigned_abs() % 1000,
            self.path.display()
        ));
    }

    /// Takes tier `k`'s movable samples out (its buckets from `from` on):
    /// the staged, unwritten slots from `from` on get the file's bytes
    /// back, the step in progress is what bucket `from` held before them,
    /// and `newest` what it was then.
    #[cold]
    fn roll_back(&mut self, k: usize, from: u64) {
        let tier = &self.tiers[k];
        let page_at = tier
            .page_at
            .filter(|_| tier.newest.is_some_and(|n| n >= from));
        if let Some(page_at) = page_at {
            match self.read_page(0, page_at) {
                Ok(()) => {
                    for s in 0..SLOTS_PER_PAGE {
                        let r = s * SLOT..(s + 1) * SLOT;
                        let staged = slot_state(&self.pages.peek(1 + k)[r.clone()]);
                        if matches!(staged, SlotState::Valid { bucket } if bucket >= from) {
                            let mut file_slot = [0u8; SLOT];
                            file_slot.copy_from_slice(&self.pages.peek(0)[r.clone()]);
                            self.pages.get(1 + k)[r].copy_from_slice(&file_slot);
                        }
                    }
                }
                Err(e) => {
                    // The buffer cannot be put back: what it staged is lost.
                    self.write_failed(&e);
                    let tier = &mut self.tiers[k];
                    tier.page_at = None;
                    tier.unwritten_from = None;
                }
            }
        }
        let tier = &mut self.tiers[k];
        tier.acc = tier.base.take();
        tier.newest = tier.newest_settled;
        tier.unwritten_from = tier.unwritten_from.filter(|&b| b < from);
        tier.dirty = tier.unwritten_from.is_some();
        tier.last_staged = tier.newest_settled.filter(|&b| b < from);
        tier.movable_from = None;
    }

    /// Makes tier `k`'s step in progress the one of `bucket` (not older
    /// than [`Store::floor`]): an older one is staged first; a bucket
    /// already staged or in the file is taken up again. The tier's first
    /// movable samples note what their bucket held before them.
    fn open_bucket(&mut self, k: usize, bucket: u64) {
        if let Some(acc) = self.tiers[k].acc.filter(|a| a.bucket < bucket) {
            self.stage(k, &acc);
            self.tiers[k].acc = None;
        }
        if self.tiers[k].acc.is_none() {
            let acc = self.acc_for(k, bucket);
            self.tiers[k].acc = Some(acc);
        }
        let tier = &mut self.tiers[k];
        if tier.movable_from.is_none() {
            tier.movable_from = Some(bucket);
            tier.base = tier.acc.filter(|a| !a.is_empty());
            tier.newest_settled = tier.newest;
        }
    }

    /// A new step in progress for `bucket` of tier `k`: empty, or what the
    /// tier already has of it (its newest, staged or in the file: the
    /// clock came back to it) so that writing it adds rather than replaces.
    fn acc_for(&mut self, k: usize, bucket: u64) -> Acc {
        let mut acc = Acc::new(bucket);
        let tier = &self.tiers[k];
        if tier.newest != Some(bucket) {
            return acc;
        }
        let at = tier.offset + (bucket % u64::from(tier.spec.slots)) * SLOT as u64;
        let page_at = at - at % PAGE as u64;
        let within = (at - page_at) as usize;
        let buf = if tier.page_at == Some(page_at) {
            1 + k
        } else if self.read_page(0, page_at).is_ok() {
            0
        } else {
            return acc;
        };
        let slot = &self.pages.peek(buf)[within..within + SLOT];
        if slot_state(slot) == (SlotState::Valid { bucket }) {
            acc.load(slot);
        }
        acc
    }

    /// Tier `k`'s buckets up to `through` are final (written, or their
    /// steps left the journal): no re-timing takes their samples out.
    fn settle(&mut self, k: usize, through: u64) {
        let tier = &mut self.tiers[k];
        if tier.movable_from.is_none_or(|from| from > through) {
            return;
        }
        let bit = 1u8 << k;
        let mut next = None;
        for i in 0..self.journal.len() {
            let step = self.journal.get_mut(i);
            if step.movable & bit == 0 {
                continue;
            }
            let bucket = step.bucket(tier.spec.step_s);
            if bucket <= through {
                step.movable &= !bit;
            } else if next.is_none() {
                next = Some(bucket);
            }
        }
        // Buckets after `through` hold movable steps only, and `through`
        // is the newest staged before them.
        tier.movable_from = next;
        tier.base = None;
        tier.newest_settled = Some(through);
    }

    /// The index of the journal step for axis second `t_s`: the last one
    /// if it holds that grain, else a new one (dropping the steps no tier
    /// needs; when full, the oldest goes: its held-back samples are lost,
    /// its movable ones stay where they are).
    fn journal_step(&mut self, t_s: u64) -> usize {
        let grain_s = self.journal.grain_s;
        let last_grain = self.journal.last().map(|s| s.mid_ms / 1000 / grain_s);
        if last_grain.is_some_and(|g| g >= t_s / grain_s) {
            return self.journal.len() - 1;
        }
        self.journal.trim_settled();
        if let Some(old) = self.journal.push(Step::at(t_s, grain_s)) {
            for k in 0..self.tiers.len() {
                let bit = 1u8 << k;
                if old.held_back & bit != 0 {
                    self.stats.held_back_lost += u64::from(old.samples);
                }
                if old.movable & bit != 0 {
                    self.settle(k, old.bucket(self.tiers[k].spec.step_s));
                }
            }
        }
        self.journal.len() - 1
    }

    /// Tier `k` takes samples again while steps it held back are older
    /// than what it now holds: without a step to re-time them they can
    /// never be placed; they are dropped (counted).
    #[cold]
    fn drop_held(&mut self, k: usize) {
        let bit = 1u8 << k;
        self.held_mask &= !bit;
        for i in 0..self.journal.len() {
            let step = self.journal.get_mut(i);
            if step.held_back & bit != 0 {
                step.held_back &= !bit;
                self.stats.held_back_lost += u64::from(step.samples);
            }
        }
    }

    /// Records the figures of `sample` taken at `now` (wall time `wall_ms`).
    pub fn record(&mut self, now: Instant, wall_ms: u64, sample: &Sample) {
        // The time a full table's free index is judged by (while the file
        // opens, the wall clock: the axis is read when the sample is placed).
        self.now_s = if self.opening.is_some() {
            wall_ms / 1000
        } else {
            self.axis_ms(now, wall_ms) / 1000
        };
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
        if !self.write_names(&mut values) {
            values[self.names_on_disk..].fill(f32::NAN);
        }
        if !self.queue_while_opening(now, wall_ms, &values) {
            self.place(now, wall_ms, &values);
        }
    }

    /// Places one sample (named: values by series index) in the journal
    /// and every tier; writes the batch when a new batch period begins.
    fn place(&mut self, now: Instant, wall_ms: u64, values: &[f32; FILE_SERIES]) {
        let t_s = self.axis_ms(now, wall_ms) / 1000;
        self.now_s = t_s;
        for (last, v) in self.last_value_s.iter_mut().zip(values) {
            if !v.is_nan() {
                *last = t_s;
            }
        }
        let j = self.journal_step(t_s);
        let step = self.journal.get_mut(j);
        step.samples += 1;
        for (i, v) in values.iter().enumerate() {
            if !v.is_nan() {
                step.add(i, *v);
            }
        }
        for k in 0..self.tiers.len() {
            let bit = 1u8 << k;
            let bucket = t_s / u64::from(self.tiers[k].spec.step_s);
            // A step held back stays so (its samples stay together).
            if self.floor(k).is_some_and(|f| bucket < f) || self.journal.get(j).held_back & bit != 0
            {
                self.hold_back(j, k);
                continue;
            }
            if self.held_mask & bit != 0 {
                self.drop_held(k);
            }
            self.open_bucket(k, bucket);
            let acc = self.tiers[k].acc.as_mut().expect("opened");
            for (i, v) in values.iter().enumerate() {
                if !v.is_nan() {
                    acc.add(i, *v);
                }
            }
            self.journal.get_mut(j).movable |= bit;
        }
        // A new batch period: what the last one finished goes to the disk.
        let period = t_s / self.batch_s;
        if period != self.batch_period {
            self.batch_period = period;
            self.write_staged();
        }
    }

    /// The sample of journal step `j` is older than tier `k`'s newest: the
    /// journal keeps it for a step forward to place (logged once).
    #[cold]
    fn hold_back(&mut self, j: usize, k: usize) {
        self.stats.held_back += 1;
        self.journal.get_mut(j).held_back |= 1 << k;
        self.held_mask |= 1 << k;
        if !self.held_logged {
            self.held_logged = true;
            crate::log::info(format_args!(
                "history: the wall clock ({} s) is behind the newest point of {}: \
                 samples are held in memory (the last {} steps of {} s) until a \
                 clock step forward places them (logged once)",
                self.now_s,
                self.path.display(),
                journal::STEPS,
                self.journal.grain_s
            ));
        }
    }

    /// Writes every partial bucket and everything staged (at stop), the
    /// opening finished first. Samples held back are lost (counted, logged).
    pub fn flush(&mut self) {
        self.run_opening(None);
        if self.opening.is_some() {
            return; // it failed: nothing is known of the slots
        }
        for k in 0..self.tiers.len() {
            if let Some(acc) = self.tiers[k].acc {
                self.stage(k, &acc);
            }
        }
        self.write_staged();
        let mut lost = 0;
        for i in 0..self.journal.len() {
            let step = self.journal.get_mut(i);
            lost += u64::from(step.held_back.count_ones()) * u64::from(step.samples);
            step.held_back = 0;
        }
        self.held_mask = 0;
        if lost > 0 {
            self.stats.held_back_lost += lost;
            crate::log::warn(format_args!(
                "history: {lost} samples (counted once per tier) held back because the \
                 wall clock was behind the newest point of {} are lost at stop",
                self.path.display()
            ));
        }
    }

    /// Encodes a bucket into its tier's page buffer, to be written with the
    /// batch. A bucket in another page than the buffered one first writes
    /// that page out if it holds unwritten buckets (never at the defaults,
    /// whose batch boundaries fall on the minute tier's page boundaries),
    /// then reads its own page in.
    fn stage(&mut self, k: usize, acc: &Acc) {
        let tier = &self.tiers[k];
        let index = (acc.bucket % u64::from(tier.spec.slots)) as usize;
        let at = tier.offset + (index * SLOT) as u64;
        let page_at = at - at % PAGE as u64;
        let within = (at - page_at) as usize;
        if tier.page_at != Some(page_at) {
            if tier.dirty {
                self.write_tier_page(k);
            }
            self.tiers[k].page_at = None;
            if let Err(e) = self.read_page(1 + k, page_at) {
                self.write_failed(&e);
                return;
            }
            self.tiers[k].page_at = Some(page_at);
        }
        acc.encode(&mut self.pages.get(1 + k)[within..within + SLOT]);
        let tier = &mut self.tiers[k];
        tier.dirty = true;
        tier.unwritten_from.get_or_insert(acc.bucket);
        tier.newest = Some(tier.newest.map_or(acc.bucket, |n| n.max(acc.bucket)));
        tier.last_staged = Some(acc.bucket);
    }

    /// Writes every tier's staged page, then one `fdatasync` for them all.
    fn write_staged(&mut self) {
        let mut written = false;
        for k in 0..self.tiers.len() {
            if self.tiers[k].dirty {
                written |= self.write_tier_page(k);
            }
        }
        if written {
            self.stats.syncs += 1;
            if let Err(e) = self.direct.as_ref().unwrap_or(&self.file).sync_data() {
                self.write_failed(&e);
            }
        }
    }

    /// One `pwrite` of tier `k`'s staged page (no sync: the batch's
    /// `fdatasync` follows). A failed write is logged and its buckets
    /// dropped; it never stops recording.
    fn write_tier_page(&mut self, k: usize) -> bool {
        let Some(page_at) = self.tiers[k].page_at else {
            return false;
        };
        let tier = &mut self.tiers[k];
        tier.dirty = false;
        tier.unwritten_from = None;
        // Written (or lost): a re-timing no longer takes these out.
        if let Some(through) = tier.last_staged {
            self.settle(k, through);
        }
        match self.write_page(1 + k, page_at) {
            Ok(()) => {
                self.stats.pages_written += 1;
                self.last_error_logged = None;
                true
            }
            Err(e) => {
                // The buffer no longer images the file for sure: read again.
                self.tiers[k].page_at = None;
                self.write_failed(&e);
                false
            }
        }
    }

    fn write_failed(&mut self, e: &io::Error) {
        self.stats.write_errors += 1;
        if self.last_error_logged != Some(e.kind()) {
            self.last_error_logged = Some(e.kind());
            crate::log::error(format_args!("history: {}: write: {e}", self.path.display()));
        }
    }

    /// Reads the file's page at `page_at` into buffer `buf` (directly when
    /// the file system allows).
    fn read_page(&mut self, buf: usize, page_at: u64) -> io::Result<()> {
        if let Some(direct) = &self.direct {
            match direct.read_exact_at(self.pages.get(buf), page_at) {
                // Refused as a direct read: from now on buffered.
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => self.direct = None,
                other => return other,
            }
        }
        self.file.read_exact_at(self.pages.get(buf), page_at)
    }

    /// Writes buffer `buf` to the file's page at `page_at` (directly when
    /// the file system allows: a buffered write of 4 KiB dirties the page
    /// cache's whole folio, and all of it reaches the disk).
    fn write_page(&mut self, buf: usize, page_at: u64) -> io::Result<()> {
        if let Some(direct) = &self.direct {
            match direct.write_all_at(self.pages.get(buf), page_at) {
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => self.direct = None,
                other => return other,
            }
        }
        self.file.write_all_at(self.pages.get(buf), page_at)
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
        if len <= NAME_MAX {
            if self.names.len() < FILE_SERIES {
                self.names.push(parts.concat());
                self.last_value_s[self.names.len() - 1] = self.now_s;
                return Some(self.names.len() - 1);
            }
            if let Some(i) = self.stale_index() {
                let name = parts.concat();
                crate::log::info(format_args!(
                    "history: {name} takes the place of {} in {} (no value for longer \
                     than the longest tier's span, so no answer reads its points)",
                    self.names[i],
                    self.path.display()
                ));
                let old = std::mem::replace(&mut self.names[i], name);
                self.renamed.push((i, old));
                self.last_value_s[i] = self.now_s;
                return Some(i);
            }
        }
        if !self.overflowed && self.opening.is_none() {
            self.overflowed = true;
            crate::log::warn(format_args!(
                "history: {} is not kept in {} ({FILE_SERIES} series at most, none of \
                 them without values for the longest tier's span; names up to \
                 {NAME_MAX} bytes; logged once)",
                parts.concat(),
                self.path.display()
            ));
        }
        None
    }

    /// The index whose series has gone longest without a value, if that is
    /// longer than the longest tier's span: every point of it in the file
    /// is older than any range reads (a range reads at most a tier's span
    /// back from now), so the index can carry a new series.
    fn stale_index(&self) -> Option<usize> {
        if self.opening.is_some() {
            return None; // which index is silent is known once every slot is read
        }
        let span_s = self.tiers.iter().map(|t| t.spec.span_s()).max()?;
        (0..self.names.len())
            .filter(|&i| self.last_value_s[i].saturating_add(span_s) <= self.now_s)
            .min_by_key(|&i| self.last_value_s[i])
    }

    /// Writes the name table if a series was named since it was last
    /// written: once per sample that names any (the rates of every device
    /// appear at the same, second, sample), always before a slot uses the
    /// new index. On failure the new names are forgotten (logged), their
    /// indexes' `values` made NaN, and `false` returned.
    fn write_names(&mut self, values: &mut [f32; FILE_SERIES]) -> bool {
        if self.names.len() == self.names_on_disk && self.renamed.is_empty() {
            return true;
        }
        self.names_generation += 1;
        let copy = 1 + self.names_generation % 2;
        encode_names(self.names_generation, &self.names, self.pages.get(0));
        let written = self
            .write_page(0, copy * PAGE as u64)
            .and_then(|()| self.direct.as_ref().unwrap_or(&self.file).sync_data());
        match written {
            Ok(()) => {
                self.stats.pages_written += 1;
                self.names_on_disk = self.names.len();
                self.renamed.clear();
                true
            }
            Err(e) => {
                crate::log::error(format_args!(
                    "history: {}: write names: {e}",
                    self.path.display()
                ));
                self.names.truncate(self.names_on_disk);
                while let Some((i, old)) = self.renamed.pop() {
                    self.names[i] = old;
                    values[i] = f32::NAN;
                }
                false
            }
        }
    }

    /// The tiers' shapes, in order: the first `n` of the array.
    fn specs(&self) -> ([TierSpec; MAX_TIERS], usize) {
        let mut specs = [TierSpec {
            step_s: 1,
            slots: 1,
        }; MAX_TIERS];
        for (spec, tier) in specs.iter_mut().zip(&self.tiers) {
            *spec = tier.spec;
        }
        (specs, self.tiers.len())
    }

    /// What a [`Store::render_range`] answer for these arguments depends
    /// on besides what the store holds (see [`RangeKey`]).
    pub fn range_key(&self, range_s: u64, points: Option<usize>, wall_ms: u64) -> RangeKey {
        let (specs, n) = self.specs();
        let shape = Shape::of(&specs[..n], range_s, points, wall_ms);
        RangeKey {
            range_s,
            per: shape.per,
            last_bucket: shape.last,
        }
    }

    /// A `/history.json?range=` answer (see [`render_range`]): the file,
    /// with what is staged or in progress served from memory.
    pub fn render_range(
        &self,
        range_s: u64,
        points: Option<usize>,
        wall_ms: u64,
        out: &mut String,
    ) -> io::Result<()> {
        let (specs, n) = self.specs();
        let specs = &specs[..n];
        let k = pick_tier(specs, range_s);
        let tier = &self.tiers[k];
        let held = Held {
            page: tier.page_at.map(|at| (at, self.pages.peek(1 + k))),
            current: tier.acc.as_ref(),
            // While the file opens, the samples since start wait in memory,
            // from the bucket it was begun in on.
            unwritten_from: match &self.opening {
                Some(o) => Some(o.begun_wall_ms / 1000 / u64::from(tier.spec.step_s)),
                None => tier.unwritten_from.or(tier.acc.map(|a| a.bucket)),
            },
            sole_writer: true,
            opening: self.opening.is_some(),
        };
        render_range(
            &self.file,
            specs,
            &self.names,
            range_s,
            points,
            wall_ms,
            held,
            out,
        )
    }
}

/// Page-sized buffers aligned to a page, as `O_DIRECT` requires of
/// memory (made once; no allocator alignment promise needed).
struct AlignedPages {
    buf: Box<[u8]>,
    start: usize,
}

impl AlignedPages {
    fn new(pages: usize) -> AlignedPages {
        let buf = vec![0u8; (pages + 1) * PAGE].into_boxed_slice();
        let start = (PAGE - buf.as_ptr() as usize % PAGE) % PAGE;
        AlignedPages { buf, start }
    }

    fn get(&mut self, i: usize) -> &mut [u8] {
        let at = self.start + i * PAGE;
        &mut self.buf[at..at + PAGE]
    }

    fn peek(&self, i: usize) -> &[u8] {
        let at = self.start + i * PAGE;
        &self.buf[at..at + PAGE]
    }
}

/// Calls `f(index, slot)` for every slot of a tier, reading a page at a
/// time. Slots past the end of a short file are not visited.
#[cfg(test)]
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

/// What the writer holds in memory for the tier a range is read from,
/// served over the file: its staged page (finished buckets waiting for the
/// batch write) and the bucket in progress. Empty for a reader of the file
/// alone (`sysmon history`), which sees what is written.
#[derive(Clone, Copy, Default)]
pub struct Held<'a> {
    page: Option<(u64, &'a [u8])>,
    current: Option<&'a Acc>,
    /// The first bucket not in the file: from there on, memory.
    unwritten_from: Option<u64>,
    /// The caller is the only writer, so no slot changes during an answer:
    /// a slot found intact once is not checked again on later passes.
    sole_writer: bool,
    /// The writer's file is still opening: the answer is the file as it
    /// stands, without the samples since start (said as `"opening":true`).
    opening: bool,
}

/// Which tier a range reads and how its buckets fold into points: point
/// `i` holds buckets `(last - (n-i)*per, last - (n-1-i)*per]`.
struct Shape {
    k: usize,
    step_s: u64,
    per: usize,
    n: usize,
    first: u64,
    last: u64,
}

impl Shape {
    /// The last `range_s` seconds before `wall_ms`, from the tier
    /// [`pick_tier`] picks, in at most `points` (≤ [`MAX_RANGE_POINTS`])
    /// points of `ceil(buckets / points)` buckets; the last point ends with
    /// the bucket holding `wall_ms`, so buckets after it (the clock stepped
    /// back) are never read.
    fn of(tiers: &[TierSpec], range_s: u64, points: Option<usize>, wall_ms: u64) -> Shape {
        let k = pick_tier(tiers, range_s);
        let spec = tiers[k];
        let step_s = u64::from(spec.step_s);
        let buckets = range_s.div_ceil(step_s).clamp(1, u64::from(spec.slots)) as usize;
        let points = points
            .unwrap_or(MAX_RANGE_POINTS)
            .clamp(1, MAX_RANGE_POINTS)
            .min(buckets);
        let per = buckets.div_ceil(points);
        let n = buckets.div_ceil(per);
        let last = wall_ms / 1000 / step_s;
        let first = (last + 1).saturating_sub((n * per) as u64);
        Shape {
            k,
            step_s,
            per,
            n,
            first,
            last,
        }
    }

    fn point_of(&self, bucket: u64) -> Option<usize> {
        (self.n - 1).checked_sub((self.last - bucket) as usize / self.per)
    }

    fn end_s(&self) -> u64 {
        (self.last + 1) * self.step_s
    }
}

/// The arguments of a `?range=` answer as far as its body depends on
/// them: two calls of [`Store::render_range`] with equal keys render the
/// same body from the same store. The range picks the tier and the number
/// of buckets, `points` only how many buckets each point folds (`per`,
/// which fixes the points' count: several `points` give one `per`), and
/// the wall clock only the bucket the range ends with (the `end` it
/// says, and which buckets are read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeKey {
    range_s: u64,
    per: usize,
    last_bucket: u64,
}

/// Reads one tier's slots by bucket, a page at a time (one `pread` per 8
/// slots), the writer's [`Held`] data taking the place of the file's.
struct SlotReader<'a> {
    file: &'a File,
    spec: TierSpec,
    offset: u64,
    held: Held<'a>,
    /// The bucket in progress, encoded.
    current: Option<(u64, [u8; SLOT])>,
    page: [u8; PAGE],
    page_at: Option<u64>,
}

impl<'a> SlotReader<'a> {
    fn new(file: &'a File, tiers: &[TierSpec], k: usize, held: Held<'a>) -> SlotReader<'a> {
        SlotReader {
            file,
            spec: tiers[k],
            offset: tier_offsets(tiers)[k],
            held,
            current: held.current.map(|acc| {
                let mut slot = [0u8; SLOT];
                acc.encode(&mut slot);
                (acc.bucket, slot)
            }),
            page: [0; PAGE],
            page_at: None,
        }
    }

    /// The slot of `bucket` when it holds that bucket intact (CRC and
    /// bucket checked), else `None`: a gap.
    fn get(&mut self, bucket: u64) -> io::Result<Option<&[u8]>> {
        self.get_slot(bucket, true)
    }

    /// The slot of `bucket`, checked (see [`SlotReader::get`]) unless
    /// `checked` is false: for a slot found intact on an earlier pass when
    /// nothing can have written it since.
    fn get_slot(&mut self, bucket: u64, checked: bool) -> io::Result<Option<&[u8]>> {
        if self.current.as_ref().is_some_and(|(b, _)| *b == bucket) {
            return Ok(self.current.as_ref().map(|(_, slot)| &slot[..]));
        }
        let index = bucket % u64::from(self.spec.slots);
        let at = self.offset + index * SLOT as u64;
        let page_at = at - at % PAGE as u64;
        let within = (at - page_at) as usize;
        let page: &[u8] = match self.held.page {
            Some((held_at, held)) if held_at == page_at => held,
            _ => {
                if self.page_at != Some(page_at) {
                    self.page_at = None;
                    read_short(self.file, &mut self.page, page_at)?;
                    self.page_at = Some(page_at);
                }
                &self.page
            }
        };
        let slot = &page[within..within + SLOT];
        Ok((!checked || slot_state(slot) == SlotState::Valid { bucket }).then_some(slot))
    }
}

/// Reads the page at `at`; what lies past the end of a short file reads
/// as zeros (never-written slots: gaps).
fn read_short(file: &File, page: &mut [u8], at: u64) -> io::Result<()> {
    let mut got = 0;
    while got < page.len() {
        match file.read_at(&mut page[got..], at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    page[got..].fill(0);
    Ok(())
}

/// Reads a range whole into memory (`points` folds of every series: up to
/// 1.1 MB at 1500 points), for `sysmon history`'s table. The daemon answers
/// with [`render_range`], which holds one series' folds at a time.
pub fn read_range<'a>(
    file: &File,
    tiers: &[TierSpec],
    names: &'a [String],
    range_s: u64,
    points: Option<usize>,
    wall_ms: u64,
) -> io::Result<Range<'a>> {
    let shape = Shape::of(tiers, range_s, points, wall_ms);
    let series = names.len().min(FILE_SERIES);
    let mut folds = vec![[NO_FOLD; FILE_SERIES]; shape.n];
    let mut reader = SlotReader::new(file, tiers, shape.k, Held::default());
    for bucket in shape.first..=shape.last {
        let Some(i) = shape.point_of(bucket) else {
            continue;
        };
        if let Some(slot) = reader.get(bucket)? {
            for (s, fold) in folds[i].iter_mut().enumerate().take(series) {
                if let Some(p) = slot_point(slot, s) {
                    fold.add(p);
                }
            }
        }
    }
    Ok(Range {
        range_s,
        tier_s: shape.step_s,
        interval_s: shape.step_s * shape.per as u64,
        end_s: shape.end_s(),
        names: &names[..series],
        points: folds,
    })
}

impl Range<'_> {
    /// Whether series `s` has a value anywhere in the range.
    pub fn has_values(&self, s: usize) -> bool {
        self.points.iter().any(|p| p[s].count > 0)
    }
}

/// Reads the last `range_s` seconds before `wall_ms` (see [`Shape::of`])
/// and writes them as JSON into `out` (cleared first), streaming: one pass
/// over the range finds the series with values, then one pass per such
/// series folds its points (min of mins, max of maxes, the mean weighted by
/// sample count) into a reused list of at most [`MAX_RANGE_POINTS`] folds
/// (36 KB) and prints them. Memory: that list, one page, and `out` (at
/// most [`MAX_RANGE_POINTS`] × 3 numbers per series with values).
///
/// `{"range_s","tier_s","interval_s","end","points","written_end",
/// "aggregate":"min,mean,max","series":{"cpu":{"min":[..],"mean":[..],"max":[..]},..}}`,
/// `null` where a point has no value; series with none in the range left
/// out. Points that begin at or after `written_end` come from the writer's
/// memory ([`Held`]: the batch not yet written and, last, the step in
/// progress, partial).
#[allow(clippy::too_many_arguments)]
pub fn render_range(
    file: &File,
    tiers: &[TierSpec],
    names: &[String],
    range_s: u64,
    points: Option<usize>,
    wall_ms: u64,
    held: Held<'_>,
    out: &mut String,
) -> io::Result<()> {
    out.clear();
    let shape = Shape::of(tiers, range_s, points, wall_ms);
    let series = names.len().min(FILE_SERIES);
    let mut reader = SlotReader::new(file, tiers, shape.k, held);
    let mut with_values = 0u32;
    // Which buckets hold an intact slot (checked once: the CRC is most of
    // a pass's cost, and there is a pass per series).
    let mut intact = vec![0u64; (shape.last + 1 - shape.first).div_ceil(64) as usize];
    for bucket in shape.first..=shape.last {
        if let Some(slot) = reader.get(bucket)? {
            for s in 0..series {
                if u16_at(slot, 400 + 2 * s) > 0 {
                    with_values |= 1 << s;
                }
            }
            let bit = bucket - shape.first;
            intact[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }
    let written_end = held
        .unwritten_from
        .map_or(shape.end_s(), |b| (b * shape.step_s).min(shape.end_s()));
    let _ = write!(
        out,
        "{{\"range_s\":{range_s},\"tier_s\":{},\"interval_s\":{},\"end\":{},\"points\":{},\
         \"written_end\":{written_end},{}\"aggregate\":\"min,mean,max\",\"series\":{{",
        shape.step_s,
        shape.step_s * shape.per as u64,
        shape.end_s(),
        shape.n,
        if held.opening {
            "\"opening\":true,"
        } else {
            ""
        },
    );
    let mut folds = vec![NO_FOLD; shape.n];
    let mut first_series = true;
    for (s, name) in names.iter().enumerate().take(series) {
        if with_values & (1 << s) == 0 {
            continue;
        }
        folds.fill(NO_FOLD);
        for bucket in shape.first..=shape.last {
            let bit = bucket - shape.first;
            if intact[(bit / 64) as usize] & (1 << (bit % 64)) == 0 {
                continue;
            }
            let Some(i) = shape.point_of(bucket) else {
                continue;
            };
            let slot = reader.get_slot(bucket, !held.sole_writer)?;
            if let Some(p) = slot.and_then(|slot| slot_point(slot, s)) {
                folds[i].add(p);
            }
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
            for (i, f) in folds.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if f.count == 0 {
                    out.push_str("null");
                    continue;
                }
                let v = match j {
                    0 => f64::from(f.min),
                    1 => f.mean(),
                    _ => f64::from(f.max),
                };
                let _ = write!(
                    out,
                    "{}",
                    crate::float_text::Shortest((v * 10.0).round() / 10.0)
                );
            }
            out.push(']');
        }
        out.push('}');
    }
    out.push_str("}}");
    Ok(())
}

/// Opens the file read-only (for `sysmon history`, alongside the writer):
/// its tiers and series names.
/// Anything but a regular file there is refused, never waited on (a FIFO).
pub fn open_read_only(path: &Path) -> Result<(File, Vec<TierSpec>, Vec<String>), String> {
    let file = crate::fsutil::open_regular(path, crate::fsutil::Links::Refuse).map_err(|e| {
        let denied = e.kind() == io::ErrorKind::PermissionDenied;
        // The error names the path already.
        let mut why = crate::owned::text_of(&e);
        if denied {
            why.push_str(
                " (the history file and state_dir are readable by sysmon's user only: \
                 run as root, e.g. `sudo sysmon history`, or as that user, \
                 e.g. `sudo -u sysmon sysmon history`)",
            );
        }
        why
    })?;
    let mut page = vec![0u8; PAGE];
    file.read_exact_at(&mut page, 0)
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                let len = file.metadata().map_or(0, |m| m.len());
                format!("{}: shorter than its header ({len} bytes)", path.display())
            }
            _ => io_context(path, "read header", e),
        })?;
    let tiers = decode_header(&page).map_err(|why| format!("{}: {why}", path.display()))?;
    let (_, names) = read_names(&file, &mut page);
    Ok((file, tiers, names))
}

mod journal;
mod opening;
#[cfg(test)]
mod tests;
