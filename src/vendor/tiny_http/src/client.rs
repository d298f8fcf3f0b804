//! [patch] Reading a request head out of the bytes a client sent, for the
//! reactor (`reactor.rs`). Upstream read each head a byte at a time
//! from a blocking socket in the connection's own thread (`ClientConnection`,
//! with `SequentialReader`s and `SequentialWriter`s to keep pipelined
//! requests in order); the reactor now reads whatever arrived into the
//! connection's buffer and asks [`parse_head`] whether a whole head is there.
//!
//! Contract: [`parse_head`] looks at no more than `max_head_bytes` of the
//! buffer, reads and writes nothing, and says one of: not yet (read more),
//! a request of `len` bytes (which has passed `crate::head::check_head`), or
//! refused, with the bytes of the answer to send before closing. A head is
//! the request line and header lines up to and including the empty line,
//! every line ended by CRLF; `max_head_bytes` counts all of it.

use crate::common::{HTTPVersion, Method};
use crate::head_text::{FillError, HeadText};
use crate::{HeadRefusal, Response, StatusCode};

/// What the bytes read so far hold.
pub(crate) enum Parsed {
    /// No whole head yet, and room for more: read on.
    Incomplete,
    /// A request whose head was the first `len` bytes, now in the
    /// `HeadText` given to `parse_head`.
    Request(usize, HeadFacts),
    /// Answer these bytes, then close: where a next request would start is
    /// unknown (a malformed or oversized head, a body declared).
    Refused(Vec<u8>),
}

/// What the request line and headers say, beside the head's text.
pub(crate) struct HeadFacts {
    pub(crate) method: Method,
    pub(crate) version: HTTPVersion,
    /// `Connection: close`, an HTTP/1.0 request without keep-alive, or an
    /// upgrade (which this server does not do): the last request of the
    /// connection.
    pub(crate) last: bool,
}

/// Head limits, 0 meaning none (`crate::Limits`).
#[derive(Clone, Copy)]
pub(crate) struct HeadLimits {
    pub(crate) max_head_bytes: usize,
    pub(crate) max_headers: usize,
}

impl HeadLimits {
    pub(crate) fn max_head_bytes(self) -> usize {
        match self.max_head_bytes {
            0 => usize::MAX,
            n => n,
        }
    }
}

/// Looks for a whole head at the start of `buf`. `scanned` is how much of
/// `buf` is known to hold no end of head (kept by the caller across calls,
/// reset to 0 when a head is taken), so that a head arriving a byte at a
/// time is searched once, not once per byte.
/// A whole head is read into `into` (what it held before is replaced; it
/// is left in any state otherwise).
pub(crate) fn parse_head(
    buf: &[u8],
    scanned: &mut usize,
    limits: HeadLimits,
    into: &mut HeadText,
) -> Parsed {
    let max = limits.max_head_bytes();
    let window = &buf[..buf.len().min(max)];
    let from = scanned.saturating_sub(3);
    let end = window[from..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| from + at + 4);
    let Some(len) = end else {
        *scanned = window.len();
        if window.len() < max {
            return Parsed::Incomplete;
        }
        // [patch] Over `max_head_bytes`: 414 while the request line has not
        // ended, 431 after. Upstream read a line of any length into memory.
        let line_ended = window.windows(2).any(|w| w == b"\r\n");
        let status = if line_ended { 431 } else { 414 };
        return Parsed::Refused(plain_answer(status));
    };
    *scanned = 0;
    match request_head(&buf[..len - 4], limits, into) {
        Ok(facts) => Parsed::Request(len, facts),
        Err(answer) => Parsed::Refused(answer),
    }
}

/// The request line and headers (`head`: the head without its empty line),
/// read into `into`.
fn request_head(
    head: &[u8],
    limits: HeadLimits,
    into: &mut HeadText,
) -> Result<HeadFacts, Vec<u8>> {
    let max_headers = match limits.max_headers {
        0 => usize::MAX,
        n => n,
    };
    // Upstream closed the connection without an answer on a byte that is
    // not ASCII; a 400 tells the client why.
    let Ok(text) = std::str::from_utf8(head) else {
        return Err(plain_answer(400));
    };
    if !text.is_ascii() {
        return Err(plain_answer(400));
    }
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let (method, target, version) =
        parse_request_line(request_line.trim()).map_err(|_| plain_answer(400))?;
    // [patch] Kept as text (`head_text.rs`), not as a `String` for the
    // target and two per header line: nothing allocated once warm.
    match into.fill(text, target, lines, max_headers) {
        Ok(()) => {}
        Err(FillError::Malformed) => return Err(plain_answer(400)),
        Err(FillError::TooManyHeaders) => return Err(plain_answer(431)),
    }
    // [patch] Refused here, in the reactor, before a `Request` exists:
    // nothing of a declared body is ever read, waited for or sized, and the
    // server's caller never sees the request.
    if let Err(refusal) = crate::head::check_head(into.headers()) {
        return Err(refusal_answer(refusal));
    }
    // Upstream answered 505 and read on; this server closes, as for any
    // head it will not serve.
    if version > (1, 1) {
        let response =
            Response::from_string("This server only supports HTTP versions 1.0 and 1.1".to_owned())
                .with_status_code(StatusCode(505));
        return Err(closing_answer(response));
    }

    // [patch] Compared without a lower-cased copy of the value.
    let has = |value: &str, word: &str| {
        value
            .as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    };
    let last = match into.header("Connection") {
        Some(val) if has(val, "close") => true,
        Some(val) if has(val, "upgrade") => true,
        Some(val) if !has(val, "keep-alive") && version == HTTPVersion(1, 0) => true,
        None if version == HTTPVersion(1, 0) => true,
        _ => false,
    };
    Ok(HeadFacts {
        method,
        version,
        last,
    })
}

/// An empty answer with `status` (upstream's answer to a bad head), as
/// the connection's last.
fn plain_answer(status: u16) -> Vec<u8> {
    closing_answer(Response::new_empty(StatusCode(status)))
}

/// [patch] `response` printed as the last answer of a connection: HTTP/1.1
/// (whatever the request said), with `Connection: close` (since
/// +sysmon.9; upstream sent no `Connection` line and the client learnt of
/// the close only by the close).
fn closing_answer<R: std::io::Read>(response: Response<R>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = response.print_to(&mut bytes, HTTPVersion(1, 1), None, false, None, true);
    bytes
}

/// [patch] The answer to a head `check_head` refused, with
/// `Connection: close` (`Response` drops that header): the client must know
/// that this is the end.
fn refusal_answer(refusal: HeadRefusal) -> Vec<u8> {
    let status = StatusCode(refusal.status());
    let reason = refusal.reason();
    format!(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        status.0,
        status.default_reason_phrase(),
        reason.len(),
        reason
    )
    .into_bytes()
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ()> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(()),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, &str, HTTPVersion), ()> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next();
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(())
}

#[cfg(test)]
mod test {
    use super::{parse_head, HeadLimits, Parsed};
    use crate::head_text::HeadText;

    const LIMITS: HeadLimits = HeadLimits {
        max_head_bytes: 64,
        max_headers: 2,
    };

    /// The status of a refusal, or 0 for a request and 1 for not yet.
    fn outcome(parsed: &Parsed) -> u16 {
        match parsed {
            Parsed::Incomplete => 1,
            Parsed::Request(..) => 0,
            Parsed::Refused(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                text[9..12].parse().unwrap()
            }
        }
    }

    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }

    #[test]
    fn heads_are_judged_the_same_whole_or_a_byte_at_a_time() {
        let pad = |n: usize| "p".repeat(n);
        let cases: Vec<(String, u16)> = vec![
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n".into(), 0),
            ("GET / HTTP/1.1\r\nHost: a\r\n".into(), 1),
            // 64 bytes exactly, then one more
            (format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", pad(64 - 23)), 0),
            (
                format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", pad(65 - 23)),
                431,
            ),
            (format!("GET /{} HTTP/1.1\r\n\r\n", pad(70)), 414),
            ("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n".into(), 431),
            ("GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n".into(), 413),
            ("GET / HTTP/2.0\r\n\r\n".into(), 505),
            ("nonsense\r\n\r\n".into(), 400),
        ];
        assert_eq!(cases[2].0.len(), 64);
        for (head, expected) in cases {
            let mut scanned = 0;
            let mut text = HeadText::default();
            let whole = outcome(&parse_head(
                head.as_bytes(),
                &mut scanned,
                LIMITS,
                &mut text,
            ));
            assert_eq!(whole, expected, "{:?}", head);
            let mut scanned = 0;
            let mut last = 1;
            for end in 1..=head.len() {
                last = outcome(&parse_head(
                    &head.as_bytes()[..end],
                    &mut scanned,
                    LIMITS,
                    &mut text,
                ));
                if last != 1 {
                    break;
                }
            }
            assert_eq!(last, expected, "a byte at a time: {:?}", head);
        }
    }

    #[test]
    fn a_pipelined_head_leaves_the_next_one_in_the_buffer() {
        let two = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n";
        let mut scanned = 0;
        let mut text = HeadText::default();
        let Parsed::Request(len, first) = parse_head(two, &mut scanned, LIMITS, &mut text) else {
            panic!("first head not parsed")
        };
        assert_eq!((text.target(), first.last), ("/a", false));
        let Parsed::Request(_, second) = parse_head(&two[len..], &mut scanned, LIMITS, &mut text)
        else {
            panic!("second head not parsed")
        };
        assert_eq!((text.target(), second.last), ("/b", true));
        assert_eq!(text.header("connection"), Some("close"));
    }
}
