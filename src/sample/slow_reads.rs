//! Sysfs attributes whose read takes long, read off the loop's thread.
//!
//! Most sysfs sensors answer in microseconds, but some make the reader wait
//! for the hardware: a 1-Wire DS18B20 thermometer converts for about 750 ms
//! at every read of its `temp1_input` (node_exporter #2242: 23 of them on a
//! Raspberry Pi made a scrape take 22 s), an ACPI thermal zone asks the
//! embedded controller, an NVMe drive's temperature asks the drive (seconds
//! on some cloud VMs), and a driver may stop answering at all
//! (node_exporter #3071: a thermal zone stuck on a Jetson). Read by the
//! loop, each such read would hold every sample and every answer.
//!
//! So the readers ([`super::sensors`], /metrics' hwmon families) time each
//! read they make in line ([`InLine`]): a file whose read took
//! [`SLOW_READ`] or more [`SLOW_STRIKES`] times in a row (once could be the
//! loop's thread losing the CPU under load) is handed to a [`SlowReads`],
//! a thread of its own that reads its files when
//! asked, one after the other, and keeps the last text of each; the loop
//! takes that text (a round late) and asks for the next round. The chips
//! known to convert on demand go there from the start ([`is_slow_chip`]),
//! and the reads a loop turn makes in line are bounded by [`IN_LINE_BUDGET`]
//! until the slow ones are known.
//!
//! Invariants:
//! - The loop never waits for the thread: it takes the lock, which the
//!   thread holds only to take a request or store a text, never across a
//!   read.
//! - A read that has not returned after [`STUCK_AFTER`] leaves its file
//!   without a value (logged once, and its return), and a text older than
//!   [`STALE_AFTER`] is not shown: a value is never older than that.
//! - No thread until the first slow file; at most [`MAX_FILES`] files (the
//!   ones past it have no value). The thread blocks every signal (see
//!   [`super::mount_probe`]).

use crate::owned::owned;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::mount_probe::STUCK_AFTER;
use super::procfile::{self, SYSFS_READ_BYTES};
use crate::sys;

/// A read in line that takes this long counts against its file.
pub const SLOW_READ: Duration = Duration::from_millis(50);

/// Slow reads in a row that hand a file to the thread.
pub const SLOW_STRIKES: u8 = 2;

/// What one pass of in-line reads (a sample's sensors, a scrape's hwmon
/// files) spends before it leaves the rest for the next pass (their
/// previous values kept, or left out of that scrape): until each slow file
/// has been met, a pass meets at most this much of them, plus the one read
/// that crossed it.
pub const IN_LINE_BUDGET: Duration = Duration::from_millis(100);

/// How old a value may be: a slower round (dozens of slow sensors), or a
/// read stuck ahead of a file, leaves it without one.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// The most files one thread reads.
pub const MAX_FILES: usize = 256;

/// A thread's stack: it opens and reads small files.
const STACK_BYTES: usize = 64 * 1024;

/// hwmon drivers whose every read waits for a conversion: their files are
/// read off the loop from the start. `w1_slave_temp`: 1-Wire thermometers
/// (DS18B20 and kin, up to 750 ms a read).
pub fn is_slow_chip(name: &str) -> bool {
    name == "w1_slave_temp"
}

/// One pass of in-line reads: the time spent, against [`IN_LINE_BUDGET`].
#[derive(Default)]
pub struct InLine {
    spent: Duration,
}

impl InLine {
    /// Whether the pass may still read in line.
    pub fn may_read(&self) -> bool {
        self.spent < IN_LINE_BUDGET
    }

    /// Makes `read`, timed: its result, and whether its file is now to be
    /// handed to the thread (`strikes`, the file's slow reads in a row,
    /// reached [`SLOW_STRIKES`]; it is reset then).
    pub fn timed<R>(&mut self, strikes: &mut u8, read: impl FnOnce() -> R) -> (R, bool) {
        let began = Instant::now();
        let result = read();
        (result, self.note(began.elapsed(), strikes))
    }

    /// [`InLine::timed`] for a read timed by the caller: whether its file
    /// is now to be handed to the thread.
    pub fn note(&mut self, took: Duration, strikes: &mut u8) -> bool {
        self.spent += took;
        *strikes = if took >= SLOW_READ { *strikes + 1 } else { 0 };
        let slow = *strikes >= SLOW_STRIKES;
        if slow {
            *strikes = 0;
        }
        slow
    }
}

/// Why a file is handed to the thread, for the log.
#[derive(Clone, Copy)]
pub enum HandOver<'a> {
    /// [`SLOW_STRIKES`] reads in a row took [`SLOW_READ`] or more.
    SlowReads,
    /// Its chip is one [`is_slow_chip`] names.
    SlowChip(&'a str),
}

impl std::fmt::Display for HandOver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandOver::SlowReads => write!(
                f,
                "{SLOW_STRIKES} reads in a row took {} ms or more",
                SLOW_READ.as_millis()
            ),
            HandOver::SlowChip(name) => {
                write!(f, "a {name} chip, whose every read waits for a conversion")
            }
        }
    }
}

/// The slow files of one reader and the thread that reads them.
pub struct SlowReads {
    shared: Option<Arc<Shared>>,
    files: usize,
    /// What the log calls the reader ("sensors", "/metrics").
    reader: &'static str,
    /// The file logged as stuck, until its read returns.
    logged_stuck: Option<usize>,
    read: fn(&Path, &mut [u8; SYSFS_READ_BYTES]) -> std::io::Result<usize>,
}

struct Shared {
    state: Mutex<State>,
    asked: Condvar,
}

#[derive(Default)]
struct State {
    files: Vec<Slot>,
    /// A round is asked for and not yet begun.
    asked: bool,
    /// The file being read, and since when.
    reading: Option<(usize, Instant)>,
    /// The reader is gone: the thread ends.
    closed: bool,
}

struct Slot {
    path: PathBuf,
    text: [u8; SYSFS_READ_BYTES],
    /// The last read's length, `None` when it failed or none returned yet.
    len: Option<usize>,
    read_at: Option<Instant>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Neither side panics holding the lock; the state is plain data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn read_attribute(path: &Path, buf: &mut [u8; SYSFS_READ_BYTES]) -> std::io::Result<usize> {
    procfile::read_once_into(path, buf).map(<[u8]>::len)
}

impl SlowReads {
    pub fn new(reader: &'static str) -> SlowReads {
        SlowReads::with_read(reader, read_attribute)
    }

    /// [`SlowReads::new`] with the read given (tests make one that hangs).
    fn with_read(
        reader: &'static str,
        read: fn(&Path, &mut [u8; SYSFS_READ_BYTES]) -> std::io::Result<usize>,
    ) -> SlowReads {
        SlowReads {
            shared: None,
            files: 0,
            reader,
            logged_stuck: None,
            read,
        }
    }

    /// Hands `path` to the thread (started at the first); its index for
    /// [`SlowReads::take`], or `None` when there is no room or no thread
    /// (logged: the file then has no value). `why` is logged. Allocates.
    pub fn add(&mut self, path: PathBuf, why: HandOver<'_>) -> Option<usize> {
        crate::log::info(format_args!(
            "{}: {}: {why}; read off the loop from now on (its value a round late)",
            self.reader,
            path.display()
        ));
        if self.files == MAX_FILES {
            crate::log::warn(format_args!(
                "{}: {}: more than {MAX_FILES} slow files; left without a value",
                self.reader,
                path.display()
            ));
            return None;
        }
        let shared = match &self.shared {
            Some(shared) => shared,
            None => match self.start() {
                Ok(shared) => self.shared.insert(shared),
                Err(e) => {
                    crate::log::warn(format_args!(
                        "{}: no thread for the slow files ({e}); {} left without a value",
                        self.reader,
                        path.display()
                    ));
                    return None;
                }
            },
        };
        shared.lock().files.push(Slot {
            path,
            text: [0; SYSFS_READ_BYTES],
            len: None,
            read_at: None,
        });
        self.files += 1;
        Some(self.files - 1)
    }

    fn start(&self) -> std::io::Result<Arc<Shared>> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            asked: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        let read = self.read;
        std::thread::Builder::new()
            .name(owned("sysmon-slow-read"))
            .stack_size(STACK_BYTES)
            .spawn(move || {
                // No signal may land on a thread waiting for a driver.
                sys::block_all_in_this_thread();
                read_when_asked(&theirs, read);
            })?;
        Ok(shared)
    }

    /// Forgets every file (the reader's lists were rebuilt); the thread
    /// stays, idle, for the next ones.
    pub fn clear(&mut self) {
        if let Some(shared) = &self.shared {
            shared.lock().files.clear();
        }
        self.files = 0;
        self.logged_stuck = None;
    }

    /// Whether a file has had no read return yet (its first round is under
    /// way): `sysmon sample` waits for it, the daemon never does.
    pub fn first_round_pending(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|shared| shared.lock().files.iter().any(|f| f.read_at.is_none()))
    }

    /// Asks for a round unless one is under way or asked for. Never waits.
    pub fn ask(&mut self) {
        let Some(shared) = &self.shared else { return };
        if self.files == 0 {
            return;
        }
        let mut state = shared.lock();
        if state.reading.is_none() && !state.asked {
            state.asked = true;
            drop(state);
            shared.asked.notify_one();
        }
    }

    /// File `index`'s last text, copied into `out`: its length, or `None`
    /// when its read failed, none returned yet, the text is older than
    /// [`STALE_AFTER`], or its read has hung for [`STUCK_AFTER`] (logged
    /// once, and its return). Never waits.
    pub fn take(
        &mut self,
        index: usize,
        now: Instant,
        out: &mut [u8; SYSFS_READ_BYTES],
    ) -> Option<usize> {
        let shared = self.shared.as_ref()?;
        let state = shared.lock();
        let slot = state.files.get(index)?;
        let stuck = state.reading.is_some_and(|(i, since)| {
            i == index && now.saturating_duration_since(since) >= STUCK_AFTER
        });
        let fresh = slot
            .read_at
            .is_some_and(|at| now.saturating_duration_since(at) < STALE_AFTER);
        let len = slot.len.filter(|_| fresh && !stuck);
        if let Some(len) = len {
            out[..len].copy_from_slice(&slot.text[..len]);
        }
        if stuck && self.logged_stuck.is_none() {
            self.logged_stuck = Some(index);
            crate::log::warn(format_args!(
                "{}: {}: a read has not returned for {} s (a driver that does not answer?); \
                 left without a value until it does",
                self.reader,
                slot.path.display(),
                STUCK_AFTER.as_secs()
            ));
        } else if !stuck && self.logged_stuck == Some(index) {
            self.logged_stuck = None;
            crate::log::info(format_args!(
                "{}: {}: a read returned again",
                self.reader,
                slot.path.display()
            ));
        }
        len
    }
}

impl Drop for SlowReads {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.lock().closed = true;
            shared.asked.notify_one();
        }
    }
}

/// The thread: a round of reads per request, until the reader is dropped.
fn read_when_asked(
    shared: &Shared,
    read: fn(&Path, &mut [u8; SYSFS_READ_BYTES]) -> std::io::Result<usize>,
) {
    let mut buf = [0u8; SYSFS_READ_BYTES];
    loop {
        let state = shared.lock();
        let mut state = shared
            .asked
            .wait_while(state, |s| !s.asked && !s.closed)
            .unwrap_or_else(PoisonError::into_inner);
        if state.closed {
            return;
        }
        state.asked = false;
        drop(state);
        for index in 0.. {
            let mut state = shared.lock();
            if state.closed {
                return;
            }
            let Some(slot) = state.files.get(index) else {
                break;
            };
            let path = slot.path.clone();
            state.reading = Some((index, Instant::now()));
            drop(state);
            let result = read(&path, &mut buf);
            let mut state = shared.lock();
            state.reading = None;
            // The list may have been rebuilt meanwhile: store only into
            // the same file.
            if let Some(slot) = state.files.get_mut(index).filter(|s| s.path == path) {
                slot.len = result.ok().map(|len| len.min(SYSFS_READ_BYTES));
                if let Some(len) = slot.len {
                    slot.text[..len].copy_from_slice(&buf[..len]);
                }
                slot.read_at = Some(Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn temp_file(name: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("sysmon-slow-reads-{name}-{}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Takes file `index` until it has a value (the thread's round).
    fn value(reads: &mut SlowReads, index: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; SYSFS_READ_BYTES];
        loop {
            if let Some(len) = reads.take(index, Instant::now(), &mut buf) {
                return String::from_utf8_lossy(&buf[..len]).into_owned();
            }
            assert!(Instant::now() < deadline, "no value");
            reads.ask();
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn files_are_read_by_the_thread_a_round_late() {
        let (a, b) = (temp_file("a", "21500\n"), temp_file("b", "48000\n"));
        let mut reads = SlowReads::new("test");
        assert_eq!(reads.files, 0);
        let mut buf = [0u8; SYSFS_READ_BYTES];
        assert_eq!(
            reads.take(0, Instant::now(), &mut buf),
            None,
            "no thread yet"
        );
        assert_eq!(
            (
                reads.add(a.clone(), HandOver::SlowReads),
                reads.add(b.clone(), HandOver::SlowReads)
            ),
            (Some(0), Some(1))
        );
        assert_eq!(
            reads.take(0, Instant::now(), &mut buf),
            None,
            "nothing read yet"
        );
        assert_eq!(
            (value(&mut reads, 0), value(&mut reads, 1)),
            ("21500\n".into(), "48000\n".into())
        );
        // A new value is read at the next round, not at the take.
        std::fs::write(&a, "22000\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while value(&mut reads, 0) != "22000\n" {
            assert!(Instant::now() < deadline);
            reads.ask();
            std::thread::sleep(Duration::from_millis(1));
        }
        // Too old: no value.
        assert_eq!(reads.take(0, Instant::now() + STALE_AFTER, &mut buf), None);
        // A file that cannot be read has none.
        std::fs::remove_file(&b).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while reads.take(1, Instant::now(), &mut buf).is_some() {
            assert!(Instant::now() < deadline);
            reads.ask();
            std::thread::sleep(Duration::from_millis(1));
        }
        // Rebuilt: the indexes start again.
        reads.clear();
        assert_eq!(reads.take(0, Instant::now(), &mut buf), None);
        assert_eq!(reads.add(a.clone(), HandOver::SlowReads), Some(0));
        assert_eq!(value(&mut reads, 0), "22000\n");
        std::fs::remove_file(&a).unwrap();
    }

    static HANG: AtomicBool = AtomicBool::new(false);

    fn hanging_read(path: &Path, buf: &mut [u8; SYSFS_READ_BYTES]) -> std::io::Result<usize> {
        while HANG.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        read_attribute(path, buf)
    }

    /// A read that does not return leaves its file without a value after
    /// STUCK_AFTER, never holding the taker; the value comes back with it.
    #[test]
    fn a_read_that_hangs_never_holds_the_taker() {
        let path = temp_file("hang", "30000\n");
        let mut reads = SlowReads::with_read("test", hanging_read);
        assert_eq!(reads.add(path.clone(), HandOver::SlowReads), Some(0));
        assert_eq!(value(&mut reads, 0), "30000\n");
        HANG.store(true, Ordering::SeqCst);
        reads.ask();
        let deadline = Instant::now() + Duration::from_secs(10);
        while reads.shared.as_ref().unwrap().lock().reading.is_none() {
            assert!(Instant::now() < deadline, "the read did not begin");
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut buf = [0u8; SYSFS_READ_BYTES];
        let taken_at = Instant::now();
        assert_eq!(
            reads.take(0, Instant::now(), &mut buf),
            Some(6),
            "the last value meanwhile"
        );
        assert_eq!(
            reads.take(0, Instant::now() + STUCK_AFTER, &mut buf),
            None,
            "stuck"
        );
        assert_eq!(reads.logged_stuck, Some(0));
        assert!(taken_at.elapsed() < Duration::from_secs(1));
        HANG.store(false, Ordering::SeqCst);
        assert_eq!(value(&mut reads, 0), "30000\n");
        assert_eq!(reads.logged_stuck, None, "its return logged");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_file_is_handed_over_after_slow_reads_in_a_row_only() {
        let mut strikes = 0;
        let slow = || std::thread::sleep(SLOW_READ);
        // Each pass a sample's or a scrape's.
        assert!(!InLine::default().timed(&mut strikes, slow).1, "once");
        assert!(
            !InLine::default().timed(&mut strikes, || ()).1,
            "a fast one between"
        );
        assert_eq!(strikes, 0);
        assert!(!InLine::default().timed(&mut strikes, slow).1);
        let mut pass = InLine::default();
        assert!(pass.may_read());
        assert!(pass.timed(&mut strikes, slow).1, "twice in a row");
        assert_eq!(strikes, 0);
        pass.timed(&mut strikes, slow);
        assert!(!pass.may_read(), "two slow reads spend the pass's budget");
    }

    #[test]
    fn one_wire_thermometers_are_known_slow() {
        assert!(is_slow_chip("w1_slave_temp"));
        assert!(!is_slow_chip("coretemp") && !is_slow_chip("nvme"));
    }
}
