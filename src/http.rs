//! HTTP routes. Answers come from the daemon's last sample and job states;
//! nothing here reads /proc or any other file. There is no path from a URL
//! to the filesystem: the set of answers is a fixed table.

use std::io::Cursor;

use tiny_http::{Header, Method, Request, Response, StatusCode};

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

/// Whether a request's `Host` names this server, the defence against DNS
/// rebinding (a page on an attacker's domain that re-resolves to 127.0.0.1
/// would send its own domain as Host). Accepted: an IP literal (rebinding
/// needs a name the attacker controls), `localhost`, a configured
/// `server_name`, each with any port; and no Host at all (HTTP/1.0 tools;
/// browsers always send one).
pub fn host_allowed(host: Option<&str>, server_names: &[String]) -> bool {
    let Some(host) = host else { return true };
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        match rest.split_once(']') {
            Some((v6, port)) if port.is_empty() || port.strip_prefix(':').is_some_and(is_port) => {
                return v6.parse::<std::net::Ipv6Addr>().is_ok();
            }
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || server_names.iter().any(|s| s.eq_ignore_ascii_case(name))
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
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

fn respond(request: Request, status: u16, content_type: &str, body: &[u8], extra: &[(&str, &str)]) {
    let mut headers = vec![
        header("Content-Type", content_type),
        header("X-Content-Type-Options", "nosniff"),
        header("Referrer-Policy", "no-referrer"),
    ];
    headers.extend(extra.iter().map(|(n, v)| header(n, v)));
    let response = Response::new(
        StatusCode(status),
        headers,
        Cursor::new(body),
        Some(body.len()),
        None,
    );
    // The client may have gone away; that is its business, not an error of ours.
    let _ = request.respond(response);
}

/// Answers one request. `body_for` produces the bytes of a dynamic route
/// (`/data.json`, `/metrics`) from the daemon's state; it is called only for those.
pub fn handle<'a>(
    request: Request,
    server_names: &[String],
    body_for: impl FnOnce(Route) -> &'a [u8],
) {
    let host = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str());
    if !host_allowed(host, server_names) {
        respond(
            request,
            403,
            "text/plain; charset=utf-8",
            b"unknown Host header (see server_name)\n",
            &[],
        );
        return;
    }
    let route = route(request.method(), request.url());
    match route {
        Route::Index => respond(
            request,
            200,
            "text/html; charset=utf-8",
            INDEX_HTML,
            &[
                ("Content-Security-Policy", csp()),
                ("X-Frame-Options", "DENY"),
                ("Cache-Control", "no-cache"),
            ],
        ),
        Route::DataJson => {
            let body = body_for(route);
            respond(
                request,
                200,
                "application/json",
                body,
                &[("Cache-Control", "no-store")],
            );
        }
        Route::History { .. } => {
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
            why.as_bytes(),
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
            b"not found\n",
            &[],
        ),
        Route::MethodNotAllowed => respond(
            request,
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

    #[test]
    fn host_check_refuses_foreign_names() {
        let names = vec!["monitor.example.org".to_string()];
        for ok in [
            None,
            Some("127.0.0.1:8080"),
            Some("localhost"),
            Some("LOCALHOST:80"),
            Some("[::1]:8080"),
            Some("10.1.2.3"),
            Some("monitor.example.org:443"),
            Some("localhost."),
        ] {
            assert!(host_allowed(ok, &names), "{ok:?}");
        }
        for bad in [
            Some("evil.example.com"),
            Some("evil.example.com:8080"),
            Some("127.0.0.1.evil.com"),
            Some("[::1"),
            Some("localhost:http"),
            Some(""),
            Some("[evil]:80"),
        ] {
            assert!(!host_allowed(bad, &names), "{bad:?}");
        }
    }

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
