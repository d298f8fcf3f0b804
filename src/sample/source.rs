//! What every source of the sampler shares: how a read fails ([`Failure`]),
//! how that failure is reported ([`Health`]), how lines written twice are
//! reported ([`Repeats`]), and when a source is absent rather than failing
//! ([`read_optional`]).
//!
//! Invariant: a source's failure is logged once, when it starts, and once
//! when it clears; in between nothing is logged and nothing is allocated, so
//! a source failing on every sample costs the sampler no allocation. What
//! is reported meanwhile ([`Health::failure`]) is the latest failure, not
//! the first. The same holds for repeated lines.

use std::fmt::{self, Write as _};
use std::io;
use std::path::Path;
use std::time::Duration;

use super::procfile::ProcFile;
use crate::proc::ParseError;

/// How often directories are listed again (hot-plugged sensors, CPUs
/// brought online, a container moved to another cgroup).
pub const RESCAN_EVERY: Duration = Duration::from_secs(60);
/// After a sensor read failed, the next listing comes this soon.
pub const RESCAN_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Why a source could not be read this time.
pub enum Failure {
    Io(io::Error),
    Parse(ParseError),
    Other(&'static str),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Io(e) => write!(f, "{e}"),
            Failure::Parse(e) => write!(f, "{e}"),
            Failure::Other(s) => f.write_str(s),
        }
    }
}

/// One source's state of failure: `Some` while it fails, with `FILE: why`
/// of the latest reading.
#[derive(Default)]
pub struct Health {
    failing: Option<(Cause, String)>,
}

/// What makes one failure the same as the next, compared without
/// formatting (an `io::Error`'s text allocates): a failure that stays the
/// same rewrites nothing. An io error is known by its kind and errno; one
/// without errno (sysmon's own: `open_regular` says "a directory" and "a
/// character device" with the same kind) by its text too, compared with
/// the one shown ([`same_text`]: its text is made without allocating).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cause {
    Io(io::ErrorKind, Option<i32>),
    Parse(ParseError),
    Other(&'static str),
}

impl Health {
    /// Records the outcome of reading `path`, logging only a change between
    /// working and failing; a failure that changes while the source fails
    /// replaces the one reported, silently.
    pub fn note(&mut self, path: &Path, result: Result<(), Failure>) {
        match result {
            Err(e) => {
                let cause = match &e {
                    Failure::Io(e) => Cause::Io(e.kind(), e.raw_os_error()),
                    Failure::Parse(e) => Cause::Parse(*e),
                    Failure::Other(s) => Cause::Other(s),
                };
                // Without errno the kind says too little (see `Cause`).
                let by_text = matches!(&e, Failure::Io(io) if io.raw_os_error().is_none());
                let first = match &mut self.failing {
                    Some((same, why))
                        if *same == cause
                            && (!by_text
                                || same_text(why, format_args!("{}: {e}", path.display()))) =>
                    {
                        return;
                    }
                    Some((was, _)) => {
                        *was = cause;
                        false
                    }
                    None => true,
                };
                // Rewritten in place: allocates only when the source starts
                // failing or the text outgrows the last one.
                let (_, why) = self.failing.get_or_insert((cause, String::new()));
                why.clear();
                let _ = write!(why, "{}: {e}", path.display());
                if first {
                    crate::log::warn(format_args!("{why} (keeping the previous figures)"));
                }
            }
            Ok(()) if self.failing.is_some() => {
                self.failing = None;
                crate::log::info(format_args!("{}: readable again", path.display()));
            }
            _ => {}
        }
    }

    /// `FILE: why` of the latest reading while the source fails.
    pub fn failure(&self) -> Option<&str> {
        self.failing.as_ref().map(|(_, why)| why.as_str())
    }
}

/// Whether `text` is what `args` writes, found without allocating: the
/// pieces are compared as they are written, the first difference stops.
fn same_text(text: &str, args: fmt::Arguments) -> bool {
    struct Rest<'a>(&'a str);
    impl fmt::Write for Rest<'_> {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            self.0 = self.0.strip_prefix(piece).ok_or(fmt::Error)?;
            Ok(())
        }
    }
    let mut rest = Rest(text);
    fmt::write(&mut rest, args).is_ok() && rest.0.is_empty()
}

/// Whether a table's reading had lines naming what an earlier line of the
/// same reading named (a CPU, a device, a counter): a real kernel never
/// writes them, but an overlay /proc (LXCFS in a container) or a broken
/// module can. The first line is kept and the later ones dropped, so that
/// each series is written once (Prometheus rejects a whole scrape that
/// has one twice) and the source keeps working; this says so in the log
/// once when they appear and once when they are gone, naming the file and
/// the first repeated name, rather than at every reading. Not a failure:
/// nothing is missing from what is served.
#[derive(Default)]
pub struct Repeats {
    logged: bool,
}

impl Repeats {
    /// Records one reading of `file`: `first` is its first repeated line
    /// (what it repeats, where), `None` when it had none.
    pub fn note(&mut self, file: &dyn fmt::Display, first: Option<impl fmt::Display>) {
        match (first, self.logged) {
            (Some(what), false) => {
                crate::log::warn(format_args!(
                    "{file}: {what}: the first is kept and repeats are dropped (said once; an overlay /proc such as LXCFS?)"
                ));
                self.logged = true;
            }
            (None, true) => {
                crate::log::info(format_args!("{file}: no repeated lines any more"));
                self.logged = false;
            }
            _ => {}
        }
    }

    /// Whether the log says, as of the last reading, that the file
    /// repeats lines (said, and not yet said to be gone).
    pub fn said(&self) -> bool {
        self.logged
    }
}

/// Reads `file`; `Ok(None)` when it does not exist (the source is absent).
pub fn read_optional(file: &mut ProcFile) -> Result<Option<&[u8]>, Failure> {
    match file.read() {
        Ok(buf) => Ok(Some(buf)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::Io(e)),
    }
}

/// Bytes from /proc or /sys as text (names, paths), invalid UTF-8 replaced.
pub fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_that_changes_is_reported_as_it_is_now() {
        let path = Path::new("/proc/stat");
        let mut health = Health::default();
        health.note(path, Ok(()));
        assert_eq!(health.failure(), None);
        let a = ParseError::new(1, "cpu line has fewer than 4 columns");
        let b = ParseError::new(2, "bad cpu number");
        health.note(path, Err(Failure::Parse(a)));
        assert_eq!(
            health.failure(),
            Some("/proc/stat: line 1: cpu line has fewer than 4 columns")
        );
        health.note(path, Err(Failure::Parse(b)));
        assert_eq!(health.failure(), Some("/proc/stat: line 2: bad cpu number"));
        let gone = io::Error::from(io::ErrorKind::NotFound);
        health.note(path, Err(Failure::Io(gone)));
        let why = health.failure().unwrap();
        assert!(why.starts_with("/proc/stat: ") && why != "/proc/stat: line 2: bad cpu number");
        health.note(path, Err(Failure::Other("short")));
        assert_eq!(health.failure(), Some("/proc/stat: short"));
        health.note(path, Ok(()));
        assert_eq!(health.failure(), None);
        health.note(path, Err(Failure::Parse(a)));
        assert_eq!(
            health.failure(),
            Some("/proc/stat: line 1: cpu line has fewer than 4 columns")
        );
    }

    /// `same_text` against the naive answer: format, then compare.
    #[test]
    fn same_text_is_equality_of_the_formatted_text() {
        for (text, a, b) in [
            ("x: y", "x", "y"),
            ("x: y", "x", "yz"),
            ("x: yz", "x", "y"),
            ("", "", ""),
            (": ", "", ""),
            ("ab: c", "a", "bc"),
        ] {
            let naive = format!("{a}: {b}") == text;
            assert_eq!(
                same_text(text, format_args!("{a}: {b}")),
                naive,
                "{text:?} {a:?} {b:?}"
            );
        }
    }

    /// An io error of sysmon's own (no errno) is known by its text too:
    /// `open_regular` refuses a directory and a device with the same kind
    /// (`InvalidInput`) and no errno, and the second was taken for the
    /// first, so the failure shown stayed "a directory" once the file was
    /// a device.
    #[test]
    fn an_io_error_without_errno_that_changes_text_is_reported_as_it_is_now() {
        let dir = std::env::temp_dir().join(format!("sysmon-source-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("meminfo");
        std::fs::create_dir_all(&path).unwrap();
        let mut file = ProcFile::new(path.clone());
        let mut health = Health::default();
        let read = |file: &mut ProcFile| file.read().map(|_| ()).map_err(Failure::Io);
        health.note(&path, read(&mut file));
        let shown = |health: &Health| health.failure().unwrap().to_string();
        let why = shown(&health);
        assert!(
            why.ends_with(": a directory, not a regular file: refused (reading it could block)"),
            "{why}"
        );
        std::fs::remove_dir(&path).unwrap();
        std::os::unix::fs::symlink("/dev/null", &path).unwrap();
        health.note(&path, read(&mut file));
        let why = shown(&health);
        assert!(
            why.ends_with(
                ": a character device, not a regular file: refused (reading it could block)"
            ),
            "{why}"
        );
        // The same failure again is the same text, rewritten or not.
        health.note(&path, read(&mut file));
        assert_eq!(shown(&health), why);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
