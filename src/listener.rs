//! The HTTP listening socket and the tiny_http server accepting on it.
//!
//! tiny_http has no per-connection timeout, but Linux copies a listening
//! socket's SO_RCVTIMEO/SO_SNDTIMEO (and TCP_NODELAY) to every connection it
//! accepts, so idle and stalled clients are dropped after `client_timeout`.
//! The same receive timeout also bounds `accept()` itself, and tiny_http's
//! accept thread ends on any accept error (a timeout, EMFILE, ECONNABORTED).
//! Two things keep the server answering regardless:
//! - a heartbeat: every half timeout the loop makes (and drops) a loopback
//!   connection to itself, so accept() never waits long enough to time out;
//! - a kept duplicate of the listening socket: when the accept thread has
//!   ended anyway, a new tiny_http server starts on the same open socket, so
//!   no connection is refused in between (they wait in the backlog).
//!
//! Invariant: the listening socket stays open from `bind` to drop.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::{log, sys};

pub struct HttpListener {
    /// Our own descriptor of the listening socket (tiny_http holds another).
    socket: TcpListener,
    server: tiny_http::Server,
    local_addr: SocketAddr,
    /// Where the heartbeat connects: the bound address, loopback if unspecified.
    heartbeat_addr: SocketAddr,
    heartbeat_every: Duration,
    next_heartbeat_at: Instant,
    /// tiny_http's accept thread has reported an error and ended.
    accept_ended: bool,
}

impl HttpListener {
    pub fn bind(addr: SocketAddr, client_timeout: Duration) -> io::Result<HttpListener> {
        let socket = TcpListener::bind(addr)?;
        let fd = socket.as_raw_fd();
        sys::set_tcp_nodelay(fd)?;
        sys::set_socket_timeouts(fd, client_timeout)?;
        let local_addr = socket.local_addr()?;
        let server = serve(&socket)?;
        let heartbeat_ip = match local_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let heartbeat_every = client_timeout / 2;
        Ok(HttpListener {
            socket,
            server,
            local_addr,
            heartbeat_addr: SocketAddr::new(heartbeat_ip, local_addr.port()),
            heartbeat_every,
            next_heartbeat_at: Instant::now() + heartbeat_every,
            accept_ended: false,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// When `poll` wants to run next.
    pub fn next_deadline(&self) -> Instant {
        self.next_heartbeat_at
    }

    /// The heartbeat when due, and a new accept thread if the old one ended.
    pub fn poll(&mut self, now: Instant) {
        if now >= self.next_heartbeat_at {
            // Accepted and closed by tiny_http at once (EOF before a request).
            let _ = TcpStream::connect_timeout(&self.heartbeat_addr, Duration::from_millis(100));
            self.next_heartbeat_at = now + self.heartbeat_every;
        }
        if self.accept_ended {
            match serve(&self.socket) {
                Ok(server) => {
                    self.server = server;
                    self.accept_ended = false;
                    log::info(format_args!("http: accepting again on {}", self.local_addr));
                }
                // Tried again on every turn of the loop until it works.
                Err(e) => log::error(format_args!(
                    "http: cannot accept on {} again: {e}",
                    self.local_addr
                )),
            }
        }
    }

    /// The next request, waiting at most `wait`.
    pub fn recv_timeout(&mut self, wait: Duration) -> Option<tiny_http::Request> {
        let received = self.server.recv_timeout(wait);
        self.take(received)
    }

    /// A request already queued, without waiting.
    pub fn try_recv(&mut self) -> Option<tiny_http::Request> {
        let received = self.server.try_recv();
        self.take(received)
    }

    fn take(
        &mut self,
        received: io::Result<Option<tiny_http::Request>>,
    ) -> Option<tiny_http::Request> {
        match received {
            Ok(request) => request,
            Err(e) => {
                log::warn(format_args!(
                    "http: accepting connections on {} failed: {e}",
                    self.local_addr
                ));
                self.accept_ended = true;
                None
            }
        }
    }
}

/// A tiny_http server accepting on a duplicate of `socket`.
fn serve(socket: &TcpListener) -> io::Result<tiny_http::Server> {
    let duplicate = socket.try_clone()?;
    tiny_http::Server::from_listener(duplicate, None).map_err(io::Error::other)
}
