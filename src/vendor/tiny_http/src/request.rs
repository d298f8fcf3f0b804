use std::io::Error as IoError;
use std::io::Read;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use std::sync::Arc;

use crate::borrowed::BorrowedResponse;
use crate::client::HeadFacts;
use crate::connection::Connection;
use crate::head_text::HeadText;
use crate::reactor::{Answer, Inbox, Outcome};
use crate::response::ConnectionLine;

use crate::{HTTPVersion, Method, Response, Shared};

/// Represents an HTTP request made by a client.
///
/// A `Request` object is what is produced by the server, and is your what
/// your code must analyse and answer.
///
/// This object implements the `Send` trait, therefore you can dispatch your requests to
/// worker threads.
///
/// # Pipelining
///
/// [patch] The server's reactor reads a connection's next request only
/// once the answer to the one before is written whole, so answers go out in
/// the order of the requests and at most one request per connection is
/// waiting to be answered.
///
/// # Automatic cleanup
///
/// If a `Request` object is destroyed without `respond` or
/// `respond_detached` being called, an empty response with a 500 status code
/// (internal server error) is sent back to the client.
pub struct Request {
    remote_addr: Option<SocketAddr>,

    method: Method,

    // [patch] The target and headers, kept as the text sent
    // (`head_text.rs`; upstream: a `String` and a `Vec<Header>`). It goes
    // back to the reactor with the answer, to be reused.
    head: HeadText,

    http_version: HTTPVersion,

    // [patch] The connection's last request (`HeadFacts::last`): the
    // server closes after this answer, and the answer says so
    // (`Connection: close`, RFC 9112 §9.6; since +sysmon.9). Otherwise
    // an answer to HTTP/1.0 says `Connection: keep-alive` (+sysmon.12).
    last: bool,

    body_length: Option<usize>,

    // [patch] Where the answer goes: None once answered. Upstream held a
    // body reader and a response writer here (`upgrade`, `into_writer`);
    // requests carry no body (`crate::head`) and answers are written by the
    // reactor (PATCHES.md).
    reply: Option<Reply>,
}

/// [patch] The connection a request came from, and the way back to the I/O
/// reactor that owns it.
pub(crate) struct Reply {
    /// For the first, non-waiting send from the answering thread. The
    /// reactor neither reads nor writes the connection until it has the
    /// `Answer`, so the two never touch it at once.
    pub(crate) socket: Arc<Connection>,
    /// Which connection, for the reactor.
    pub(crate) token: u64,
    pub(crate) inbox: Arc<Inbox>,
    /// Where a rest is counted against `max_held_bytes` before it is
    /// copied (+sysmon.25).
    pub(crate) shared: Arc<Shared>,
}

/// Builds a new request.
///
/// After the request line and headers have been read from the socket, a new `Request` object
/// is built.
///
/// [patch] `headers` have passed `crate::head::check_head` (`client.rs`), so
/// the request has no body: no `Transfer-Encoding`, no `Expect`, and a
/// `Content-Length` of 0 at most. Upstream wrapped the stream here in a
/// reader of the declared body; all of that is gone (PATCHES.md).
pub(crate) fn new_request(
    facts: HeadFacts,
    head: HeadText,
    remote_addr: Option<SocketAddr>,
    reply: Reply,
) -> Request {
    // finding the content-length header (0 if there is one, see above)
    let content_length = head
        .header("Content-Length")
        .and_then(|v| FromStr::from_str(v).ok());

    Request {
        remote_addr,
        method: facts.method,
        head,
        http_version: facts.version,
        last: facts.last,
        body_length: content_length,
        reply: Some(reply),
    }
}

impl Request {
    /// Returns the method requested by the client (eg. `GET`, `POST`, etc.).
    #[inline]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Returns the resource requested by the client.
    #[inline]
    pub fn url(&self) -> &str {
        self.head.target()
    }

    /// Returns a list of all headers sent by the client.
    /// [patch] As (name, value) pairs borrowed from the head's text, in
    /// the order sent (upstream: `&[Header]`, owned strings). A line whose
    /// value is not ASCII (obs-text: a browser's UTF-8 cookie) is not
    /// among them (since +sysmon.14; `head_text.rs`).
    #[inline]
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        self.head.headers()
    }

    /// [patch] The value of the first header named `name` (in any case).
    /// `name` must be one of the headers whose non-ASCII value refuses the
    /// request (`head_text::ASCII_HEADERS`: Host, Authorization and those
    /// the server reads itself), so that `None` always means "not sent":
    /// the line of any other header with a non-ASCII value is left out
    /// (since +sysmon.14), and would read as absent. Debug builds assert
    /// it; a header to read is added to that list.
    #[inline]
    pub fn header(&self, name: &str) -> Option<&str> {
        debug_assert!(
            crate::head_text::is_ascii_header(name),
            "Request::header({:?}): not in head_text::ASCII_HEADERS",
            name
        );
        self.head.header(name)
    }

    /// Returns the HTTP version of the request.
    #[inline]
    pub fn http_version(&self) -> &HTTPVersion {
        &self.http_version
    }

    /// Returns the length of the body in bytes.
    ///
    /// Returns `None` if the length is unknown.
    #[inline]
    pub fn body_length(&self) -> Option<usize> {
        self.body_length
    }

    /// Returns the address of the client that sent this request.
    ///
    /// The address is always `Some` for TCP listeners, but always `None` for UNIX listeners
    /// (as the remote address of a UNIX client is almost always unnamed).
    ///
    /// Note that this is gathered from the socket. If you receive the request from a proxy,
    /// this function will return the address of the proxy and not the address of the actual
    /// user.
    #[inline]
    pub fn remote_addr(&self) -> Option<&SocketAddr> {
        self.remote_addr.as_ref()
    }

    /// Sends a response to this request. [patch] Like `respond_detached`
    /// with a buffer of its own: nothing here waits for the client either.
    #[inline]
    pub fn respond<R>(self, response: Response<R>) -> Result<(), IoError>
    where
        R: Read,
    {
        let mut scratch = Vec::new();
        self.respond_detached(response, &mut scratch);
        Ok(())
    }

    /// [patch] Sends a response without waiting for the client: prints it
    /// into `scratch` (a buffer the caller reuses), sends what the socket
    /// takes at once (most answers fit whole) and hands the rest to the
    /// server's reactor, which writes it as the client reads and reads
    /// the connection's next request only once that is written, so nothing
    /// can come between. A client gone away is nobody's error: the
    /// reactor closes the connection.
    pub fn respond_detached<R: Read>(mut self, response: Response<R>, scratch: &mut Vec<u8>) {
        let Some(reply) = self.reply.take() else {
            return;
        };
        scratch.clear();
        let printed = response.print_to(
            &mut *scratch,
            self.http_version.clone(),
            self.head.header("TE"),
            self.method == Method::Head,
            None,
            ConnectionLine::of(&self.http_version, self.last),
        );
        let head = std::mem::take(&mut self.head);
        reply.send(printed.map(|()| &scratch[..]), head);
    }

    /// [patch] Sends an answer whose header lines and body the caller
    /// holds (the daemon's rendered /metrics, /data.json or
    /// /history.json, constants for the rest): the head is printed
    /// straight into `scratch` (`borrowed.rs`: no `Header`, no
    /// `format!`), head and body go out in one `writev`, and only what the
    /// socket does not take at once is copied, for the reactor. Nothing is
    /// allocated once `scratch` has grown to a head's size, unless a
    /// client's `TE` asks for chunks: that answer is made a `Response` and
    /// printed whole, as `respond_detached` does.
    pub fn respond_borrowed(mut self, response: BorrowedResponse<'_>, scratch: &mut Vec<u8>) {
        if !response.framed_by_length(&self.http_version, self.head.header("TE")) {
            return self.respond_detached(response.to_response(), scratch);
        }
        let Some(reply) = self.reply.take() else {
            return;
        };
        scratch.clear();
        response.print_head(
            scratch,
            &self.http_version,
            crate::response::unix_now_s(),
            ConnectionLine::of(&self.http_version, self.last),
        );
        let body = if response.sends_body(self.method == Method::Head) {
            response.body
        } else {
            &[]
        };
        let head = std::mem::take(&mut self.head);
        reply.send_pair(scratch, body, head);
    }
}

impl Reply {
    /// [patch] Like [`Reply::send`] for a head printed in a buffer and a
    /// body borrowed from the caller: one `writev` of the two, and only what
    /// the socket did not take is copied for the reactor (if the bytes held
    /// allow it: `Shared::hold`).
    fn send_pair(self, head: &[u8], body: &[u8], request_head: HeadText) {
        let sent = self.socket.send_pair_without_waiting(head, body);
        let outcome = match sent {
            Ok(sent) if self.shared.hold(head.len() + body.len() - sent) => {
                let mut rest = Vec::new();
                if sent < head.len() {
                    rest.reserve_exact(head.len() - sent + body.len());
                    rest.extend_from_slice(&head[sent..]);
                    rest.extend_from_slice(body);
                } else {
                    rest.extend_from_slice(&body[sent - head.len()..]);
                }
                Outcome::Rest(rest)
            }
            Ok(_) => Outcome::Cut,
            Err(_) => Outcome::Gone,
        };
        self.inbox.send(Answer {
            token: self.token,
            outcome,
            head: request_head,
        });
    }

    /// Sends what the socket takes of `printed` and hands the rest (or the
    /// news that the client is gone, or that the rest is over the bytes
    /// held: `Shared::hold`) to the reactor, with the request's head for
    /// reuse.
    fn send(self, printed: std::io::Result<&[u8]>, request_head: HeadText) {
        let outcome = match printed.and_then(|bytes| {
            self.socket
                .send_without_waiting(bytes)
                .map(|sent| &bytes[sent..])
        }) {
            Ok(rest) if self.shared.hold(rest.len()) => Outcome::Rest(rest.to_vec()),
            Ok(_) => Outcome::Cut,
            Err(_) => Outcome::Gone,
        };
        self.inbox.send(Answer {
            token: self.token,
            outcome,
            head: request_head,
        });
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> Result<(), fmt::Error> {
        write!(
            formatter,
            "Request({} {} from {:?})",
            self.method,
            self.url(),
            self.remote_addr
        )
    }
}

impl Drop for Request {
    /// [patch] A request dropped unanswered gets its 500 the same way as
    /// any answer: nothing here reads from or waits for the client.
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            let mut printed = Vec::new();
            let result = Response::empty(500).print_to(
                &mut printed,
                self.http_version.clone(),
                self.head.header("TE"),
                self.method == Method::Head,
                None,
                ConnectionLine::of(&self.http_version, self.last),
            );
            let head = std::mem::take(&mut self.head);
            reply.send(result.map(|()| &printed[..]), head);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Request;

    #[test]
    fn must_be_send() {
        #![allow(dead_code)]
        fn f<T: Send>(_: &T) {}
        fn bar(rq: &Request) {
            f(rq);
        }
    }
}
