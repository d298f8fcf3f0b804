//! [patch] Answers whose header lines and body the caller holds, printed
//! without building a `Response` (issue 12 of sysmon: a warm answer made
//! 17 small allocations here, a `Header` of two owned strings per line,
//! the list, and `Content-Length` through `format!`).
//!
//! Contract: [`BorrowedResponse::print_head`] writes into the caller's
//! buffer the same bytes that `Response::raw_print` writes for the same
//! answer framed by its length (status line, `Server`, `Date`, the
//! caller's lines in order, the `Connection` line (`close` when the
//! server closes after it, `keep-alive` to HTTP/1.0 when it does not),
//! `Content-Length`, the empty line), and
//! allocates nothing once that buffer has grown to a head's size. The
//! test `borrowed_heads_print_as_raw_print_does` holds it to `raw_print`.
//! An answer the client asks to be chunked (`TE: chunked`) is not framed
//! by its length: [`BorrowedResponse::to_response`] makes the `Response`
//! that `raw_print` chunks, allocating as before.

use crate::util::same_name;
use std::io::Cursor;

use crate::common::{HTTPVersion, Header, StatusCode};
use crate::response::{
    choose_transfer_encoding, http_date, ConnectionLine, Response, TransferEncoding,
};

/// An answer: a status, header lines, a body, all borrowed.
#[derive(Clone, Copy, Debug)]
pub struct BorrowedResponse<'a> {
    pub status: StatusCode,
    /// Printed in this order, after `Server` and `Date` (unless one of
    /// them is here) and before `Content-Length`. Constants of the
    /// caller (`'static`): no text of a request can end up in a head.
    /// Each name must be a token and each value ASCII without CR, LF or
    /// NUL (checked in debug builds). Lines the server frames itself are
    /// skipped, as `Response::add_header` drops them: `Connection`,
    /// `Trailer`, `Transfer-Encoding`, `Upgrade`, `Content-Length` (the
    /// body's length is sent). Unlike `add_header`, a second
    /// `Content-Type` is printed, not merged: give one.
    pub headers: &'a [(&'static str, &'static str)],
    pub body: &'a [u8],
}

/// Lines the server writes itself (`Response::add_header` drops them).
const FRAMING: [&str; 5] = [
    "Connection",
    "Trailer",
    "Transfer-Encoding",
    "Upgrade",
    "Content-Length",
];

impl<'a> BorrowedResponse<'a> {
    /// Whether `print_head` frames this answer (`Content-Length`, the body
    /// as it is), or the client's `TE` asks for chunks.
    pub(crate) fn framed_by_length(&self, version: &HTTPVersion, request_te: Option<&str>) -> bool {
        matches!(
            choose_transfer_encoding(
                self.status,
                request_te,
                version,
                &Some(self.body.len()),
                false,
                usize::MAX,
            ),
            TransferEncoding::Identity
        )
    }

    /// Whether the body is sent: not for HEAD, nor with a status that
    /// has none (1xx, 204, 304), as `raw_print` decides.
    pub(crate) fn sends_body(&self, head_request: bool) -> bool {
        !head_request && !matches!(self.status.0, 100..=199 | 204 | 304)
    }

    /// Appends the head (see the module's contract) to `out`, with the
    /// `Date` of `unix_s`, and the `Connection` line `connection` says.
    pub(crate) fn print_head(
        &self,
        out: &mut Vec<u8>,
        version: &HTTPVersion,
        unix_s: u64,
        connection: ConnectionLine,
    ) {
        let given = |name: &str| self.headers.iter().any(|(n, _)| same_name(n, name));
        out.extend_from_slice(b"HTTP/");
        push_decimal(out, u64::from(version.0));
        out.push(b'.');
        push_decimal(out, u64::from(version.1));
        out.push(b' ');
        push_decimal(out, u64::from(self.status.0));
        out.push(b' ');
        out.extend_from_slice(self.status.default_reason_phrase().as_bytes());
        out.extend_from_slice(b"\r\n");
        // raw_print inserts `Date` and then `Server` at the front.
        if !given("Server") {
            out.extend_from_slice(b"Server: tiny-http (Rust)\r\n");
        }
        if !given("Date") {
            out.extend_from_slice(b"Date: ");
            out.extend_from_slice(&http_date(unix_s));
            out.extend_from_slice(b"\r\n");
        }
        for &(name, value) in self.headers {
            debug_assert!(valid_line(name, value), "header {:?}: {:?}", name, value);
            if FRAMING.iter().any(|f| same_name(f, name)) {
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(value) = connection.value() {
            out.extend_from_slice(b"Connection: ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, self.body.len() as u64);
        out.extend_from_slice(b"\r\n\r\n");
    }

    /// The same answer as a `Response` (its lines made `Header`s: this
    /// allocates), for `raw_print` to chunk. (A `Content-Length` line is
    /// left out: the body's length is the answer's.)
    pub(crate) fn to_response(&self) -> Response<Cursor<&'a [u8]>> {
        let headers = self
            .headers
            .iter()
            .filter(|(n, _)| !FRAMING.iter().any(|f| same_name(f, n)))
            .filter_map(|(n, v)| Header::from_bytes(n.as_bytes(), v.as_bytes()).ok())
            .collect();
        Response::new(
            self.status,
            headers,
            Cursor::new(self.body),
            Some(self.body.len()),
            None,
        )
        .with_chunked_threshold(usize::MAX)
    }
}

/// A token name and an ASCII value without CR, LF or NUL.
fn valid_line(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && value
            .bytes()
            .all(|b| b.is_ascii() && !matches!(b, b'\r' | b'\n' | 0))
}

/// `n` in decimal, without `format!`.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod test {
    use super::BorrowedResponse;
    use crate::common::{HTTPVersion, StatusCode};
    use crate::response::ConnectionLine;

    /// The head `raw_print` writes for the same answer, the oracle, with
    /// its `Date` value put in `date`'s place (it reads the clock).
    fn raw_print_head(
        response: &BorrowedResponse<'_>,
        version: &HTTPVersion,
        te: Option<&str>,
        connection: ConnectionLine,
        date: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        response
            .to_response()
            .print_to(&mut out, version.clone(), te, true, None, connection)
            .unwrap();
        if !response.headers.iter().any(|(n, _)| *n == "Date") {
            let at = out.windows(8).position(|w| w == b"\r\nDate: ").unwrap() + 8;
            out[at..at + 29].copy_from_slice(date);
        }
        out
    }

    #[test]
    fn borrowed_heads_print_as_raw_print_does() {
        let lines: &[&[(&str, &str)]] = &[
            &[],
            &[("Content-Type", "text/plain; charset=utf-8")],
            &[
                ("Content-Type", "application/json"),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "no-referrer"),
                ("Cache-Control", "no-store"),
            ],
            &[
                ("Allow", "GET, HEAD"),
                ("Connection", "keep-alive"),
                ("content-length", "7"),
                ("Transfer-Encoding", "gzip"),
            ],
            &[("WWW-Authenticate", "Basic realm=\"x\", charset=\"UTF-8\"")],
            &[
                ("Server", "other"),
                ("Date", "Thu, 01 Jan 1970 00:00:00 GMT"),
            ],
        ];
        let bodies: &[&[u8]] = &[b"", b"x", &[b'a'; 40_000]];
        let versions = [HTTPVersion(1, 0), HTTPVersion(1, 1)];
        let tes = [None, Some("identity"), Some("gzip"), Some("chunked;q=0")];
        let date = crate::response::http_date(1_796_200_332);
        let mut cases = 0;
        for status in [200, 101, 204, 304, 400, 401, 403, 404, 405, 500, 503, 299] {
            for headers in lines {
                for body in bodies {
                    for version in &versions {
                        for (te, connection) in tes.iter().flat_map(|&te| {
                            [
                                ConnectionLine::Unsaid,
                                ConnectionLine::Close,
                                ConnectionLine::KeepAlive,
                            ]
                            .map(|c| (te, c))
                        }) {
                            let response = BorrowedResponse {
                                status: StatusCode(status),
                                headers,
                                body,
                            };
                            assert!(response.framed_by_length(version, te));
                            let mut got = Vec::new();
                            response.print_head(&mut got, version, 1_796_200_332, connection);
                            let want = raw_print_head(&response, version, te, connection, &date);
                            assert_eq!(
                                String::from_utf8(got).unwrap(),
                                String::from_utf8(want).unwrap(),
                                "{status} {headers:?} {version:?} {te:?} {connection:?}"
                            );
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 12 * 6 * 3 * 2 * 4 * 3);
    }

    #[test]
    fn a_client_asking_for_chunks_is_not_framed_by_length() {
        let response = BorrowedResponse {
            status: StatusCode(200),
            headers: &[],
            body: b"x",
        };
        assert!(!response.framed_by_length(&HTTPVersion(1, 1), Some("chunked")));
        assert!(response.framed_by_length(&HTTPVersion(1, 0), Some("chunked")));
        assert!(!response.sends_body(true));
        assert!(response.sends_body(false));
        let no_content = BorrowedResponse {
            status: StatusCode(304),
            ..response
        };
        assert!(!no_content.sends_body(false));
    }
}
