//! The listening sockets and the one tiny_http server accepting on them all.
//!
//! Every `listen` address (TCP, IPv4 or IPv6, and unix socket paths) is bound
//! here, before privileges are dropped, and handed to one
//! `tiny_http::Server` (our patched copy, `src/vendor/tiny_http/PATCHES.md`),
//! so the daemon's loop waits on a single `recv_timeout`: the server's
//! `epoll_wait`, run in the loop's own thread. The server
//! enforces the limits that keep clients from pinning resources:
//! - `client_timeout`: a request head must arrive whole, and an answer being
//!   written must make progress, within it, so idle, trickling and stalled
//!   clients are dropped;
//! - `max_connections`: connections open at once; more get a 503 and are
//!   closed (a connection costs memory, not a thread: one epoll, turned by
//!   the loop, serves every listener and connection);
//! - `max_connections_per_address`: what one client address (IPv4, or an
//!   IPv6 /64) may hold of those, so one host cannot take every slot;
//!   more get the same 503 (loopback exempt unless `per_address_loopback
//!   = bounded`);
//! - the request head: [`MAX_HEAD_BYTES`] and [`MAX_HEADERS`] (nginx's and
//!   Apache's defaults are of that order); more gets a 414 or a 431;
//! - [`MAX_HELD_ANSWER_BYTES`]: what the server holds of answers clients
//!   have not read, all connections together; an answer over it is cut
//!   short and its connection closed;
//! - no request body: a head that declares one, or frames itself two ways,
//!   is refused by the server's reactor (`tiny_http::check_head`:
//!   400, 413 or 417, then close), so the loop never reads, waits for or
//!   sizes anything a client declares.
//!
//! Invariants: the sockets stay open from `bind` to drop; a unix socket path
//! is only ever removed when it is a socket nobody answers on (a stale one
//! left by a crash), or the very socket a failed [`HttpListener::bind`]
//! made (the same inode), never a file of another kind; once `bind` has
//! succeeded, the server removes the socket files when dropped.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::Listen;
use crate::{log, sys};

/// Bytes of one request head: the request line and every header line. A
/// browser's head is well under 2 KiB; cookies shared with other services on
/// the same host name are what may push it up.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Descriptors kept for sysmon's own files whatever the clients hold: the
/// backup walk's open directories (up to `backup::walk::MAX_DEPTH` + 1),
/// the top processes' kept `stat` files (`sample::top::KEPT_STAT_FILES`),
/// and 128 for the rest (/proc and /sys sources, logs, the history file,
/// children's pipes, listeners).
pub const OWN_DESCRIPTORS: u64 =
    crate::backup::walk::MAX_DEPTH as u64 + 1 + crate::sample::top::KEPT_STAT_FILES as u64 + 128;

/// The fewest connections the limit leaves, however low it is.
pub const MIN_CONNECTIONS: usize = 16;

/// How many connections `open_files_limit` (the soft `RLIMIT_NOFILE`)
/// leaves room for, at most `wanted` (`max_connections`): with more,
/// clients could take every descriptor and sysmon's own opens (a sample, a
/// backup, a service's status) would fail with EMFILE.
pub fn connections_within(open_files_limit: u64, wanted: usize) -> usize {
    let room = open_files_limit.saturating_sub(OWN_DESCRIPTORS);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    wanted.min(room.max(MIN_CONNECTIONS))
}
/// Header lines in one request.
pub const MAX_HEADERS: usize = 100;

/// Bytes of answers held, all connections together, for clients that have
/// not read them (what a socket did not take at once): 16 MiB, 3 % of a
/// 512 MB box. Without it, clients that ask and never read held up to
/// `max_connections` times the largest answer (about 1 GB at 2,048 of a
/// year's `/history.json`). A reader is rarely behind by more than one
/// answer less its socket buffer (a few hundred KB), so 16 MiB serves
/// dozens of slow readers of the largest default answer at once; an answer
/// that would take the total over it is cut short and its connection
/// closed (one held alone always fits, however large).
pub const MAX_HELD_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// How many of `slots` connections one client address may hold:
/// `configured`, or with `auto` (None) a quarter of them, at least
/// [`MIN_CONNECTIONS`]. A quarter: a host that takes its share leaves three
/// quarters to everyone else, and still has hundreds for a NAT of many
/// browsers (six connections each) or a busy Prometheus; an attacker needs
/// four addresses (four /64s) to fill the server. At least 16: a low open
/// files limit (16 slots) must not leave one browser with four.
pub fn per_address_bound(slots: usize, configured: Option<usize>) -> usize {
    configured.unwrap_or((slots / 4).max(MIN_CONNECTIONS))
}

/// A refusal for `max_connections_per_address` is logged at most this
/// often, naming the address last refused (the counts are summed, none is
/// lost): a host that keeps trying cannot flood the log.
const PER_ADDRESS_LOG_EVERY: Duration = Duration::from_secs(60);

pub struct HttpListener {
    server: tiny_http::Server,
    /// The cap the server refuses connections over (`max_connections`),
    /// for the log: [`ConnectionStats::open`] is what is open when the
    /// line is written, often far fewer.
    max_connections: usize,
    /// `max_connections_per_address` as applied, for the log.
    per_address: usize,
    /// What was bound, in the configured order (with the real port for `:0`).
    bound: Vec<Listen>,
    /// Counters as last logged, to report only what changed.
    rejected_logged: u64,
    accept_errors_logged: u64,
    /// Refusals for `max_connections_per_address` as last logged, and
    /// when (see [`PER_ADDRESS_LOG_EVERY`]).
    per_address_logged: u64,
    per_address_logged_at: Option<Instant>,
    /// Answers cut for [`MAX_HELD_ANSWER_BYTES`] as last logged, and when
    /// (as often as the refusals above).
    cut_logged: u64,
    cut_logged_at: Option<Instant>,
    /// Requests the daemon refused after routing ([`HttpListener::count_refused`]),
    /// by status in the order of [`REFUSED_STATUSES`].
    refused_after_routing: [u64; REFUSED_STATUSES.len()],
}

/// Every status a request is refused with, in the order
/// [`ConnectionStats::refused`] counts them: the server's refusals of a
/// head before routing (`tiny_http::REFUSED_HEAD_STATUSES`: 400, 413,
/// 414, 417, 431, 505) and the daemon's after it (400 of the Host or the
/// query, 401, 403, 404, 405). A fixed set, so /metrics shows a fixed
/// number of series. The 503s of a full server are
/// [`ConnectionStats::rejected`].
pub const REFUSED_STATUSES: [u16; 10] = [400, 401, 403, 404, 405, 413, 414, 417, 431, 505];

/// Where `status` is in [`REFUSED_STATUSES`] (a status not listed, which
/// no refusal has, is counted as 400).
fn refused_index(status: u16) -> usize {
    REFUSED_STATUSES
        .iter()
        .position(|&s| s == status)
        .unwrap_or(0)
}

/// The server's own counters, for /metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    pub open: usize,
    /// Every 503 refusal: over `max_connections` or over
    /// `max_connections_per_address`.
    pub rejected: u64,
    /// Of `rejected`, those over `max_connections_per_address`.
    pub rejected_per_address: u64,
    pub accept_errors: u64,
    /// Bytes of answers held now for clients that have not read them.
    pub answer_bytes_held: usize,
    /// Answers cut short for [`MAX_HELD_ANSWER_BYTES`].
    pub answers_cut: u64,
    /// Requests refused, by status in the order of [`REFUSED_STATUSES`],
    /// before routing and after it together.
    pub refused: [u64; REFUSED_STATUSES.len()],
}

impl HttpListener {
    /// Binds every address and starts accepting on all of them; one
    /// client address may hold `per_address` of the `max_connections`
    /// (loopback too unless `loopback_exempt`). An address in use gets
    /// what `in_use` says added to its error (who may hold it).
    pub fn bind(
        listen: &[Listen],
        client_timeout: Duration,
        max_connections: usize,
        (per_address, loopback_exempt): (usize, bool),
        in_use: &dyn Fn() -> Option<String>,
    ) -> Result<HttpListener, String> {
        let mut listeners = Vec::with_capacity(listen.len());
        let mut bound = Vec::with_capacity(listen.len());
        // Until the server owns them, the socket files made here are ours
        // to remove: a later address that fails must not leave them behind.
        let mut made = MadeSockets::default();
        for addr in listen {
            let (listener, local) = bind_one(addr, &mut made).map_err(|e| {
                let holder = (e.kind() == io::ErrorKind::AddrInUse)
                    .then(in_use)
                    .flatten();
                format!(
                    "cannot listen on {addr}: {e}{}",
                    holder.as_deref().unwrap_or("")
                )
            })?;
            listeners.push(listener);
            bound.push(local);
        }
        let limits = tiny_http::Limits {
            max_connections,
            max_head_bytes: MAX_HEAD_BYTES,
            max_headers: MAX_HEADERS,
            timeout: Some(client_timeout),
            max_connections_per_address: per_address,
            loopback_exempt,
            max_held_bytes: MAX_HELD_ANSWER_BYTES,
        };
        let server = tiny_http::Server::from_listeners(listeners, limits)
            .map_err(|e| format!("cannot start the HTTP server: {e}"))?;
        // The server removes them when dropped (tiny_http's `Drop for Server`).
        made.hand_over();
        Ok(HttpListener {
            server,
            max_connections,
            per_address,
            bound,
            rejected_logged: 0,
            accept_errors_logged: 0,
            per_address_logged: 0,
            per_address_logged_at: None,
            cut_logged: 0,
            cut_logged_at: None,
            refused_after_routing: [0; REFUSED_STATUSES.len()],
        })
    }

    /// What is being listened on, with the real port where `:0` was asked.
    pub fn bound(&self) -> &[Listen] {
        &self.bound
    }

    /// The first TCP address listened on, if any.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.bound.iter().find_map(|l| match l {
            Listen::Tcp(addr) => Some(*addr),
            Listen::Unix(_) => None,
        })
    }

    /// Counts a request the daemon answered with the refusal `status`
    /// (one of [`REFUSED_STATUSES`]).
    pub fn count_refused(&mut self, status: u16) {
        self.refused_after_routing[refused_index(status)] += 1;
    }

    pub fn stats(&self) -> ConnectionStats {
        let mut refused = self.refused_after_routing;
        let heads = self.server.refused_heads();
        for (status, count) in tiny_http::REFUSED_HEAD_STATUSES.iter().zip(heads) {
            refused[refused_index(*status)] += count;
        }
        ConnectionStats {
            refused,
            open: self.server.num_connections(),
            rejected: self.server.rejected_connections(),
            rejected_per_address: self.server.rejected_per_address().0,
            accept_errors: self.server.accept_errors(),
            answer_bytes_held: self.server.held_answer_bytes(),
            answers_cut: self.server.answers_cut().0,
        }
    }

    /// Logs connections refused and accept errors since the last call (one
    /// line per kind however many there were, so a flood cannot flood the log).
    /// Refusals for `max_connections_per_address`, and answers cut for
    /// [`MAX_HELD_ANSWER_BYTES`], at most once a minute each
    /// ([`PER_ADDRESS_LOG_EVERY`]), naming the address last refused or cut.
    pub fn log_trouble(&mut self, now: Instant) {
        let stats = self.stats();
        // the refusals over max_connections alone
        let over_cap = stats.rejected - stats.rejected_per_address;
        if over_cap > self.rejected_logged {
            log::warn(format_args!(
                "http: refused {} connection(s) with 503: all max_connections = {} were open",
                over_cap - self.rejected_logged,
                self.max_connections
            ));
            self.rejected_logged = over_cap;
        }
        let due = self
            .per_address_logged_at
            .is_none_or(|at| now.duration_since(at) >= PER_ADDRESS_LOG_EVERY);
        if stats.rejected_per_address > self.per_address_logged && due {
            let (_, last) = self.server.rejected_per_address();
            let last = last.map_or(String::new(), |ip| ip.to_string());
            log::warn(format_args!(
                "http: refused {} connection(s) with 503: the client address held \
                 max_connections_per_address = {} (last refused: {last}; an IPv6 address \
                 counts by its /64; logged at most once a minute)",
                stats.rejected_per_address - self.per_address_logged,
                self.per_address
            ));
            self.per_address_logged = stats.rejected_per_address;
            self.per_address_logged_at = Some(now);
        }
        let due = self
            .cut_logged_at
            .is_none_or(|at| now.duration_since(at) >= PER_ADDRESS_LOG_EVERY);
        if stats.answers_cut > self.cut_logged && due {
            let (_, last) = self.server.answers_cut();
            let last = last.map_or("a unix socket client".to_string(), |ip| ip.to_string());
            log::warn(format_args!(
                "http: cut {} answer(s) short and closed their connections: answers \
                 not read by their clients held {} MiB (last cut: {last}; logged at \
                 most once a minute)",
                stats.answers_cut - self.cut_logged,
                MAX_HELD_ANSWER_BYTES >> 20
            ));
            self.cut_logged = stats.answers_cut;
            self.cut_logged_at = Some(now);
        }
        if stats.accept_errors > self.accept_errors_logged {
            log::warn(format_args!(
                "http: {} accept() error(s) (out of file descriptors, memory or epoll watches?); still accepting",
                stats.accept_errors - self.accept_errors_logged
            ));
            self.accept_errors_logged = stats.accept_errors;
        }
    }

    /// A handle that ends the current (or next) [`HttpListener::recv_timeout`]
    /// early, from any thread.
    pub fn waker(&self) -> tiny_http::Waker {
        self.server.waker()
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
            // Only a listening socket that is gone (EBADF, EINVAL) stops
            // being watched; the others keep serving.
            Err(e) => {
                log::error(format_args!("http: a listener stopped accepting: {e}"));
                None
            }
        }
    }
}

/// The unix socket files a [`HttpListener::bind`] in progress has made,
/// each with its device and inode as made: dropped before
/// [`MadeSockets::hand_over`], it removes each one that is still that
/// same socket, and nothing else (a file put in its place is not ours).
#[derive(Default)]
struct MadeSockets {
    made: Vec<(PathBuf, (u64, u64))>,
}

impl MadeSockets {
    /// Notes that `path` was just made by a bind of ours.
    fn record(&mut self, path: &Path) -> io::Result<()> {
        let meta = std::fs::symlink_metadata(path)?;
        self.made
            .push((path.to_path_buf(), (meta.dev(), meta.ino())));
        Ok(())
    }

    /// The start succeeded: the server owns the files now.
    fn hand_over(mut self) {
        self.made.clear();
    }
}

impl Drop for MadeSockets {
    fn drop(&mut self) {
        for (path, made_as) in &self.made {
            let still_ours = std::fs::symlink_metadata(path).is_ok_and(|meta| {
                meta.file_type().is_socket() && (meta.dev(), meta.ino()) == *made_as
            });
            if !still_ours {
                continue;
            }
            if let Err(e) = std::fs::remove_file(path) {
                log::warn(format_args!(
                    "http: cannot remove the socket {} made for a start that failed: {e}",
                    path.display()
                ));
            }
        }
    }
}

/// Binds `addr`; a unix socket file made for it is recorded in `made`
/// as soon as it exists, so that a failure after that removes it too.
fn bind_one(addr: &Listen, made: &mut MadeSockets) -> io::Result<(tiny_http::Listener, Listen)> {
    match addr {
        Listen::Tcp(addr) => {
            let socket = TcpListener::bind(addr)?;
            // Accepted sockets inherit it: answers leave at once instead of
            // waiting for the client's delayed ACK (40 ms per keep-alive
            // request otherwise).
            sys::set_tcp_nodelay(socket.as_raw_fd())?;
            let local = Listen::Tcp(socket.local_addr()?);
            Ok((socket.into(), local))
        }
        Listen::Unix(path) => {
            remove_stale_socket(path)?;
            let socket = UnixListener::bind(path)?;
            made.record(path)?;
            // The owner and its group may connect (a reverse proxy in the
            // group); nobody else.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
            Ok((socket.into(), Listen::Unix(path.clone())))
        }
    }
}

/// Removes `path` when it is a unix socket left by a process that is gone
/// (connecting is refused). Anything else there is an error, and kept.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket (left in place)",
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another process answers on this socket",
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            log::info(format_args!(
                "http: removing the stale socket {}",
                path.display()
            ));
            std::fs::remove_file(path)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::{MIN_CONNECTIONS, per_address_bound};

    /// `auto` is a quarter of the slots, never below 16; a number is taken
    /// as it is.
    #[test]
    fn the_per_address_bound_is_a_quarter_of_the_slots_at_least_16() {
        assert_eq!(per_address_bound(2048, None), 512);
        assert_eq!(per_address_bound(100, None), 25);
        assert_eq!(per_address_bound(63, None), MIN_CONNECTIONS);
        assert_eq!(per_address_bound(16, None), MIN_CONNECTIONS);
        assert_eq!(per_address_bound(2048, Some(3)), 3);
        assert_eq!(per_address_bound(16, Some(4000)), 4000);
    }
}
