//! HTTP routes. Answers come from the daemon's last sample and job states;
//! nothing here reads /proc or any other file. There is no path from a URL
//! to the filesystem: the set of answers is a fixed table.

use tiny_http::{BorrowedResponse, Method, Request, StatusCode};

use crate::access::{AccessPolicy, Refusal};

/// The dashboard, compiled into the binary.
pub const INDEX_HTML: &[u8] = include_bytes!("index.html");

/// The page's policy ([`crate::csp::policy_for`] of [`INDEX_HTML`]),
/// computed when the binary is built (`src/build.rs`): a start hashes
/// nothing (it took about 3.3 million instructions before the port
/// answered; issue 16).
const CSP: &str = include_str!(concat!(env!("OUT_DIR"), "/csp.txt"));

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Index,
    DataJson,
    Metrics,
    /// `/history.json`, optionally `?points=N` (1 to [`crate::history::MAX_POINTS`])
    /// and `?range=1h|1d|7d|30d|1y` (in seconds: read from the history file).
    History {
        points: Option<u32>,
        range_s: Option<u32>,
    },
    /// A known path with a query it cannot take.
    BadRequest(&'static str),
    NotFound,
    MethodNotAllowed,
}

impl Route {
    /// The status of a route whose answer is a refusal (400, 404, 405),
    /// for `sysmon_http_requests_refused_total`; `None` for one served.
    pub fn refusal_status(self) -> Option<u16> {
        match self {
            Route::BadRequest(_) => Some(400),
            Route::NotFound => Some(404),
            Route::MethodNotAllowed => Some(405),
            Route::Index | Route::DataJson | Route::Metrics | Route::History { .. } => None,
        }
    }
}

/// A request target as routing and the Host check read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// The authority of an absolute-form target (`http://AUTHORITY/path`,
    /// RFC 9112 §3.2.2), which stands in for the `Host` header (§7.2:
    /// a server MUST ignore the header then); `None` for any other form.
    pub authority: Option<&'a str>,
    /// The path (`/` for an absolute-form target without one).
    pub path: &'a str,
    /// The query, without its `?`; empty when there is none.
    pub query: &'a str,
}

impl<'a> Target<'a> {
    /// Splits a request target. An absolute-form one is `http://` or
    /// `https://` in any case (which scheme does not matter: the
    /// connection decides), then the authority up to the first `/`, `?`
    /// or `#`. A fragment is dropped (none arrives: the server refuses a
    /// target with one since tiny_http +sysmon.17).
    pub fn parse(url: &'a str) -> Target<'a> {
        let (authority, origin) = match absolute_form(url) {
            Some(after_scheme) => {
                let end = after_scheme
                    .find(['/', '?', '#'])
                    .unwrap_or(after_scheme.len());
                let (authority, origin) = after_scheme.split_at(end);
                (Some(authority), origin)
            }
            None => (None, url),
        };
        let path = origin.split(['?', '#']).next().unwrap_or(origin);
        let query = origin[path.len()..]
            .strip_prefix('?')
            .map_or("", |q| q.split('#').next().unwrap_or(q));
        let path = match (authority, path) {
            (Some(_), "") => "/",
            _ => path,
        };
        Target {
            authority,
            path,
            query,
        }
    }

    /// What a request with this target names as its host: the authority
    /// of an absolute-form target, else its `Host` header (`header`).
    pub fn host(self, header: Option<&'a str>) -> Option<&'a str> {
        match self.authority {
            Some(authority) => Some(authority),
            None => header,
        }
    }
}

/// What follows the scheme of an absolute-form `http` or `https` target.
fn absolute_form(url: &str) -> Option<&str> {
    ["http://", "https://"].iter().find_map(|scheme| {
        let head = url.get(..scheme.len())?;
        crate::access::same_name(head, scheme).then(|| &url[scheme.len()..])
    })
}

/// Maps a method and request target to a route. The query string is
/// ignored except by `/history.json`. An absolute-form target is routed
/// by its path (RFC 9112 §3.2.2: a server MUST accept it); it got 404.
pub fn route(method: &Method, url: &str) -> Route {
    route_target(method, Target::parse(url))
}

/// [`route`] of a target already split.
fn route_target(method: &Method, target: Target<'_>) -> Route {
    let Target { path, query, .. } = target;
    // The asterisk-form is OPTIONS' alone (RFC 9112 §3.2.4): the server as
    // a whole, which takes GET and HEAD only. It was routed as a path: 404.
    if path == "*" && target.authority.is_none() {
        return match method {
            Method::Options => Route::MethodNotAllowed,
            _ => Route::BadRequest("the target * is for OPTIONS only\n"),
        };
    }
    let known = match path {
        "/" | "/index.html" => Some(Route::Index),
        "/data.json" => Some(Route::DataJson),
        "/metrics" => Some(Route::Metrics),
        "/history.json" => Some(history_route(query)),
        _ => None,
    };
    match (known, method) {
        (None, _) => Route::NotFound,
        (Some(r), Method::Get | Method::Head) => r,
        (Some(_), _) => Route::MethodNotAllowed,
    }
}

/// The ranges `?range=` takes, in seconds.
pub const RANGES: [(&str, u32); 5] = [
    ("1h", 3_600),
    ("1d", 86_400),
    ("7d", 7 * 86_400),
    ("30d", 30 * 86_400),
    ("1y", 365 * 86_400),
];

/// The digits `points=` takes at most, leading zeros counted.
const MAX_POINTS_DIGITS: usize = 20;

/// `points=N` and `range=` (other parameters are ignored, as on every
/// route). Each at most once, with a value: the last of two was taken,
/// where a proxy or cache in front may go by the first, and a bare
/// `points` or `range` was ignored as an unknown parameter.
fn history_route(query: &str) -> Route {
    let mut points = None;
    let mut range_s = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == "range" {
            if range_s.is_some() {
                return Route::BadRequest("range given more than once\n");
            }
            match RANGES.iter().find(|(name, _)| *name == value) {
                Some((_, s)) => range_s = Some(*s),
                None => return Route::BadRequest("range must be one of 1h, 1d, 7d, 30d, 1y\n"),
            }
        }
        if name == "points" {
            if points.is_some() {
                return Route::BadRequest("points given more than once\n");
            }
            // A plain decimal, leading zeros and all (`0000001` was
            // refused: the length was bounded at 6 digits, as if it
            // were the value), at most 20 digits, as `max_connections =
            // 0005` and `sysmon history --points 0005` take them.
            let valid = (1..=MAX_POINTS_DIGITS).contains(&value.len())
                && value.bytes().all(|b| b.is_ascii_digit());
            match value.parse::<u64>() {
                Ok(n) if valid && n >= 1 && n <= crate::history::MAX_POINTS as u64 => {
                    points = Some(n as u32);
                }
                _ => return Route::BadRequest("points must be a whole number from 1 to 100000\n"),
            }
        }
    }
    Route::History { points, range_s }
}

/// The header lines every answer has, before its own (`extra`).
const COMMON_LINES: usize = 3;
/// `extra` lines at most (the page's three, a gzipped scrape's three).
const MAX_EXTRA_LINES: usize = 3;

/// A /metrics answer's `extra` lines: all three when its body is gzipped,
/// the first two when not (one `respond_lines` call for both forms).
const METRICS_LINES: [(&str, &str); 3] = [
    ("Cache-Control", "no-store"),
    ("Vary", "Accept-Encoding"),
    ("Content-Encoding", "gzip"),
];
const _: () = assert!(METRICS_LINES.len() <= MAX_EXTRA_LINES);

/// Sends one answer. `scratch` is the loop's reused buffer for printing its
/// head (see `Request::respond_borrowed` in the patched tiny_http: the head
/// is printed from these borrowed lines, the body sent from where it is,
/// and the server's reactor writes what the socket did not take at once
/// on EPOLLOUT, in the loop's next turns). Nothing is allocated once
/// `scratch` has grown (issue 12; `tests/alloc_free.rs`).
///
/// At most [`MAX_EXTRA_LINES`] `extra` lines, checked when compiled (an
/// inline `const` assertion on the array's length): no route can make it
/// panic at run time.
fn respond<const N: usize>(
    request: Request,
    scratch: &mut Vec<u8>,
    status: u16,
    content_type: &'static str,
    body: &[u8],
    extra: &[(&'static str, &'static str); N],
) {
    const {
        assert!(
            N <= MAX_EXTRA_LINES,
            "more extra header lines than MAX_EXTRA_LINES"
        )
    };
    respond_lines(request, scratch, status, content_type, body, extra);
}

/// A 400 whose plain-text body says `why` (a refused Host, a bad query).
fn bad_request(request: Request, scratch: &mut Vec<u8>, why: &'static str) {
    respond(
        request,
        scratch,
        400,
        "text/plain; charset=utf-8",
        why.as_bytes(),
        &[],
    );
}

/// [`respond`]'s body, compiled once whatever the number of `extra` lines
/// (`extra.len() <= MAX_EXTRA_LINES`, which [`respond`] checked).
fn respond_lines(
    request: Request,
    scratch: &mut Vec<u8>,
    status: u16,
    content_type: &'static str,
    body: &[u8],
    extra: &[(&'static str, &'static str)],
) {
    let mut lines = [("", ""); COMMON_LINES + MAX_EXTRA_LINES];
    lines[..COMMON_LINES].copy_from_slice(&[
        ("Content-Type", content_type),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]);
    lines[COMMON_LINES..COMMON_LINES + extra.len()].copy_from_slice(extra);
    // A client gone away is its business, not an error of ours. The length
    // is known: `Content-Length`, never chunks of our own choosing (a
    // client's `TE: chunked` still gets chunks).
    request.respond_borrowed(
        BorrowedResponse {
            status: StatusCode(status),
            headers: &lines[..COMMON_LINES + extra.len()],
            body,
        },
        scratch,
    );
}

/// Lets `request` through the access policy, with its route; a refused
/// one is answered here (400 for a Host that is no host, 403, or 401
/// with the challenge) and `Err` holds the status it got.
pub fn admit(
    request: Request,
    access: &AccessPolicy,
    scratch: &mut Vec<u8>,
) -> Result<(Request, Route), u16> {
    let peer = request.remote_addr().map(|a| a.ip());
    let target = Target::parse(request.url());
    // The rebinding check reads the authority of an absolute-form target
    // (`GET http://evil.example/metrics`), not the Host header beside it.
    let host = target.host(request.header("Host"));
    match access.check(peer, host, request.header("Authorization")) {
        Ok(()) => {}
        Err(Refusal::BadHost(why)) => {
            // Named by where the host came from: the Host header may be
            // fine beside a bad authority, which the check read instead.
            let source = match target.authority {
                Some(_) => crate::access::BAD_TARGET_AUTHORITY,
                None => crate::access::BAD_HOST_HEADER,
            };
            let body = [source, why].concat();
            let text = "text/plain; charset=utf-8";
            respond(request, scratch, 400, text, body.as_bytes(), &[]);
            return Err(400);
        }
        Err(Refusal::Forbidden(why)) => {
            respond(
                request,
                scratch,
                403,
                "text/plain; charset=utf-8",
                why.as_bytes(),
                &[],
            );
            return Err(403);
        }
        Err(Refusal::Unauthorized) => {
            let challenge = [(
                "WWW-Authenticate",
                "Basic realm=\"sysmon\", charset=\"UTF-8\"",
            )];
            respond(
                request,
                scratch,
                401,
                "text/plain; charset=utf-8",
                b"authentication required\n",
                &challenge,
            );
            return Err(401);
        }
    }
    let route = route_target(request.method(), target);
    Ok((request, route))
}

/// Answers 503 with `Retry-After: 1` a request that cannot be answered
/// because the daemon is stopping (one that waited for a reading the stop
/// cut short): the client is told to ask again, which a restarted daemon
/// answers.
pub fn stopping(request: Request, scratch: &mut Vec<u8>) {
    respond(
        request,
        scratch,
        503,
        "text/plain; charset=utf-8",
        b"sysmon is stopping\n",
        &[("Retry-After", "1")],
    );
}

/// Answers a request [`admit`] let through. `body_for` produces the bytes
/// of a dynamic route (`/data.json`, `/metrics`, `/history.json`) from the
/// daemon's state; it is called only for those, with whether the request
/// accepts gzip (asked only for `/metrics`), and says whether the bytes it
/// gives are gzipped.
pub fn answer<'a>(
    request: Request,
    route: Route,
    scratch: &mut Vec<u8>,
    body_for: impl FnOnce(Route, bool) -> (&'a [u8], bool),
) {
    match route {
        Route::Index => respond(
            request,
            scratch,
            200,
            "text/html; charset=utf-8",
            INDEX_HTML,
            &[
                ("Content-Security-Policy", CSP),
                ("X-Frame-Options", "DENY"),
                ("Cache-Control", "no-cache"),
            ],
        ),
        Route::DataJson | Route::History { .. } => {
            let (body, _) = body_for(route, false);
            respond(
                request,
                scratch,
                200,
                "application/json",
                body,
                &[("Cache-Control", "no-store")],
            );
        }
        Route::BadRequest(why) => bad_request(request, scratch, why),
        Route::Metrics => {
            let accepts_gzip = crate::accept_encoding::accepts_gzip(request.headers());
            // Vary on both forms: a cache in front must not give one
            // client's form to another (RFC 9110 §12.5.5).
            let (body, gzipped) = body_for(route, accepts_gzip);
            let lines = if gzipped {
                &METRICS_LINES[..]
            } else {
                &METRICS_LINES[..2]
            };
            respond_lines(
                request,
                scratch,
                200,
                crate::metrics::CONTENT_TYPE,
                body,
                lines,
            );
        }
        Route::NotFound => respond(
            request,
            scratch,
            404,
            "text/plain; charset=utf-8",
            b"not found\n",
            &[],
        ),
        Route::MethodNotAllowed => respond(
            request,
            scratch,
            405,
            "text/plain; charset=utf-8",
            b"method not allowed\n",
            &[("Allow", "GET, HEAD")],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header the build wrote is the one the page asks for now: the
    /// build script reruns when `index.html` or `csp.rs` changes.
    #[test]
    fn the_built_policy_pins_the_page_as_it_is() {
        assert_eq!(CSP, crate::csp::policy_for(INDEX_HTML));
        assert!(CSP.contains("script-src 'sha256-"), "{CSP}");
        assert!(CSP.contains("style-src 'sha256-"), "{CSP}");
    }

    #[test]
    fn routes() {
        assert_eq!(route(&Method::Get, "/"), Route::Index);
        assert_eq!(route(&Method::Head, "/data.json?x=1"), Route::DataJson);
        assert_eq!(route(&Method::Post, "/data.json"), Route::MethodNotAllowed);
        assert_eq!(route(&Method::Get, "/../../etc/passwd"), Route::NotFound);
        assert_eq!(route(&Method::Get, "/%2e%2e/etc/passwd"), Route::NotFound);
        assert_eq!(route(&Method::Delete, "/nope"), Route::NotFound);
        assert_eq!(route(&Method::Options, "*"), Route::MethodNotAllowed);
        assert!(matches!(route(&Method::Get, "*"), Route::BadRequest(_)));
        assert_eq!(route(&Method::Get, "/*"), Route::NotFound);
        assert_eq!(route(&Method::Get, "http://h/*"), Route::NotFound);
        assert_eq!(
            route(&Method::Get, "/history.json"),
            Route::History {
                points: None,
                range_s: None
            }
        );
        assert_eq!(
            route(&Method::Get, "/history.json?range=7d&points=50"),
            Route::History {
                points: Some(50),
                range_s: Some(604_800)
            }
        );
        for bad in ["", "2h", "1Y", "7d "] {
            assert!(
                matches!(
                    route(&Method::Get, &format!("/history.json?range={bad}")),
                    Route::BadRequest(_)
                ),
                "{bad}"
            );
        }
        assert_eq!(
            route(&Method::Get, "/history.json?x=1&points=120#top"),
            Route::History {
                points: Some(120),
                range_s: None
            }
        );
        for bad in [
            "range=1h&range=1y",
            "points=5&points=5",
            "points",
            "range",
            "x&range",
        ] {
            assert!(
                matches!(
                    route(&Method::Get, &format!("/history.json?{bad}")),
                    Route::BadRequest(_)
                ),
                "{bad}"
            );
        }
        for bad in [
            "0",
            "",
            "-1",
            "+5",
            "1e3",
            "100001",
            "99999999999",
            "12a",
            "0000000",
            "0100001",
            "000000000000000000001",
            " 1",
        ] {
            assert!(
                matches!(
                    route(&Method::Get, &format!("/history.json?points={bad}")),
                    Route::BadRequest(_)
                ),
                "{bad}"
            );
        }
        // Leading zeros: a plain decimal, up to 20 digits (21 above).
        for (good, n) in [
            ("0000001", 1),
            ("00000000000000000001", 1),
            ("000100000", 100_000),
            ("01500", 1500),
        ] {
            assert_eq!(
                route(&Method::Get, &format!("/history.json?points={good}")),
                Route::History {
                    points: Some(n),
                    range_s: None
                },
                "{good}"
            );
        }
        assert_eq!(
            route(&Method::Post, "/history.json?points=1"),
            Route::MethodNotAllowed
        );
    }

    /// RFC 9112 §3.2.2: a server MUST accept the absolute-form, and its
    /// authority stands in for the Host header (§7.2). It went to routing
    /// as it was: `GET http://127.0.0.1:8080/metrics` got 404.
    #[test]
    fn absolute_form_targets_are_routed_by_their_path() {
        let cases = [
            ("/metrics", None, "/metrics", ""),
            (
                "/history.json?points=5#x",
                None,
                "/history.json",
                "points=5",
            ),
            (
                "http://127.0.0.1:8080/metrics",
                Some("127.0.0.1:8080"),
                "/metrics",
                "",
            ),
            (
                "HTTP://localhost/data.json?a=1",
                Some("localhost"),
                "/data.json",
                "a=1",
            ),
            ("hTtPs://[::1]:80/", Some("[::1]:80"), "/", ""),
            ("http://127.0.0.1:8080", Some("127.0.0.1:8080"), "/", ""),
            ("http://h?points=2", Some("h"), "/", "points=2"),
            ("http://h#frag", Some("h"), "/", ""),
            ("http:///metrics", Some(""), "/metrics", ""),
            (
                "http://evil.example/metrics",
                Some("evil.example"),
                "/metrics",
                "",
            ),
            ("http://user@h/x", Some("user@h"), "/x", ""),
            // not the absolute-form of http or https: routed as it is
            ("ftp://h/metrics", None, "ftp://h/metrics", ""),
            ("http:/h/metrics", None, "http:/h/metrics", ""),
            ("/http://h/metrics", None, "/http://h/metrics", ""),
            ("http", None, "http", ""),
        ];
        for (url, authority, path, query) in cases {
            assert_eq!(
                Target::parse(url),
                Target {
                    authority,
                    path,
                    query
                },
                "{url}"
            );
        }
        assert_eq!(
            route(&Method::Get, "http://127.0.0.1:8080/metrics"),
            Route::Metrics
        );
        assert_eq!(route(&Method::Get, "https://localhost"), Route::Index);
        assert_eq!(
            route(&Method::Get, "http://h/history.json?range=1d"),
            Route::History {
                points: None,
                range_s: Some(86_400)
            }
        );
        assert_eq!(
            route(&Method::Post, "http://h/metrics"),
            Route::MethodNotAllowed
        );
        assert_eq!(route(&Method::Get, "ftp://h/metrics"), Route::NotFound);
        // The authority is the host, whatever the header says.
        let absolute = Target::parse("http://evil.example/metrics");
        assert_eq!(absolute.host(Some("localhost")), Some("evil.example"));
        let origin = Target::parse("/metrics");
        assert_eq!(origin.host(Some("localhost")), Some("localhost"));
        assert_eq!(origin.host(None), None);
    }

    /// The head checks of the patched tiny_http (`tiny_http::check_head`,
    /// run by the server's reactor before the loop sees a request):
    /// GET and HEAD carry no body, and framing is never ambiguous (issue 11).
    #[test]
    fn request_heads_that_declare_a_body_or_frame_ambiguously_are_refused() {
        use tiny_http::HeadRefusal::*;
        let cases: &[(&[&str], Result<(), tiny_http::HeadRefusal>)] = &[
            (&[], Ok(())),
            (&["Host: localhost", "Accept: */*"], Ok(())),
            (&["Content-Length: 0"], Ok(())),
            (&["content-length:  000 "], Ok(())),
            (&["Connection: close", "X-Expect: 1"], Ok(())),
            // A body, declared any way: 413.
            (&["Content-Length: 1"], Err(Body)),
            (&["Content-Length: 1000000000000000"], Err(Body)),
            (&["Content-Length: 18446744073709551615"], Err(Body)),
            (&["Transfer-Encoding: chunked"], Err(Body)),
            (&["Transfer-Encoding: gzip, chunked"], Err(Body)),
            (&["TRANSFER-ENCODING: identity"], Err(Body)),
            (&["Content-Length: 4000", "Expect: 100-continue"], Err(Body)),
            // Expect without a body: 417.
            (&["Expect: 100-continue"], Err(Expect)),
            (&["Expect: something-else"], Err(Expect)),
            // Framing two parsers could read two ways: 400.
            (
                &["Content-Length: 5", "Transfer-Encoding: chunked"],
                Err(LengthAndTransferEncoding),
            ),
            (
                &["Transfer-Encoding: chunked", "Content-Length: 0"],
                Err(LengthAndTransferEncoding),
            ),
            // Transfer-Encoding is a list across every line (RFC 9112
            // §6.1): a second line counts as much as the first.
            (
                &["Transfer-Encoding: chunked", "Transfer-Encoding: gzip"],
                Err(Body),
            ),
            (
                &["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"],
                Err(Body),
            ),
            (&["Transfer-Encoding:", "X-A: a"], Err(Body)),
            (
                &["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
                Err(Body),
            ),
            (
                &[
                    "Transfer-Encoding: chunked",
                    "Content-Length: 5",
                    "transfer-encoding: chunked",
                ],
                Err(LengthAndTransferEncoding),
            ),
            (
                &["Content-Length: 0", "X-A: a", "Transfer-Encoding: identity"],
                Err(LengthAndTransferEncoding),
            ),
            (
                &["Content-Length: 0", "Transfer-Encoding:"],
                Err(LengthAndTransferEncoding),
            ),
            (
                &["Content-Length: 0", "Content-Length: 0"],
                Err(DuplicateContentLength),
            ),
            (
                &["Content-Length: 5", "Content-Length: 6"],
                Err(DuplicateContentLength),
            ),
            (&["Content-Length: -1"], Err(InvalidContentLength)),
            (&["Content-Length: +5"], Err(InvalidContentLength)),
            (&["Content-Length: 5, 5"], Err(InvalidContentLength)),
            (&["Content-Length: 0x10"], Err(InvalidContentLength)),
            (&["Content-Length: 1 0"], Err(InvalidContentLength)),
            (&["Content-Length:"], Err(InvalidContentLength)),
            (
                &["Content-Length: 18446744073709551616"],
                Err(InvalidContentLength),
            ),
            (
                &["Content-Length: 99999999999999999999999999"],
                Err(InvalidContentLength),
            ),
            (
                &["Host: localhost", "Host: evil.example"],
                Err(DuplicateHost),
            ),
            (&["HOST: a", "host: a"], Err(DuplicateHost)),
            // Two Authorization lines: the first was checked, a proxy may
            // go by the last (tiny_http +sysmon.18).
            (&["Authorization: Basic YTpi"], Ok(())),
            (
                &["Authorization: Basic YTpi", "authorization: Basic YTpj"],
                Err(DuplicateAuthorization),
            ),
            (
                &["Authorization: Basic YTpi", "Authorization: Basic YTpi"],
                Err(DuplicateAuthorization),
            ),
            (
                &["Host: a", "Host: b", "Authorization: x", "Authorization: y"],
                Err(DuplicateHost),
            ),
            // A bare LF is a line end to some proxies: a header they see and
            // this server would not.
            (
                &["Host: localhost\nContent-Length: 5"],
                Err(ControlCharacter),
            ),
            (&["X-A: a\rb"], Err(ControlCharacter)),
            (&["X-A: a\0b"], Err(ControlCharacter)),
            (&["X-\0: a"], Err(ControlCharacter)),
            // Any control byte but HTAB (RFC 9110 §5.5): a vertical tab,
            // form feed, ESC or DEL was taken until tiny_http +sysmon.16.
            (&["X-A: a\tb"], Ok(())),
            (&["Host: local\x0bhost"], Err(ControlCharacter)),
            (&["X-A: a\x0cb"], Err(ControlCharacter)),
            (&["X-A: a\x01b"], Err(ControlCharacter)),
            (&["X-A: a\x08b"], Err(ControlCharacter)),
            (&["X-A: a\x1bb"], Err(ControlCharacter)),
            (&["X-A: a\x1fb"], Err(ControlCharacter)),
            (&["X-A: a\x7fb"], Err(ControlCharacter)),
            (&["Content-Length: 0\x0b0"], Err(ControlCharacter)),
            // Framing is judged before the body: a smuggling attempt is 400.
            (
                &["Host: a", "Host: b", "Content-Length: 5"],
                Err(DuplicateHost),
            ),
        ];
        for (lines, expected) in cases {
            let headers: Vec<tiny_http::Header> = lines
                .iter()
                .map(|l| l.parse().unwrap_or_else(|()| panic!("{l:?} parses")))
                .collect();
            let pairs = headers
                .iter()
                .map(|h| (h.field.as_str().as_str(), h.value.as_str()));
            assert_eq!(tiny_http::check_head(pairs), *expected, "{lines:?}");
        }
        assert_eq!(Body.status(), 413);
        assert_eq!(Expect.status(), 417);
        for framing in [
            ControlCharacter,
            DuplicateHost,
            MissingHost,
            DuplicateAuthorization,
            LengthAndTransferEncoding,
            DuplicateContentLength,
            InvalidContentLength,
        ] {
            assert_eq!(framing.status(), 400);
        }
    }
}
