//! `/proc/<pid>/cmdline` made printable and short: the arguments joined by
//! spaces, cut to the caller's buffer.
//!
//! Invariant: what [`shorten`] writes is valid UTF-8 without control
//! characters (a cut never splits a character; other invalid bytes and
//! control characters become `?`), so a table or a JSON string shows it as
//! one line. An empty result means an empty file: a kernel thread, or a
//! zombie whose memory is gone.

/// Writes the printable, shortened form of `raw` (NUL-separated arguments,
/// usually NUL-terminated) into `out`; returns the length written. A
/// command line longer than `out` ends in `...`.
pub fn shorten(raw: &[u8], out: &mut [u8]) -> usize {
    let raw = trim_trailing_nuls(raw);
    let mut len = 0;
    let mut rest = raw;
    while !rest.is_empty() && len < out.len() {
        // Decode one valid stretch, then one bad byte, and so on.
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, 0),
            Err(e) => (
                std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default(),
                e.error_len().unwrap_or(rest.len() - e.valid_up_to()),
            ),
        };
        for c in valid.chars() {
            let c = match c {
                '\0' => ' ',
                c if c.is_control() => '?',
                c => c,
            };
            if len + c.len_utf8() > out.len() {
                return ellipsis(out, len);
            }
            len += c.encode_utf8(&mut out[len..]).len();
        }
        rest = &rest[valid.len()..];
        if bad > 0 {
            if len == out.len() {
                return ellipsis(out, len);
            }
            out[len] = b'?';
            len += 1;
            rest = &rest[bad..];
        }
    }
    if !rest.is_empty() {
        return ellipsis(out, len);
    }
    len
}

fn trim_trailing_nuls(raw: &[u8]) -> &[u8] {
    let end = raw.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    &raw[..end]
}

/// Ends the text written so far (`len` bytes of `out`) with `...`, on a
/// character boundary; returns the new length.
fn ellipsis(out: &mut [u8], len: usize) -> usize {
    if out.len() < 3 {
        return len;
    }
    let mut cut = len.min(out.len() - 3);
    // Back to the start of a character: continuation bytes are 10xxxxxx.
    while cut > 0 && out[cut] & 0xC0 == 0x80 {
        cut -= 1;
    }
    out[cut..cut + 3].copy_from_slice(b"...");
    cut + 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(raw: &[u8], width: usize) -> String {
        let mut out = vec![0u8; width];
        let n = shorten(raw, &mut out);
        String::from_utf8(out[..n].to_vec()).expect("valid UTF-8")
    }

    #[test]
    fn arguments_are_joined_by_spaces() {
        assert_eq!(show(b"/usr/bin/sleep\x0010\x00", 120), "/usr/bin/sleep 10");
        assert_eq!(
            show(b"nginx: worker process\x00\x00\x00", 120),
            "nginx: worker process"
        );
        assert_eq!(show(b"", 120), "");
        assert_eq!(show(b"\x00\x00", 120), "");
        assert_eq!(show(b"a\nb\x1b[31m\x00", 120), "a?b?[31m");
        assert_eq!(show(b"caf\xc3\xa9 \xff x", 120), "café ? x");
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        assert_eq!(show(b"abcdefghij", 8), "abcde...");
        assert_eq!(show(b"abcdefgh", 8), "abcdefgh");
        // 'é' is two bytes: never half of it.
        let s = show("ééééé".as_bytes(), 8);
        assert_eq!(s, "éé...");
        for width in 3..40 {
            let s = show(
                b"x \xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e \x7f \xff tail",
                width,
            );
            assert!(s.len() <= width, "{width}: {s}");
        }
    }
}
