//! The boot log: every boot sysmon has seen, in `state_dir/boots.log`, so
//! that a start can tell whether the previous boot ended with sysmon stopped
//! cleanly (SIGTERM or SIGINT through the normal shutdown path: the init
//! system shutting the box down, or an admin stopping the service) or not
//! (power loss, kernel panic, watchdog reset, `kill -9` followed by a
//! reboot). The latter is the `unexpected_reboot` alert ([`crate::alerts`]).
//!
//! A boot is known by the kernel's `boot_id` ([`crate::proc::boot_id`]);
//! its record holds that id, the boot time (`btime` of /proc/stat), the
//! last time sysmon saw it alive, and how it ended:
//! - `up`: sysmon runs in it now, or ran and was never stopped cleanly;
//! - `stopped`: sysmon was stopped cleanly (a later start in the same boot
//!   makes it `up` again);
//! - `unclean`: a start in a later boot found it `up`.
//!
//! A start in the same boot (same `boot_id`) is a restart of sysmon, never
//! a reboot, whatever the record says. A record that is `stopped` was a
//! clean end even if the box lost power later with sysmon stopped: sysmon
//! can only vouch for what it saw.
//!
//! Invariants:
//! - The file holds at most [`MAX_BOOTS`] records (oldest dropped first),
//!   so it never grows past about 9 KiB. A change of records (a start, a
//!   clean stop) replaces it whole (temporary, fsync, rename, fsync of the
//!   directory: [`crate::fsutil`]), mode 0600: a crash at any moment leaves
//!   the old file or the new one. A "still alive" record changes only the
//!   current boot's `last_seen`, and when its digits are as many as the
//!   file holds, they are written over the old ones in the file sysmon
//!   last wrote (one `pwrite` and `fdatasync`: a data page, where a
//!   replacement cost a new inode and the directory, 12–36 KiB of ext4
//!   writes each time). A crash during that write leaves a record that
//!   still parses, its `last_seen` the old or the new time, or a mix of
//!   their digits (ten of them, equal up to the minutes that differ): how
//!   precise "last seen alive" is, never whether the boot was clean. When
//!   the file on disk is no longer the one written (another inode), the
//!   record is written whole.
//! - The start's record is written before any other write of the log,
//!   and the daemon has it written by a thread of its own
//!   ([`BootLog::write_start_in_background`]) so that the port answers
//!   without waiting for the disk (two `fsync`s and a rename: 1.2 ms on
//!   the project's VM, 0.6–7 ms while others write; issue 16): every later
//!   write (a "still alive" record, the clean stop) first waits for that
//!   thread, so the records reach the file in order and one file is
//!   written at a time.
//! - Flash wear: it is written at start, every `boot_log_every` (default
//!   10 minutes: "last seen alive" is that precise) and at a clean stop;
//!   never per sample.
//! - A file that is not a boot log sysmon wrote (bad header, a bad line,
//!   too many records, a repeated id, larger than any boot log) is renamed
//!   `boots.log.aside-UNIX` and a new log begun: never a reason to refuse
//!   to start, never deleted.
//! - Once opened, [`BootLog::poll`] and [`BootLog::stop`] allocate nothing
//!   (the text is printed into a buffer sized at open, the temporary's name
//!   is made once).

use crate::owned::{owned, text_of};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fsutil;
use crate::proc::boot_id::{self, BootId};

/// The start's writing thread's stack: a few path buffers and the calls
/// of [`fsutil::write_atomic_via`].
const WRITER_STACK_BYTES: usize = 64 * 1024;
/// Boots kept, the current one included.
pub const MAX_BOOTS: usize = 100;
/// The log's name in `state_dir`.
pub const FILE_NAME: &str = "boots.log";
/// The first line: what the file is, and its columns.
const HEADER: &str = "# sysmon boot log 1: boot_id boot_time last_seen end";
/// Larger than any log sysmon writes (header + 100 records of at most 87
/// bytes): a bigger file is not ours and is not read past this.
const MAX_FILE_BYTES: usize = 16 * 1024;

/// How a boot ended, as far as sysmon knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// sysmon runs in this boot, or ran and was not stopped cleanly.
    Up,
    /// sysmon was stopped cleanly (SIGTERM/SIGINT) and has not run since.
    Stopped,
    /// A later boot found it `Up`: it ended without a clean stop.
    Unclean,
}

impl End {
    pub fn name(self) -> &'static str {
        match self {
            End::Up => "up",
            End::Stopped => "stopped",
            End::Unclean => "unclean",
        }
    }

    fn parse(word: &[u8]) -> Option<End> {
        match word {
            b"up" => Some(End::Up),
            b"stopped" => Some(End::Stopped),
            b"unclean" => Some(End::Unclean),
            _ => None,
        }
    }
}

/// One boot's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boot {
    pub id: BootId,
    /// Unix time of the boot (`btime`); `None` when /proc/stat had none.
    pub boot_time: Option<u64>,
    /// Unix time sysmon last recorded it alive (or stopped).
    pub last_seen: u64,
    pub end: End,
}

/// What a start found about the boot before this one, when it ended
/// without a clean stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unclean {
    /// The boot that ended so.
    pub boot: Boot,
    /// Unix time of the start that found it (the alert counts from here).
    pub found_at: u64,
    /// The current boot's time, when known: `boot_time - last_seen` bounds
    /// how long the old boot lived after sysmon last saw it.
    pub this_boot_time: Option<u64>,
}

/// The counts /metrics shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Boots in the log, this one included.
    pub recorded: usize,
    /// Boots in the log that ended without a clean stop.
    pub unclean: usize,
    /// How the boot before this one ended: `Some(true)` clean; `None` when
    /// the log knows no earlier boot.
    pub previous_clean: Option<bool>,
}

/// What [`BootLog::open`] found, for the daemon to log.
#[derive(Debug, Default)]
pub struct Opened {
    /// The file was not a boot log: where it went, and why.
    pub set_aside: Option<(PathBuf, String)>,
    /// The previous boot ended without a clean stop.
    pub unclean: Option<Unclean>,
    /// This is a restart within the same boot.
    pub same_boot: bool,
    /// Writing the log failed (it is kept in memory and tried again).
    pub write_error: Option<io::Error>,
}

pub struct BootLog {
    path: PathBuf,
    temp: PathBuf,
    /// Oldest first; the last is the current boot. At most [`MAX_BOOTS`].
    boots: Vec<Boot>,
    every: Duration,
    next_write_at: Instant,
    /// The file's text is printed here (capacity [`MAX_FILE_BYTES`]).
    text: String,
    /// The last write failed (logged once until one succeeds).
    failing: bool,
    /// Successful writes since open (for tests of the cadence).
    writes: u64,
    /// The file as last written, while its current record says `up`: where
    /// a "still alive" write puts the new `last_seen`.
    in_place: Option<InPlace>,
    /// The start's record being written by a thread of its own
    /// ([`BootLog::write_start_in_background`]), which holds `text` meanwhile and
    /// gives it back with the outcome.
    start_write: Option<std::thread::JoinHandle<(String, io::Result<()>)>>,
}

/// The boot log file sysmon wrote last, kept open, and where its last
/// record's `last_seen` digits are.
struct InPlace {
    file: std::fs::File,
    /// (device, inode) of `file`: the path must still name it.
    identity: (u64, u64),
    /// Byte offset and length of the last record's `last_seen` field.
    last_seen_at: u64,
    last_seen_len: usize,
}

impl BootLog {
    /// Reads `state_dir/boots.log` (setting aside what is not a boot log),
    /// records the current boot `id` (booted at `boot_time`) as `up` and
    /// writes the log. `Err` only when there is no way to keep a log here
    /// (the state directory cannot be made, or a file that cannot be read
    /// cannot be set aside either).
    pub fn open(
        state_dir: &Path,
        id: BootId,
        boot_time: Option<u64>,
        now: Instant,
        unix_now: u64,
        every: Duration,
    ) -> io::Result<(BootLog, Opened)> {
        let (mut log, mut opened) =
            BootLog::open_unwritten(state_dir, id, boot_time, now, unix_now, every)?;
        if let Err(e) = log.write() {
            log.failing = true;
            opened.write_error = Some(e);
        }
        Ok((log, opened))
    }

    /// Writes the start's record (as [`BootLog::open`] does) by a thread of
    /// its own: the caller goes on at once, and
    /// [`BootLog::wait_start_written`] gives the outcome. The thread waits
    /// `pause` before writing (zero but in tests).
    /// If no thread can be started the record is written here, and a
    /// failure returned.
    pub fn write_start_in_background(&mut self, pause: Duration) -> Option<io::Error> {
        self.text.clear();
        render(&self.boots, &mut self.text);
        let text = std::mem::take(&mut self.text);
        let (path, temp) = (self.path.clone(), self.temp.clone());
        let spawned = std::thread::Builder::new()
            .name(owned("sysmon-bootlog"))
            .stack_size(WRITER_STACK_BYTES)
            .spawn(move || {
                std::thread::sleep(pause);
                let result = fsutil::write_atomic_via(&path, &temp, text.as_bytes(), 0o600);
                (text, result)
            });
        match spawned {
            Ok(handle) => {
                self.start_write = Some(handle);
                None
            }
            Err(_) => {
                // The text went with the closure that could not run.
                self.text = String::with_capacity(MAX_FILE_BYTES);
                let failed = self.write().err();
                self.failing = failed.is_some();
                failed
            }
        }
    }

    /// Waits for the start's write by [`BootLog::write_start_in_background`],
    /// if one is running, and gives its outcome once (`None` when there is
    /// none to wait for). An error is kept in memory and the record tried
    /// again at the next `every`, as any failed write. Every write of the
    /// log calls it first; the daemon calls it once the loop is first idle,
    /// before it drops start-up's pages (this code is start-up's).
    pub fn wait_start_written(&mut self) -> Option<io::Result<()>> {
        let handle = self.start_write.take()?;
        let (text, result) = handle.join().unwrap_or_else(|_| {
            let e = io::Error::other("the boot log's writing thread panicked");
            (String::with_capacity(MAX_FILE_BYTES), Err(e))
        });
        self.text = text;
        match &result {
            Ok(()) => {
                self.writes += 1;
                if self.current().end == End::Up {
                    self.in_place = self.open_in_place();
                }
            }
            Err(_) => self.failing = true,
        }
        Some(result)
    }

    /// [`BootLog::open`] without the write: the log read (a file that is
    /// not a boot log set aside) and this boot recorded, in memory only.
    /// The caller writes it next with
    /// [`BootLog::write_start_in_background`] (or lets the first write do it).
    pub fn open_unwritten(
        state_dir: &Path,
        id: BootId,
        boot_time: Option<u64>,
        now: Instant,
        unix_now: u64,
        every: Duration,
    ) -> io::Result<(BootLog, Opened)> {
        fsutil::ensure_dir(state_dir, 0o700)?;
        let path = state_dir.join(FILE_NAME);
        let mut opened = Opened::default();
        let mut boots = Vec::with_capacity(MAX_BOOTS + 1);
        if let Err(why) = read_log(&path, id, &mut boots) {
            boots.clear();
            let aside = state_dir.join(format!("{FILE_NAME}.aside-{unix_now}"));
            std::fs::rename(&path, &aside).map_err(|e| fsutil::with_path(&path, e))?;
            opened.set_aside = Some((aside, why));
        }
        (opened.same_boot, opened.unclean) = record_up(&mut boots, id, boot_time, unix_now);
        let log = BootLog {
            temp: fsutil::temp_path_for(&path),
            path,
            boots,
            every,
            next_write_at: now + every,
            text: String::with_capacity(MAX_FILE_BYTES),
            failing: false,
            writes: 0,
            in_place: None,
            start_write: None,
        };
        Ok((log, opened))
    }

    /// The log as [`BootLog::open`] would find it, with the current boot
    /// recorded as up, in memory only: nothing is written, made or set
    /// aside (`sysmon sample`, a one-shot command that must not change the
    /// daemon's state). `None` when the file cannot be read or is not a boot
    /// log; an absent file gives a log of this boot alone.
    pub fn peek(
        state_dir: &Path,
        id: BootId,
        boot_time: Option<u64>,
        unix_now: u64,
    ) -> Option<BootLog> {
        let path = state_dir.join(FILE_NAME);
        let mut boots = Vec::with_capacity(MAX_BOOTS + 1);
        read_log(&path, id, &mut boots).ok()?;
        record_up(&mut boots, id, boot_time, unix_now);
        Some(BootLog {
            temp: fsutil::temp_path_for(&path),
            path,
            boots,
            every: Duration::MAX,
            next_write_at: Instant::now(),
            text: String::new(),
            failing: false,
            writes: 0,
            in_place: None,
            start_write: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every boot recorded, oldest first; the last is the current one.
    pub fn boots(&self) -> &[Boot] {
        &self.boots
    }

    pub fn current(&self) -> Boot {
        // `open` always records the current boot last.
        self.boots[self.boots.len() - 1]
    }

    pub fn summary(&self) -> Summary {
        let previous = self.boots.len().checked_sub(2).map(|i| self.boots[i]);
        Summary {
            recorded: self.boots.len(),
            unclean: self.boots.iter().filter(|b| b.end == End::Unclean).count(),
            previous_clean: previous.map(|b| b.end != End::Unclean),
        }
    }

    /// A new `boot_log_every` (SIGHUP): the next write comes at most that
    /// long from now.
    pub fn set_every(&mut self, now: Instant, every: Duration) {
        self.every = every;
        self.next_write_at = self.next_write_at.min(now + every);
    }

    /// When [`BootLog::poll`] next has work: the next "still alive" write.
    pub fn next_deadline(&self) -> Option<Instant> {
        Some(self.next_write_at)
    }

    /// Records "still alive" when `boot_log_every` has passed. A failed
    /// write is logged once (until one succeeds) and tried at the next turn
    /// of `every`.
    pub fn poll(&mut self, now: Instant, unix_now: u64) {
        if !crate::period::is_due(now, self.next_write_at, self.every) {
            return;
        }
        self.next_write_at = now + self.every;
        self.seen(unix_now, End::Up);
    }

    /// The clean stop (SIGTERM/SIGINT): the boot's record says so.
    pub fn stop(&mut self, unix_now: u64) {
        self.seen(unix_now, End::Stopped);
    }

    fn seen(&mut self, unix_now: u64, end: End) {
        let last = self.boots.len() - 1;
        self.boots[last].last_seen = unix_now;
        self.boots[last].end = end;
        match self.write() {
            Ok(()) if self.failing => {
                self.failing = false;
                crate::log::info(format_args!(
                    "boot log: {} written again",
                    self.path.display()
                ));
            }
            Ok(()) => {}
            Err(e) if !self.failing => {
                self.failing = true;
                crate::log::error(format_args!("boot log: {e}; kept in memory, tried again"));
            }
            Err(_) => {}
        }
    }

    fn write(&mut self) -> io::Result<()> {
        // The start's record first (its outcome only matters for the
        // log's message: this write replaces it whole or in place anyway).
        // Tested here, so that an idle daemon's "still alive" write (the
        // daemon waited for the start's long before) does not call into
        // start-up's code, whose pages it dropped.
        if self.start_write.is_some() {
            if let Some(Err(e)) = self.wait_start_written() {
                crate::log::error(format_args!("boot log: {e}; written again now"));
            }
        }
        let current = self.current();
        if current.end == End::Up && self.write_last_seen_in_place(current.last_seen) {
            self.writes += 1;
            return Ok(());
        }
        self.in_place = None;
        self.text.clear();
        render(&self.boots, &mut self.text);
        fsutil::write_atomic_via(&self.path, &self.temp, self.text.as_bytes(), 0o600)?;
        self.writes += 1;
        if current.end == End::Up {
            self.in_place = self.open_in_place();
        }
        Ok(())
    }

    /// Writes `last_seen` over the digits of the file last written, when it
    /// is still the file at the path and the digits are as many; `false`
    /// when the record must be written whole instead (nothing was changed,
    /// or the write failed and the whole write follows).
    fn write_last_seen_in_place(&mut self, last_seen: u64) -> bool {
        use std::os::unix::fs::{FileExt, MetadataExt};
        let Some(at) = &self.in_place else {
            return false;
        };
        let mut digits = [0u8; 20];
        let digits = decimal(last_seen, &mut digits);
        let same_file =
            std::fs::metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == at.identity);
        if digits.len() != at.last_seen_len || !same_file {
            return false;
        }
        let written = at.file.write_all_at(digits, at.last_seen_at);
        written.and_then(|()| at.file.sync_data()).is_ok()
    }

    /// The file just written whole, opened for the next "still alive"
    /// writes, with the place of its last record's `last_seen` (the third
    /// field of the last line of `text`). `None` (every write whole) when
    /// it cannot be opened.
    fn open_in_place(&self) -> Option<InPlace> {
        use std::os::unix::fs::MetadataExt;
        let text = self.text.as_bytes();
        let body = text.strip_suffix(b"\n")?;
        let line_start = body.iter().rposition(|&b| b == b'\n')? + 1;
        let mut spaces = body[line_start..]
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b' ')
            .map(|(i, _)| line_start + i);
        let start = spaces.nth(1)? + 1;
        let end = spaces.next()?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .ok()?;
        let m = file.metadata().ok()?;
        Some(InPlace {
            file,
            identity: (m.dev(), m.ino()),
            last_seen_at: start as u64,
            last_seen_len: end - start,
        })
    }

    /// Times the file was written since open (the first at open).
    pub fn writes(&self) -> u64 {
        self.writes
    }
}

/// Reads the boot log at `path` into `boots` (nothing when there is no
/// file). `Err` names why the file is not a boot log this machine wrote.
fn read_log(path: &Path, id: BootId, boots: &mut Vec<Boot>) -> Result<(), String> {
    let Some(text) = read_bounded(path).map_err(|e| text_of(&e))? else {
        return Ok(());
    };
    parse(&text, boots)?;
    // The current boot anywhere but last: not a log this machine wrote.
    let found = boots.iter().position(|b| b.id == id);
    if found.is_some_and(|i| i + 1 != boots.len()) {
        return Err(owned("this boot is recorded before another one"));
    }
    Ok(())
}

/// Records boot `id` as up and last seen now: the last record again on a
/// restart in the same boot (`true`), else a new last record, the previous
/// one marked unclean if it was still up (returned).
fn record_up(
    boots: &mut Vec<Boot>,
    id: BootId,
    boot_time: Option<u64>,
    unix_now: u64,
) -> (bool, Option<Unclean>) {
    match boots.last_mut() {
        Some(last) if last.id == id => {
            last.end = End::Up;
            last.last_seen = unix_now;
            if last.boot_time.is_none() {
                last.boot_time = boot_time;
            }
            (true, None)
        }
        last => {
            let mut unclean = None;
            if let Some(last) = last.filter(|b| b.end == End::Up) {
                last.end = End::Unclean;
                unclean = Some(Unclean {
                    boot: *last,
                    found_at: unix_now,
                    this_boot_time: boot_time,
                });
            }
            if boots.len() == MAX_BOOTS {
                boots.remove(0);
            }
            boots.push(Boot {
                id,
                boot_time,
                last_seen: unix_now,
                end: End::Up,
            });
            (false, unclean)
        }
    }
}

/// The file's text, or `None` when there is none. A file larger than any
/// boot log is an error (never read whole), and so is anything but a
/// regular file: a FIFO put there would stop the loop in `open` (at start,
/// or on a SIGHUP that moves `state_dir`), so it is opened without waiting
/// and refused, and then set aside as any file that is not a boot log.
fn read_bounded(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fsutil::read_regular(path, MAX_FILE_BYTES) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parses a whole log into `out` (oldest first). The error says what is
/// wrong, with its line.
pub fn parse(text: &[u8], out: &mut Vec<Boot>) -> Result<(), String> {
    out.clear();
    let text = text
        .strip_suffix(b"\n")
        .ok_or("does not end with a newline")?;
    let mut lines = text.split(|&b| b == b'\n');
    if lines.next() != Some(HEADER.as_bytes()) {
        return Err(owned("line 1: not a sysmon boot log header"));
    }
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let boot = parse_record(line).ok_or_else(|| format!("line {n}: not a boot record"))?;
        if out.iter().any(|b| b.id == boot.id) {
            return Err(format!("line {n}: boot {} recorded twice", boot.id));
        }
        if out.len() == MAX_BOOTS {
            return Err(format!("more than {MAX_BOOTS} boots"));
        }
        out.push(boot);
    }
    Ok(())
}

/// The decimal digits of `n`, at the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// `ID BOOT_TIME|- LAST_SEEN END`
fn parse_record(line: &[u8]) -> Option<Boot> {
    let mut fields = line.split(|&b| b == b' ');
    let id = boot_id::parse_id(fields.next()?)?;
    let boot_time = match fields.next()? {
        b"-" => None,
        digits => Some(crate::proc::parse_u64(digits)?),
    };
    let last_seen = crate::proc::parse_u64(fields.next()?)?;
    let end = End::parse(fields.next()?)?;
    fields.next().is_none().then_some(Boot {
        id,
        boot_time,
        last_seen,
        end,
    })
}

/// The file's text for `boots`. Allocates nothing when `out` has room.
pub fn render(boots: &[Boot], out: &mut String) {
    out.push_str(HEADER);
    out.push('\n');
    for b in boots {
        let _ = write!(out, "{} ", b.id);
        match b.boot_time {
            Some(t) => {
                let _ = write!(out, "{t} ");
            }
            None => out.push_str("- "),
        }
        let _ = writeln!(out, "{} {}", b.last_seen, b.end.name());
    }
}

/// The current boot's id from `<proc_root>/sys/kernel/random/boot_id`.
pub fn read_boot_id(proc_root: &Path) -> Result<BootId, String> {
    let path = proc_root.join("sys/kernel/random/boot_id");
    let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => format!("no {}", path.display()),
        _ => format!("{}: {e}", path.display()),
    })?;
    boot_id::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> BootId {
        boot_id::parse_id(format!("{n:08x}-0000-4000-8000-000000000000").as_bytes()).unwrap()
    }

    struct Dir(PathBuf);
    impl Dir {
        fn new(name: &str) -> Dir {
            let p =
                std::env::temp_dir().join(format!("sysmon-bootlog-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn open(dir: &Path, n: u32, at: u64) -> (BootLog, Opened) {
        BootLog::open(
            dir,
            id(n),
            Some(at - 5),
            Instant::now(),
            at,
            Duration::from_secs(600),
        )
        .unwrap()
    }

    #[test]
    fn a_new_boot_after_no_clean_stop_is_unclean_and_a_restart_is_not() {
        let dir = Dir::new("seq");
        let (log, opened) = open(&dir.0, 1, 1000);
        assert!(opened.unclean.is_none() && !opened.same_boot);
        assert_eq!(log.summary().previous_clean, None);
        // sysmon killed, started again in the same boot: a restart.
        drop(log);
        let (mut log, opened) = open(&dir.0, 1, 1100);
        assert!(opened.same_boot && opened.unclean.is_none());
        assert_eq!(log.boots().len(), 1);
        log.stop(1200);
        // Stopped cleanly, then a new boot: not unexpected.
        let (log, opened) = open(&dir.0, 2, 2000);
        assert!(opened.unclean.is_none());
        assert_eq!(log.summary().previous_clean, Some(true));
        drop(log);
        // Never stopped, then a new boot: unclean, last seen at its start.
        let (log, opened) = open(&dir.0, 3, 3000);
        let unclean = opened.unclean.unwrap();
        assert_eq!((unclean.boot.id, unclean.boot.last_seen), (id(2), 2000));
        assert_eq!(unclean.this_boot_time, Some(2995));
        assert_eq!(
            log.summary(),
            Summary {
                recorded: 3,
                unclean: 1,
                previous_clean: Some(false)
            }
        );
        let ends: Vec<End> = log.boots().iter().map(|b| b.end).collect();
        assert_eq!(ends, [End::Stopped, End::Unclean, End::Up]);
        // The finding is written: a restart in this boot does not find it again.
        drop(log);
        let (_, opened) = open(&dir.0, 3, 3100);
        assert!(opened.same_boot && opened.unclean.is_none());
    }

    #[test]
    fn the_log_keeps_the_last_hundred_boots() {
        let dir = Dir::new("bound");
        for n in 0..150 {
            let (mut log, _) = open(&dir.0, n, 10_000 + u64::from(n) * 100);
            if n % 2 == 0 {
                log.stop(10_050 + u64::from(n) * 100);
            }
        }
        let text = std::fs::read(dir.0.join(FILE_NAME)).unwrap();
        let mut boots = Vec::new();
        parse(&text, &mut boots).unwrap();
        assert_eq!(boots.len(), MAX_BOOTS);
        assert_eq!((boots[0].id, boots[99].id), (id(50), id(149)));
        assert!(text.len() < MAX_FILE_BYTES, "{}", text.len());
    }

    #[test]
    fn what_is_not_a_boot_log_is_set_aside() {
        let good = format!("{HEADER}\n{} 100 200 stopped\n", id(1));
        let mut boots = Vec::new();
        parse(good.as_bytes(), &mut boots).unwrap();
        assert_eq!(boots[0].boot_time, Some(100));
        for bad in [
            String::new(),
            "garbage\n".to_string(),
            format!("{HEADER}\n{} 100 200 stopped", id(1)),
            format!("{HEADER}\n{} 100 200 gone\n", id(1)),
            format!("{HEADER}\n{} 100 -200 up\n", id(1)),
            format!("{HEADER}\n{} 100  200 up\n", id(1)),
            format!("{HEADER}\n{} 100 200 up x\n", id(1)),
            format!("{HEADER}\n{0} - 200 up\n{0} - 300 up\n", id(1)),
        ] {
            assert!(parse(bad.as_bytes(), &mut boots).is_err(), "{bad:?}");
        }
        let dir = Dir::new("aside");
        std::fs::create_dir_all(&dir.0).unwrap();
        std::fs::write(dir.0.join(FILE_NAME), "not a boot log\n").unwrap();
        let (log, opened) = open(&dir.0, 7, 5000);
        let (aside, why) = opened.set_aside.unwrap();
        assert_eq!(aside, dir.0.join("boots.log.aside-5000"));
        assert!(why.contains("line 1"), "{why}");
        assert_eq!(std::fs::read(&aside).unwrap(), b"not a boot log\n");
        assert_eq!(log.boots().len(), 1);
        // This boot recorded before another: copied from another machine.
        drop(log);
        let text = format!("{HEADER}\n{} - 1 up\n{} - 2 up\n", id(7), id(8));
        std::fs::write(dir.0.join(FILE_NAME), text).unwrap();
        let (_, opened) = open(&dir.0, 7, 5001);
        assert!(opened.set_aside.is_some() && opened.unclean.is_none());
    }

    /// A FIFO where the log should be is not opened for reading (that
    /// waits for a writer: the daemon's loop would stop at start, or at a
    /// SIGHUP that moves `state_dir`; `sysmon sample` would never print)
    /// but refused: `peek` gives up at once, `open` sets it aside.
    #[test]
    fn a_fifo_in_place_of_the_log_is_set_aside_without_waiting() {
        let dir = Dir::new("fifo");
        std::fs::create_dir_all(&dir.0).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.0.join(FILE_NAME))
            .status()
            .unwrap();
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let state_dir = dir.0.clone();
        std::thread::spawn(move || {
            let peeked = BootLog::peek(&state_dir, id(1), None, 1000).is_some();
            let (_, opened) = open(&state_dir, 7, 5000);
            let _ = tx.send((peeked, opened.set_aside));
        });
        let (peeked, set_aside) = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("reading the boot log waited on a FIFO");
        assert!(!peeked, "peek read a FIFO as a boot log");
        let (aside, why) = set_aside.expect("the FIFO is set aside");
        assert_eq!(aside, dir.0.join("boots.log.aside-5000"));
        assert!(why.contains("a FIFO, not a regular file"), "{why}");
        assert!(dir.0.join(FILE_NAME).is_file());
    }

    /// "Still alive" writes go into the file last written (the same inode)
    /// and leave exactly what a whole write would; a change of length, a
    /// clean stop, or a file replaced behind sysmon's back is written whole.
    #[test]
    fn still_alive_writes_the_digits_in_place_and_the_rest_whole() {
        use std::os::unix::fs::MetadataExt;
        let dir = Dir::new("in-place");
        let (_, _) = open(&dir.0, 1, 1_700_000_000);
        let (mut log, _) = open(&dir.0, 2, 1_700_000_100);
        let path = dir.0.join(FILE_NAME);
        let inode = || std::fs::metadata(&path).unwrap().ino();
        let whole = |log: &BootLog| {
            let mut text = String::new();
            render(log.boots(), &mut text);
            text
        };
        let first = inode();
        let later = Instant::now() + Duration::from_secs(3600);
        log.poll(later, 1_700_000_700);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole(&log));
        assert_eq!(inode(), first, "written in place");
        log.poll(later + Duration::from_secs(3600), 9_999_999_999);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole(&log));
        assert_eq!(inode(), first, "same length: in place");
        // Eleven digits: the line grows, so the file is replaced.
        log.poll(later + Duration::from_secs(7200), 10_000_000_000);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole(&log));
        let second = inode();
        assert_ne!(second, first, "a longer record is written whole");
        // Someone replaced the file: sysmon's write is whole, not into the
        // file it had open (which no longer is the log).
        let stray = dir.0.join("stray");
        std::fs::write(&stray, "edited by hand\n").unwrap();
        std::fs::rename(&stray, &path).unwrap();
        log.poll(later + Duration::from_secs(10800), 10_000_000_600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole(&log));
        // A clean stop changes the record's end: whole, and no longer up.
        let before_stop = inode();
        log.stop(10_000_000_700);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, whole(&log));
        assert!(text.ends_with(" 10000000700 stopped\n"), "{text}");
        assert_ne!(inode(), before_stop);
        assert_eq!(log.writes(), 6);
    }

    /// The start's record written by its thread: nothing on disk until it
    /// ran, its outcome given once, and a write that comes first (a clean
    /// stop) waits for it, so the stop is the record that stays.
    #[test]
    fn the_start_written_in_background_comes_before_any_later_write() {
        let dir = Dir::new("background");
        let path = dir.0.join(FILE_NAME);
        let (mut log, _) = BootLog::open_unwritten(
            &dir.0,
            id(1),
            Some(995),
            Instant::now(),
            1000,
            Duration::from_secs(600),
        )
        .unwrap();
        assert!(
            log.write_start_in_background(Duration::from_millis(300))
                .is_none()
        );
        assert!(!path.exists(), "written before the thread ran");
        log.stop(1100);
        assert_eq!(log.writes(), 2);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(" 995 1100 stopped\n"), "{text}");
        assert!(log.wait_start_written().is_none(), "taken by the stop");

        // Waited for, its outcome is given once; then "still alive" is
        // written in place in the file it wrote.
        let (mut log, opened) = BootLog::open_unwritten(
            &dir.0,
            id(1),
            Some(995),
            Instant::now(),
            1200,
            Duration::from_secs(600),
        )
        .unwrap();
        assert!(opened.same_boot);
        assert!(log.write_start_in_background(Duration::ZERO).is_none());
        let outcome = log.wait_start_written();
        assert!(matches!(outcome, Some(Ok(()))), "{outcome:?}");
        assert!(log.wait_start_written().is_none());
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.ends_with(" 1200 up\n"), "{written}");
        log.poll(Instant::now() + Duration::from_secs(3600), 1300);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(" 1300 up\n"), "{text}");
        assert_eq!(log.writes(), 2);
    }

    #[test]
    fn render_and_parse_agree() {
        let boots = [
            Boot {
                id: id(1),
                boot_time: None,
                last_seen: 0,
                end: End::Unclean,
            },
            Boot {
                id: id(2),
                boot_time: Some(u64::MAX),
                last_seen: u64::MAX,
                end: End::Up,
            },
        ];
        let mut text = String::new();
        render(&boots, &mut text);
        let mut back = Vec::new();
        parse(text.as_bytes(), &mut back).unwrap();
        assert_eq!(back, boots);
    }
}
