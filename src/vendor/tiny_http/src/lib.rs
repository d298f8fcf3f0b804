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
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![allow(clippy::match_like_matches_macro)]

use std::error::Error;
use std::io::Error as IoError;
use std::io::ErrorKind as IoErrorKind;
use std::io::Result as IoResult;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use client::ClientConnection;
use connection::Connection;
use util::MessagesQueue;

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
// [patch] the checks every request head passes (see `head.rs`)
pub use head::{check_head, HeadRefusal};
pub use request::{ReadWrite, Request};
pub use response::{Response, ResponseBox};

mod client;
mod common;
mod connection;
mod head;
mod request;
mod response;
mod util;

/// The main class of this library.
///
/// Destroying this object will immediately close the listening socket and the reading
///  part of all the client's connections. Requests that have already been returned by
///  the `recv()` function will not close and the responses will be transferred to the client.
pub struct Server {
    // what the server and its accept threads share: the close flag, the
    // counters, the limits and the worker pool
    shared: Arc<Shared>,

    // queue for messages received by child threads
    messages: Arc<MessagesQueue<Message>>,

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
}

struct Shared {
    // should be false as long as the server exists
    // when set to true, all the subtasks will close within a few hundreds ms
    close: AtomicBool,
    // connections being served now
    connections: AtomicUsize,
    // connections refused for the cap or for want of a thread
    rejected: AtomicU64,
    // accept() errors that did not end the accept thread
    accept_errors: AtomicU64,
    limits: Limits,
    tasks_pool: util::TaskPool,
}

/// [patch] Decrements the connection count when the connection's task ends.
struct ConnectionSlot(Arc<Shared>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Relaxed);
    }
}

/// [patch] What an accept thread does after an `accept()` error. Upstream
/// ended the thread on any error, so the server stopped accepting for good.
enum AfterAcceptError {
    /// A timeout set on the listening socket, a signal, a connection reset
    /// before it was accepted: accept again.
    Retry,
    /// A firewall verdict (EPERM), a protocol error (EPROTO): count it and
    /// accept again.
    Count,
    /// Out of descriptors, buffers or memory (EMFILE, ENFILE, ENOBUFS,
    /// ENOMEM): count it, wait a little (5 ms doubling to 1 s) and accept
    /// again, as Go's net/http does.
    Backoff,
    /// Anything else (EBADF, EINVAL: the socket is gone): report and end.
    Fatal,
}

impl AfterAcceptError {
    fn of(e: &IoError) -> AfterAcceptError {
        use std::io::ErrorKind::*;
        // errno values, the same on every Linux architecture
        const EPERM: i32 = 1;
        const ENOMEM: i32 = 12;
        const ENFILE: i32 = 23;
        const EMFILE: i32 = 24;
        const EPROTO: i32 = 71;
        const ENOBUFS: i32 = 105;
        match (e.kind(), e.raw_os_error()) {
            (WouldBlock | TimedOut | Interrupted | ConnectionAborted | ConnectionReset, _) => {
                AfterAcceptError::Retry
            }
            (_, Some(EPERM | EPROTO)) => AfterAcceptError::Count,
            (_, Some(EMFILE | ENFILE | ENOBUFS | ENOMEM)) => AfterAcceptError::Backoff,
            _ => AfterAcceptError::Fatal,
        }
    }
}

/// The response to a connection over `max_connections`.
const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n";

fn accept_loop(server: Listener, shared: &Arc<Shared>, messages: &Arc<MessagesQueue<Message>>) {
    log::debug!("Running accept thread");
    let mut backoff = Duration::from_millis(5);
    while !shared.close.load(Relaxed) {
        let mut sock = match server.accept() {
            Ok((sock, _)) => sock,
            Err(e) => match AfterAcceptError::of(&e) {
                _ if shared.close.load(Relaxed) => break,
                AfterAcceptError::Retry => continue,
                AfterAcceptError::Count => {
                    shared.accept_errors.fetch_add(1, Relaxed);
                    continue;
                }
                AfterAcceptError::Backoff => {
                    shared.accept_errors.fetch_add(1, Relaxed);
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
                AfterAcceptError::Fatal => {
                    log::error!("Error accepting new client: {}", e);
                    messages.push(e.into());
                    break;
                }
            },
        };
        backoff = Duration::from_millis(5);
        if shared.close.load(Relaxed) {
            break;
        }

        let limits = shared.limits;
        if limits.max_connections != 0 && shared.connections.load(Relaxed) >= limits.max_connections
        {
            shared.rejected.fetch_add(1, Relaxed);
            // Read what the client has sent already (without waiting): closing
            // with unread data sends a reset, which can destroy the answer
            // before the client reads it.
            let _ = sock.set_nonblocking(true);
            let mut sink = [0u8; 2048];
            for _ in 0..16 {
                match std::io::Read::read(&mut sock, &mut sink) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
            // A fresh socket's send buffer takes this without blocking.
            let _ = std::io::Write::write_all(&mut sock, BUSY_RESPONSE);
            let _ = sock.shutdown(Shutdown::Write);
            continue;
        }
        if limits.timeout.is_some() && sock.set_timeouts(limits.timeout).is_err() {
            continue;
        }

        // [patch] the two halves share the one descriptor: no dup() to fail
        let (read_closable, write_closable) = util::RefinedTcpStream::new(sock);

        let client = ClientConnection::new(write_closable, read_closable, limits);
        shared.connections.fetch_add(1, Relaxed);
        let slot = ConnectionSlot(shared.clone());
        let messages = messages.clone();
        let mut client = Some((client, slot));
        let spawned = shared.tasks_pool.spawn(Box::new(move || {
            if let Some((client, _slot)) = client.take() {
                // [patch] One request at a time: pass it on, then write its
                // response here, so a client that reads slowly (or not at
                // all) holds this thread, not the server's.
                for rq in client {
                    let (sender, receiver) = mpsc::channel();
                    messages.push(rq.with_write_back(sender).into());
                    // Err: answered in the server's thread instead
                    // (`respond`, `into_writer`); go on with the next.
                    if let Ok(detached) = receiver.recv() {
                        detached.write();
                    }
                }
            }
        }));
        if !spawned {
            // no thread could be started (RLIMIT_NPROC, TasksMax): the
            // connection was dropped with the task
            shared.rejected.fetch_add(1, Relaxed);
        }
    }
    log::debug!("Terminating accept thread");
}

enum Message {
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

        let shared = Arc::new(Shared {
            close: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
            limits,
            // a tasks pool is used to dispatch the connections into threads;
            // one pool for all the listeners
            tasks_pool: util::TaskPool::new(),
        });

        // creating a task where server.accept() is continuously called
        // and ClientConnection objects are pushed in the messages queue
        let messages = MessagesQueue::with_capacity(8);

        for listener in listeners {
            let shared = shared.clone();
            let messages = messages.clone();
            thread::Builder::new()
                .name("http-accept".into())
                .spawn(move || accept_loop(listener, &shared, &messages))?;
        }

        // result
        Ok(Server {
            messages,
            shared,
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

    /// [patch] Connections closed at once because `max_connections` were
    /// open, or because no thread could be started for them.
    pub fn rejected_connections(&self) -> u64 {
        self.shared.rejected.load(Relaxed)
    }

    /// [patch] Failed `accept()` calls (EMFILE and the like) that the accept
    /// threads survived.
    pub fn accept_errors(&self) -> u64 {
        self.shared.accept_errors.load(Relaxed)
    }

    /// Blocks until an HTTP request has been submitted and returns it.
    pub fn recv(&self) -> IoResult<Request> {
        match self.messages.pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(rq),
            None => Err(IoError::new(IoErrorKind::Other, "thread unblocked")),
        }
    }

    /// Same as `recv()` but doesn't block longer than timeout
    pub fn recv_timeout(&self, timeout: Duration) -> IoResult<Option<Request>> {
        match self.messages.pop_timeout(timeout) {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// Same as `recv()` but doesn't block.
    pub fn try_recv(&self) -> IoResult<Option<Request>> {
        match self.messages.try_pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// [patch] A handle another thread can use to end the wait of
    /// `recv_timeout` (see [`Waker`]).
    pub fn waker(&self) -> Waker {
        Waker(self.messages.clone())
    }

    /// Unblock thread stuck in recv() or incoming_requests().
    /// If there are several such threads, only one is unblocked.
    /// This method allows graceful shutdown of server.
    pub fn unblock(&self) {
        self.messages.unblock();
    }
}

/// [patch] Ends a wait in [`Server::recv_timeout`] from another thread (a
/// signal, a child that exited), so the waiting thread need not wake up
/// periodically to look. A wake that comes while nobody waits ends the next
/// wait at once; several wakes before it cost one return.
#[derive(Clone)]
pub struct Waker(Arc<MessagesQueue<Message>>);

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
    fn drop(&mut self) {
        self.shared.close.store(true, Relaxed);
        for listening_addr in &self.listening_addrs {
            // Connect briefly to ourselves to unblock the accept thread
            let maybe_stream = match listening_addr {
                ListenAddr::IP(addr) => {
                    TcpStream::connect_timeout(addr, Duration::from_secs(1)).map(Connection::from)
                }
                #[cfg(unix)]
                ListenAddr::Unix(addr) => match addr.as_pathname() {
                    // TODO: use connect_addr when its stabilized.
                    Some(path) => {
                        std::os::unix::net::UnixStream::connect(path).map(Connection::from)
                    }
                    None => continue,
                },
            };
            if let Ok(stream) = maybe_stream {
                let _ = stream.shutdown(Shutdown::Both);
            }

            #[cfg(unix)]
            if let ListenAddr::Unix(addr) = listening_addr {
                if let Some(path) = addr.as_pathname() {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}
