//! # Simple usage
//!
//! ## Creating the server
//!
//! The easiest way to create a server is to call `Server::http()`.
//!
//! The `http()` function returns an `IoResult<Server>` which will return an error
//! in the case where the server creation fails (for example if the listening port is already
//! occupied).
//!
//! ```no_run
//! let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! ```
//!
//! A newly-created `Server` will immediately start listening for incoming connections and HTTP
//! requests.
//!
//! ## Receiving requests
//!
//! Calling `server.recv()` will block until the next request is available.
//! This function returns an `IoResult<Request>`, so you need to handle the possible errors.
//!
//! ```no_run
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//!
//! loop {
//!     // blocks until the next request is received
//!     let request = match server.recv() {
//!         Ok(rq) => rq,
//!         Err(e) => { println!("error: {}", e); break }
//!     };
//!
//!     // do something with the request
//!     // ...
//! }
//! ```
//!
//! In a real-case scenario, you will probably want to spawn multiple worker tasks and call
//! `server.recv()` on all of them. Like this:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::thread;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! let server = Arc::new(server);
//! let mut guards = Vec::with_capacity(4);
//!
//! for _ in (0 .. 4) {
//!     let server = server.clone();
//!
//!     let guard = thread::spawn(move || {
//!         loop {
//!             let rq = server.recv().unwrap();
//!
//!             // ...
//!         }
//!     });
//!
//!     guards.push(guard);
//! }
//! ```
//!
//! If you don't want to block, you can call `server.try_recv()` instead.
//!
//! ## Handling requests
//!
//! The `Request` object returned by `server.recv()` contains informations about the client's request.
//! The most useful methods are probably `request.method()` and `request.url()` which return
//! the requested method (`GET`, `POST`, etc.) and url.
//!
//! To handle a request, you need to create a `Response` object. See the docs of this object for
//! more infos. Here is an example of creating a `Response` from a file:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! ```
//!
//! All that remains to do is call `request.respond()`:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! # let request = server.recv().unwrap();
//! # let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! let _ = request.respond(response);
//! ```
// [patch] was `forbid`: `sys.rs` alone opts back in, for epoll and eventfd
#![deny(unsafe_code)]
#![deny(rust_2018_idioms)]
#![allow(clippy::match_like_matches_macro)]

use std::error::Error;
use std::io::Error as IoError;
use std::io::ErrorKind as IoErrorKind;
use std::io::Result as IoResult;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reactor::{Inbox, Reactor};

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
// [patch] the checks every request head passes (see `head.rs`)
pub use head::{check_head, HeadRefusal};

/// [patch] Every status the server refuses a head with before a `Request`
/// exists (+sysmon.27): a malformed head (400), a body declared (413), a
/// request line or head too long (414, 431), `Expect` (417), another HTTP
/// version (505). [`Server::refused_heads`] counts them in this order.
pub const REFUSED_HEAD_STATUSES: [u16; 6] = [400, 413, 414, 417, 431, 505];
// [patch] answers printed from borrowed lines (see `borrowed.rs`)
pub use borrowed::BorrowedResponse;
pub use request::Request;
pub use response::{Response, ResponseBox};

mod borrowed;
mod client;
mod common;
mod connection;
mod head;
mod head_text;
mod reactor;
mod request;
mod response;
mod sys;
mod util;

/// The main class of this library.
///
/// Destroying this object will immediately close the listening socket and the reading
///  part of all the client's connections. Requests that have already been returned by
///  the `recv()` function will not close and the responses will be transferred to the client.
///
/// [patch] Every listener and connection is served by one epoll reactor
/// (`reactor.rs`, PATCHES.md) that runs in the thread calling `recv`,
/// `recv_timeout` or `try_recv`: the server starts no thread. Dropping the
/// server closes every listener and connection. An answer to a request
/// returned before the drop gets what the socket takes at once.
pub struct Server {
    // [patch] the counters and the limits, readable while a thread waits
    // in the reactor
    shared: Arc<Shared>,

    // [patch] ends the reactor's wait (`Waker`, `unblock`)
    inbox: Arc<Inbox>,

    // [patch] the listeners and connections; turned by the receiving thread
    reactor: Mutex<Reactor>,

    // result of TcpListener::local_addr(), for the first listener
    listening_addr: ListenAddr,

    // [patch] every listener's address
    listening_addrs: Vec<ListenAddr>,
}

/// [patch] Limits applied to every connection. The default is upstream's
/// behaviour: no limit at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Connections open at once; more are answered 503 and closed. 0: no cap.
    pub max_connections: usize,
    /// Bytes of a request head (request line and headers, with their line
    /// ends). Over it: 414 for the request line, 431 for the headers, and the
    /// connection is closed. 0: no limit.
    pub max_head_bytes: usize,
    /// Header lines in one request; over it: 431 and close. 0: no limit.
    pub max_headers: usize,
    /// Read and write timeout set on every accepted connection.
    pub timeout: Option<Duration>,
    /// [patch] Connections one peer address may hold at once (+sysmon.19):
    /// an IPv4 address, or an IPv6 address's /64 (one host is given a whole
    /// /64). More from it are answered 503 and closed as over
    /// `max_connections`, so one peer cannot take every slot. 0: no bound.
    /// Unix socket peers have no address and are not bounded.
    pub max_connections_per_address: usize,
    /// [patch] Loopback peers (127.0.0.0/8, ::1) are not held to
    /// `max_connections_per_address` (a reverse proxy on the same host
    /// connects from there for every user).
    pub loopback_exempt: bool,
    /// [patch] Bytes of answers the server holds, in all, for clients
    /// that have not read them yet: what the socket did not take at once
    /// (+sysmon.25). An answer whose rest would take the total over it is
    /// cut short and its connection closed, unless nothing else is held
    /// (one answer always fits, however large). 0: no bound.
    pub max_held_bytes: usize,
}

pub(crate) struct Shared {
    // connections being served now
    connections: AtomicUsize,
    // connections refused for the cap, or the per-address bound
    rejected: AtomicU64,
    // [patch] of those, refused for the per-address bound (+sysmon.19)
    rejected_per_address: AtomicU64,
    // [patch] the peer last refused for the per-address bound; written
    // only at such a refusal
    last_refused_address: Mutex<Option<IpAddr>>,
    // [patch] heads refused, by status as `REFUSED_HEAD_STATUSES` lists
    // them (+sysmon.27)
    refused_heads: [AtomicU64; REFUSED_HEAD_STATUSES.len()],
    // accept() errors that did not stop the server accepting, and
    // accepted connections the server could not watch (+sysmon.13)
    accept_errors: AtomicU64,
    // [patch] Bytes of answers held for clients that have not read them
    // (+sysmon.25): every open connection's `out` and the rest of every
    // answer on its way to the reactor, counted from the copy to the free
    // (`Shared::hold`, `Shared::release`).
    held_bytes: AtomicUsize,
    // [patch] answers cut short for `max_held_bytes`, and the peer of the
    // last (+sysmon.25)
    answers_cut: AtomicU64,
    last_cut_address: Mutex<Option<IpAddr>>,
    limits: Limits,
}

impl Shared {
    pub(crate) fn new(limits: Limits) -> Shared {
        Shared {
            connections: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
            rejected_per_address: AtomicU64::new(0),
            last_refused_address: Mutex::new(None),
            refused_heads: Default::default(),
            accept_errors: AtomicU64::new(0),
            held_bytes: AtomicUsize::new(0),
            answers_cut: AtomicU64::new(0),
            last_cut_address: Mutex::new(None),
            limits,
        }
    }

    /// [patch] Counts a head refused with `answer` (+sysmon.27), by the
    /// status its status line names (`HTTP/1.1 DDD `, as every refusal of
    /// `client::parse_head` is printed); one of another status, which
    /// none is, would be counted as 400.
    pub(crate) fn count_refused_head(&self, answer: &[u8]) {
        let status = answer
            .get(9..12)
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| digits.parse::<u16>().ok());
        let at = REFUSED_HEAD_STATUSES
            .iter()
            .position(|&s| Some(s) == status)
            .unwrap_or(0);
        self.refused_heads[at].fetch_add(1, Relaxed);
    }

    /// [patch] Counts `bytes` of an answer's rest as held, if
    /// `max_held_bytes` allows it: when the total stays within it, or
    /// nothing else is held (+sysmon.25). False: not counted; the answer
    /// is to be cut short. An answer sent whole (no rest: the usual case)
    /// is never cut, whatever is held.
    pub(crate) fn hold(&self, bytes: usize) -> bool {
        if bytes == 0 {
            return true;
        }
        let before = self.held_bytes.fetch_add(bytes, Relaxed);
        let max = self.limits.max_held_bytes;
        if max == 0 || before == 0 || before + bytes <= max {
            return true;
        }
        self.held_bytes.fetch_sub(bytes, Relaxed);
        false
    }

    /// [patch] Counts `bytes` of an answer held no more (written, or
    /// dropped with its connection).
    pub(crate) fn release(&self, bytes: usize) {
        self.held_bytes.fetch_sub(bytes, Relaxed);
    }
}

/// [patch] What the reactor does after an `accept()` error. Upstream
/// ended the accept thread on any error, so the server stopped accepting
/// for good.
pub(crate) enum AfterAcceptError {
    /// A signal, a connection reset before it was accepted: accept again.
    Retry,
    /// A firewall verdict (EPERM), a protocol error (EPROTO): count it and
    /// accept again.
    Count,
    /// Out of descriptors, buffers or memory (EMFILE, ENFILE, ENOBUFS,
    /// ENOMEM): count it, stop watching that listener for a little while
    /// (5 ms doubling to 1 s) and accept again, as Go's net/http does.
    Backoff,
    /// Anything else (EBADF, EINVAL: the socket is gone): report and stop
    /// watching that listener.
    Fatal,
}

impl AfterAcceptError {
    pub(crate) fn of(e: &IoError) -> AfterAcceptError {
        use std::io::ErrorKind::*;
        // errno values, the same on every Linux architecture
        const EPERM: i32 = 1;
        const ENOMEM: i32 = 12;
        const ENFILE: i32 = 23;
        const EMFILE: i32 = 24;
        const EPROTO: i32 = 71;
        const ENOBUFS: i32 = 105;
        match (e.kind(), e.raw_os_error()) {
            (TimedOut | Interrupted | ConnectionAborted | ConnectionReset, _) => {
                AfterAcceptError::Retry
            }
            (_, Some(EPERM | EPROTO)) => AfterAcceptError::Count,
            (_, Some(EMFILE | ENFILE | ENOBUFS | ENOMEM)) => AfterAcceptError::Backoff,
            _ => AfterAcceptError::Fatal,
        }
    }
}

pub(crate) enum Message {
    Error(IoError),
    NewRequest(Request),
}

impl From<IoError> for Message {
    fn from(e: IoError) -> Message {
        Message::Error(e)
    }
}

impl From<Request> for Message {
    fn from(rq: Request) -> Message {
        Message::NewRequest(rq)
    }
}

// this trait is to make sure that Server implements Share and Send
#[doc(hidden)]
#[allow(dead_code)]
trait MustBeShareDummy: Sync + Send {}
#[doc(hidden)]
impl MustBeShareDummy for Server {}

pub struct IncomingRequests<'a> {
    server: &'a Server,
}

/// Represents the parameters required to create a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The addresses to try to listen to.
    pub addr: ConfigListenAddr,
    // [patch] `ssl: Option<SslConfig>` is gone with the TLS code (PATCHES.md)
}

impl Server {
    /// Shortcut for a simple server on a specific address.
    #[inline]
    pub fn http<A>(addr: A) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
        })
    }

    #[cfg(unix)]
    #[inline]
    /// Shortcut for a UNIX socket server at a specific path
    pub fn http_unix(
        path: &std::path::Path,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::unix_from_path(path),
        })
    }

    /// Builds a new server that listens on the specified address.
    pub fn new(config: ServerConfig) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = config.addr.bind()?;
        Self::from_listener(listener)
    }

    /// Builds a new server using the specified TCP listener.
    ///
    /// This is useful if you've constructed TcpListener using some less usual method
    /// such as from systemd. For other cases, you probably want the `new()` function.
    ///
    /// [patch] Upstream's second argument, the TLS configuration, is gone.
    pub fn from_listener<L: Into<Listener>>(
        listener: L,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Self::start(vec![listener.into()], Limits::default())
    }

    /// [patch] One server accepting on several listeners (TCP and Unix, in
    /// any mix), with `limits` applied to every connection. Requests from
    /// all of them arrive through the one `recv()`/`recv_timeout()`.
    pub fn from_listeners(
        listeners: Vec<Listener>,
        limits: Limits,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        if listeners.is_empty() {
            return Err("no listener to accept on".into());
        }
        Self::start(listeners, limits)
    }

    fn start(
        listeners: Vec<Listener>,
        limits: Limits,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let mut listening_addrs = Vec::with_capacity(listeners.len());
        for listener in &listeners {
            let local_addr = listener.local_addr()?;
            log::debug!("Server listening on {}", local_addr);
            listening_addrs.push(local_addr);
        }

        let shared = Arc::new(Shared::new(limits));

        // [patch] One reactor for every listener and connection, turned by
        // whichever thread asks for a request.
        let inbox = Arc::new(Inbox::new()?);
        let reactor = Reactor::new(listeners, shared.clone(), inbox.clone())?;

        Ok(Server {
            shared,
            inbox,
            reactor: Mutex::new(reactor),
            listening_addr: listening_addrs[0].clone(),
            listening_addrs,
        })
    }

    /// Returns an iterator for all the incoming requests.
    ///
    /// The iterator will return `None` if the server socket is shutdown.
    #[inline]
    pub fn incoming_requests(&self) -> IncomingRequests<'_> {
        IncomingRequests { server: self }
    }

    /// Returns the address the server is listening to.
    #[inline]
    pub fn server_addr(&self) -> ListenAddr {
        self.listening_addr.clone()
    }

    /// Returns the number of clients currently connected to the server.
    pub fn num_connections(&self) -> usize {
        self.shared.connections.load(Relaxed)
    }

    /// [patch] The addresses of every listener, in the order given.
    pub fn server_addrs(&self) -> &[ListenAddr] {
        &self.listening_addrs
    }

    /// [patch] Connections answered 503 and closed at once because
    /// `max_connections` were open, or (since +sysmon.19) their peer's
    /// address held `max_connections_per_address`. (One the epoll could
    /// not take is an accept error since +sysmon.13.)
    pub fn rejected_connections(&self) -> u64 {
        self.shared.rejected.load(Relaxed)
    }

    /// [patch] Of [`Server::rejected_connections`], those refused for
    /// `max_connections_per_address`, and the peer last refused so
    /// (+sysmon.19).
    pub fn rejected_per_address(&self) -> (u64, Option<IpAddr>) {
        let last = *self
            .shared
            .last_refused_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        (self.shared.rejected_per_address.load(Relaxed), last)
    }

    /// [patch] Request heads refused before a `Request` was made of them,
    /// by status, in the order of [`REFUSED_HEAD_STATUSES`] (+sysmon.27).
    /// The 503s of a full server are [`Server::rejected_connections`].
    pub fn refused_heads(&self) -> [u64; REFUSED_HEAD_STATUSES.len()] {
        self.shared
            .refused_heads
            .each_ref()
            .map(|n| n.load(Relaxed))
    }

    /// [patch] Failed `accept()` calls (EMFILE and the like) that the server
    /// survived, and (since +sysmon.13) accepted connections closed
    /// because the epoll could not take them (ENOMEM, ENOSPC; answered
    /// 503 since +sysmon.21) or they could not be made non-blocking.
    pub fn accept_errors(&self) -> u64 {
        self.shared.accept_errors.load(Relaxed)
    }

    /// [patch] Bytes of answers held now for clients that have not read
    /// them (+sysmon.25; at most `max_held_bytes`, or one answer alone).
    pub fn held_answer_bytes(&self) -> usize {
        self.shared.held_bytes.load(Relaxed)
    }

    /// [patch] Answers cut short, their connections closed, because their
    /// rest would have taken the bytes held over `max_held_bytes`, and the
    /// peer of the last (None: a unix socket client) (+sysmon.25).
    pub fn answers_cut(&self) -> (u64, Option<IpAddr>) {
        let last = *self
            .shared
            .last_cut_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        (self.shared.answers_cut.load(Relaxed), last)
    }

    /// Blocks until an HTTP request has been submitted and returns it.
    /// [patch] An error, too, when `unblock` (or a [`Waker`]) ended the wait.
    pub fn recv(&self) -> IoResult<Request> {
        match self.receive(None)? {
            Some(rq) => Ok(rq),
            None => Err(IoError::new(IoErrorKind::Other, "thread unblocked")),
        }
    }

    /// Same as `recv()` but doesn't block longer than timeout
    /// [patch] (and returns `None` early when a [`Waker`] ends the wait).
    pub fn recv_timeout(&self, timeout: Duration) -> IoResult<Option<Request>> {
        self.receive(Some(timeout))
    }

    /// Same as `recv()` but doesn't block.
    /// [patch] A request read earlier, or else one that is ready now (one
    /// turn of the reactor that does not wait).
    pub fn try_recv(&self) -> IoResult<Option<Request>> {
        self.receive(Some(Duration::ZERO))
    }

    /// [patch] Turns the reactor in the calling thread until a request is
    /// ready, `timeout` (None: for ever) has passed, or a [`Waker`] ends
    /// the wait. The turns wait in `epoll_wait`, never on a client.
    fn receive(&self, timeout: Option<Duration>) -> IoResult<Option<Request>> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut reactor = self.reactor.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(message) = reactor.take_ready() {
                return match message {
                    Message::Error(err) => Err(err),
                    Message::NewRequest(rq) => Ok(Some(rq)),
                };
            }
            let left = deadline.map(|at| at.saturating_duration_since(Instant::now()));
            let woken = reactor.turn(left);
            if let Some(message) = reactor.take_ready() {
                return match message {
                    Message::Error(err) => Err(err),
                    Message::NewRequest(rq) => Ok(Some(rq)),
                };
            }
            // [patch] A wait that timed out ended at or after the deadline
            // (its milliseconds are rounded up): no second turn to find
            // that out, which was one more `epoll_wait` (and the turn's
            // bookkeeping) at every idle wake-up of the caller.
            let expired = deadline.is_some_and(|at| Instant::now() >= at);
            if woken || expired || left.is_some_and(|l| l.is_zero()) {
                return Ok(None);
            }
        }
    }

    /// [patch] A handle another thread can use to end the wait of
    /// `recv_timeout` (see [`Waker`]).
    pub fn waker(&self) -> Waker {
        Waker(self.inbox.clone())
    }

    /// Unblock thread stuck in recv() or incoming_requests().
    /// If there are several such threads, only one is unblocked.
    /// This method allows graceful shutdown of server.
    /// [patch] The same as a [`Waker`]'s `wake`: a `recv` ended so returns
    /// an error, a `recv_timeout` `None`.
    pub fn unblock(&self) {
        self.inbox.wake();
    }
}

/// [patch] Ends a wait in [`Server::recv_timeout`] from another thread (a
/// signal, a child that exited), so the waiting thread need not wake up
/// periodically to look: it writes the eventfd in the reactor's epoll. A
/// wake that comes while nobody waits ends the next wait at once; several
/// wakes before it cost one return.
#[derive(Clone)]
pub struct Waker(Arc<Inbox>);

impl Waker {
    pub fn wake(&self) {
        self.0.wake();
    }
}

impl Iterator for IncomingRequests<'_> {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        self.server.recv().ok()
    }
}

impl Drop for Server {
    /// [patch] The reactor, dropped with the server, closes every listener
    /// and connection; then unix socket files are removed, as upstream did.
    /// Requests already returned by `recv()` can still be answered: what
    /// the socket does not take at once is lost.
    fn drop(&mut self) {
        #[cfg(unix)]
        for listening_addr in &self.listening_addrs {
            if let ListenAddr::Unix(addr) = listening_addr {
                if let Some(path) = addr.as_pathname() {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}
