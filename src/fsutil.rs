//! Writing files so that nothing is ever half-written under its final name.
//!
//! Invariant: [`write_atomic`] either leaves the old file (or none) in place,
//! or the complete new one, fsynced together with its directory. Temporaries
//! are hidden (`.NAME.tmp-PID`) in the destination directory, so a rename is
//! atomic and a leftover from a crash is recognisable and removable.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Attaches the path to an I/O error: `PATH: error`.
pub fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
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

/// Writes `bytes` to `path` atomically with permission `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_atomic_via(path, &temp_path_for(path), bytes, mode)
}

/// [`write_atomic`] through a temporary the caller named once (with
/// [`temp_path_for`]): no allocation unless it fails, for a writer on the
/// daemon's loop.
pub fn write_atomic_via(path: &Path, temp: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(temp)?;
        // The umask may have narrowed `mode`; set exactly what was asked.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(temp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(temp);
        return Err(with_path(path, e));
    }
    fsync_dir(
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
