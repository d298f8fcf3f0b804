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
//!
//! Text from a file a message quotes (a key or value of the config file)
//! goes through [`shown`] besides: it also escapes the invisible characters
//! that reorder or hide text, and cuts a long text, so a line never carries
//! a megabyte of someone else's text.

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

pub fn info(args: Arguments<'_>) {
    write(Level::Info, args);
}

pub fn warn(args: Arguments<'_>) {
    write(Level::Warning, args);
}

pub fn error(args: Arguments<'_>) {
    write(Level::Error, args);
}

/// How many characters of a quoted text [`shown`] prints before `…`.
pub const SHOWN_CHARS: usize = 200;

/// `text` as a message quotes it: see [`Shown`].
pub fn shown(text: &str) -> Shown<'_> {
    Shown(text)
}

/// Text from outside, displayed escaped and cut: each character through
/// [`write_shown_char`] (control characters, and the invisible ones that
/// reorder or hide text: bidi controls, zero-width characters, the line
/// and paragraph separators, the BOM; a backslash doubled, so an escape
/// is never ambiguous; quotes left alone). After [`SHOWN_CHARS`]
/// characters it is cut with `…`. Displaying it allocates nothing.
pub struct Shown<'a>(pub &'a str);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for (n, c) in self.0.chars().enumerate() {
            if n == SHOWN_CHARS {
                return f.write_char('…');
            }
            write_shown_char(f, c)?;
        }
        Ok(())
    }
}

/// Writes `c` as text from outside is shown ([`Shown`], and the package
/// managers' output an audit quotes, `audit::quote`): a backslash doubled;
/// `\n`, `\r`, `\t` and `\0` by name; the other ASCII controls (and DEL)
/// as `\xNN`; every other control (C1) and each character that hides or
/// reorders text as `\u{NNNN}`; anything else as it is. So escaped text
/// reads back unambiguously, and no terminal acts on it. Through
/// `dyn Write`, so the log's and the audit's quoting share one copy (each
/// was some 500–900 bytes of code); neither is on a hot path.
pub fn write_shown_char(out: &mut dyn std::fmt::Write, c: char) -> std::fmt::Result {
    match c {
        '\\' => out.write_str("\\\\"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        '\0' => out.write_str("\\0"),
        c if c.is_ascii_control() => write!(out, "\\x{:02x}", c as u32),
        c if c.is_control() || hides_or_reorders_text(c) => write!(out, "\\u{{{:x}}}", c as u32),
        c => out.write_char(c),
    }
}

/// The format characters a terminal shows as nothing, or that reorder or
/// break the text around them: zero-width spaces and joiners, the bidi
/// embeddings, overrides and isolates ("Trojan Source"), the line and
/// paragraph separators, invisible operators, the BOM.
fn hides_or_reorders_text(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        Escaping(&mut out).write_all(text.as_bytes()).unwrap();
        String::from_utf8(out).unwrap()
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

    #[test]
    fn shown_escapes_what_a_terminal_would_act_on_and_cuts_long_text() {
        for (text, expected) in [
            ("5s", "5s"),
            (
                "caf\u{e9} \"x\" 'y' \u{1f600}",
                "caf\u{e9} \"x\" 'y' \u{1f600}",
            ),
            ("\u{1b}[31mred\u{1b}[0m", "\\x1b[31mred\\x1b[0m"),
            ("a\0b\tc\nd\re\u{7f}", "a\\0b\\tc\\nd\\re\\x7f"),
            ("\u{9b}31m", "\\u{9b}31m"),
            (
                "a\u{202e}b\u{200b}c\u{feff}\u{2028}",
                "a\\u{202e}b\\u{200b}c\\u{feff}\\u{2028}",
            ),
            ("C:\\x1b", "C:\\\\x1b"),
        ] {
            assert_eq!(shown(text).to_string(), expected, "{text:?}");
        }
        let long = "x".repeat(1_000_000);
        let cut = shown(&long).to_string();
        assert_eq!(cut, format!("{}…", "x".repeat(SHOWN_CHARS)));
        let exact = "y".repeat(SHOWN_CHARS);
        assert_eq!(shown(&exact).to_string(), exact);
        // Cut by characters, never inside one.
        let wide = "\u{e9}".repeat(SHOWN_CHARS + 1);
        assert_eq!(shown(&wide).to_string().chars().count(), SHOWN_CHARS + 1);
    }
}
