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
//! every line ended by CRLF; `max_head_bytes` counts all of it, and any
//! empty lines (CRLF) before the request line, which are skipped (since
//! +sysmon.11; the `len` of a request counts them too). A bare LF
//! (one without a CR before it) is refused (400) as soon as it arrives;
//! a request line is exactly `method SP target SP version`, the method a
//! token, the target without control bytes or `#` (since +sysmon.17),
//! the version HTTP/1.0 or 1.1
//! (another `HTTP/d.d`: 505), or it is refused (400). So a `Request`
//! exists only for a head read one way by any parser (since +sysmon.10).
//! The request line and header names are ASCII, or the head is refused
//! (400); a header value may hold obs-text, and its line is then left
//! out of the request, unless it is a header the server reads (400;
//! since +sysmon.14, `head_text::ASCII_HEADERS`).

use crate::common::{HTTPVersion, Method};
use crate::head_text::{is_token, FillError, HeadText};
use crate::response::ConnectionLine;
use crate::util::same_name;
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
    // [patch] Empty lines before the request line are skipped (since
    // +sysmon.11), within `max_head_bytes`: RFC 9112 §2.2 says a server
    // SHOULD ignore at least one, and some clients send a CRLF after a
    // request on a kept-alive connection. Upstream answered 400.
    let skipped = leading_empty_lines(window);
    let rest = &window[skipped..];
    let end = match head_end(rest, scanned.saturating_sub(skipped)) {
        Ok(end) => end,
        Err(BareLf) => {
            *scanned = 0;
            return refused(
                rest,
                reason_answer(
                    StatusCode(400),
                    "a line ended by LF alone (CRLF expected)\n",
                ),
            );
        }
    };
    let Some(len) = end else {
        *scanned = window.len();
        if window.len() < max {
            return Parsed::Incomplete;
        }
        // [patch] Over `max_head_bytes`: 414 while the request line has not
        // ended, 431 after (400 when it never began: empty lines only).
        // Upstream read a line of any length into memory.
        // [patch] Each says what was wrong (since +sysmon.24; upstream's
        // and these were empty).
        let line_ended = rest.windows(2).any(|w| w == b"\r\n");
        let (status, what) = match (rest.is_empty(), line_ended) {
            (true, _) => (400, "no request line: empty lines only, over"),
            (false, true) => (431, "request head longer than"),
            (false, false) => (414, "request line longer than"),
        };
        return refused(
            rest,
            reason_answer(StatusCode(status), &format!("{} {} bytes\n", what, max)),
        );
    };
    *scanned = 0;
    match request_head(&rest[..len - 4], limits, into) {
        Ok(facts) => Parsed::Request(skipped + len, facts),
        Err(answer) => refused(rest, answer),
    }
}

/// [patch] A refusal of the head that begins `head`, `answer` cut after
/// its empty line when that head is a HEAD request's (since +sysmon.26):
/// RFC 9110 §9.3.2, a response to HEAD has no content, whatever its
/// status. Its `Content-Length` still says what a GET would get. Every
/// refusal here sent its body to HEAD too.
fn refused(head: &[u8], mut answer: Vec<u8>) -> Parsed {
    if is_head_request(head) {
        let end = answer.windows(4).position(|w| w == b"\r\n\r\n");
        answer.truncate(end.map_or(answer.len(), |at| at + 4));
    }
    Parsed::Refused(answer)
}

/// [patch] Whether `start`, the first bytes of a request (past any empty
/// lines), is a HEAD request's: `HEAD ` or, cut short, a start of it
/// (since +sysmon.26). Read before the request line is whole or valid,
/// so that a refusal of a malformed or oversized HEAD sends no body.
pub(crate) fn is_head_request(start: &[u8]) -> bool {
    let start = &start[leading_empty_lines(start)..];
    let method = b"HEAD ";
    let n = start.len().min(method.len());
    n > 0 && start[..n] == method[..n]
}

/// How many bytes of empty lines (CRLF, each whole) `window` begins with.
/// A lone CR at the end may be the start of another: it is left to
/// `head_end`, which waits for what follows it.
fn leading_empty_lines(window: &[u8]) -> usize {
    window
        .chunks_exact(2)
        .take_while(|pair| *pair == b"\r\n")
        .count()
        * 2
}

/// A line feed without a carriage return before it.
struct BareLf;

/// Where the head that begins `window` ends (just after its CRLF CRLF), if
/// it has ended; `window[..from]` is known to hold no end of head and no
/// bare LF. [patch] Upstream read a head only up to a CRLF CRLF, so one
/// whose lines end in bare LFs (which RFC 9112 §2.2 lets a server take as
/// line ends) waited unanswered for `timeout`. Refused at once (since
/// +sysmon.10) rather than taken: a proxy in front that does not take
/// them would read another head than this server, and a bare LF is
/// refused inside a header line already (`check_head`).
fn head_end(window: &[u8], from: usize) -> Result<Option<usize>, BareLf> {
    let mut at = from;
    while let Some(found) = window[at..].iter().position(|&b| b == b'\n') {
        let lf = at + found;
        if lf == 0 || window[lf - 1] != b'\r' {
            return Err(BareLf);
        }
        if lf >= 3 && &window[lf - 3..lf - 1] == b"\r\n" {
            return Ok(Some(lf + 1));
        }
        at = lf + 1;
    }
    Ok(None)
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
    // [patch] The request line must be ASCII (upstream closed the
    // connection without an answer on any byte of a head that was not; a
    // 400 tells the client why). Header values need not be (since
    // +sysmon.14, `head_text.rs`): RFC 9110 §5.5 allows obs-text there,
    // and a browser sends any cookie of the host, a UTF-8 one set by
    // another web app on another port too: every request of the
    // dashboard got 400.
    let mut lines = crlf_lines(head);
    let request_line = lines.next().unwrap_or(b"");
    let Some(request_line) = std::str::from_utf8(request_line)
        .ok()
        .filter(|line| line.is_ascii())
    else {
        return Err(reason_answer(
            StatusCode(400),
            "a byte that is not ASCII in the request line\n",
        ));
    };
    // [patch] 505 for a version this server does not speak, before the
    // headers are judged: whatever they say, the answer is the same.
    let (method, target, version) = match parse_request_line(request_line) {
        Ok(parts) => parts,
        Err(LineError::Malformed) => {
            return Err(reason_answer(
                StatusCode(400),
                "malformed request line (METHOD TARGET HTTP/1.1, single spaces, \
                 no control byte or # in the target)\n",
            ))
        }
        Err(LineError::Version) => return Err(version_answer()),
    };
    // [patch] Kept as text (`head_text.rs`), not as a `String` for the
    // target and two per header line: nothing allocated once warm.
    match into.fill(request_line, target, lines, max_headers) {
        Ok(()) => {}
        Err(FillError::Malformed) => {
            return Err(reason_answer(
                StatusCode(400),
                "malformed header line (Name: value, the name a token; \
                 folded lines are refused)\n",
            ))
        }
        Err(FillError::TooManyHeaders) => {
            return Err(reason_answer(
                StatusCode(431),
                &format!("more than {} header lines\n", max_headers),
            ))
        }
        Err(FillError::NotAscii(name)) => {
            return Err(reason_answer(
                StatusCode(400),
                &format!("non-ASCII bytes in the {} header\n", name),
            ))
        }
        Err(FillError::ControlCharacter) => {
            return Err(refusal_answer(HeadRefusal::ControlCharacter))
        }
    }
    // [patch] Refused here, in the reactor, before a `Request` exists:
    // nothing of a declared body is ever read, waited for or sized, and the
    // server's caller never sees the request.
    if let Err(refusal) = crate::head::check_head(into.headers()) {
        return Err(refusal_answer(refusal));
    }
    if version == HTTPVersion(1, 1) && crate::head::missing_host(into.headers()) {
        return Err(refusal_answer(HeadRefusal::MissingHost));
    }

    // [patch] Every `Connection` line's options, as tokens (+sysmon.20).
    let has = |option: &str| connection_option(into, option);
    let last =
        has("close") || has("upgrade") || (version == HTTPVersion(1, 0) && !has("keep-alive"));
    Ok(HeadFacts {
        method,
        version,
        last,
    })
}

/// [patch] Whether `head` lists `option` in a `Connection` header
/// (+sysmon.20). RFC 9110 §7.6.1: the field is a comma-separated list of
/// case-insensitive tokens, and may come on several lines (a list field,
/// §5.3: the lines are one list). Upstream looked at the first line only
/// and for `option` anywhere in it: `keep-alive` then a line `close` was
/// kept open, and `xclose` or `close-ish` closed. Compared without a
/// lower-cased copy, so nothing is allocated.
fn connection_option(head: &HeadText, option: &str) -> bool {
    head.headers()
        .filter(|(name, _)| same_name(name, "Connection"))
        .flat_map(|(_, value)| value.split(','))
        .any(|token| same_name(token.trim_matches([' ', '\t']), option))
}

/// [patch] The lines of `head`, split at each CRLF, as `str::split("\r\n")`
/// splits text (the head is bytes since +sysmon.14: header values may
/// not be UTF-8).
fn crlf_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(head);
    std::iter::from_fn(move || {
        let bytes = rest?;
        match bytes.windows(2).position(|w| w == b"\r\n") {
            Some(at) => {
                rest = Some(&bytes[at + 2..]);
                Some(&bytes[..at])
            }
            None => rest.take(),
        }
    })
}

/// The answer to a version other than HTTP/1.0 and 1.1. Upstream answered
/// 505 to 2.0 and 3.0 only, and read on; HTTP/0.9 was served (with an
/// `HTTP/0.9 200 OK` status line and headers, on a kept-alive
/// connection). This server closes, as for any head it will not serve.
fn version_answer() -> Vec<u8> {
    let response =
        Response::from_string("This server only supports HTTP versions 1.0 and 1.1".to_owned())
            .with_status_code(StatusCode(505));
    closing_answer(response)
}

/// [patch] `response` printed as the last answer of a connection: HTTP/1.1
/// (whatever the request said), with `Connection: close` (since
/// +sysmon.9; upstream sent no `Connection` line and the client learnt of
/// the close only by the close).
fn closing_answer<R: std::io::Read>(response: Response<R>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = response.print_to(
        &mut bytes,
        HTTPVersion(1, 1),
        None,
        false,
        None,
        ConnectionLine::Close,
    );
    bytes
}

/// [patch] The answer to a head `check_head` refused, with
/// `Connection: close` (`Response` drops that header): the client must know
/// that this is the end.
fn refusal_answer(refusal: HeadRefusal) -> Vec<u8> {
    reason_answer(StatusCode(refusal.status()), refusal.reason())
}

/// An answer of `status` whose body is `reason`, with `Connection: close`.
fn reason_answer(status: StatusCode, reason: &str) -> Vec<u8> {
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

/// Why a request line is refused.
#[derive(Debug, PartialEq, Eq)]
enum LineError {
    /// Not `method SP target SP HTTP-version` (400).
    Malformed,
    /// A well-formed version other than HTTP/1.0 and 1.1 (505).
    Version,
}

/// [patch] Parses "HTTP/1.0" or "HTTP/1.1"; another `HTTP/DIGIT.DIGIT`
/// (RFC 9112 §2.3) is a version this server does not speak. Upstream took
/// 0.9 (and answered in it), 2.0 and 3.0 as well, and any other version
/// (1.2, 9.9) was a malformed line (400).
fn parse_http_version(version: &str) -> Result<HTTPVersion, LineError> {
    match version.as_bytes() {
        b"HTTP/1.0" => Ok(HTTPVersion(1, 0)),
        b"HTTP/1.1" => Ok(HTTPVersion(1, 1)),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(LineError::Version)
        }
        _ => Err(LineError::Malformed),
    }
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
///
/// [patch] Exactly three parts separated by single spaces (RFC 9112 §3),
/// the method a token and the target free of control bytes (the line is
/// ASCII already) and of `#` (since +sysmon.17). Upstream split on spaces
/// and ignored a fourth word (`GET / HTTP/1.1 junk` was served), took any
/// method text (a control byte in it made a 405) and any target (a bare
/// CR in it was taken), and was given the line trimmed of leading and
/// trailing whitespace.
fn parse_request_line(line: &str) -> Result<(Method, &str, HTTPVersion), LineError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(LineError::Malformed);
    };
    // [patch] A request-target has no fragment (RFC 9112 §3.2: no `#` in
    // its grammar; a client strips it): `GET /metrics#x` was routed as
    // `/metrics`, the fragment dropped, where a proxy in front may route,
    // match or forward the `#` and what follows it as part of the path.
    let target_ok =
        !target.is_empty() && !target.bytes().any(|b| b.is_ascii_control() || b == b'#');
    if !is_token(method.as_bytes()) || !target_ok {
        return Err(LineError::Malformed);
    }
    let version = parse_http_version(version)?;
    let method = method.parse().map_err(|()| LineError::Malformed)?;
    Ok((method, target, version))
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
        assert_eq!(
            super::parse_request_line("GET /hello HTTP/0.9"),
            Err(super::LineError::Version)
        );
        // [patch] no fragment (+sysmon.17)
        for target in ["/#", "/hello#x", "/hello?a=1#x", "#", "http://a/b#c"] {
            let line = format!("GET {} HTTP/1.1", target);
            assert_eq!(
                super::parse_request_line(&line),
                Err(super::LineError::Malformed),
                "{}",
                line
            );
        }
    }

    #[test]
    fn heads_are_judged_the_same_whole_or_a_byte_at_a_time() {
        let pad = |n: usize| "p".repeat(n);
        let cases: Vec<(String, u16)> = vec![
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n".into(), 0),
            ("GET / HTTP/1.1\r\nHost: a\r\n".into(), 1),
            // 64 bytes exactly, then one more
            (
                format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", pad(64 - 26)),
                0,
            ),
            (
                format!("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", pad(65 - 26)),
                431,
            ),
            (format!("GET /{} HTTP/1.1\r\n\r\n", pad(70)), 414),
            ("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n".into(), 431),
            ("GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n".into(), 413),
            ("GET / HTTP/2.0\r\n\r\n".into(), 505),
            ("nonsense\r\n\r\n".into(), 400),
            // [patch] versions other than 1.0 and 1.1: 505 (+sysmon.10)
            ("GET / HTTP/1.0\r\n\r\n".into(), 0),
            ("GET / HTTP/0.9\r\n\r\n".into(), 505),
            ("GET / HTTP/1.2\r\n\r\n".into(), 505),
            ("GET / HTTP/9.9\r\n\r\n".into(), 505),
            ("GET / HTTP/1.10\r\n\r\n".into(), 400),
            ("GET / http/1.1\r\n\r\n".into(), 400),
            ("GET / HTTP/1\r\n\r\n".into(), 400),
            // request lines other than three parts, single spaces
            ("GET / HTTP/1.1 junk\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1 \r\n\r\n".into(), 400),
            (" GET / HTTP/1.1\r\n\r\n".into(), 400),
            ("GET  / HTTP/1.1\r\n\r\n".into(), 400),
            ("GET /\tHTTP/1.1\r\n\r\n".into(), 400),
            ("GET /\r\n\r\n".into(), 400),
            // control bytes in the method or the target; other methods
            ("G\x01T / HTTP/1.1\r\n\r\n".into(), 400),
            ("G(T / HTTP/1.1\r\n\r\n".into(), 400),
            ("BREW / HTTP/1.1\r\nHost: a\r\n\r\n".into(), 0),
            ("GET /a\rb HTTP/1.1\r\n\r\n".into(), 400),
            ("GET /a\x7fb HTTP/1.1\r\n\r\n".into(), 400),
            ("GET /a\0b HTTP/1.1\r\n\r\n".into(), 400),
            // a bare LF anywhere: 400 as soon as it is seen
            ("GET / HTTP/1.1\nHost: a\n\n".into(), 400),
            ("GET / HTTP/1.1\r\nHost: a\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nHost: a\r\n\n".into(), 400),
            ("\nGET / HTTP/1.1\r\n\r\n".into(), 400),
            // [patch] empty lines before the request line are skipped
            // (+sysmon.11), within the limit; a bare LF or CR is not one
            ("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".into(), 0),
            ("\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".into(), 0),
            ("\r\n\r\n".into(), 1),
            ("\r\n".repeat(32), 400),
            (format!("{}GET / HTTP/1.0\r\n\r\n", "\r\n".repeat(23)), 0),
            (format!("{}GET / HTTP/1.0\r\n\r\n", "\r\n".repeat(24)), 431),
            (format!("\r\n\r\nGET /{} HTTP/1.1\r\n\r\n", pad(60)), 414),
            ("\r\n\nGET / HTTP/1.1\r\n\r\n".into(), 400),
            ("\r\n\rGET / HTTP/1.1\r\n\r\n".into(), 400),
            ("\r\n GET / HTTP/1.1\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nHost: a\r".into(), 1),
            // [patch] obs-text in a header value is served (+sysmon.14),
            // but not in one the server reads, a name or the request line
            ("GET / HTTP/1.1\r\nCookie: a=é\r\nHost: a\r\n\r\n".into(), 0),
            ("GET / HTTP/1.1\r\nHost: é\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nconnection: clé\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nCoökie: a\r\n\r\n".into(), 400),
            ("GET /é HTTP/1.1\r\n\r\n".into(), 400),
            ("GÉT / HTTP/1.1\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nCookie: é\rb\r\n\r\n".into(), 400),
            // [patch] a header name is a token (+sysmon.15): no vertical
            // tab or form feed before it, no whitespace before the colon
            ("GET / HTTP/1.1\r\n\x0bHost: a\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\n\x0cHost: a\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nHost : a\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\n: a\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nX(a): b\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\n\x0bCookie: é\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX-A~1: b\r\n\r\n".into(), 0),
            // [patch] no control byte but HTAB in a value (+sysmon.16),
            // at its ends neither
            ("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\tb\r\n\r\n".into(), 0),
            ("GET / HTTP/1.1\r\nX-A: a\x0bb\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nHost: a\x0b\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nHost:\x0ca\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nX-A: \x01\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nX-A: a\x1bb\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nCookie: é\x0b\r\n\r\n".into(), 400),
            // [patch] no fragment in a target (+sysmon.17)
            ("GET /#x HTTP/1.1\r\n\r\n".into(), 400),
            ("GET /metrics# HTTP/1.1\r\n\r\n".into(), 400),
            ("GET /a?b=c#d HTTP/1.1\r\n\r\n".into(), 400),
            ("GET http://a/#x HTTP/1.1\r\n\r\n".into(), 400),
            ("GET /a?b=%23 HTTP/1.1\r\nHost: a\r\n\r\n".into(), 0),
            // [patch] HTTP/1.1 without Host (+sysmon.26); 1.0 may omit it
            ("GET / HTTP/1.1\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n".into(), 400),
            ("GET http://a/ HTTP/1.1\r\n\r\n".into(), 400),
            ("GET / HTTP/1.1\r\nhost:\r\n\r\n".into(), 0),
            ("GET http://a/ HTTP/1.0\r\n\r\n".into(), 0),
            // [patch] two Authorization lines (+sysmon.18)
            (
                "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: a\r\n\r\n".into(),
                0,
            ),
            (
                "GET / HTTP/1.1\r\nAuthorization: a\r\nauthorization: b\r\n\r\n".into(),
                400,
            ),
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
        let two = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
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

    /// [patch] A refusal of a HEAD request is its head alone (+sysmon.26),
    /// its `Content-Length` the body a GET gets; HEAD is told by the
    /// first bytes, so a request line too long or malformed counts.
    #[test]
    fn a_refused_head_request_gets_no_body() {
        let long = format!("HEAD /{} HTTP/1.1\r\n\r\n", "p".repeat(70));
        for (head, is_head) in [
            ("HEAD / HTTP/1.1\r\n\r\n", true),
            ("\r\nHEAD / HTTP/1.1\r\nContent-Length: 1\r\n\r\n", true),
            ("HEAD / HTTP/9.9\r\nHost: a\r\n\r\n", true),
            ("HEAD / HTTP/1.1 x\r\n\r\n", true),
            ("HEAD / HTTP/1.1\nHost: a\n\n", true),
            (long.as_str(), true),
            ("GET / HTTP/1.1\r\n\r\n", false),
            ("HEADER / HTTP/1.1\r\n\r\n", false),
            ("head / HTTP/1.1\r\n\r\n", false),
        ] {
            let mut scanned = 0;
            let mut text = HeadText::default();
            let Parsed::Refused(answer) =
                parse_head(head.as_bytes(), &mut scanned, LIMITS, &mut text)
            else {
                panic!("not refused: {:?}", head)
            };
            let answer = String::from_utf8(answer).unwrap();
            let (top, body) = answer.split_once("\r\n\r\n").unwrap();
            let length: usize = top
                .split("\r\n")
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert!(length > 0, "{:?}", answer);
            let expected = if is_head { 0 } else { length };
            assert_eq!(body.len(), expected, "{:?}: {:?}", head, answer);
        }
        assert!(super::is_head_request(b"HE"));
        assert!(!super::is_head_request(b""));
        assert!(!super::is_head_request(b"HEADX"));
    }

    /// [patch] A cookie in Latin-1 (not UTF-8) is left out and the rest
    /// of the head read (+sysmon.14); the refusals say why.
    #[test]
    fn a_header_value_that_is_not_utf_8_is_left_out() {
        let head = b"GET /m HTTP/1.0\r\nCookie: a=\xe9\r\nConnection: close\r\n\r\n";
        let mut scanned = 0;
        let mut text = HeadText::default();
        let Parsed::Request(len, facts) = parse_head(head, &mut scanned, LIMITS, &mut text) else {
            panic!("not parsed")
        };
        assert_eq!((len, facts.last), (head.len(), true));
        let headers: Vec<_> = text.headers().collect();
        assert_eq!(headers, [("Connection", "close")]);
        let head = b"GET /m HTTP/1.1\r\nHOST: \xe9\r\n\r\n";
        let Parsed::Refused(answer) = parse_head(head, &mut scanned, LIMITS, &mut text) else {
            panic!("not refused")
        };
        let answer = String::from_utf8(answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400 "), "{}", answer);
        assert!(
            answer.ends_with("Connection: close\r\n\r\nnon-ASCII bytes in the Host header\n"),
            "{}",
            answer
        );
    }

    /// [patch] A CRLF after a request (some clients send one after a
    /// body, RFC 9112 §2.2) is skipped before the next, and counted in
    /// its length, so that nothing of it is left in the buffer.
    #[test]
    fn an_empty_line_between_pipelined_heads_is_skipped() {
        let two = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut scanned = 0;
        let mut text = HeadText::default();
        let Parsed::Request(len, _) = parse_head(two, &mut scanned, LIMITS, &mut text) else {
            panic!("first head not parsed")
        };
        let next = &two[len..];
        let Parsed::Request(len, _) = parse_head(next, &mut scanned, LIMITS, &mut text) else {
            panic!("second head not parsed")
        };
        assert_eq!((text.target(), len), ("/b", next.len()));
    }

    /// [patch] `Connection` is a list of tokens, on one line or several,
    /// in any case (+sysmon.20, RFC 9110 §7.6.1). Upstream read the first
    /// line only, for the word anywhere in it.
    #[test]
    fn connection_options_are_tokens_from_every_line() {
        let limits = HeadLimits {
            max_head_bytes: 1024,
            max_headers: 8,
        };
        let cases: &[(&str, &str, bool)] = &[
            ("1.1", "", false),
            ("1.1", "Connection: close\r\n", true),
            ("1.1", "Connection: CLOSE\r\n", true),
            ("1.1", "Connection: keep-alive, close\r\n", true),
            ("1.1", "Connection: keep-alive ,\tClose \r\n", true),
            (
                "1.1",
                "Connection: keep-alive\r\nConnection: close\r\n",
                true,
            ),
            (
                "1.1",
                "Connection: keep-alive\r\nX: 1\r\nconnection: close\r\n",
                true,
            ),
            ("1.1", "Connection: upgrade\r\n", true),
            ("1.1", "Connection: te, upgrade\r\n", true),
            ("1.1", "Connection: xclose\r\n", false),
            ("1.1", "Connection: close-ish\r\n", false),
            (
                "1.1",
                "Connection: keep-alive\r\nConnection: closed\r\n",
                false,
            ),
            ("1.1", "Connection: \"close\"\r\n", false),
            ("1.1", "X-Connection: close\r\n", false),
            ("1.0", "", true),
            ("1.0", "Connection: keep-alive\r\n", false),
            ("1.0", "Connection: Keep-Alive\r\n", false),
            ("1.0", "Connection: te\r\nConnection: keep-alive\r\n", false),
            ("1.0", "Connection: keep-alive-ish\r\n", true),
            ("1.0", "Connection: not-keep-alive\r\n", true),
            (
                "1.0",
                "Connection: keep-alive\r\nConnection: close\r\n",
                true,
            ),
        ];
        for &(version, lines, last) in cases {
            let head = format!("GET / HTTP/{}\r\nHost: a\r\n{}\r\n", version, lines);
            let mut scanned = 0;
            let mut text = HeadText::default();
            match parse_head(head.as_bytes(), &mut scanned, limits, &mut text) {
                Parsed::Request(_, facts) => assert_eq!(facts.last, last, "{:?}", head),
                _ => panic!("not a request: {:?}", head),
            }
        }
    }
}
