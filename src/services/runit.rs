//! runit: every service under the service directory, read from the
//! `supervise/status` file its `runsv` rewrites on each change. No child.
//!
//! `supervise/status` is 20 bytes (runit 2.1.2 `runsv.c`, read by `sv.c`):
//! bytes 0..8 the TAI64 label of the last state change (2^62 + 10 + unix
//! seconds, libtai's convention), 8..12 its nanoseconds (big-endian),
//! 12..16 the pid (little-endian, 0 when down), 16 paused (1 after `sv
//! pause`), 17 `u` or `d` (wanted up or down), 18 1 once sent TERM, 19 the
//! state: 0 down, 1 run, 2 finish (`./finish` running). `supervise/stat` is
//! the same fact as text (`run`, `down`, `finish`); the binary file alone is
//! read, it also has the time and what is wanted.
//!
//! Invariant: [`parse_status`] is pure; [`read_status`] reads into a
//! caller-owned 20-byte array (no allocation).

use std::io::Read;
use std::path::Path;

/// TAI64 label of the unix epoch (libtai: 2^62 + 10 leap seconds).
const TAI64_UNIX_EPOCH: u64 = (1 << 62) + 10;

/// What runsv says of its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Down,
    Run,
    /// `./finish` is running after `./run` ended.
    Finish,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Unix time of the last state change (start, or end of the run).
    pub since_unix: u64,
    /// The nanoseconds of `since_unix`: with it, two stamps tell two
    /// changes apart within one second.
    pub since_nanos: u32,
    /// `./run`'s pid; 0 when down.
    pub pid: u32,
    pub paused: bool,
    pub want_up: bool,
    pub state: RunState,
}

/// Why a `supervise/status` could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusError {
    /// Not 20 bytes (runsv writes it whole, by rename).
    Length(usize),
    /// Byte 17 is neither `u` nor `d`, or byte 19 not 0, 1 or 2.
    Field,
}

pub fn parse_status(bytes: &[u8]) -> Result<Status, StatusError> {
    let b: &[u8; 20] = bytes
        .try_into()
        .map_err(|_| StatusError::Length(bytes.len()))?;
    let label = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    let nanos = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
    let pid = u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
    let want_up = match b[17] {
        b'u' => true,
        b'd' => false,
        _ => return Err(StatusError::Field),
    };
    let state = match b[19] {
        0 => RunState::Down,
        1 => RunState::Run,
        2 => RunState::Finish,
        _ => return Err(StatusError::Field),
    };
    Ok(Status {
        since_unix: label.saturating_sub(TAI64_UNIX_EPOCH),
        since_nanos: nanos,
        pid,
        paused: b[16] != 0,
        want_up,
        state,
    })
}

/// Reads `path` (a `supervise/status`) into `buf`; the bytes read. Not a
/// regular file (a FIFO, a directory): an error, at once.
pub fn read_status(path: &Path, buf: &mut [u8; 20]) -> std::io::Result<usize> {
    // Regular files only, opened without blocking: a FIFO put in a service
    // directory's place would otherwise hold the loop at open.
    let mut file = crate::sample::procfile::open_regular(path)?;
    let mut n = 0;
    loop {
        match file.read(&mut buf[n..]) {
            Ok(0) => return Ok(n),
            Ok(k) => {
                n += k;
                if n == buf.len() {
                    // More than 20 bytes is not runsv's file.
                    let mut one = [0u8; 1];
                    return match file.read(&mut one)? {
                        0 => Ok(n),
                        _ => Ok(n + 1),
                    };
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/services/runit")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The captures of a real runsv (tests/fixtures/services/SOURCE), with
    /// what `sv status` said of each at the time.
    #[test]
    fn real_runsv_status_files() {
        // `run: (pid 31649) 8s`
        let up = parse_status(&fixture("up.status")).unwrap();
        assert_eq!(
            (up.state, up.pid, up.want_up, up.paused),
            (RunState::Run, 31649, true, false)
        );
        assert_eq!(up.since_unix, 1_796_200_264);
        // `down: 8s` (a `down` file: never started, not wanted up)
        let down = parse_status(&fixture("down.status")).unwrap();
        assert_eq!(
            (down.state, down.pid, down.want_up),
            (RunState::Down, 0, false)
        );
        // `down: 0s, normally up` after `sv down`: wanted down.
        let stopped = parse_status(&fixture("stopped.status")).unwrap();
        assert_eq!((stopped.state, stopped.want_up), (RunState::Down, false));
        // `down: 0s, normally up, want up`: ./run exits at once.
        let crash = parse_status(&fixture("crash.status")).unwrap();
        assert_eq!(
            (crash.state, crash.pid, crash.want_up),
            (RunState::Down, 0, true)
        );
        assert_eq!(crash.since_unix, 1_796_200_272);
        assert_eq!(parse_status(&fixture("crash-2.status")).unwrap(), crash);
        // supervise/stat says the same in words.
        for (name, status) in [("up", up), ("down", down), ("crash", crash)] {
            let stat = fixture(&format!("{name}.stat"));
            let word = match status.state {
                RunState::Run => "run",
                RunState::Down => "down",
                RunState::Finish => "finish",
            };
            assert!(stat.starts_with(word.as_bytes()), "{name}");
        }
    }

    #[test]
    fn short_long_or_garbled_files_are_refused() {
        let good = fixture("up.status");
        assert_eq!(parse_status(&good[..19]), Err(StatusError::Length(19)));
        assert_eq!(parse_status(&[]), Err(StatusError::Length(0)));
        let mut bad = good.clone();
        bad[17] = b'x';
        assert_eq!(parse_status(&bad), Err(StatusError::Field));
        let mut bad = good.clone();
        bad[19] = 3;
        assert_eq!(parse_status(&bad), Err(StatusError::Field));
        let mut finishing = good;
        finishing[19] = 2;
        assert_eq!(parse_status(&finishing).unwrap().state, RunState::Finish);
    }

    /// A FIFO where `supervise/status` should be: refused at once (the open
    /// of a FIFO nobody writes would wait for a writer).
    #[test]
    fn a_fifo_in_place_of_the_status_file_is_refused_without_waiting() {
        let dir = std::env::temp_dir().join(format!("sysmon-runit-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("status");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let mut buf = [0u8; 20];
        let err = read_status(&fifo, &mut buf).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
