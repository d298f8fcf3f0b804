//! Writing files so that nothing is ever half-written under its final name,
//! and reading files that something else may have put in their place.
//!
//! Invariant: [`write_atomic`] either leaves the old file (or none) in place,
//! or the complete new one, fsynced together with its directory. Temporaries
//! are hidden (`.NAME.tmp-PID`) in the destination directory, so a rename is
//! atomic and a leftover from a crash is recognisable and removable.
//!
//! Invariant: [`open_regular`] never waits (a FIFO's open would block until
//! a writer came, for good on a daemon's loop) and returns only a regular
//! file: anything else is an error naming the path and what it is.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Attaches the path to an I/O error: `PATH: error`.
pub fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Whether [`open_regular`] follows a symlink at the path's last component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// Refused (`O_NOFOLLOW`): files the daemon keeps itself, which no one
    /// should be able to point elsewhere.
    Refuse,
    /// Followed: a path a user named on the command line.
    Follow,
}

/// Opens `path` read-only, refusing anything but a regular file. The open
/// is `O_NONBLOCK` (so a FIFO there cannot hold it), `O_CLOEXEC`, and
/// `O_NOFOLLOW` unless `links` says otherwise; the descriptor is checked
/// with `fstat` and then made blocking again. A missing file keeps its
/// `NotFound` kind; errors name the path.
pub fn open_regular(path: &Path, links: Links) -> io::Result<File> {
    let refuse_links = links == Links::Refuse;
    let no_follow = if refuse_links { libc::O_NOFOLLOW } else { 0 };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | no_follow)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // What O_NOFOLLOW answers for a symlink.
            Some(libc::ELOOP) if refuse_links => not_regular(path, "a symbolic link"),
            _ => with_step(path, "open", e),
        })?;
    let stat = crate::sys::fstat(std::os::fd::AsFd::as_fd(&file))
        .map_err(|e| with_step(path, "fstat", e))?;
    if !stat.is_file() {
        return Err(not_regular(path, file_type_name(stat.file_type())));
    }
    crate::sys::clear_nonblocking(std::os::fd::AsFd::as_fd(&file))
        .map_err(|e| with_step(path, "fcntl", e))?;
    Ok(file)
}

/// The whole of the regular file at `path` (see [`open_regular`]: never a
/// FIFO, never through a symlink), or an error when it holds more than
/// `max_bytes` (it is never read past that).
pub fn read_regular(path: &Path, max_bytes: usize) -> io::Result<Vec<u8>> {
    let file = open_regular(path, Links::Refuse)?;
    crate::sample::procfile::read_whole_from(&file, max_bytes)
        .map_err(|e| with_step(path, "read", e))
}

/// `PATH: is WHAT, not a regular file` (WHAT from [`file_type_name`]).
pub fn not_regular(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: is {what}, not a regular file", path.display()),
    )
}

/// What a file of type `file_type` (the `S_IFMT` bits of a mode) is, for
/// an error message: "a FIFO", "a directory".
pub fn file_type_name(file_type: u32) -> &'static str {
    match file_type {
        libc::S_IFREG => "a regular file",
        libc::S_IFDIR => "a directory",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFSOCK => "a socket",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFLNK => "a symbolic link",
        _ => "of an unknown type",
    }
}

/// Attaches the path and the step that failed: `PATH: STEP: error`.
fn with_step(path: &Path, step: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {step}: {e}", path.display()))
}

/// Creates `dir` with exactly `mode` (its missing parents with `mode` as
/// the umask narrows it); an existing directory keeps its mode. The daemon
/// runs with umask 077, which would turn a log directory's 0750 into 0700.
pub fn ensure_dir(dir: &Path, mode: u32) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(parent)
            .map_err(|e| with_path(parent, e))?;
    }
    match fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(mode)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "exists and is not a directory",
        )),
        Err(e) => Err(e),
    }
    .map_err(|e| with_path(dir, e))
}

/// Flushes a directory's entries (a rename or unlink in it) to disk.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| with_path(dir, e))
}

/// The hidden temporary name used for `path` by this process.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// A test's knob, in debug builds only: while the file named by the
/// environment variable `var` exists, the calling thread waits, as on a
/// hung disk (the writers off the loop: `SYSMON_TEST_TEXTFILE_GATE`,
/// `SYSMON_TEST_AUDIT_LOG_GATE`). Release builds: nothing.
pub fn test_gate(var: &str) {
    #[cfg(debug_assertions)]
    test_hold(std::env::var_os(var).as_deref().map(Path::new));
    let _ = var;
}

/// [`test_gate`] at a path the caller holds (a test's knob set through an
/// API, where an environment variable would hold every test of a process).
pub fn test_hold(gate: Option<&Path>) {
    #[cfg(debug_assertions)]
    if let Some(gate) = gate {
        while gate.exists() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let _ = gate;
}

/// A file's identity: its device and inode (`st_dev`, `st_ino`).
pub type FileId = (u64, u64);

/// Writes `bytes` to `path` atomically with permission `mode`; the new
/// file's identity, as made (taken before the rename: not a file someone
/// put at `path` just after).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<FileId> {
    replace_via(path, &temp_path_for(path), bytes, mode)
}

/// [`write_atomic`] through a temporary the caller named once (with
/// [`temp_path_for`]): no allocation unless it fails, for a writer on the
/// daemon's loop.
/// The temporary is made anew (`O_CREAT|O_EXCL|O_NOFOLLOW`, after whatever
/// was left at its name is removed): a symlink or a FIFO planted there is
/// never written through nor waited on.
pub fn write_atomic_via(path: &Path, temp: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    replace_via(path, temp, bytes, mode).map(drop)
}

/// Writes `bytes` to a new file at `temp` with permission `mode`, synced
/// to disk, after removing whatever was left at that name; its identity.
pub fn write_temp(temp: &Path, bytes: &[u8], mode: u32) -> io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    match fs::remove_file(temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(mode)
        .open(temp)?;
    // The umask may have narrowed `mode`; set exactly what was asked.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    let made = file.metadata()?;
    Ok((made.dev(), made.ino()))
}

/// Gives the complete temporary `temp` in `dir` the first free name of
/// `name(1)`, `name(2)`, ... without ever replacing an existing file: a
/// hard link fails on an existing name (`EEXIST`), so the next is tried,
/// and only then is the temporary unlinked. Filesystems without hard links
/// fall back to a rename after an existence check. `what` names the files
/// in the error when every name is taken.
pub fn commit_unique(
    temp: &Path,
    dir: &Path,
    name: &dyn Fn(u32) -> String,
    what: &str,
) -> io::Result<PathBuf> {
    for n in 1..10_000 {
        let target = dir.join(name(n));
        match fs::hard_link(temp, &target) {
            Ok(()) => {
                fs::remove_file(temp)?;
                fsync_dir(dir)?;
                return Ok(target);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EPERM | libc::EOPNOTSUPP | libc::EXDEV)
                ) =>
            {
                if target.exists() {
                    continue;
                }
                fs::rename(temp, &target)?;
                fsync_dir(dir)?;
                return Ok(target);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("too many {what}")))
}

/// [`write_atomic_via`], returning the new file's [`FileId`].
fn replace_via(path: &Path, temp: &Path, bytes: &[u8], mode: u32) -> io::Result<FileId> {
    let result = (|| {
        let made = write_temp(temp, bytes, mode)?;
        fs::rename(temp, path)?;
        Ok(made)
    })();
    let id = match result {
        Ok(id) => id,
        Err(e) => {
            let _ = fs::remove_file(temp);
            return Err(with_path(path, e));
        }
    };
    fsync_dir(
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symlink or a FIFO left at the temporary's name (the name is
    /// predictable: `.NAME.tmp-PID`) is replaced, never written through
    /// nor waited on; the target stays as it was.
    #[test]
    fn an_atomic_write_never_goes_through_what_was_left_at_its_temporary() {
        let dir = std::env::temp_dir().join(format!("sysmon-atomic-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        ensure_dir(&dir, 0o700).unwrap();
        let (path, temp, victim) = (
            dir.join("state"),
            dir.join(".state.tmp"),
            dir.join("victim"),
        );
        fs::write(&victim, "VICTIM").unwrap();
        std::os::unix::fs::symlink(&victim, &temp).unwrap();
        write_atomic_via(&path, &temp, b"new", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read(&victim).unwrap(), b"VICTIM");
        assert!(
            fs::symlink_metadata(&temp).is_err(),
            "the temporary is gone"
        );
        let made = std::process::Command::new("mkfifo").arg(&temp).status();
        assert!(made.unwrap().success());
        write_atomic_via(&path, &temp, b"newer", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"newer");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Fuzzing found a FIFO at a state file's name holding the daemon in
    /// `open()` for good. Each kind of non-regular file is refused at once,
    /// with the path and what it is; a regular file reads whole.
    #[test]
    fn open_regular_refuses_fifos_symlinks_devices_and_directories() {
        let dir = std::env::temp_dir().join(format!("sysmon-openreg-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        ensure_dir(&dir, 0o700).unwrap();
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let file = dir.join("file");
        fs::write(&file, b"state").unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let refused =
            |path: &Path, links: Links| open_regular(path, links).unwrap_err().to_string();
        assert_eq!(
            refused(&fifo, Links::Refuse),
            format!("{}: is a FIFO, not a regular file", fifo.display())
        );
        assert_eq!(
            refused(&link, Links::Refuse),
            format!("{}: is a symbolic link, not a regular file", link.display())
        );
        assert_eq!(
            refused(Path::new("/dev/null"), Links::Follow),
            "/dev/null: is a character device, not a regular file"
        );
        assert_eq!(
            refused(&dir, Links::Refuse),
            format!("{}: is a directory, not a regular file", dir.display())
        );
        let missing = open_regular(&dir.join("missing"), Links::Refuse).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(open_regular(&link, Links::Follow).is_ok());
        assert_eq!(read_regular(&file, 5).unwrap(), b"state");
        let too_long = read_regular(&file, 4).unwrap_err().to_string();
        assert!(
            too_long.ends_with("file: read: larger than 4 bytes (sysmon reads at most that)"),
            "{too_long}"
        );
        assert!(read_regular(&fifo, 5).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writes_atomically_with_mode() {
        let dir = std::env::temp_dir().join(format!("sysmon-fsutil-{}", std::process::id()));
        ensure_dir(&dir, 0o700).unwrap();
        let path = dir.join("state");
        write_atomic(&path, b"one", 0o640).unwrap();
        write_atomic(&path, b"two", 0o640).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left behind"
        );
        let err = write_atomic(&dir.join("missing/x"), b"", 0o600).unwrap_err();
        assert!(err.to_string().contains("missing/x"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
