//! HTTP routes. Answers come from the daemon's last sample and job states;
//! nothing here reads /proc or any other file. There is no path from a URL
//! to the filesystem: the set of answers is a fixed table.

use std::io::{Cursor, Read};
use std::sync::Arc;

use tiny_http::{Header, Method, Request, Response, StatusCode};

use crate::access::{AccessPolicy, Refusal};

/// The dashboard, compiled into the binary.
pub const INDEX_HTML: &[u8] = include_bytes!("index.html");

/// The page's policy, computed once from the embedded page (see [`crate::csp`]).
fn csp() -> &'static str {
    static CSP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSP.get_or_init(|| crate::csp::policy_for(INDEX_HTML))
}

/// Does the one-off work (hashing the page) before the first request.
pub fn warm_up() {
    let _ = csp();
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Index,
    DataJson,
    Metrics,
    /// `/history.json`, optionally `?points=N` (1 to [`crate::history::MAX_POINTS`]).
    History {
        points: Option<u32>,
    },
    /// A known path with a query it cannot take.
    BadRequest(&'static str),
    NotFound,
    MethodNotAllowed,
}

/// Maps a method and request target to a route. The query string is
/// ignored except by `/history.json`.
pub fn route(method: &Method, url: &str) -> Route {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let query = url[path.len()..]
        .strip_prefix('?')
        .map_or("", |q| q.split('#').next().unwrap_or(q));
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

/// `points=N` (other parameters are ignored, as on every route).
fn history_route(query: &str) -> Route {
    let mut points = None;
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("points=") {
            let valid =
                !value.is_empty() && value.len() <= 6 && value.bytes().all(|b| b.is_ascii_digit());
            match value.parse::<u32>() {
                Ok(n) if valid && n >= 1 && n as usize <= crate::history::MAX_POINTS => {
                    points = Some(n);
                }
                _ => return Route::BadRequest("points must be a whole number from 1 to 100000\n"),
            }
        }
    }
    Route::History { points }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid ASCII")
}

/// A response body. The connection's own thread writes it (as slowly as the
/// client reads, see `Request::respond_detached` in the patched tiny_http),
/// after the loop has moved on, so it must own its bytes or share them.
pub enum Body {
    Static(&'static [u8]),
    /// The cached /data.json: one copy for every client.
    Shared(Arc<[u8]>),
    /// A copy of a buffer the loop reuses (/metrics, /history.json).
    Owned(Vec<u8>),
}

impl From<&[u8]> for Body {
    fn from(bytes: &[u8]) -> Body {
        Body::Owned(bytes.to_vec())
    }
}

impl Body {
    fn len(&self) -> usize {
        match self {
            Body::Static(b) => b.len(),
            Body::Shared(b) => b.len(),
            Body::Owned(b) => b.len(),
        }
    }

    fn into_reader(self) -> Box<dyn Read + Send> {
        match self {
            Body::Static(b) => Box::new(Cursor::new(b)),
            Body::Shared(b) => Box::new(Cursor::new(b)),
            Body::Owned(b) => Box::new(Cursor::new(b)),
        }
    }
}

fn respond(request: Request, status: u16, content_type: &str, body: Body, extra: &[(&str, &str)]) {
    let mut headers = vec![
        header("Content-Type", content_type),
        header("X-Content-Type-Options", "nosniff"),
        header("Referrer-Policy", "no-referrer"),
    ];
    headers.extend(extra.iter().map(|(n, v)| header(n, v)));
    let length = body.len();
    let response = Response::new(
        StatusCode(status),
        headers,
        body.into_reader(),
        Some(length),
        None,
    );
    // Written by the connection's thread; a client gone away is its business.
    request.respond_detached(response);
}

/// Answers one request. `body_for` produces the bytes of a dynamic route
/// (`/data.json`, `/metrics`) from the daemon's state; it is called only for those.
pub fn handle(request: Request, access: &AccessPolicy, body_for: impl FnOnce(Route) -> Body) {
    fn header<'r>(request: &'r Request, name: &'static str) -> Option<&'r str> {
        request
            .headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str())
    }
    let peer = request.remote_addr().map(|a| a.ip());
    match access.check(
        peer,
        header(&request, "Host"),
        header(&request, "Authorization"),
    ) {
        Ok(()) => {}
        Err(Refusal::Forbidden(why)) => {
            return respond(
                request,
                403,
                "text/plain; charset=utf-8",
                Body::Static(why.as_bytes()),
                &[],
            );
        }
        Err(Refusal::Unauthorized) => {
            let challenge = [(
                "WWW-Authenticate",
                "Basic realm=\"sysmon\", charset=\"UTF-8\"",
            )];
            return respond(
                request,
                401,
                "text/plain; charset=utf-8",
                Body::Static(b"authentication required\n"),
                &challenge,
            );
        }
    }
    let route = route(request.method(), request.url());
    match route {
        Route::Index => respond(
            request,
            200,
            "text/html; charset=utf-8",
            Body::Static(INDEX_HTML),
            &[
                ("Content-Security-Policy", csp()),
                ("X-Frame-Options", "DENY"),
                ("Cache-Control", "no-cache"),
            ],
        ),
        Route::DataJson | Route::History { .. } => {
            let body = body_for(route);
            respond(
                request,
                200,
                "application/json",
                body,
                &[("Cache-Control", "no-store")],
            );
        }
        Route::BadRequest(why) => respond(
            request,
            400,
            "text/plain; charset=utf-8",
            Body::Static(why.as_bytes()),
            &[],
        ),
        Route::Metrics => {
            let body = body_for(route);
            respond(
                request,
                200,
                crate::metrics::CONTENT_TYPE,
                body,
                &[("Cache-Control", "no-store")],
            );
        }
        Route::NotFound => respond(
            request,
            404,
            "text/plain; charset=utf-8",
            Body::Static(b"not found\n"),
            &[],
        ),
        Route::MethodNotAllowed => respond(
            request,
            405,
            "text/plain; charset=utf-8",
            Body::Static(b"method not allowed\n"),
            &[("Allow", "GET, HEAD")],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route(&Method::Get, "/"), Route::Index);
        assert_eq!(route(&Method::Head, "/data.json?x=1"), Route::DataJson);
        assert_eq!(route(&Method::Post, "/data.json"), Route::MethodNotAllowed);
        assert_eq!(route(&Method::Get, "/../../etc/passwd"), Route::NotFound);
        assert_eq!(route(&Method::Get, "/%2e%2e/etc/passwd"), Route::NotFound);
        assert_eq!(route(&Method::Delete, "/nope"), Route::NotFound);
        assert_eq!(
            route(&Method::Get, "/history.json"),
            Route::History { points: None }
        );
        assert_eq!(
            route(&Method::Get, "/history.json?x=1&points=120#top"),
            Route::History { points: Some(120) }
        );
        for bad in ["0", "", "-1", "+5", "1e3", "100001", "99999999999", "12a"] {
            assert!(
                matches!(
                    route(&Method::Get, &format!("/history.json?points={bad}")),
                    Route::BadRequest(_)
                ),
                "{bad}"
            );
        }
        assert_eq!(
            route(&Method::Post, "/history.json?points=1"),
            Route::MethodNotAllowed
        );
    }
}
