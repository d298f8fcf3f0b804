//! [patch] What a request head must pass before a `Request` is made of it.
//!
//! This copy of tiny_http serves GET and HEAD, which carry no body, so a head
//! that declares one is refused, and so is any framing two parsers could read
//! two ways (RFC 9112 §6.3: a proxy in front and this server must agree on
//! where a request ends, or a second request hides inside the first).
//!
//! Contract: [`check_head`] looks only at the parsed header lines; it reads
//! nothing from the client, allocates nothing, and never panics. When it
//! returns `Ok(())` no header line holds a control byte but HTAB, the
//! request has no body (no `Transfer-Encoding`, at most
//! one `Content-Length` and that one all zeros), no `Expect`, and at most one
//! `Host` and one `Authorization`. The reactor calls it as soon as the head is parsed
//! (`client.rs`), so a refused request never reaches the server's caller; a
//! server that parses heads itself can call it the same way.
//!
//! The table of cases is in sysmon's `src/http.rs` tests (so that `make test`
//! runs it).

use crate::util::same_name;

/// Why a request head was refused. Every refusal closes the connection:
/// what follows the head can no longer be told apart from a next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadRefusal {
    /// A control byte other than HTAB inside a header line (RFC 9110
    /// §5.5: 0x00 to 0x1F and DEL): a proxy that ends lines at a bare LF
    /// reads a header there that this server does not see, and one that
    /// takes a vertical tab or form feed for whitespace reads another
    /// value (400). [patch] Until +sysmon.16 only CR, LF and NUL.
    ControlCharacter,
    /// Two `Host` lines: which one an access check reads is a guess (400).
    DuplicateHost,
    /// [patch] An HTTP/1.1 request without a `Host` line (since
    /// +sysmon.26; RFC 9112 §3.2: a server MUST answer 400). Not judged
    /// by [`check_head`], which sees no version: the reactor asks
    /// [`missing_host`] after it (`client.rs`). HTTP/1.0 may omit it.
    MissingHost,
    /// [patch] Two `Authorization` lines (since +sysmon.18): the same
    /// guess for the credentials (RFC 9110 §5.3: not a list field, so a
    /// sender must not send two); the server's caller reads the first,
    /// a proxy may check or pass on the last (400).
    DuplicateAuthorization,
    /// `Content-Length` and `Transfer-Encoding` together (400).
    LengthAndTransferEncoding,
    /// Two `Content-Length` lines, even with equal values (400).
    DuplicateContentLength,
    /// A `Content-Length` that is not 1*DIGIT within 64 bits: empty, signed,
    /// a list, hex, overflowing (400).
    InvalidContentLength,
    /// A body: `Content-Length` above zero, or any `Transfer-Encoding` (413).
    Body,
    /// An `Expect` line, `100-continue` or other: a body is never wanted (417).
    Expect,
}

impl HeadRefusal {
    /// The status to answer with.
    pub fn status(self) -> u16 {
        match self {
            HeadRefusal::ControlCharacter
            | HeadRefusal::DuplicateHost
            | HeadRefusal::MissingHost
            | HeadRefusal::DuplicateAuthorization
            | HeadRefusal::LengthAndTransferEncoding
            | HeadRefusal::DuplicateContentLength
            | HeadRefusal::InvalidContentLength => 400,
            HeadRefusal::Body => 413,
            HeadRefusal::Expect => 417,
        }
    }

    /// The body of the answer: one line for whoever reads it.
    pub fn reason(self) -> &'static str {
        match self {
            HeadRefusal::ControlCharacter => "a control character inside a header line\n",
            HeadRefusal::DuplicateHost => "more than one Host header\n",
            HeadRefusal::MissingHost => "missing Host header\n",
            HeadRefusal::DuplicateAuthorization => "more than one Authorization header\n",
            HeadRefusal::LengthAndTransferEncoding => {
                "Content-Length together with Transfer-Encoding\n"
            }
            HeadRefusal::DuplicateContentLength => "more than one Content-Length header\n",
            HeadRefusal::InvalidContentLength => "Content-Length is not a whole number\n",
            HeadRefusal::Body => "this server takes no request body\n",
            HeadRefusal::Expect => "this server takes no request body (Expect refused)\n",
        }
    }
}

/// The checks above, in the order of the variants: framing first (400), then
/// a body (413), then `Expect` (417), so that a client sending a body with
/// `Expect: 100-continue` learns the final answer at once.
///
/// [patch] `headers` are (name, value) pairs as parsed (since +sysmon.7:
/// the reactor keeps a head as text, `crate::head_text`, not `Header`s).
pub fn check_head<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), HeadRefusal> {
    let mut hosts = 0usize;
    let mut authorizations = 0usize;
    let mut lengths = 0usize;
    let mut transfer_encoding = false;
    let mut expect = false;
    // None: some Content-Length was not a valid number
    let mut length_is_zero = Some(true);
    for (name, value) in headers {
        if name.bytes().chain(value.bytes()).any(is_control) {
            return Err(HeadRefusal::ControlCharacter);
        }
        if same_name(name, "Host") {
            hosts += 1;
        } else if same_name(name, "Authorization") {
            authorizations += 1;
        } else if same_name(name, "Content-Length") {
            lengths += 1;
            length_is_zero = match (length_is_zero, content_length(value.as_bytes())) {
                (Some(zero), Some(n)) => Some(zero && n == 0),
                _ => None,
            };
        } else if same_name(name, "Transfer-Encoding") {
            transfer_encoding = true;
        } else if same_name(name, "Expect") {
            expect = true;
        }
    }
    if hosts > 1 {
        return Err(HeadRefusal::DuplicateHost);
    }
    if authorizations > 1 {
        return Err(HeadRefusal::DuplicateAuthorization);
    }
    if lengths > 0 && transfer_encoding {
        return Err(HeadRefusal::LengthAndTransferEncoding);
    }
    if lengths > 1 {
        return Err(HeadRefusal::DuplicateContentLength);
    }
    match length_is_zero {
        None => return Err(HeadRefusal::InvalidContentLength),
        Some(false) => return Err(HeadRefusal::Body),
        Some(true) => {}
    }
    if transfer_encoding {
        return Err(HeadRefusal::Body);
    }
    if expect {
        return Err(HeadRefusal::Expect);
    }
    Ok(())
}

/// [patch] Whether an HTTP/1.1 head lacks its `Host` line (since
/// +sysmon.26): `headers` as for [`check_head`], which has refused two.
/// Upstream, and this copy until then, served such a request.
pub(crate) fn missing_host<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    !headers.into_iter().any(|(name, _)| same_name(name, "Host"))
}

/// A control byte that a field may not hold (RFC 9110 §5.5: CTL but
/// HTAB; obs-text, 0x80 and up, it may). [patch] Upstream refused none;
/// until +sysmon.16 this copy refused CR, LF and NUL only: VT, FF, ESC,
/// DEL and the rest were taken, and `str::trim` took a VT or FF at either
/// end of a value for whitespace (`Host: localhost\x0b`).
pub(crate) fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// `Content-Length = 1*DIGIT` (RFC 9110 §8.6), as a number, or `None` when
/// it is anything else or does not fit 64 bits. (The header parser has
/// already trimmed the spaces and tabs around the value.)
fn content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}
