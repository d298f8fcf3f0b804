//! The top processes: the `n` processes that used the most CPU since the
//! previous reading, and the `n` with the most resident memory, each with
//! its pid, name, user, CPU share, RSS and a shortened command line.
//!
//! One reading lists the proc root with getdents into a fixed buffer
//! ([`crate::sys::DirCounter::for_each_name`]) and reads each pid's
//! `stat` (name, flags, CPU ticks, start time and RSS are all there, so
//! `statm` is not needed). Only the rows shown then read `cmdline` and
//! their user id: on procfs the owner of the /proc/PID directory (one
//! `fstatat`; see [`RowReader`]), elsewhere `status`. A process in both
//! lists is read once.
//!
//! On procfs the first [`KEPT_STAT_FILES`] `stat` files are kept open from
//! one reading to the next and re-read with one `pread` (the `openat` and
//! `close` were about 40 % of a reading); the others are opened, read and
//! closed each time. A kept descriptor names the process, not the number:
//! procfs ties an open /proc/PID file to the kernel's `struct pid`, so once
//! the process is reaped a read answers ESRCH even if a new process has
//! the same pid by then; the kept file is then closed and the pid opened
//! afresh. Another tree (a fixture under `--proc-root`) gives no such
//! guarantee (a file replaced by a rename would read as before), so there
//! every `stat` is opened each time.
//!
//! When a reading is taken: at most once per `top_every`
//! ([`TopProcesses::set_every`]) while nobody reads the lists; with
//! `top_every = off` never on its own, only when an answer asks
//! ([`TopProcesses::read_now`]). While watched ([`TopProcesses::watch`],
//! after each /data.json request) at every sample. CPU shares cover the
//! time since the previous reading however long ago it was
//! ([`TopSample::cpu_window_s`]); the first reading has none, and no
//! CPU ranking. With `off`, the kept `stat` files are closed once the
//! watch ends (an idle daemon holds none); what the next reading needs of
//! the last one (pid, start time, ticks) stays.
//!
//! A reading may be taken in slices: [`TopProcesses::sample`] and
//! [`TopProcesses::read_now`] with a budget list the pids and read as
//! many as the budget allows, and [`TopProcesses::go_on`] goes on from
//! the next pid; the lists change only when the last pid is read. The
//! daemon gives each slice a millisecond and answers requests between
//! them: at 5,000 processes a reading is 50–100 ms, which held the loop
//! in one piece before (issue 16). Each process is read as it is when
//! its turn comes (as `ps` reads one after another); the reading is dated
//! from its beginning.
//!
//! Invariants:
//! - Once warm, a reading allocates nothing: the pid list and the two tick
//!   tables are reused (they grow, with room to spare, only when more
//!   processes exist than ever before), rows are `Copy` with fixed-size
//!   text, and user names come from a cache of /etc/passwd that is read
//!   again only when its mtime, size or inode changes.
//! - A process is known by (pid, start time): a pid reused between two
//!   readings is a new process, never a jump in the old one's ticks.
//! - CPU shares are in 0..=cores × 100 (a process using two cores fully
//!   shows 200 %, as top's Irix mode). A process first seen now counts
//!   only if it started after the previous reading (then all its ticks
//!   fall in the interval); otherwise its share is unknown and it is not
//!   ranked by CPU this time.
//! - A process that exits between the listing and a read (ENOENT, ESRCH,
//!   an empty or truncated file) is skipped: never a crash, never a
//!   figure made of half a file. A row whose `cmdline` or `status` is gone
//!   by the time the row is filled is dropped and the next candidate takes
//!   its place (three spares are kept per list).

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::source::{Failure, Health};
use crate::proc::{cmdline, passwd, pidstat, status};
use crate::sys;

/// Bytes kept of a process name (the kernel's `comm` is at most 15, but a
/// kernel worker's reads `kworker/u8:2-events_unbound`).
pub const NAME_BYTES: usize = 64;
/// Bytes kept of a user name (longer ones are cut, with `...`).
pub const USER_BYTES: usize = 32;
/// Bytes kept of a command line (longer ones end in `...`).
pub const COMMAND_BYTES: usize = 120;
/// The most rows a list may ask for: `top_processes`' range ends here
/// (config checks it; the config layer does not import the sampler).
pub const MAX_ROWS: usize = 100;
/// Candidates kept beyond the rows shown (see [`TopProcesses::candidates`]).
const SPARE_CANDIDATES: usize = 3;
/// Pids tracked before the first growth.
const INITIAL_PIDS: usize = 1024;
/// The `stat` files kept open between readings, at most: a descriptor
/// each, and in the kernel a `struct file` and the `seq_file` page its
/// reads are rendered into (about 4.5 KiB each; see the README's *Where an
/// idle minute goes*).
pub const KEPT_STAT_FILES: usize = 256;
/// One read of a pid's file: a stat line is under 1 KiB; cmdline and
/// status are cut here (the command shown is 120 bytes, the `Uid:` line
/// comes early in status).
const READ_BYTES: usize = 4096;

/// Printable text of at most `N` bytes (`N` < 256), kept inline so that a
/// row is `Copy` and a sample holds no string per process.
///
/// Invariant: `bytes[..len]` is valid UTF-8 without control characters
/// (made so by [`cmdline::shorten`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortText<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> ShortText<N> {
    /// The printable form of `raw`, NUL bytes as spaces, cut with `...`.
    pub fn from_raw(raw: &[u8]) -> Self {
        let mut text = Self::default();
        text.len = cmdline::shorten(raw, &mut text.bytes) as u8;
        text
    }

    pub fn as_str(&self) -> &str {
        // Always valid by construction (see the type's invariant).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("?")
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> Default for ShortText<N> {
    fn default() -> Self {
        ShortText {
            len: 0,
            bytes: [0; N],
        }
    }
}

impl<const N: usize> std::fmt::Debug for ShortText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// One row of a top list.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TopProcess {
    pub pid: u32,
    /// The kernel's name for it (`comm`).
    pub name: ShortText<NAME_BYTES>,
    /// Its effective user's name, or the uid in decimal when /etc/passwd
    /// does not know it.
    pub user: ShortText<USER_BYTES>,
    pub uid: u32,
    /// Over the interval since the previous reading; 0..=cores × 100.
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    /// The command line, arguments joined by spaces; `[name]` for a kernel
    /// thread or a process whose command line is empty (a zombie).
    pub command: ShortText<COMMAND_BYTES>,
}

/// The top lists of one reading.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopSample {
    /// `top_processes` is above 0.
    pub enabled: bool,
    /// Highest CPU share first; only processes that used CPU in the
    /// interval; empty at the first reading (no interval yet).
    pub by_cpu: Vec<TopProcess>,
    /// Seconds `by_cpu`'s shares cover: since the reading before this one,
    /// however long ago (`top_every = off`: perhaps hours). `None` at the
    /// first reading, which has no earlier one to compare with.
    pub cpu_window_s: Option<f64>,
    /// Highest RSS first.
    pub by_memory: Vec<TopProcess>,
    /// Processes read this time (those that vanished mid-read not counted).
    pub processes: u32,
}

/// What one reading keeps of a process for the next: its identity, its
/// CPU ticks then, and its `stat` file when kept open.
struct Seen {
    pid: u32,
    start_ticks: u64,
    cpu_ticks: u64,
    /// Open on this process (never another with the same pid: see the
    /// module docs); `None` past [`KEPT_STAT_FILES`] or off procfs.
    stat: Option<File>,
}

/// A process that may make a list, as its stat showed it.
#[derive(Clone, Copy)]
struct Candidate {
    pid: u32,
    /// Ticks in the interval (by CPU) or resident pages (by memory).
    key: u64,
    cpu_ticks_in_interval: u64,
    rss_pages: u64,
    kernel_thread: bool,
    name: ShortText<NAME_BYTES>,
}

/// The source: the proc root kept open, the previous reading's ticks by
/// (pid, start time), and the candidate lists, all reused between readings.
pub struct TopProcesses {
    proc_root: PathBuf,
    /// `proc_root` as a C string, made once: reopening after a failure
    /// allocates nothing.
    proc_root_c: Option<CString>,
    rows: usize,
    /// Read at most this often (`top_every`); between readings the lists
    /// stay as they are. Zero: at every call. `None` (`off`): only when
    /// watched or asked ([`TopProcesses::read_now`]).
    every: Option<Duration>,
    /// Until then, read at every call (someone reads the lists: see
    /// [`TopProcesses::watch`]).
    watched_until: Option<Instant>,
    dir: Option<sys::DirCounter>,
    /// `dir` is on procfs: `stat` files may be kept open (module docs).
    keep_stat_files: bool,
    health: Health,
    pids: Vec<u32>,
    /// Sorted by pid: the previous reading's processes, and this one's.
    previous: Vec<Seen>,
    current: Vec<Seen>,
    /// When the previous reading was taken: monotonic, and in clock ticks
    /// since boot (to tell a new process from one missed before).
    previous_at: Option<(Instant, u64)>,
    by_cpu: Vec<Candidate>,
    by_memory: Vec<Candidate>,
    /// The reading under way, when one was begun and not ended
    /// ([`TopProcesses::go_on`]).
    reading: Option<Reading>,
    buf: Box<[u8; READ_BYTES]>,
    users: Users,
    clock_ticks_per_s: u64,
    page_size: u64,
}

/// A reading under way: where [`TopProcesses::go_on`] takes it up again.
/// The pids were listed when it began; `current` and the candidate lists
/// hold what was read of them so far.
#[derive(Clone, Copy)]
struct Reading {
    /// When it began, and the uptime then in clock ticks: the next
    /// reading's interval starts here, as if it had been read at once.
    began_at: Instant,
    uptime_ticks: u64,
    cores: usize,
    /// Seconds since the previous reading and that reading's time in
    /// ticks since boot; `None` at the first (no CPU ranking).
    interval: Option<(f64, u64)>,
    /// Begun by the period or the watch ([`TopProcesses::sample`]), not
    /// by an answer ([`TopProcesses::read_now`]).
    periodic: bool,
    /// The pids are all listed (the listing, 1–2 µs a process in the
    /// kernel, is taken in slices too).
    listed: bool,
    /// The next index into `pids`; the cursor into `previous` (sorted by
    /// pid like `pids`); the `stat` files kept so far.
    next: usize,
    before: usize,
    kept: usize,
}

/// What a call did to the lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// No reading was due: the lists are as they were.
    NotDue,
    /// A reading ended: the lists are new (or, when the proc root could
    /// not be listed, as they were, and the failure noted).
    Read,
    /// A reading is under way, its budget spent: [`TopProcesses::go_on`]
    /// takes it further.
    UnderWay,
}

/// Pids read between two looks at the clock (a pid is 10–20 µs; a look,
/// through the vDSO, well under one).
const PIDS_PER_CLOCK_CHECK: usize = 8;

impl TopProcesses {
    /// Off (no rows) until [`TopProcesses::set_rows`]. `passwd` names the
    /// users (`ROOT_FS/etc/passwd`).
    pub fn new(proc_root: &Path, passwd: &Path) -> TopProcesses {
        TopProcesses {
            proc_root: proc_root.to_path_buf(),
            proc_root_c: CString::new(proc_root.as_os_str().as_bytes()).ok(),
            rows: 0,
            every: Some(Duration::ZERO),
            watched_until: None,
            dir: None,
            keep_stat_files: false,
            health: Health::default(),
            pids: Vec::new(),
            previous: Vec::new(),
            current: Vec::new(),
            previous_at: None,
            by_cpu: Vec::new(),
            by_memory: Vec::new(),
            reading: None,
            buf: Box::new([0; READ_BYTES]),
            users: Users::new(passwd.to_path_buf()),
            clock_ticks_per_s: sys::clock_ticks_per_second().max(1),
            page_size: sys::page_size(),
        }
    }

    /// Rows per list (`top_processes`, at most [`MAX_ROWS`]); 0 turns
    /// reading off and frees the tables.
    pub fn set_rows(&mut self, rows: usize) {
        let rows = rows.min(MAX_ROWS);
        if rows == self.rows {
            return;
        }
        self.rows = rows;
        // Its candidate lists were ranked for the old number of rows.
        self.reading = None;
        if rows == 0 {
            let every = self.every;
            *self = TopProcesses::new(&self.proc_root, &self.users.path);
            self.every = every;
            return;
        }
        let candidates = self.candidates();
        for list in [&mut self.by_cpu, &mut self.by_memory] {
            list.clear();
            list.reserve_exact(candidates);
        }
        for table in [&mut self.previous, &mut self.current] {
            table.reserve(INITIAL_PIDS);
        }
        self.pids.reserve(INITIAL_PIDS);
    }

    pub fn proc_root(&self) -> &Path {
        &self.proc_root
    }

    pub fn passwd(&self) -> &Path {
        &self.users.path
    }

    /// Reads at most once per `every` (`top_every`): a call sooner after
    /// the last reading leaves the lists as they are. A reading is due at
    /// 90 % of `every`, so sampling jitter does not skip one. `None`
    /// (`off`): [`TopProcesses::sample`] reads only while watched.
    pub fn set_every(&mut self, every: Option<Duration>) {
        self.every = every;
    }

    /// Until `until`, read at every call whatever `every` says: the lists
    /// are being read (the dashboard is open), so they follow each sample;
    /// nobody watching, `every` keeps the idle cost low.
    pub fn watch(&mut self, until: Instant) {
        self.watched_until = Some(until);
    }

    /// Candidates kept per list: the rows, and a few more to stand in for
    /// rows whose process exits before its `cmdline` and `status` are read.
    fn candidates(&self) -> usize {
        self.rows + SPARE_CANDIDATES
    }

    /// How many `stat` files are kept open for the next reading (at most
    /// [`KEPT_STAT_FILES`]; none off procfs).
    pub fn kept_stat_files(&self) -> usize {
        self.previous.iter().filter(|p| p.stat.is_some()).count()
    }

    /// Whether the `stat` file of `pid` is kept open for the next reading.
    pub fn keeps_stat_of(&self, pid: u32) -> bool {
        self.previous
            .binary_search_by_key(&pid, |p| p.pid)
            .is_ok_and(|at| self.previous[at].stat.is_some())
    }

    /// `FILE: why` while the proc root cannot be listed.
    pub fn failure(&self) -> Option<&str> {
        self.health.failure()
    }

    /// Refreshes `out` if a reading is due (module docs): while watched,
    /// at `every`, or never with `off`. `uptime_s` is /proc/uptime's
    /// first figure now; `cores` the CPUs /proc/stat lists (the CPU
    /// share's ceiling is `cores` × 100). With a `budget` the reading
    /// stops once that much time has passed and is left under way
    /// ([`TopProcesses::go_on`]); a reading already under way is taken
    /// further rather than begun again. `None`: read to the end.
    pub fn sample(
        &mut self,
        now: Instant,
        uptime_s: f64,
        cores: usize,
        budget: Option<Duration>,
        out: &mut TopSample,
    ) -> Progress {
        if self.reading.is_none() {
            if self.rows == 0 {
                self.read_now(now, uptime_s, cores, None, out); // empties the lists
                return Progress::NotDue;
            }
            if !self.is_due(now) {
                if self.every.is_none() {
                    self.close_kept_files();
                }
                return Progress::NotDue;
            }
        }
        self.read(now, uptime_s, cores, true, budget, out)
    }

    /// Whether the period or the watch asks for a reading at `now`.
    fn is_due(&self, now: Instant) -> bool {
        let watched = self.watched_until.is_some_and(|until| now < until);
        match (self.every, self.previous_at) {
            _ if watched => true,
            (None, _) => false,
            (Some(_), None) => true,
            (Some(every), Some((at, _))) => crate::period::is_due(now, at + every, every),
        }
    }

    /// Closes the `stat` files kept for the next reading, keeping what it
    /// compares with (pid, start time, ticks): with `off` that reading may
    /// be hours away, and each file holds kernel memory meanwhile.
    fn close_kept_files(&mut self) {
        for seen in &mut self.previous {
            seen.stat = None;
        }
    }

    /// Reads the lists into `out` now, whatever `every` says (an answer
    /// needs them; `sysmon top`): a reading under way is taken further,
    /// else one is begun, as far as `budget` allows (`None`: to the end;
    /// [`crate::sample::Sampler::read_top_on_demand`],
    /// [`crate::sample::Sampler::top_for_answer`]). The other arguments
    /// as for [`TopProcesses::sample`]. A proc root that cannot be listed
    /// keeps `out`'s previous lists.
    pub fn read_now(
        &mut self,
        now: Instant,
        uptime_s: f64,
        cores: usize,
        budget: Option<Duration>,
        out: &mut TopSample,
    ) -> Progress {
        self.read(now, uptime_s, cores, false, budget, out)
    }

    /// Whether a reading is under way, and if so whether the period or the
    /// watch began it (`Some(true)`) or an answer (`Some(false)`).
    pub fn under_way(&self) -> Option<bool> {
        self.reading.map(|r| r.periodic)
    }

    /// Takes the reading under way further, or begins one (`periodic`:
    /// for [`TopProcesses::under_way`]), as far as `budget` allows.
    fn read(
        &mut self,
        now: Instant,
        uptime_s: f64,
        cores: usize,
        periodic: bool,
        budget: Option<Duration>,
        out: &mut TopSample,
    ) -> Progress {
        if self.reading.is_some() {
            return self.go_on(budget, out);
        }
        out.enabled = self.rows > 0;
        if self.rows == 0 {
            out.by_cpu.clear();
            out.by_memory.clear();
            out.cpu_window_s = None;
            out.processes = 0;
            return Progress::Read;
        }
        let opened = self.open_listing();
        if opened.is_err() {
            self.health.note(&self.proc_root, opened);
            self.previous_at = None;
            return Progress::Read;
        }
        let uptime_ticks = if uptime_s.is_finite() && uptime_s > 0.0 {
            (uptime_s * self.clock_ticks_per_s as f64) as u64
        } else {
            0
        };
        let interval = self
            .previous_at
            .map(|(at, ticks)| (now.saturating_duration_since(at).as_secs_f64(), ticks))
            .filter(|(seconds, _)| *seconds > 0.0);
        self.current.clear();
        self.by_cpu.clear();
        self.by_memory.clear();
        self.reading = Some(Reading {
            began_at: now,
            uptime_ticks,
            cores,
            interval,
            periodic,
            listed: false,
            next: 0,
            before: 0,
            kept: 0,
        });
        self.go_on(budget, out)
    }

    /// Takes the reading under way further: until its last pid, or until
    /// `budget` has passed since this call (the clock is looked at every
    /// [`PIDS_PER_CLOCK_CHECK`] pids, so a call reads at least that many).
    /// When the last pid is read the lists go to `out` and the reading
    /// ends ([`Progress::Read`]). Nothing under way: [`Progress::NotDue`].
    ///
    /// The processes are read as they are when each is reached: a process
    /// that exits before its turn is not counted, one started after the
    /// listing waits for the next reading, and each one's CPU ticks are
    /// compared with the previous reading's for that process, so a share
    /// errs by at most the reading's own length over the interval.
    pub fn go_on(&mut self, budget: Option<Duration>, out: &mut TopSample) -> Progress {
        let Some(reading) = self.reading else {
            return Progress::NotDue;
        };
        let until = budget.map(|b| Instant::now() + b);
        if !reading.listed {
            let listed = self.list_some(until);
            match listed {
                Ok(false) => return Progress::UnderWay,
                Ok(true) => self.health.note(&self.proc_root, Ok(())),
                Err(e) => {
                    self.health.note(&self.proc_root, Err(e));
                    self.reading = None;
                    self.previous_at = None;
                    return Progress::Read;
                }
            }
            if until.is_some_and(|until| Instant::now() >= until) {
                return Progress::UnderWay;
            }
        }
        if !self.read_some(until) {
            return Progress::UnderWay;
        }
        self.reading = None;
        // What `finish` takes of it (its start, interval, cores) was fixed
        // when it began.
        self.finish(reading, out);
        Progress::Read
    }

    /// The reading's last step: the rows of the lists completed (user,
    /// command) and put in `out`, this reading kept as the next one's
    /// previous.
    fn finish(&mut self, reading: Reading, out: &mut TopSample) {
        out.enabled = true;
        let hz = self.clock_ticks_per_s;
        let seconds = reading.interval.map_or(0.0, |(s, _)| s);
        out.cpu_window_s = reading.interval.map(|(s, _)| s);
        let ceiling = 100.0 * reading.cores.max(1) as f64;
        out.processes = u32::try_from(self.current.len()).unwrap_or(u32::MAX);
        out.by_cpu.clear();
        out.by_memory.clear();
        out.by_cpu.reserve_exact(self.rows);
        out.by_memory.reserve_exact(self.rows);
        self.users.refresh();
        let (rows, page_size) = (self.rows, self.page_size);
        let mut reader = RowReader {
            dir: self.dir.as_ref(),
            buf: &mut self.buf,
            users: &self.users,
            owner_from_directory: self.keep_stat_files,
        };
        // A process in both lists is read once: the by-memory row takes
        // the by-CPU row's user and command (read a moment ago).
        let mut fill = |list: &[Candidate], into: &mut Vec<TopProcess>, filled: &[TopProcess]| {
            for c in list {
                if into.len() == rows {
                    break; // the spare candidates were not needed
                }
                let cpu_percent = if seconds > 0.0 {
                    // max/min, not `clamp`: clamp's check of its bounds
                    // prints them with f64's Debug, 8 KB of float
                    // formatting the binary otherwise does without.
                    (c.cpu_ticks_in_interval as f64 / hz as f64 / seconds * 100.0)
                        .max(0.0)
                        .min(ceiling)
                } else {
                    0.0
                };
                let row = TopProcess {
                    pid: c.pid,
                    name: c.name,
                    user: ShortText::default(),
                    uid: 0,
                    cpu_percent,
                    rss_bytes: c.rss_pages.saturating_mul(page_size),
                    command: ShortText::default(),
                };
                let row = match filled.iter().find(|f| f.pid == c.pid) {
                    Some(same) => Some(TopProcess {
                        user: same.user,
                        uid: same.uid,
                        command: same.command,
                        ..row
                    }),
                    None => reader.fill(c.kernel_thread, row),
                };
                if let Some(row) = row {
                    into.push(row); // within capacity: `rows` was reserved
                }
            }
        };
        fill(&self.by_cpu, &mut out.by_cpu, &[]);
        fill(&self.by_memory, &mut out.by_memory, &out.by_cpu);
        std::mem::swap(&mut self.previous, &mut self.current);
        // What is left of the older reading are processes gone since:
        // their kept files are closed now.
        self.current.clear();
        self.previous_at = Some((reading.began_at, reading.uptime_ticks));
        // Room to spare, so a few more processes next time do not allocate.
        let want = self.previous.len().saturating_mul(2);
        for table in [&mut self.previous, &mut self.current] {
            if table.capacity() < want {
                table.reserve(want - table.len());
            }
        }
        if self.pids.capacity() < want {
            self.pids.reserve(want - self.pids.len());
        }
    }

    /// Opens the proc root (once) and begins its listing from the start.
    fn open_listing(&mut self) -> Result<(), Failure> {
        if self.dir.is_none() {
            let path = self
                .proc_root_c
                .as_deref()
                .ok_or(Failure::Other("a NUL byte in the path"))?;
            let dir = sys::DirCounter::open(path).map_err(Failure::Io)?;
            self.keep_stat_files = sys::is_procfs(dir.as_fd().as_raw_fd());
            self.dir = Some(dir);
        }
        let Some(dir) = &mut self.dir else {
            return Err(Failure::Other("not open"));
        };
        self.pids.clear();
        if let Err(e) = dir.rewind() {
            self.dir = None;
            return Err(Failure::Io(e));
        }
        Ok(())
    }

    /// Lists pids under the proc root into `pids` until the last (true,
    /// and `pids` ascending) or `until` (false).
    fn list_some(&mut self, until: Option<Instant>) -> Result<bool, Failure> {
        let Some(dir) = &mut self.dir else {
            return Err(Failure::Other("not open"));
        };
        let pids = &mut self.pids;
        let listed = dir.list_some(until, |name| {
            if let Some(pid) = crate::proc::parse_u64(name).and_then(|p| u32::try_from(p).ok()) {
                pids.push(pid);
            }
        });
        match listed {
            Err(e) => {
                self.dir = None;
                Err(Failure::Io(e))
            }
            Ok(false) => Ok(false),
            Ok(true) => {
                if let Some(reading) = &mut self.reading {
                    reading.listed = true;
                }
                // /proc lists pids in order already: then this is one pass,
                // and the crate's heapsort (pids are distinct) only ever runs
                // if it did not.
                if !self.pids.is_sorted() {
                    crate::sort::sort(&mut self.pids);
                }
                Ok(true)
            }
        }
    }

    /// Reads the listed pids' stat into `current` and the candidates, from
    /// where the reading under way stopped, until the last (true) or
    /// `until` (false; the cursor is kept). `None`: to the last.
    fn read_some(&mut self, until: Option<Instant>) -> bool {
        let candidates = self.candidates();
        let Some(reading) = &mut self.reading else {
            return true;
        };
        let Some(dir) = &self.dir else { return true };
        let started_after = reading.interval.map(|(_, after)| after);
        let mut since_clock = 0usize;
        while reading.next < self.pids.len() {
            if let Some(until) = until
                && since_clock == PIDS_PER_CLOCK_CHECK
            {
                if Instant::now() >= until {
                    return false;
                }
                since_clock = 0;
            }
            since_clock += 1;
            let pid = self.pids[reading.next];
            reading.next += 1;
            let before = &mut reading.before;
            while *before < self.previous.len() && self.previous[*before].pid < pid {
                *before += 1;
            }
            let before = *before;
            let kept_file = match self.previous.get_mut(before) {
                Some(p) if p.pid == pid => p.stat.take(),
                _ => None,
            };
            let keep = self.keep_stat_files && reading.kept < KEPT_STAT_FILES;
            let Some((len, file)) = read_stat(dir, pid, kept_file, keep, &mut self.buf[..]) else {
                continue; // gone between the listing and the read
            };
            let Some(stat) = pidstat::parse(&self.buf[..len])
                .ok()
                .filter(|s| s.pid == pid)
            else {
                continue; // cut short
            };
            reading.kept += usize::from(file.is_some());
            let ticks = stat.cpu_ticks();
            let known = self
                .previous
                .get(before)
                .filter(|p| p.pid == pid && p.start_ticks == stat.start_ticks);
            let in_interval = match (known, started_after) {
                (_, None) => None,
                // A counter never runs backwards; if it seems to, 0.
                (Some(p), Some(_)) => Some(ticks.saturating_sub(p.cpu_ticks)),
                // New since the previous reading: all its ticks are recent.
                (None, Some(after)) if stat.start_ticks >= after => Some(ticks),
                (None, Some(_)) => None,
            };
            self.current.push(Seen {
                pid,
                start_ticks: stat.start_ticks,
                cpu_ticks: ticks,
                stat: file,
            });
            let mut candidate = Candidate {
                pid,
                key: stat.rss_pages,
                cpu_ticks_in_interval: in_interval.unwrap_or(0),
                rss_pages: stat.rss_pages,
                kernel_thread: stat.is_kernel_thread(),
                name: ShortText::default(),
            };
            let by_memory = ranks(&self.by_memory, candidates, candidate.key);
            let by_cpu = match in_interval {
                Some(t) if t > 0 => ranks(&self.by_cpu, candidates, t),
                _ => None,
            };
            if by_memory.is_none() && by_cpu.is_none() {
                continue;
            }
            candidate.name = ShortText::from_raw(stat.comm);
            if let Some(at) = by_memory {
                insert(&mut self.by_memory, candidates, at, candidate);
            }
            if let Some(at) = by_cpu {
                candidate.key = candidate.cpu_ticks_in_interval;
                insert(&mut self.by_cpu, candidates, at, candidate);
            }
        }
        true
    }
}

/// Where `key` goes in `list` (highest first, `rows` at most; on a tie the
/// one seen first, the lower pid, stays ahead), or `None` if it does not.
fn ranks(list: &[Candidate], rows: usize, key: u64) -> Option<usize> {
    let at = list.partition_point(|c| c.key >= key);
    (at < rows).then_some(at)
}

fn insert(list: &mut Vec<Candidate>, rows: usize, at: usize, candidate: Candidate) {
    if list.len() == rows {
        list.pop(); // within capacity: `rows` was reserved
    }
    list.insert(at, candidate);
}

/// What completing a row reads with: the proc root, a buffer, the user
/// names, and where the effective uid is read.
struct RowReader<'a> {
    dir: Option<&'a sys::DirCounter>,
    buf: &'a mut [u8; READ_BYTES],
    users: &'a Users,
    /// On procfs the owner of the /proc/PID directory is the process's
    /// effective uid: the kernel's `task_dump_owner` gives a directory of
    /// mode 0555 the task's `euid` (unlike its files, which show a
    /// non-dumpable process as root), and revalidates it at each lookup;
    /// procps reads it so ("reading /proc/pid/status is slow enough that
    /// procps ... kept stating /proc/pid", its comment). One `fstatat`,
    /// where `status` renders some 1.5 KB of text. Elsewhere (a fixture
    /// tree) the owner is whoever made the files: `status` is read.
    owner_from_directory: bool,
}

impl RowReader<'_> {
    /// Completes `row`: its effective uid and user, and its command line;
    /// `None` when the process is gone by now.
    fn fill(&mut self, kernel_thread: bool, mut row: TopProcess) -> Option<TopProcess> {
        let (dir, buf, users) = (self.dir?, &mut *self.buf, self.users);
        row.uid = if self.owner_from_directory {
            let mut name = [0u8; 11];
            sys::owner_at(sys::At::Entry(dir.as_fd(), pid_name(row.pid, &mut name))).ok()?
        } else {
            let len = read_pid_file(dir, row.pid, b"status", &mut buf[..]).ok()?;
            status::effective_uid(&buf[..len])?
        };
        row.user = match users.name(row.uid) {
            Some(name) => ShortText::from_raw(name),
            None => {
                let mut digits = [0u8; 10];
                ShortText::from_raw(decimal(row.uid, &mut digits))
            }
        };
        let command = if kernel_thread {
            &[][..]
        } else {
            let len = read_pid_file(dir, row.pid, b"cmdline", &mut buf[..]).ok()?;
            &buf[..len]
        };
        row.command = if command.iter().all(|b| *b == 0) {
            // `[name]`, as ps and top show a process without a command line.
            let mut bracketed = [0u8; NAME_BYTES + 2];
            let name = row.name.as_str().as_bytes();
            bracketed[0] = b'[';
            bracketed[1..=name.len()].copy_from_slice(name);
            bracketed[name.len() + 1] = b']';
            ShortText::from_raw(&bracketed[..name.len() + 2])
        } else {
            ShortText::from_raw(command)
        };
        Some(row)
    }
}

/// `pid` in decimal as a C string (the name of its /proc directory).
fn pid_name(pid: u32, out: &mut [u8; 11]) -> &CStr {
    let mut digits = [0u8; 10];
    let text = decimal(pid, &mut digits);
    out[..text.len()].copy_from_slice(text);
    out[text.len()] = 0;
    // Digits and one NUL: always a valid C string.
    CStr::from_bytes_with_nul(&out[..=text.len()]).unwrap_or_default()
}

/// `n` in decimal, written at the end of `digits`.
fn decimal(mut n: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[at..];
        }
    }
}

/// `PID/stat` into `buf`: through `kept` (its file from the previous
/// reading) if that still reads, else opened afresh. The bytes read, and
/// the file to keep for the next reading when `keep` (else it is closed).
/// `None` when the process is gone.
fn read_stat(
    dir: &sys::DirCounter,
    pid: u32,
    kept: Option<File>,
    keep: bool,
    buf: &mut [u8],
) -> Option<(usize, Option<File>)> {
    if let Some(file) = kept {
        // ESRCH once the process was reaped (even if the pid is in use
        // again), or 0 bytes: then the pid is opened again below.
        if let Ok(len @ 1..) = pread_all(&file, buf) {
            return Some((len, keep.then_some(file)));
        }
    }
    let file = open_pid_file(dir, pid, b"stat").ok()?;
    let len = pread_all(&file, buf).ok()?;
    Some((len, keep.then_some(file)))
}

/// Reads `PID/FILE` under the open proc root into `buf` with one `pread`:
/// the file's first `buf.len()` bytes. Never blocks (`O_NONBLOCK`: a FIFO
/// in a fixture tree reads as empty). A process that exited reads as
/// ENOENT or ESRCH, or as an empty file, which no parser accepts.
fn read_pid_file(
    dir: &sys::DirCounter,
    pid: u32,
    file: &[u8],
    buf: &mut [u8],
) -> io::Result<usize> {
    pread_all(&open_pid_file(dir, pid, file)?, buf)
}

/// Opens `PID/FILE` under the open proc root, without ever waiting.
fn open_pid_file(dir: &sys::DirCounter, pid: u32, file: &[u8]) -> io::Result<File> {
    let mut path = [0u8; 32];
    let mut digits = [0u8; 10];
    let pid = decimal(pid, &mut digits);
    let len = pid.len() + 1 + file.len();
    path[..pid.len()].copy_from_slice(pid);
    path[pid.len()] = b'/';
    path[pid.len() + 1..len].copy_from_slice(file);
    let name = CStr::from_bytes_with_nul(&path[..=len])
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let fd = sys::open_at(
        sys::At::Entry(dir.as_fd(), name),
        libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY,
    )?;
    Ok(File::from(fd))
}

/// The first `buf.len()` bytes of `file`, with one `pread` from offset 0.
fn pread_all(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read_at(buf, 0) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// User names by uid from /etc/passwd, read again only when the file's
/// mtime, size or inode changes (so a `stat` per reading, and an
/// allocation only when an account was added or removed).
struct Users {
    path: PathBuf,
    /// (mtime s, mtime ns, size, inode) when last read; `None`: never read
    /// or unreadable.
    stamp: Option<(i64, i64, u64, u64)>,
    names: Vec<u8>,
    /// (uid, start, end) into `names`, sorted by uid; the first line of a
    /// uid wins, as getpwuid answers.
    by_uid: Vec<(u32, u32, u32)>,
}

impl Users {
    fn new(path: PathBuf) -> Users {
        Users {
            path,
            stamp: None,
            names: Vec::new(),
            by_uid: Vec::new(),
        }
    }

    fn refresh(&mut self) {
        let stamp = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.mtime(), m.mtime_nsec(), m.size(), m.ino()));
        if stamp == self.stamp {
            return;
        }
        self.stamp = stamp;
        self.names.clear();
        self.by_uid.clear();
        let Ok(text) = super::procfile::read_once(&self.path) else {
            return; // no file: every user shows as a number
        };
        for (name, uid) in passwd::entries(&text) {
            let start = self.names.len() as u32;
            self.names.extend_from_slice(name);
            self.by_uid.push((uid, start, self.names.len() as u32));
        }
        // The first line of a uid stays first: `start` grows with the line,
        // so (uid, start) is distinct and the unstable crate sort is exact.
        crate::sort::sort_by_key(&mut self.by_uid, |&(uid, start, _)| (uid, start));
        self.by_uid.dedup_by_key(|(uid, _, _)| *uid);
    }

    fn name(&self, uid: u32) -> Option<&[u8]> {
        let at = self.by_uid.binary_search_by_key(&uid, |e| e.0).ok()?;
        let (_, start, end) = self.by_uid[at];
        self.names.get(start as usize..end as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_digits() {
        let mut d = [0u8; 10];
        assert_eq!(decimal(0, &mut d), b"0");
        assert_eq!(decimal(4294967295, &mut d), b"4294967295");
        assert_eq!(decimal(1000, &mut d), b"1000");
    }

    #[test]
    fn short_text_is_printable_and_bounded() {
        let t = ShortText::<8>::from_raw(b"ab\0cd\nefghij");
        assert_eq!(t.as_str(), "ab cd...");
        assert!(ShortText::<8>::default().is_empty());
    }

    /// A uid on several lines is named by its first, as getpwuid answers,
    /// though the sort that orders the table is not stable.
    #[test]
    fn users_name_a_repeated_uid_by_its_first_line() {
        let path = std::env::temp_dir().join(format!("sysmon-top-passwd-{}", std::process::id()));
        let text: String = (0..60u32)
            .map(|i| format!("user{i}:x:{}:100::/home:/bin/sh\n", (i * 7) % 9))
            .collect();
        std::fs::write(&path, text).unwrap();
        let mut users = Users::new(path.clone());
        users.refresh();
        std::fs::remove_file(&path).unwrap();
        for uid in 0..9u32 {
            let first = (0..60u32).find(|i| (i * 7) % 9 == uid).unwrap();
            assert_eq!(
                users.name(uid),
                Some(format!("user{first}").as_bytes()),
                "uid {uid}"
            );
        }
        assert_eq!(users.name(9), None);
    }

    /// The candidate lists against a naive oracle: sort everything, take
    /// the first `rows`.
    #[test]
    fn ranking_matches_a_full_sort() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for rows in [1usize, 3, 5] {
            let mut list = Vec::with_capacity(rows);
            let mut all = Vec::new();
            for pid in 0..200u32 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let key = state % 50;
                all.push((key, pid));
                let c = Candidate {
                    pid,
                    key,
                    cpu_ticks_in_interval: key,
                    rss_pages: key,
                    kernel_thread: false,
                    name: ShortText::default(),
                };
                if let Some(at) = ranks(&list, rows, key) {
                    insert(&mut list, rows, at, c);
                }
            }
            all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let want: Vec<(u64, u32)> = all.into_iter().take(rows).collect();
            let got: Vec<(u64, u32)> = list.iter().map(|c| (c.key, c.pid)).collect();
            assert_eq!(got, want);
            assert_eq!(list.capacity(), rows, "never grew");
        }
    }
}
