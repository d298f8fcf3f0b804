//! One line per event on standard error, which every init system collects
//! (journald, supervise-daemon's log, svlogd). Under journald (detected by
//! `JOURNAL_STREAM`) each line carries a `<N>` syslog priority prefix so
//! `journalctl -p warning` works; elsewhere it reads `warning: ...`.
//!
//! Writing a line does not allocate: the arguments are formatted straight
//! into the locked, unbuffered stderr.
//!
//! Invariant: one event is one line. What a message quotes (a file name, a
//! package manager's stderr, a config value) may hold control characters:
//! each is written escaped (`\n`, `\r`, `\t` kept, others `\xNN`, C1
//! controls `\u{9b}`), so no text can end the line early, forge a line of
//! its own (or a journald `<N>` priority), or send a terminal escape.

use std::fmt::Arguments;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static JOURNAL: AtomicBool = AtomicBool::new(false);

/// Reads the environment once at start-up.
pub fn init() {
    JOURNAL.store(
        std::env::var_os("JOURNAL_STREAM").is_some(),
        Ordering::Relaxed,
    );
}

#[derive(Clone, Copy)]
enum Level {
    Error = 3,
    Warning = 4,
    Info = 6,
}

fn write(level: Level, args: Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    // A failed write to stderr has nowhere else to go.
    let _ = if JOURNAL.load(Ordering::Relaxed) {
        write!(err, "<{}>", level as u8)
    } else {
        let name = match level {
            Level::Error => "error: ",
            Level::Warning => "warning: ",
            Level::Info => "",
        };
        write!(err, "sysmon: {name}")
    };
    let _ = write!(Escaping(&mut err), "{args}");
    let _ = err.write_all(b"\n");
}

/// Writes what it is given with control characters escaped (module docs).
pub struct Escaping<W: Write>(pub W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let mut plain = 0;
        let mut i = 0;
        while i < buf.len() {
            let byte = buf[i];
            // U+0080..U+009F, in UTF-8 0xC2 0x80..0x9F: C1 controls (0x9B
            // is CSI on some terminals).
            let c1 = byte == 0xC2 && buf.get(i + 1).is_some_and(|b| (0x80..0xA0).contains(b));
            let control = c1 || (byte.is_ascii_control() && byte != b'\t');
            if !control {
                i += 1;
                continue;
            }
            self.0.write_all(&buf[plain..i])?;
            match byte {
                b'\n' => self.0.write_all(b"\\n")?,
                b'\r' => self.0.write_all(b"\\r")?,
                _ if c1 => write!(self.0, "\\u{{{:x}}}", buf[i + 1])?,
                _ => write!(self.0, "\\x{byte:02x}")?,
            }
            i += if c1 { 2 } else { 1 };
            plain = i;
        }
        self.0.write_all(&buf[plain..])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// `text` with control characters escaped as the log writes them, for a
/// line printed elsewhere (a command's summary on stdout).
pub struct OneLine<'a>(pub &'a str);

impl std::fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut escaped = Vec::new();
        let _ = Escaping(&mut escaped).write_all(self.0.as_bytes());
        f.write_str(&String::from_utf8_lossy(&escaped))
    }
}

pub fn info(args: Arguments<'_>) {
    write(Level::Info, args);
}

pub fn warn(args: Arguments<'_>) {
    write(Level::Warning, args);
}

pub fn error(args: Arguments<'_>) {
    write(Level::Error, args);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        OneLine(text).to_string()
    }

    #[test]
    fn control_characters_cannot_end_or_forge_a_line() {
        assert_eq!(escaped("plain text, é, 日本"), "plain text, é, 日本");
        assert_eq!(escaped("a\tb"), "a\tb", "a tab is kept");
        assert_eq!(
            escaped("x\nsysmon: backup done: FORGED"),
            "x\\nsysmon: backup done: FORGED"
        );
        assert_eq!(escaped("\r\x1b[2J\0\x7f"), "\\r\\x1b[2J\\x00\\x7f");
        assert_eq!(escaped("a\u{9b}31mb\u{85}"), "a\\u{9b}31mb\\u{85}");
        assert_eq!(escaped("\u{a0}"), "\u{a0}", "not a control");
    }
}
