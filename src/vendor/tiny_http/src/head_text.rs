//! [patch] A request head kept as the text the client sent, with where its
//! target and each header's name and value are: one string and one list
//! of offsets, reused from request to request (the reactor keeps a few
//! spare ones), instead of an owned `String` for the target and two per
//! header line, and the list, made for every request (issue 12 of sysmon).
//!
//! Contract: every span lies within `text` (which is ASCII, so any offset
//! is a char boundary); `clear` keeps the capacity; a head is read into
//! one with [`HeadText::fill`], whose header lines are split as upstream
//! split them, `Header::from_str(line.trim())` (the test holds
//! [`split_header_line`] to it), except that a name must be a token
//! (since +sysmon.15) and a value is trimmed of spaces and tabs only, not
//! of every `char::is_whitespace` (since +sysmon.16). A header line whose value is not ASCII
//! (obs-text, RFC 9110 §5.5: a browser's UTF-8 cookie) is not kept
//! (since +sysmon.14), unless it is one of [`ASCII_HEADERS`], which are
//! refused: so [`HeadText::header`] of one of those is never `None` for a
//! line that was sent.

use crate::util::same_name;

/// Start and end of a part of `text`.
type Span = (usize, usize);

#[derive(Default)]
pub(crate) struct HeadText {
    /// The request line and the header lines kept, each after a CRLF,
    /// without the empty line (ASCII).
    text: String,
    /// The request target (`/metrics?x=1`).
    target: Span,
    /// Each header line's name and value (trimmed of spaces and tabs), in
    /// the order sent.
    headers: Vec<(Span, Span)>,
}

/// Spare heads larger than these are freed rather than kept: a browser's
/// head is under 2 KiB; one of many cookies is not worth holding.
const KEEP_TEXT_BYTES: usize = 4 * 1024;
const KEEP_HEADERS: usize = 32;

/// [patch] The headers this server and sysmon read (`Request::header`),
/// whose values the grammar keeps ASCII: one that is not is refused (400),
/// where a line of another header with such a value is left out of the
/// head and the request served (since +sysmon.14). Were one of these left
/// out instead, it would read as absent: a Host of `é.evil.example` as no
/// Host, which sysmon's rebinding check lets through. `Request::header`
/// asserts (in debug builds) that it is asked only for these.
pub(crate) const ASCII_HEADERS: [&str; 7] = [
    "Host",
    "Authorization",
    "Connection",
    "Content-Length",
    "Transfer-Encoding",
    "Expect",
    "TE",
];

/// Whether `name` is one of [`ASCII_HEADERS`] (in any case).
pub(crate) fn is_ascii_header(name: &str) -> bool {
    ASCII_HEADERS.iter().any(|h| same_name(h, name))
}

/// Why a head could not be read (the caller answers 400, or 431).
pub(crate) enum FillError {
    /// A header line that does not parse, is folded, or has a name that
    /// is not a token (400).
    Malformed,
    /// More than the allowed number of header lines (431).
    TooManyHeaders,
    /// One of [`ASCII_HEADERS`], named as listed there, with a value that
    /// is not ASCII (400).
    NotAscii(&'static str),
    /// A control byte (but HTAB) inside a header line left out for its
    /// non-ASCII value: what `crate::head::check_head` refuses in the
    /// lines kept (400).
    ControlCharacter,
}

impl HeadText {
    /// Reads a head into this one, in place of what it held: its
    /// `request_line` (ASCII), whose target is `target`, a slice of it,
    /// then its header lines (without their CRLF).
    /// [patch] Header lines are bytes (since +sysmon.14): a value may hold
    /// obs-text (0x80 to 0xFF), and such a line is left out (see
    /// [`ASCII_HEADERS`]); it still counts against `max_headers`. A name
    /// must be ASCII.
    pub(crate) fn fill<'h>(
        &mut self,
        request_line: &str,
        target: &str,
        header_lines: impl Iterator<Item = &'h [u8]>,
        max_headers: usize,
    ) -> Result<(), FillError> {
        self.text.clear();
        self.headers.clear();
        self.text.push_str(request_line);
        self.target = span(request_line, target);
        for (count, line) in header_lines.enumerate() {
            // [patch] A line folded onto the previous one (obs-fold) was
            // trimmed and read as a header of its own; RFC 9112 §5.2 lets
            // a server refuse it, and a proxy may have joined it to the
            // line before: refuse.
            if line.starts_with(b" ") || line.starts_with(b"\t") {
                return Err(FillError::Malformed);
            }
            if count >= max_headers {
                return Err(FillError::TooManyHeaders);
            }
            let Some(line) = std::str::from_utf8(line).ok().filter(|l| l.is_ascii()) else {
                check_left_out(line)?;
                continue;
            };
            let (name, value) = split_header_line(line).ok_or(FillError::Malformed)?;
            self.text.push_str("\r\n");
            let base = self.text.len();
            self.text.push_str(line);
            let (name, value) = (span(line, name), span(line, value));
            self.headers.push((
                (base + name.0, base + name.1),
                (base + value.0, base + value.1),
            ));
        }
        Ok(())
    }

    /// The request target, as sent.
    pub(crate) fn target(&self) -> &str {
        &self.text[self.target.0..self.target.1]
    }

    /// Each header line's name and value, in the order sent.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        self.headers
            .iter()
            .map(move |&(n, v)| (&self.text[n.0..n.1], &self.text[v.0..v.1]))
    }

    /// The value of the first header line named `name` (in any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| same_name(n, name))
            .map(|(_, v)| v)
    }

    /// Small enough to keep as a spare (see `KEEP_TEXT_BYTES`).
    pub(crate) fn worth_keeping(&self) -> bool {
        self.text.capacity() <= KEEP_TEXT_BYTES && self.headers.capacity() <= KEEP_HEADERS
    }
}

/// Where `part` (a slice of `whole`) is in `whole`.
fn span(whole: &str, part: &str) -> Span {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    debug_assert!(start + part.len() <= whole.len());
    (start, start + part.len())
}

/// [patch] Judges a header line that is not ASCII, to be left out: its
/// name (before the first colon) must be a token (since +sysmon.15; until
/// then, ASCII without whitespace once trimmed), and not one of
/// [`ASCII_HEADERS`]; no control byte but HTAB anywhere in it (LF
/// cannot be: `client.rs` refuses a bare one; until +sysmon.16 only CR
/// and NUL were looked for).
fn check_left_out(line: &[u8]) -> Result<(), FillError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(FillError::Malformed)?;
    let name = &line[..colon];
    if !is_token(name) {
        return Err(FillError::Malformed);
    }
    if let Some(listed) = ASCII_HEADERS
        .iter()
        .find(|h| h.as_bytes().eq_ignore_ascii_case(name))
    {
        return Err(FillError::NotAscii(listed));
    }
    if line.iter().any(|&b| crate::head::is_control(b)) {
        return Err(FillError::ControlCharacter);
    }
    Ok(())
}

/// A header line's name and value, as upstream's `Header::from_str` read
/// it: split at its first colon, the value trimmed of spaces and tabs;
/// `None` for a line without a colon, or whose name is not a token.
///
/// [patch] The name is a token (RFC 9112 §5: `field-name ":"`, no
/// whitespace before the colon; RFC 9110 §5.1, §5.6.2), since +sysmon.15.
/// Upstream trimmed the line first (`str::trim`) and refused only a name
/// with whitespace inside: `\x0bHost: evil.example` (a vertical tab or
/// form feed first) was read as `Host`, where a proxy in front may take
/// it for another header or refuse it; an empty name (`: x`) and one with
/// a separator (`X(a): x`) were kept.
pub(crate) fn split_header_line(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    if !is_token(name.as_bytes()) || !value.is_ascii() {
        return None;
    }
    // [patch] Only SP and HTAB are trimmed (OWS, RFC 9110 §5.6.3), since
    // +sysmon.16; `str::trim` also took a VT or FF at either end for
    // whitespace, so `check_head` never saw it (`Host: localhost\x0b`).
    Some((name, value.trim_matches([' ', '\t'])))
}

/// A token (RFC 9110 §5.6.2): one or more tchar, which are ASCII letters,
/// digits and ``!#$%&'*+-.^_`|~``. A method and a header name are tokens.
pub(crate) fn is_token(word: &[u8]) -> bool {
    !word.is_empty()
        && word
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod test {
    use super::{FillError, HeadText};
    use crate::Header;

    /// Reads `head` (the request line and header lines, CRLF between
    /// them, as bytes may be) into `into`, at most `max_headers` lines.
    fn fill(into: &mut HeadText, head: &[u8], max_headers: usize) -> Result<(), FillError> {
        let end = head
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(head.len());
        let request_line = std::str::from_utf8(&head[..end]).unwrap();
        let target = request_line.split(' ').nth(1).unwrap();
        let rest = head.get(end + 2..).unwrap_or(&[]);
        let mut lines: Vec<&[u8]> = Vec::new();
        if end < head.len() {
            let mut from = 0;
            while let Some(at) = rest[from..].windows(2).position(|w| w == b"\r\n") {
                lines.push(&rest[from..from + at]);
                from += at + 2;
            }
            lines.push(&rest[from..]);
        }
        into.fill(request_line, target, lines.into_iter(), max_headers)
    }

    fn filled(head: &str) -> Result<HeadText, FillError> {
        let mut text = HeadText::default();
        fill(&mut text, head.as_bytes(), 3).map(|()| text)
    }

    /// The lines as `Header::from_str` (upstream's parser, the oracle)
    /// reads them, and a reused head holds only its latest request.
    #[test]
    fn header_lines_read_as_upstream_reads_them() {
        let lines = [
            "Host: localhost:8080",
            "content-length:  000 ",
            "Time: 20: 34",
            "X-Empty:",
            "X-Spaces:   a  b   ",
            "X-A: a\nb",
            "Transfer-Encoding: chunked ",
        ];
        let mut reused = HeadText::default();
        for line in lines {
            let head = format!("GET /p?q=1 HTTP/1.1\r\n{line}\r\nAccept: */*");
            let want: Header = line.trim().parse().unwrap();
            assert!(fill(&mut reused, head.as_bytes(), 3).is_ok());
            let got: Vec<_> = reused.headers().collect();
            assert_eq!(
                got,
                [
                    (want.field.as_str().as_str(), want.value.as_str()),
                    ("Accept", "*/*")
                ],
                "{line:?}"
            );
            assert_eq!(reused.target(), "/p?q=1");
            assert_eq!(reused.header("ACCEPT"), Some("*/*"));
        }
        for bad in ["X A: b", "Transfer-Encoding : chunked", "nocolon"] {
            assert!(bad.trim().parse::<Header>().is_err(), "{:?}", bad);
            let head = format!("GET / HTTP/1.1\r\n{bad}");
            assert!(
                matches!(filled(&head), Err(FillError::Malformed)),
                "{:?}",
                bad
            );
        }
        // [patch] A name that is not a token (RFC 9110 §5.6.2), which
        // upstream read after trimming the line: a vertical tab or form
        // feed before it, an empty name, a separator or control byte in it
        // (+sysmon.15).
        for bad in [
            "\x0bHost: evil.example",
            "\x0cHost: evil.example",
            "\x0bContent-Length: 5",
            "\rHost: a",
            "\0Host: a",
            "Host\x0b: a",
            "Host : a",
            ":no-name",
            ": x",
            "X(a): x",
            "X/A: x",
            "X\"A\": x",
            "X@A: x",
            "X{A}: x",
            "X,Y: x",
            "X=Y: x",
            "X\x01Y: x",
            "X\x7fY: x",
        ] {
            let head = format!("GET / HTTP/1.1\r\n{bad}");
            assert!(
                matches!(filled(&head), Err(FillError::Malformed)),
                "{:?}",
                bad
            );
        }
        // every tchar is a name
        let names = ["!#$%&'*+-.^_`|~", "x", "X-1", "a.b"];
        for name in names {
            let head = format!("GET / HTTP/1.1\r\n{name}: v");
            let text = filled(&head).ok().unwrap();
            assert_eq!(text.headers().collect::<Vec<_>>(), [(name, "v")]);
        }
        assert!(matches!(
            filled("GET / HTTP/1.1\r\nA: 1\r\n folded"),
            Err(FillError::Malformed)
        ));
        assert!(matches!(
            filled("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4"),
            Err(FillError::TooManyHeaders)
        ));
        assert!(filled("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3").is_ok());
    }

    /// [patch] A value with obs-text (RFC 9110 §5.5), UTF-8 or not, leaves
    /// its line out and keeps the rest (+sysmon.14): upstream, and this
    /// copy until then, refused the whole head. Not in the headers this
    /// server reads, nor in a name, nor with CR or NUL beside it.
    #[test]
    fn lines_with_non_ascii_values_are_left_out_unless_read() {
        let mut reused = HeadText::default();
        for cookie in [
            "Cookie: a=é".as_bytes(),
            b"Cookie: a=\xe9",
            b"cookie:\xff",
            b"X-Title: \xe2\x80\x9cquoted\xe2\x80\x9d ",
        ] {
            let mut head = b"GET /m HTTP/1.1\r\nHost: localhost\r\n".to_vec();
            head.extend_from_slice(cookie);
            head.extend_from_slice(b"\r\nAccept: */*");
            let shown = String::from_utf8_lossy(cookie);
            assert!(fill(&mut reused, &head, 3).is_ok(), "{:?}", shown);
            let got: Vec<_> = reused.headers().collect();
            assert_eq!(got, [("Host", "localhost"), ("Accept", "*/*")], "{shown:?}");
            assert_eq!(reused.target(), "/m");
            assert_eq!(
                reused.text,
                "GET /m HTTP/1.1\r\nHost: localhost\r\nAccept: */*"
            );
            // it counts as a line all the same
            assert!(
                matches!(fill(&mut reused, &head, 2), Err(FillError::TooManyHeaders)),
                "{:?}",
                shown
            );
        }
        for name in super::ASCII_HEADERS {
            for value in ["é".as_bytes(), b"\xe9", b"localhost\x80"] {
                let mut head = format!("GET / HTTP/1.1\r\n{}: ", name.to_lowercase()).into_bytes();
                head.extend_from_slice(value);
                let result = fill(&mut reused, &head, 3);
                assert!(
                    matches!(result, Err(FillError::NotAscii(n)) if n == name),
                    "{} {:?}",
                    name,
                    value
                );
            }
        }
        for bad in [
            "Cookié: a".as_bytes(),
            b"Cook\xe9: a",
            b"Cookie a=\xe9",
            b"X A: \xe9",
            b"\xe9",
            b" Cookie: \xe9",
            // [patch] a name that is not a token (+sysmon.15)
            b"\x0bCookie: \xe9",
            b"\x0cHost: \xe9",
            b": \xe9",
            b"Coo(kie): \xe9",
            b"X-\0: \xe9",
        ] {
            let mut head = b"GET / HTTP/1.1\r\n".to_vec();
            head.extend_from_slice(bad);
            let result = fill(&mut reused, &head, 3);
            assert!(matches!(result, Err(FillError::Malformed)), "{:?}", bad);
        }
        for bad in [
            b"Cookie: \xe9\r".as_slice(),
            b"Cookie: \xe9\0",
            // [patch] any control byte but HTAB (+sysmon.16)
            b"Cookie: \xe9\x0b",
            b"Cookie: \x0c\xe9",
            b"Cookie: a\x01\xe9",
            b"Cookie: \xe9\x1b[0m",
            b"Cookie: \xe9\x7f",
        ] {
            let mut head = b"GET / HTTP/1.1\r\n".to_vec();
            head.extend_from_slice(bad);
            let result = fill(&mut reused, &head, 3);
            assert!(
                matches!(result, Err(FillError::ControlCharacter)),
                "{:?}",
                bad
            );
        }
    }

    /// [patch] Only spaces and tabs are trimmed from a value (OWS), so a
    /// vertical tab or form feed at either end is left for `check_head`
    /// to refuse (+sysmon.16): `str::trim` took them away, and
    /// `Host: localhost\x0b` read as `localhost`.
    #[test]
    fn values_are_trimmed_of_spaces_and_tabs_only() {
        for (line, value) in [
            ("X-A: \t a b \t ", "a b"),
            ("X-A:a", "a"),
            ("X-A: ", ""),
            ("Host: localhost\x0b", "localhost\x0b"),
            ("Host:\x0clocalhost", "\x0clocalhost"),
            ("X-A: \x0b a \x0c", "\x0b a \x0c"),
            ("X-A: a\x7f ", "a\x7f"),
        ] {
            let head = format!("GET / HTTP/1.1\r\n{line}");
            let text = filled(&head).ok().unwrap();
            let name = line.split(':').next().unwrap();
            assert_eq!(text.headers().collect::<Vec<_>>(), [(name, value)]);
        }
        // what check_head then says of the lines kept: only HTAB passes
        let refused = |line: &str| {
            let text = filled(&format!("GET / HTTP/1.1\r\n{line}")).ok().unwrap();
            crate::check_head(text.headers()) == Err(crate::HeadRefusal::ControlCharacter)
        };
        assert!(!refused("X-A: a\tb"));
        for byte in (0u8..0x20)
            .filter(|&b| !matches!(b, b'\t' | b'\n'))
            .chain([0x7f])
        {
            let line = format!("X-A: a{}b", byte as char);
            assert!(refused(&line), "{:?}", line);
            let line = format!("Host: localhost{}", byte as char);
            assert!(refused(&line), "{:?}", line);
        }
    }

    /// A spare is kept only while small: a head of many KiB (cookies, or
    /// a refused 32 KiB one) is freed, not held by an idle server.
    #[test]
    fn only_small_heads_are_worth_keeping() {
        let small = filled("GET / HTTP/1.1\r\nHost: a").ok().unwrap();
        assert!(small.worth_keeping());
        let big = format!("GET / HTTP/1.1\r\nCookie: {}", "c".repeat(5000));
        let big = filled(&big).ok().unwrap();
        assert!(!big.worth_keeping());
        let mut many = HeadText::default();
        let lines = "GET / HTTP/1.1\r\n".to_string() + &vec!["A: 1"; 40].join("\r\n");
        assert!(fill(&mut many, lines.as_bytes(), 100).is_ok());
        assert!(!many.worth_keeping());
    }
}
