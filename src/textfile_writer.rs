//! `textfile_path`: sysmon's own series written for node_exporter's textfile
//! collector on a short-lived thread, never on the loop. The write is
//! fsynced (the file and its directory), which on a slow or hung disk (NFS,
//! a dying SD card) takes as long as the disk does; on the loop that
//! stalled every answer.
//!
//! The mechanism is the audit log's ([`crate::audit`], `finish`): a named
//! thread that owns what it writes, handed over through a slot, and the
//! loop writing itself only when no thread can be had.
//!
//! Invariants:
//! - At most one writer thread is in flight. A text handed in while it
//!   writes replaces any text still waiting (the newest wins), and the
//!   writer takes it when done: the file ends with the last text handed in.
//! - The loop only takes the slot's lock, which the writer holds to take a
//!   text (or find none and end), never across a write.
//! - Each write is [`fsutil::write_atomic`] (temporary + rename, 0644: node_exporter
//!   usually runs as another user); an error is logged with the path.
//! - Before the first write to a path, temporaries an earlier sysmon left
//!   there (killed mid-write: `.NAME.tmp-PID`, another PID, no longer a
//!   process) are removed: only regular files of exactly that pattern for
//!   that NAME. A live PID's is another writer's, in use, and stays.
//! - [`TextfileWriter::retire`] (a reload changed or dropped the path)
//!   removes the file last written only while it is still that file (the
//!   same device and inode, seen without following a symlink): a file
//!   someone else put there is left alone. Done by the writer too, after
//!   any write in flight: an unlink can wait on a hung disk as a write can.
//! - What is removed is what was checked ([`remove_checked`]): a file
//!   renamed onto the name between the check and the unlink is not
//!   unlinked in its place, and is put back; if a newer file has taken
//!   the name by then, it is kept beside it as `NAME.kept-PID-N` (a name
//!   no cleanup touches), never left under sysmon's temporary name.

use crate::owned::owned;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::fsutil::{self, FileId};
use crate::log;

/// The writer thread's stack: std's default of 2 MiB, given explicitly so
/// that the spawn does not inline std's read of `RUST_MIN_STACK`.
const STACK_BYTES: usize = 2 * 1024 * 1024;

#[derive(Default)]
pub struct TextfileWriter {
    slot: Arc<Mutex<Slot>>,
}

#[derive(Default)]
struct Slot {
    /// The newest text not yet taken by a writer, and where it goes.
    pending: Option<(PathBuf, Vec<u8>)>,
    /// A writer thread is in flight (it ends only with `pending` empty
    /// and `retire` false).
    writing: bool,
    /// The file last written should go (taken before `pending`).
    retire: bool,
    /// The file last written, and its device and inode once written.
    written: Option<(PathBuf, FileId)>,
    /// The path whose directory was last swept of old temporaries.
    swept: Option<PathBuf>,
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    // Plain data, consistent at every unlock (panic = abort besides).
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TextfileWriter {
    /// Has `text` written to `path`: by the writer in flight once it is
    /// done (replacing a text that waited), else by a new one.
    pub fn write(&mut self, path: &Path, text: &[u8]) {
        let mut slot = lock(&self.slot);
        slot.pending = Some((path.to_path_buf(), text.to_vec()));
        start(&self.slot, slot);
    }

    /// Has the file last written removed, if it is still the one written
    /// (see the module's invariants), and any text waiting dropped: the
    /// path it was for is no longer `textfile_path`.
    pub fn retire(&mut self) {
        let mut slot = lock(&self.slot);
        slot.pending = None;
        if slot.written.is_none() && !slot.writing {
            return;
        }
        slot.retire = true;
        start(&self.slot, slot);
    }
}

/// Starts a writer for what `slot` (the guard of `shared`) holds unless
/// one is in flight.
fn start(shared: &Arc<Mutex<Slot>>, mut slot: MutexGuard<'_, Slot>) {
    if slot.writing {
        return;
    }
    slot.writing = true;
    drop(slot);
    {
        let theirs = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(owned("sysmon-textfile"))
            .stack_size(STACK_BYTES)
            .spawn(move || {
                // No signal may land on a thread waiting for a server.
                crate::sys::block_all_in_this_thread();
                write_pending(&theirs);
            });
        if let Err(e) = spawned {
            log::warn(format_args!(
                "textfile: cannot start the writer thread ({e}): writing on the loop"
            ));
            write_pending(shared);
        }
    }
}

/// Does what the slot asks, the newest text each time, until nothing is
/// left: the retirement first (asked after any text that waited).
fn write_pending(slot: &Mutex<Slot>) {
    loop {
        let (retired, next, sweep) = {
            let mut slot = lock(slot);
            let retired = if std::mem::take(&mut slot.retire) {
                slot.written.take()
            } else {
                None
            };
            let next = slot.pending.take();
            let sweep = match &next {
                Some((path, _)) if slot.swept.as_ref() != Some(path) => {
                    slot.swept = Some(path.clone());
                    true
                }
                _ => false,
            };
            slot.writing = retired.is_some() || next.is_some();
            (retired, next, sweep)
        };
        if let Some((path, id)) = retired {
            remove_if_still(&path, id);
        }
        let Some((path, text)) = next else {
            if lock(slot).writing {
                continue;
            }
            return;
        };
        if sweep {
            remove_old_temporaries(&path);
        }
        fsutil::test_gate("SYSMON_TEST_TEXTFILE_GATE");
        // The error names the path (`fsutil::with_path`).
        match fsutil::write_atomic(&path, &text, 0o644) {
            Ok(id) => lock(slot).written = Some((path, id)),
            Err(e) => log::error(format_args!("textfile: {e}")),
        }
    }
}

/// Removes `path` if it is still the regular file sysmon wrote there
/// (`id`: its device and inode; the link itself when it is a symlink).
fn remove_if_still(path: &Path, id: FileId) {
    let still = |m: &fs::Metadata| m.is_file() && (m.dev(), m.ino()) == id;
    let removed = match fs::symlink_metadata(path) {
        Ok(m) if still(&m) => {
            removal_gate();
            // The writer's own temporary: not in use while it removes.
            remove_checked(path, &fsutil::temp_path_for(path), still)
        }
        Ok(_) => Ok(false),
        Err(e) => Err(e),
    };
    if let Ok(false) = removed {
        log::warn(format_args!(
            "textfile: {} left in place: no longer the file sysmon wrote",
            path.display()
        ));
    }
    log_removal(path, removed, "no longer textfile_path");
}

/// Logs `removed PATH: WHY` for `Ok(true)`, the error but a missing file.
fn log_removal(path: &Path, removed: io::Result<bool>, why: &str) {
    let shown = path.display();
    match removed {
        Ok(true) => log::info(format_args!("textfile: removed {shown}: {why}")),
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            log::error(format_args!("textfile: cannot remove {shown}: {e}"))
        }
        _ => {}
    }
}

/// Removes what is at `path` if `is_ours` holds for what is removed, not
/// for what was there a moment before (`Ok(false)`: it did not, and it is
/// back). It is renamed first to `aside`, a name of this process's in the
/// same directory (atomic: whatever is at `path` at that instant moves, a
/// file renamed onto `path` later is not touched), checked there without
/// following a symlink, and unlinked; or else put back by a link, which
/// never replaces. When a newer file landed at `path` meanwhile, the one
/// moved aside cannot go back, and under `aside` the next write to `path`
/// (its temporary) or a later sysmon's sweep would delete it: it is kept
/// as `NAME.kept-PID-N` beside `path` ([`keep_beside`]), logged.
fn remove_checked(
    path: &Path,
    aside: &Path,
    is_ours: impl Fn(&fs::Metadata) -> bool,
) -> io::Result<bool> {
    fs::rename(path, aside)?;
    if fs::symlink_metadata(aside).is_ok_and(|m| is_ours(&m)) {
        fs::remove_file(aside)?;
        return Ok(true);
    }
    test_hold_at("SYSMON_TEST_TEXTFILE_PUTBACK_GATE");
    // A link never replaces: if it fails, another file is at `path` now.
    // Once it is back, `aside` is only a second name of it (if its unlink
    // fails, whoever removes it later loses nothing).
    if let Err(e) = fs::hard_link(aside, path) {
        let kept = keep_beside(path, aside);
        let (how, at) = match &kept {
            Ok(kept) => ("kept as", kept.as_path()),
            Err(_) => ("not kept either, still at", aside),
        };
        log::warn(format_args!(
            "textfile: not put back at {} ({e}: another file is there now); {how} {}",
            path.display(),
            at.display()
        ));
    } else {
        let _ = fs::remove_file(aside);
    }
    Ok(false)
}

/// How many files this process has kept ([`keep_beside`]), for their names.
static KEPT: AtomicU32 = AtomicU32::new(0);

/// Gives the file at `aside` the name `NAME.kept-PID-N` beside `path`
/// (NAME its file name, N counting this process's), by a link, which never
/// replaces (a name taken is passed over: N grows until one is free, and
/// only the names of another party's choosing can be taken), then unlinks
/// `aside`. No cleanup of sysmon's matches that name (only `.NAME.tmp-PID`
/// is swept) and node_exporter reads only `*.prom`: the file stays for its
/// owner.
fn keep_beside(path: &Path, aside: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().unwrap_or_default();
    loop {
        let n = KEPT.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        let mut kept_name = name.to_os_string();
        kept_name.push(format!(".kept-{}-{n}", std::process::id()));
        let kept = path.with_file_name(kept_name);
        match fs::hard_link(aside, &kept) {
            Ok(()) => {
                // Kept under both names if this fails: nothing is lost.
                let _ = fs::remove_file(aside);
                return Ok(kept);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

/// A test's knob, in debug builds only: between the check of what is to
/// be removed and its removal, while the file named by
/// `SYSMON_TEST_TEXTFILE_REMOVE_GATE` exists, the writer waits
/// ([`test_hold_at`]).
fn removal_gate() {
    test_hold_at("SYSMON_TEST_TEXTFILE_REMOVE_GATE");
}

/// A test's knob, in debug builds only: while the file named by the
/// environment variable `var` exists, the writer waits, and says so by
/// making that name + `.waiting` (see [`fsutil::test_gate`]).
/// `SYSMON_TEST_TEXTFILE_PUTBACK_GATE` holds [`remove_checked`] between
/// finding that what it moved aside is not sysmon's and putting it back.
fn test_hold_at(var: &str) {
    #[cfg(debug_assertions)]
    if let Some(gate) = std::env::var_os(var) {
        let mut waiting = gate.clone();
        waiting.push(".waiting");
        let _ = fs::write(&waiting, b"");
        fsutil::test_hold(Some(Path::new(&gate)));
    }
    let _ = var;
}

/// Removes the regular files `.NAME.tmp-PID` (PID: digits) beside `path`
/// whose PID is no process: an earlier sysmon's temporaries for it, left
/// by a kill or a crash mid-write. Anything else is left alone, a live
/// PID's temporary too (another sysmon writing the same path, in another
/// PID namespace perhaps: kept, never taken from a writer). This process's
/// own temporary is not in use: the sweep runs on the one writer, before
/// it writes. (`textfile_path` is absolute: the config resolves it.)
fn remove_old_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    // The writer's own temporary: not in use while it sweeps.
    let aside = fsutil::temp_path_for(path);
    for entry in entries.flatten() {
        let entry_name = entry.file_name();
        let Some(pid) = temporary_of(entry_name.as_bytes(), name.as_bytes()) else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_file()) || is_alive_other(pid) {
            continue;
        }
        let path = entry.path();
        let removed = remove_checked(&path, &aside, fs::Metadata::is_file);
        log_removal(&path, removed, "left by an earlier sysmon");
    }
}

/// Whether the PID written as `digits` is a live process other than this
/// one (`kill(PID, 0)`: anything but "no such process" counts as alive).
/// A PID beyond `pid_t`, or 0, is no process.
fn is_alive_other(digits: &[u8]) -> bool {
    match crate::proc::parse_u64(digits).and_then(|pid| u32::try_from(pid).ok()) {
        Some(pid) if pid != std::process::id() => match crate::sys::signal_process(pid, 0) {
            Ok(()) => true,
            Err(e) => {
                !matches!(e.kind(), io::ErrorKind::InvalidInput)
                    && e.raw_os_error() != Some(libc::ESRCH)
            }
        },
        _ => false,
    }
}

/// The PID's digits when `entry` is `.NAME.tmp-PID` for this `name`.
fn temporary_of<'a>(entry: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let pid = entry
        .strip_prefix(b".")
        .and_then(|rest| rest.strip_prefix(name))
        .and_then(|rest| rest.strip_prefix(b".tmp-"))?;
    (!pid.is_empty() && pid.iter().all(u8::is_ascii_digit)).then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The newest text wins and no second writer starts while one is in
    /// flight: texts handed in while the slot says a writer is busy wait
    /// in it, replaced by each newer one, and only the last is written.
    #[test]
    fn a_busy_writer_is_handed_the_newest_text_only() {
        let dir = std::env::temp_dir().join(format!("sysmon-textfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sysmon.prom");
        let mut writer = TextfileWriter::default();
        // As while a writer is in flight: nothing new is started.
        lock(&writer.slot).writing = true;
        for text in ["a 1\n", "a 2\n", "a 3\n"] {
            writer.write(&path, text.as_bytes());
        }
        assert!(!path.exists(), "written with a writer in flight");
        // The writer in flight, done with its text, takes the newest.
        write_pending(&writer.slot);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 3\n");
        let slot = lock(&writer.slot);
        assert!(slot.pending.is_none() && !slot.writing);
        drop(slot);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A reload that moves `textfile_path` while a writer is in flight:
    /// the text that waited for the old path is dropped, and the file the
    /// writer wrote there is removed once it is done, before any text
    /// for the new path is written.
    #[test]
    fn a_retirement_asked_during_a_write_removes_what_that_write_made() {
        let dir =
            std::env::temp_dir().join(format!("sysmon-textfile-retire-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (old, new) = (dir.join("old.prom"), dir.join("new.prom"));
        let mut writer = TextfileWriter::default();
        lock(&writer.slot).writing = true;
        writer.write(&old, b"a 1\n");
        // The writer in flight has just written the old path.
        let taken = lock(&writer.slot).pending.take().unwrap();
        let id = fsutil::write_atomic(&taken.0, &taken.1, 0o644).unwrap();
        writer.write(&old, b"a 2\n");
        lock(&writer.slot).written = Some((old.clone(), id));
        writer.retire();
        writer.write(&new, b"b 1\n");
        write_pending(&writer.slot);
        assert!(!old.exists(), "the old path's file is left");
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "b 1\n");
        let slot = lock(&writer.slot);
        assert!(!slot.writing && !slot.retire && slot.pending.is_none());
        assert_eq!(slot.written.as_ref().map(|w| &w.0), Some(&new));
        drop(slot);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
