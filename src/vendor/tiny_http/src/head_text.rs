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
//! [`split_header_line`] to it).

/// Start and end of a part of `text`.
type Span = (usize, usize);

#[derive(Default)]
pub(crate) struct HeadText {
    /// The request line and header lines, without the empty line (ASCII).
    text: String,
    /// The request target (`/metrics?x=1`).
    target: Span,
    /// Each header line's name and value (trimmed), in the order sent.
    headers: Vec<(Span, Span)>,
}

/// Spare heads larger than these are freed rather than kept: a browser's
/// head is under 2 KiB; one of many cookies is not worth holding.
const KEEP_TEXT_BYTES: usize = 4 * 1024;
const KEEP_HEADERS: usize = 32;

/// Why a head could not be read (the caller answers 400, or 431).
pub(crate) enum FillError {
    /// A header line that does not parse, or is folded (400).
    Malformed,
    /// More than the allowed number of header lines (431).
    TooManyHeaders,
}

impl HeadText {
    /// Reads `head` (ASCII: the request line, whose target is `target`,
    /// a slice of `head`, then header lines separated by CRLF) into this
    /// one, in place of what it held.
    pub(crate) fn fill(
        &mut self,
        head: &str,
        target: &str,
        header_lines: std::str::Split<'_, &str>,
        max_headers: usize,
    ) -> Result<(), FillError> {
        self.text.clear();
        self.headers.clear();
        self.target = span(head, target);
        for line in header_lines {
            // [patch] A line folded onto the previous one (obs-fold) was
            // trimmed and read as a header of its own; RFC 9112 §5.2 lets
            // a server refuse it, and a proxy may have joined it to the
            // line before: refuse.
            if line.starts_with(' ') || line.starts_with('\t') {
                return Err(FillError::Malformed);
            }
            if self.headers.len() >= max_headers {
                return Err(FillError::TooManyHeaders);
            }
            let (name, value) = split_header_line(line).ok_or(FillError::Malformed)?;
            self.headers.push((span(head, name), span(head, value)));
        }
        self.text.push_str(head);
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
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
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

/// A header line's name and value, as upstream's `Header::from_str` read
/// it: the line trimmed, split at its first colon, a name without
/// whitespace and the value trimmed; `None` for a line without a colon.
pub(crate) fn split_header_line(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.trim().split_once(':')?;
    if name.contains(char::is_whitespace) || !name.is_ascii() || !value.is_ascii() {
        return None;
    }
    Some((name, value.trim()))
}

#[cfg(test)]
mod test {
    use super::{FillError, HeadText};
    use crate::Header;

    fn filled(head: &str) -> Result<HeadText, FillError> {
        let mut text = HeadText::default();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap();
        let target = request_line.split(' ').nth(1).unwrap();
        text.fill(head, target, lines, 3).map(|()| text)
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
            ":no-name",
            "X-A: a\nb",
            "Transfer-Encoding: chunked ",
        ];
        let mut reused = HeadText::default();
        for line in lines {
            let head = format!("GET /p?q=1 HTTP/1.1\r\n{line}\r\nAccept: */*");
            let want: Header = line.trim().parse().unwrap();
            let mut split = head.split("\r\n");
            split.next();
            assert!(reused.fill(&head, &head[4..10], split, 3).is_ok());
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
        let mut split = lines.split("\r\n");
        split.next();
        assert!(many.fill(&lines, &lines[4..5], split, 100).is_ok());
        assert!(!many.worth_keeping());
    }
}
