//! Opening the history file in slices. Making a file (8 MB of zeros at the
//! defaults, written back and synced) and checking an existing one (a read
//! and a CRC per slot: 2,000 pages at the defaults, 5–12 ms warm and about
//! 50 ms cold in one piece) would hold the loop, and nobody is answered
//! meanwhile. So [`Store::begin`] does only what is quick (the header, the
//! name table, setting a bad file aside) and the rest runs in pieces (64 KiB
//! of zeros, or one page of slots checked) for at most a slice of time per
//! [`Store::poll_opening`], the loop answering requests between slices, as
//! it does between the backup's.
//!
//! Invariants while the opening runs:
//! - The tiers are neither read nor written by recording: each sample
//!   waits, in order, in a queue of [`PENDING`] (named and with its values
//!   taken, so the name table is written as usual), and is placed when the
//!   opening ends, exactly as if the opening had been one piece: the axis
//!   anchored at the same moment, the same samples at the same times.
//!   A sample that finds the queue full (the loop starved of turns for
//!   [`PENDING`] samples) finishes the opening at once, so nothing is lost.
//! - A range answer reads the file as it stands: every slot is checked (CRC
//!   and bucket) on every read, so nothing unchecked is served, and the file
//!   is not changed by the opening but for zeros where it was cut. It says
//!   `"opening":true`; the samples since start join it when the opening ends.
//! - A stop or a reload finishes the opening first.
//! - A new file is written under a temporary name and renamed once synced,
//!   as one piece did: a crash leaves no half-made `history.db`.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{
    Acc, FILE_SERIES, Opened, PAGE, SLOT, SLOTS_PER_PAGE, SlotState, Store, io_context, slot_point,
    slot_state, tier_pages,
};

/// Samples that wait while the opening runs (about 2.4 KiB).
pub const PENDING: usize = 16;
/// Zeros written per piece of a fill.
const FILL_CHUNK: usize = 64 * 1024;
/// A fill starts writing back each 256 KiB it wrote and waits for the
/// window before, so no wait (nor the final sync) is for more than 512 KiB.
const WRITEBACK_WINDOW: u64 = 256 * 1024;

pub(super) struct Opening {
    work: Work,
    opened: Opened,
    /// The wall time (ms) the store was begun at: the restart's bucket in
    /// progress is the one holding it, as in one piece, and the samples
    /// waiting belong there or later.
    pub(super) begun_wall_ms: u64,
    /// Per series, the end (s) of the newest slot holding a value of it.
    last_value_s: [u64; FILE_SERIES],
    pending: Vec<Pending>,
    /// No slice before this (the pause of a slow test, else the last poll).
    next_at: Instant,
    /// Test knob: one piece per slice and this long between slices.
    pause: Duration,
}

struct Pending {
    now: Instant,
    wall_ms: u64,
    values: [f32; FILE_SERIES],
}

// The whole `Opening` is boxed once; boxing the slot as well would be
// one more allocation for nothing.
#[allow(clippy::large_enum_variant)]
enum Work {
    /// Zeros from `at` to `to`, then a sync; a new file is then renamed
    /// from `rename_from` (and all zeros: nothing to check).
    Fill {
        /// `FILL_CHUNK` zeros (on the heap while filling: a static would
        /// be 64 KiB of the binary).
        zeros: Vec<u8>,
        at: u64,
        to: u64,
        window_from: u64,
        previous_window: Option<(u64, u64)>,
        rename_from: Option<PathBuf>,
    },
    /// Checking tier `tier`'s page `page`; its newest valid slot so far.
    Scan {
        tier: usize,
        page: usize,
        newest: Option<u64>,
        newest_slot: [u8; SLOT],
    },
    Done,
    /// An I/O error ended it (returned once; the caller drops the store).
    Failed,
}

const SCAN_START: Work = Work::Scan {
    tier: 0,
    page: 0,
    newest: None,
    newest_slot: [0; SLOT],
};

impl Opening {
    /// The work after [`Store::begin`]: zeros from `fill_from` (a new file,
    /// `rename_from` its temporary, or one cut short) up to `size`, or
    /// straight to the check of every slot.
    pub(super) fn new(
        opened: Opened,
        fill_from: Option<u64>,
        size: u64,
        rename_from: Option<PathBuf>,
        now: Instant,
        wall_ms: u64,
    ) -> Opening {
        let work = match fill_from {
            Some(at) => Work::Fill {
                zeros: vec![0; FILL_CHUNK],
                at,
                to: size,
                window_from: at,
                previous_window: None,
                rename_from,
            },
            None => SCAN_START,
        };
        Opening {
            work,
            opened,
            begun_wall_ms: wall_ms,
            last_value_s: [0; FILE_SERIES],
            pending: Vec::with_capacity(PENDING),
            next_at: now,
            pause: Duration::ZERO,
        }
    }
}

impl Store {
    /// The opening is still running (see the module doc).
    pub fn is_opening(&self) -> bool {
        self.opening
            .as_ref()
            .is_some_and(|o| !matches!(o.work, Work::Failed))
    }

    /// When the opening wants its next slice (`None` once it ended).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.opening
            .as_ref()
            .filter(|_| self.is_opening())
            .map(|o| o.next_at)
    }

    /// Test knob (`SYSMON_TEST_HISTORY_OPENING_PAUSE_MS`): one piece per
    /// slice and `pause` between slices, so a test can ask while it runs.
    pub fn set_opening_pause(&mut self, pause: Duration) {
        if let Some(o) = &mut self.opening {
            o.pause = pause;
        }
    }

    /// Runs the opening for at most `budget` from `now` (at least one
    /// piece). Its outcome is then given once by [`Store::take_opened`].
    pub fn poll_opening(&mut self, now: Instant, budget: Duration) {
        if self.opening.as_ref().is_some_and(|o| now >= o.next_at) {
            self.run_opening(Some(now + budget));
        }
    }

    /// What the opening found, once it ended (for the log), or why the file
    /// cannot be used (the store must then be dropped).
    pub fn take_opened(&mut self) -> Option<Result<Opened, String>> {
        self.outcome.take()
    }

    /// Pieces until `until` has passed, or to the end (`None`: a stop, a
    /// full queue, or [`Store::open`] in one piece).
    pub(super) fn run_opening(&mut self, until: Option<Instant>) {
        while self.is_opening() {
            match self.opening_piece() {
                Ok(false) => {}
                Ok(true) => return self.end_opening(),
                Err(e) => {
                    let o = self.opening.as_mut().expect("opening");
                    // A new file not yet renamed to its name is removed:
                    // nothing half-made is left behind (a full disk).
                    if let Work::Fill {
                        rename_from: Some(tmp),
                        ..
                    } = std::mem::replace(&mut o.work, Work::Failed)
                    {
                        let _ = std::fs::remove_file(tmp);
                    }
                    o.pending.clear();
                    self.outcome = Some(Err(e));
                    return;
                }
            }
            let Some(until) = until else { continue };
            let o = self.opening.as_mut().expect("opening");
            let now = Instant::now();
            if !o.pause.is_zero() {
                o.next_at = now + o.pause;
                return;
            }
            if now >= until {
                o.next_at = now;
                return;
            }
        }
    }

    /// A sample that comes while the opening runs waits for its end (or
    /// ends it, if the queue is full). Returns false when the sample is
    /// placed as usual (no opening, or it just ended).
    pub(super) fn queue_while_opening(
        &mut self,
        now: Instant,
        wall_ms: u64,
        values: &[f32; FILE_SERIES],
    ) -> bool {
        let Some(o) = &mut self.opening else {
            return false;
        };
        if matches!(o.work, Work::Failed) {
            return true; // dropped with the store
        }
        if o.pending.len() < PENDING {
            o.pending.push(Pending {
                now,
                wall_ms,
                values: *values,
            });
            return true;
        }
        self.run_opening(None);
        self.opening.is_some()
    }

    /// One piece of the opening's work; true when all of it is done.
    fn opening_piece(&mut self) -> Result<bool, String> {
        let o = self.opening.as_mut().expect("opening");
        match &mut o.work {
            Work::Fill {
                zeros,
                at,
                to,
                window_from,
                previous_window,
                rename_from,
            } => {
                // The file written: the new one's temporary until renamed.
                let written = rename_from.as_deref().unwrap_or(&self.path);
                if *at < *to {
                    let n = (*to - *at).min(FILL_CHUNK as u64) as usize;
                    self.file
                        .write_all_at(&zeros[..n], *at)
                        .map_err(|e| io_context(written, "write", e))?;
                    *at += n as u64;
                    let window = *at - *window_from;
                    if window >= WRITEBACK_WINDOW || *at == *to {
                        // Hints (errors change nothing): the sync below is
                        // what makes the zeros durable; these keep it, and
                        // every wait, short.
                        let _ = crate::sys::start_writeback(&self.file, *window_from, window);
                        if let Some((from, len)) = previous_window.take() {
                            let _ = crate::sys::wait_writeback(&self.file, from, len);
                        }
                        *previous_window = Some((*window_from, window));
                        *window_from = *at;
                    }
                    return Ok(false);
                }
                // The sync is a piece of its own (it waits for the disk).
                self.file
                    .sync_all()
                    .map_err(|e| io_context(written, "fsync", e))?;
                let Some(tmp) = rename_from.as_deref() else {
                    o.work = SCAN_START; // a file cut short: check what it kept
                    return Ok(false);
                };
                std::fs::rename(tmp, &self.path).map_err(|e| {
                    io_context(tmp, &format!("rename to {}", self.path.display()), e)
                })?;
                *rename_from = None;
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    crate::fsutil::fsync_dir(dir).map_err(|e| crate::owned::text_of(&e))?;
                }
                o.work = Work::Done;
                Ok(true)
            }
            Work::Scan {
                tier,
                page,
                newest,
                newest_slot,
            } => {
                let k = *tier;
                let (spec, offset) = (self.tiers[k].spec, self.tiers[k].offset);
                let pages = tier_pages(&spec);
                if *page < pages {
                    let mut buf = [0u8; PAGE];
                    let at = offset + (*page * PAGE) as u64;
                    let slots = match self.file.read_exact_at(&mut buf, at) {
                        Ok(()) => SLOTS_PER_PAGE,
                        // Short (it cannot be once filled): nothing more.
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                            *page = pages;
                            0
                        }
                        Err(e) => return Err(io_context(&self.path, "read", e)),
                    };
                    for s in 0..slots {
                        let index = (*page * SLOTS_PER_PAGE + s) as u64;
                        if index >= u64::from(spec.slots) {
                            break;
                        }
                        let slot = &buf[s * SLOT..(s + 1) * SLOT];
                        match slot_state(slot) {
                            SlotState::Empty => {}
                            SlotState::Valid { bucket }
                                if bucket % u64::from(spec.slots) == index =>
                            {
                                o.opened.valid_slots[k] += 1;
                                let end_s = (bucket + 1) * u64::from(spec.step_s);
                                for (i, last) in o.last_value_s.iter_mut().enumerate() {
                                    if slot_point(slot, i).is_some() {
                                        *last = (*last).max(end_s);
                                    }
                                }
                                if newest.is_none_or(|n| bucket > n) {
                                    *newest = Some(bucket);
                                    newest_slot.copy_from_slice(slot);
                                }
                            }
                            _ => o.opened.corrupt_slots[k] += 1,
                        }
                    }
                    *page = (*page + 1).min(pages);
                    if *page < pages {
                        return Ok(false);
                    }
                }
                // A restart inside the newest bucket takes it up again.
                let current = o.begun_wall_ms / 1000 / u64::from(spec.step_s);
                let t = &mut self.tiers[k];
                t.newest = *newest;
                t.acc = (*newest == Some(current)).then(|| {
                    let mut acc = Acc::new(current);
                    acc.load(newest_slot);
                    acc
                });
                if k + 1 < self.tiers.len() {
                    o.work = Work::Scan {
                        tier: k + 1,
                        page: 0,
                        newest: None,
                        newest_slot: [0; SLOT],
                    };
                    return Ok(false);
                }
                o.work = Work::Done;
                Ok(true)
            }
            Work::Done | Work::Failed => Ok(true),
        }
    }

    /// The opening is done: what the slots said joins what recording knows,
    /// and the samples that waited are placed, in order.
    fn end_opening(&mut self) {
        let Some(o) = self.opening.take() else { return };
        let Opening {
            opened,
            last_value_s,
            mut pending,
            ..
        } = *o;
        for (mine, found) in self.last_value_s.iter_mut().zip(last_value_s) {
            *mine = (*mine).max(found);
        }
        for p in pending.drain(..) {
            self.place(p.now, p.wall_ms, &p.values);
        }
        self.outcome = Some(Ok(opened));
    }
}
