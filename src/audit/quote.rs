//! Text a package manager printed, made fit to show: in an audit's error
//! (/data.json, /metrics' alerts), the daemon's log and the audit log file.
//!
//! Invariant: what [`escaped`] returns holds no control character (C0, DEL,
//! C1), no line or paragraph separator and no bidirectional override, so a
//! child cannot clear a terminal, move its cursor, start a fake log line
//! with `\r` or `\n`, or reorder what is shown. Each such character is
//! written as an escape (`\n`, `\r`, `\t`, `\0` by name, else `\x1b` or
//! `\u{202e}`) and a backslash as `\\`, so the escaped text reads back
//! unambiguously: [`crate::log::write_shown_char`], the one escaper of
//! text from outside (the config's quoted values use it too). At most `max_bytes` are returned, cut at a character
//! boundary (never inside an escape) and then marked with [`CUT_MARK`]; a
//! longer input is not read past the cut, so a 4 MiB line costs no more
//! than a short one.

/// Bytes of one line of a child's output quoted in an error.
pub const LINE_BYTES: usize = 200;
/// Bytes of a whole error or stale reason kept for /data.json and the logs.
pub const MESSAGE_BYTES: usize = 1024;
/// Appended where text was cut.
pub const CUT_MARK: &str = "…";

/// `text` escaped (see the module docs), in at most `max_bytes` bytes.
pub fn escaped(text: &str, max_bytes: usize) -> String {
    let room = max_bytes.saturating_sub(CUT_MARK.len());
    let mut out = String::new();
    // Where the text is cut should it not fit whole: after the last
    // character that leaves room for the mark.
    let mut cut_at = None;
    for c in text.chars() {
        let before = out.len();
        push_char(&mut out, c);
        if out.len() > room && cut_at.is_none() {
            cut_at = Some(before);
        }
        if out.len() > max_bytes {
            out.truncate(cut_at.unwrap_or(before));
            out.push_str(CUT_MARK);
            return out;
        }
    }
    out
}

/// `text` cut to `max_bytes` at a character boundary, marked when cut; for
/// messages sysmon composed from parts already [`escaped`].
pub fn cut(mut text: String, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text;
    }
    let mut at = max_bytes.saturating_sub(CUT_MARK.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text.truncate(at);
    text.push_str(CUT_MARK);
    text.shrink_to_fit();
    text
}

/// One line of a child's output as an error quotes it: escaped, at most
/// [`LINE_BYTES`], in double quotes.
pub fn line(text: &str) -> String {
    format!("\"{}\"", escaped(text.trim(), LINE_BYTES))
}

/// One character of [`escaped`] text: [`crate::log::write_shown_char`],
/// which the config's quoted values go through too.
fn push_char(out: &mut String, c: char) {
    let _ = crate::log::write_shown_char(out, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain oracle: every character escaped, then cut.
    fn naive(text: &str, max_bytes: usize) -> String {
        let mut all = String::new();
        text.chars().for_each(|c| push_char(&mut all, c));
        if all.len() <= max_bytes {
            return all;
        }
        let mut out = String::new();
        let mut one = String::new();
        for c in text.chars() {
            one.clear();
            push_char(&mut one, c);
            if out.len() + one.len() > max_bytes - CUT_MARK.len() {
                break;
            }
            out.push_str(&one);
        }
        out + CUT_MARK
    }

    #[test]
    fn control_characters_separators_and_overrides_are_escaped() {
        assert_eq!(
            escaped("bad\x1b[2Jthing\rFAKE: audit\n\0nul\u{7f}\u{9b}", 100),
            "bad\\x1b[2Jthing\\rFAKE: audit\\n\\0nul\\x7f\\u{9b}"
        );
        assert_eq!(
            escaped("a\u{202e}b\u{2028}c\\d\té\u{fffd}", 100),
            "a\\u{202e}b\\u{2028}c\\\\d\\té\u{fffd}"
        );
        assert_eq!(line("  E: broken \r\n"), "\"E: broken\"");
    }

    #[test]
    fn long_text_is_cut_at_a_boundary_and_marked() {
        let cut_e = escaped(&"E".repeat(8_000_000), LINE_BYTES);
        assert_eq!(cut_e.len(), LINE_BYTES);
        assert!(cut_e.ends_with(CUT_MARK));
        // An escape is never split: 66 escapes of 4 bytes fit in 200 - 3.
        let cut_esc = escaped(&"\x1b".repeat(100), LINE_BYTES);
        assert_eq!(cut_esc, format!("{}{CUT_MARK}", "\\x1b".repeat(49)));
        assert_eq!(escaped("ééé", 5), format!("é{CUT_MARK}"));
        assert_eq!(escaped("exactly", 7), "exactly");
        assert_eq!(cut("ééé".to_string(), 5), format!("é{CUT_MARK}"));
        assert_eq!(cut("short".to_string(), 5), "short");
    }

    #[test]
    fn agrees_with_the_naive_oracle() {
        let pieces = [
            "a", "é", "\x1b", "\\", "\n", "\u{202e}", "€", "\u{fffd}", " ",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let text: String = (0..len)
                .map(|i| pieces[((seed >> (i % 60)) as usize + i) % pieces.len()])
                .collect();
            for max in [3, 4, 5, 8, 13, 40, 200] {
                assert_eq!(escaped(&text, max), naive(&text, max), "{text:?} in {max}");
            }
        }
    }
}
