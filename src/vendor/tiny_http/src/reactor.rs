//! [patch] The server's reactor: one epoll over every listener, every
//! connection and an eventfd, in place of upstream's accept thread per
//! listener and worker thread per connection. It runs in the thread that
//! asks the server for requests (`Server::recv_timeout`, since
//! +sysmon.4): that thread's wait *is* this `epoll_wait`, a request is
//! parsed and answered in the same thread, and no other thread has to be
//! scheduled for it. A connection costs a slot here (a few hundred bytes,
//! and a read buffer only while a head is arriving), not a thread.
//!
//! Each connection is a small state machine:
//!
//! ```text
//!   Reading ──head──▶ Answering ──answer──▶ Writing ──written──▶ Reading
//!      │                                       │  (last request)
//!      │                                       ▼
//!      └─refused─▶ Writing the refusal ─▶ Lingering ─▶ closed
//! ```
//!
//! - *Reading*: bytes go into the connection's buffer (at most
//!   `max_head_bytes`) until `client::parse_head` finds a whole head; a
//!   request is then queued for the caller (`ready`), and nothing more is
//!   read from that connection until it is answered, so pipelined requests
//!   are answered in order. The whole head must arrive within `timeout` of
//!   the connection becoming idle (a slowloris trickling a byte a second is
//!   cut off then, however many bytes it sends).
//! - *Answering*: the caller prints the answer, sends what the socket takes
//!   at once (`Request::respond_detached`) and hands the rest back through
//!   the [`Inbox`], taken at the start of the next turn (an answer from
//!   another thread wakes the epoll with the inbox's eventfd). No deadline:
//!   the caller always answers (a dropped request answers 500).
//! - *Writing*: the rest goes out as the socket takes it (EPOLLOUT); a
//!   client that reads nothing for `timeout` is dropped. Then the next
//!   request is read, from what was already buffered first. [patch] The
//!   rests held, all connections together, stay within `max_held_bytes`
//!   (+sysmon.25): a rest that would take them over is not copied; the
//!   connection is closed, its answer cut short.
//! - *Lingering*: after a refusal, and after the answer to a connection's
//!   last request (`Connection: close`, HTTP/1.0), the write side is shut
//!   and what the client still sends is read and thrown away for at most
//!   0.5 s or 64 KiB, so that closing does not reset the answer away:
//!   Linux answers a close with unread bytes in the receive queue (a
//!   pipelined request after the last, say) with a reset, and drops
//!   whatever of the answer the client has not read yet.
//!
//! Invariants: no read or write here ever waits (every socket is
//! non-blocking; epoll is edge-triggered for connections, so each one is
//! read or written until EAGAIN), so a turn never waits on a client, only
//! in `epoll_wait` for at most the timeout it is given; a connection's
//! socket is touched by the reactor only while no `Request` of it is out
//! (the answering thread writes once, without waiting, between the request
//! leaving `ready` and its `Answer` arriving); timers are one deadline per
//! connection, and a turn's wait ends for I/O, a deadline, the caller's
//! timeout or the eventfd; `Shared::held_bytes` is the sum of every
//! connection's `out` and of the rests on their way back in the inbox.

use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::{parse_head, HeadFacts, HeadLimits, Parsed};
use crate::connection::{Connection, Listener};
use crate::head_text::HeadText;
use crate::request::{new_request, Reply};
use crate::sys::{Epoll, Event, EventFd, EPOLLET, EPOLLIN, EPOLLOUT, EPOLLRDHUP};
use crate::{AfterAcceptError, Message, Shared};

/// What the caller's thread hands back after answering a request.
pub(crate) struct Answer {
    /// The connection (`Reactor::token`).
    pub(crate) token: u64,
    pub(crate) outcome: Outcome,
    /// The request's head, back for reuse (`Reactor::spare_heads`).
    pub(crate) head: HeadText,
}

/// What became of an answer's first send.
pub(crate) enum Outcome {
    /// What the socket did not take at once (usually nothing), counted in
    /// `Shared::held_bytes`: to be written as the client reads.
    Rest(Vec<u8>),
    /// [patch] The rest would have taken the bytes held over
    /// `max_held_bytes` and was not kept (+sysmon.25): close, the answer
    /// cut short (its `Content-Length` tells the client).
    Cut,
    /// The client is gone (a send failed): close.
    Gone,
}

/// The way from an answering thread back to the reactor: answers, and an
/// eventfd in the reactor's epoll that ends its wait (for an answer from
/// another thread, or a [`crate::Waker`]).
pub(crate) struct Inbox {
    answers: Mutex<Vec<Answer>>,
    wake: EventFd,
    /// The reactor is in (or about to enter) `epoll_wait`: a sender must
    /// wake it. Otherwise the next turn takes the answers first, so an
    /// answer from the reactor's own thread (the usual case) costs no
    /// system call.
    sleeping: AtomicBool,
    /// A `Waker` asked for the current (or next) wait to end.
    woken: AtomicBool,
}

impl Inbox {
    pub(crate) fn new() -> io::Result<Inbox> {
        Ok(Inbox {
            answers: Mutex::new(Vec::with_capacity(16)),
            wake: EventFd::new()?,
            sleeping: AtomicBool::new(false),
            woken: AtomicBool::new(false),
        })
    }

    /// Queues `answer` and wakes the reactor if it sleeps. (It sets
    /// `sleeping` before it looks at the queue a last time, and this reads
    /// `sleeping` after pushing under the same lock: either it sees the
    /// answer, or this sees it sleeping.)
    pub(crate) fn send(&self, answer: Answer) {
        self.answers.lock().unwrap().push(answer);
        if self.sleeping.load(SeqCst) {
            self.wake.notify();
        }
    }

    /// Ends the reactor's current wait, or its next one if it is not
    /// waiting now (the eventfd stays readable until a turn drains it).
    pub(crate) fn wake(&self) {
        self.woken.store(true, SeqCst);
        self.wake.notify();
    }
}

/// The eventfd's token; listener `i` has `WAKE - 1 - i`; connections have
/// `generation << 32 | slot`, with a 31-bit generation, so below 2^63.
const WAKE: u64 = u64::MAX;
const LISTENER_TOKENS: u64 = 1 << 63;
const GENERATION_MASK: u32 = 0x7fff_ffff;

/// Connections are edge-triggered: told once when they become readable or
/// writable, and then read or written until EAGAIN.
const CONNECTION_EVENTS: u32 = (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) as u32;

/// Request heads kept for reuse at most: one per request being answered
/// at once, as many as a turn usually hands out.
const SPARE_HEADS: usize = 16;

/// How long, and how much, a connection is drained before closing, after
/// a refusal or its last answer.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 64 * 1024;

/// [patch] The 503 to a connection refused at once, and why, in its
/// body (since +sysmon.26; it was empty): `busy_head!`, the length of
/// the reason, the empty line, the reason. A `concat!` of literals, so
/// that what is sent to clients shed under load costs no formatting;
/// `busy_answers_are_framed_by_their_length` holds each length to its
/// text.
macro_rules! busy_head {
    () => {
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Connection: close\r\nRetry-After: 1\r\nContent-Length: "
    };
}

macro_rules! busy_answer {
    ($length:literal, $reason:literal) => {
        BusyAnswer {
            head_len: busy_head!().len() + $length.len() + 4,
            bytes: concat!(busy_head!(), $length, "\r\n\r\n", $reason).as_bytes(),
        }
    };
}

/// A 503 as `busy_answer!` makes it: `bytes[..head_len]` is its head.
#[derive(Clone, Copy)]
pub(crate) struct BusyAnswer {
    head_len: usize,
    bytes: &'static [u8],
}

/// To a connection over `max_connections`.
pub(crate) const TOO_MANY: BusyAnswer = busy_answer!("21", "too many connections\n");
/// To one over `max_connections_per_address`.
pub(crate) const TOO_MANY_FROM_ADDRESS: BusyAnswer =
    busy_answer!("39", "too many connections from this address\n");
/// To one the kernel could not watch (out of memory or epoll watches).
pub(crate) const NO_ROOM: BusyAnswer = busy_answer!("29", "no room for a connection now\n");

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Answering,
    Writing,
    Lingering,
}

#[derive(Clone, Copy)]
enum AfterWrite {
    /// Read the next request.
    KeepAlive,
    /// A refusal, or the last request's answer: shut the write side,
    /// drain, close.
    Linger,
}

struct Conn {
    socket: Arc<Connection>,
    remote_addr: Option<SocketAddr>,
    /// The peer's entry in `Reactor::peers` (`peer_key`), counted while
    /// this connection is open; None when not bounded.
    peer: Option<PeerKey>,
    state: State,
    /// Bytes read and not yet taken as a head: at most `max_head_bytes`.
    /// Empty (no allocation) while the connection is idle.
    buf: Vec<u8>,
    /// `buf[..scanned]` holds no end of head (`client::parse_head`).
    scanned: usize,
    /// What is left to write, from `out_pos` on (Writing only), counted
    /// whole in `Shared::held_bytes` until it is freed.
    out: Vec<u8>,
    out_pos: usize,
    after_write: AfterWrite,
    /// The request being answered is the connection's last.
    last: bool,
    /// When the connection is dropped if nothing happens (Reading: the
    /// whole next head; Writing: the next progress; Lingering: the end).
    deadline: Option<Instant>,
    /// Bytes thrown away while lingering.
    drained: usize,
}

struct Slot {
    generation: u32,
    conn: Option<Conn>,
    /// The last connection's shared socket, emptied (`Connection::Closed`)
    /// when it closed and nothing else held it: the next connection in
    /// this slot reuses the allocation (a connection each costs none).
    spare_socket: Option<Arc<Connection>>,
}

struct ListenerSlot {
    listener: Listener,
    /// The next wait after EMFILE and the like: 5 ms doubling to 1 s.
    backoff: Duration,
    /// Taken out of the epoll until then, after such an error.
    paused_until: Option<Instant>,
}

pub(crate) struct Reactor {
    epoll: Epoll,
    listeners: Vec<ListenerSlot>,
    slots: Vec<Slot>,
    /// Indices of empty slots.
    free: Vec<u32>,
    open: usize,
    /// [patch] Open connections per bounded peer (+sysmon.19), sorted by
    /// key, each count above zero: an entry is made at a peer's first
    /// connection and removed with its last, so there are at most `open`
    /// of them. A sorted list, not a `HashMap` (std's SipHash and table
    /// code are ~9 KB of sysmon's binary); its capacity is kept, so a warm
    /// reactor allocates nothing for it.
    peers: Vec<(PeerKey, u32)>,
    shared: Arc<Shared>,
    /// Requests (and errors) read and not yet taken by the caller.
    ready: VecDeque<Message>,
    inbox: Arc<Inbox>,
    /// What the last `epoll_wait` reported (capacity reused).
    events: Vec<Event>,
    /// `epoll_wait` failed once (reported then, not at every turn).
    wait_failed: bool,
    /// What every read goes through before it is copied to a connection.
    scratch: Box<[u8]>,
    /// The inbox's answers, taken out in one go (capacity reused).
    answers: Vec<Answer>,
    /// Heads of answered requests, for the next ones to be read into
    /// (at most `SPARE_HEADS`, each small: `HeadText::worth_keeping`), so
    /// that a warm request allocates nothing.
    spare_heads: Vec<HeadText>,
    /// The earliest connection deadline, or later (never earlier): deadlines
    /// only move later, so the sweep runs only when one may be due.
    next_sweep: Option<Instant>,
    head_limits: HeadLimits,
    /// Every connection's registration fails, as with the kernel out of
    /// epoll watches (ENOSPC), which a test cannot bring about for one
    /// process alone.
    #[cfg(test)]
    refuse_registrations: bool,
}

impl Reactor {
    /// Registers the listeners and the inbox; the caller then `turn`s it.
    pub(crate) fn new(
        listeners: Vec<Listener>,
        shared: Arc<Shared>,
        inbox: Arc<Inbox>,
    ) -> io::Result<Reactor> {
        let epoll = Epoll::new(64)?;
        epoll.add(inbox.wake.raw(), EPOLLIN as u32, WAKE)?;
        let mut slots = Vec::with_capacity(listeners.len());
        for (i, listener) in listeners.into_iter().enumerate() {
            listener.set_nonblocking(true)?;
            epoll.add(listener.raw_fd(), EPOLLIN as u32, WAKE - 1 - i as u64)?;
            slots.push(ListenerSlot {
                listener,
                backoff: Duration::from_millis(5),
                paused_until: None,
            });
        }
        let limits = shared.limits;
        Ok(Reactor {
            epoll,
            listeners: slots,
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
            peers: Vec::new(),
            shared,
            ready: VecDeque::with_capacity(16),
            inbox,
            events: Vec::with_capacity(64),
            wait_failed: false,
            scratch: vec![0; 16 * 1024].into_boxed_slice(),
            answers: Vec::with_capacity(16),
            spare_heads: Vec::with_capacity(SPARE_HEADS),
            next_sweep: None,
            head_limits: HeadLimits {
                max_head_bytes: limits.max_head_bytes,
                max_headers: limits.max_headers,
            },
            #[cfg(test)]
            refuse_registrations: false,
        })
    }

    /// A request (or an error) read earlier and not yet taken.
    pub(crate) fn take_ready(&mut self) -> Option<Message> {
        self.ready.pop_front()
    }

    /// One turn: takes the answers sent back since the last one, waits in
    /// `epoll_wait` for at most `timeout` (None: until something happens;
    /// not at all when a request is already ready or an answer came in),
    /// and does what is ready: accepts, reads heads into `ready`, writes,
    /// expires deadlines. Returns whether a `Waker` ended the wait.
    pub(crate) fn turn(&mut self, timeout: Option<Duration>) -> bool {
        self.take_answers();
        self.inbox.sleeping.store(true, SeqCst);
        let answered = !self.inbox.answers.lock().unwrap().is_empty();
        let timeout = if answered || !self.ready.is_empty() {
            Some(Duration::ZERO)
        } else {
            let now = Instant::now();
            let own = self.next_wake().map(|at| at.saturating_duration_since(now));
            match (timeout, own) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        let waited = self.epoll.wait(timeout, &mut self.events);
        self.inbox.sleeping.store(false, SeqCst);
        if let Err(e) = waited {
            // EBADF, EINVAL: not while the reactor owns the epoll. Reported
            // once; the turn still takes its time, so a caller that goes on
            // turning does not spin.
            if !self.wait_failed {
                self.wait_failed = true;
                log::error!("epoll_wait: {}", e);
                self.ready.push_back(e.into());
            }
            std::thread::sleep(timeout.unwrap_or(Duration::from_secs(1)));
            return false;
        }
        for i in 0..self.events.len() {
            let token = self.events[i].token;
            if token == WAKE {
                // the answers are taken below, every turn
                self.inbox.wake.drain();
            } else if token >= LISTENER_TOKENS {
                self.accept((WAKE - 1 - token) as usize);
            } else {
                let slot = token as u32 as usize;
                let generation = (token >> 32) as u32;
                let current = self
                    .slots
                    .get(slot)
                    .is_some_and(|s| s.generation == generation && s.conn.is_some());
                // else: closed earlier in this batch
                if current {
                    self.on_ready(slot);
                }
            }
        }
        self.take_answers();
        let now = Instant::now();
        if self.next_sweep.is_some_and(|at| at <= now) {
            self.sweep(now);
        }
        self.resume_listeners(now);
        self.inbox.woken.swap(false, SeqCst)
    }

    /// The earliest of the next sweep and the end of a listener's pause.
    fn next_wake(&self) -> Option<Instant> {
        let paused = self.listeners.iter().filter_map(|l| l.paused_until).min();
        match (self.next_sweep, paused) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn token(&self, slot: usize) -> u64 {
        (u64::from(self.slots[slot].generation) << 32) | slot as u64
    }

    fn conn(&mut self, slot: usize) -> &mut Conn {
        self.slots[slot].conn.as_mut().expect("an open connection")
    }

    /// A deadline `after` from now for `slot`, if the server has a timeout
    /// (`after` None) or always (`Some`, the linger).
    fn set_deadline(&mut self, slot: usize, after: Option<Duration>) {
        let deadline = after
            .or(self.shared.limits.timeout)
            .map(|t| Instant::now() + t);
        self.conn(slot).deadline = deadline;
        if let Some(at) = deadline {
            self.next_sweep = Some(self.next_sweep.map_or(at, |s| s.min(at)));
        }
    }

    /// Closes every connection whose deadline has passed.
    fn sweep(&mut self, now: Instant) {
        let mut next: Option<Instant> = None;
        for slot in 0..self.slots.len() {
            let Some(deadline) = self.slots[slot].conn.as_ref().and_then(|c| c.deadline) else {
                continue;
            };
            if deadline <= now {
                self.close(slot);
            } else {
                next = Some(next.map_or(deadline, |n| n.min(deadline)));
            }
        }
        self.next_sweep = next;
    }

    fn close(&mut self, slot: usize) {
        let entry = &mut self.slots[slot];
        // Emptying (or dropping) the last `Arc` closes the descriptor, and the kernel
        // takes it out of the epoll; an event already reported for it is
        // ignored by its generation.
        if let Some(conn) = entry.conn.take() {
            // [patch] an answer not written whole is held no more (+sysmon.25)
            self.shared.release(conn.out.len());
            let mut socket = conn.socket;
            // Unique unless a request of it is still out (then the
            // descriptor closes with the request's hold on it).
            if let Some(only) = Arc::get_mut(&mut socket) {
                *only = Connection::Closed; // closes the descriptor
                entry.spare_socket = Some(socket);
            }
            entry.generation = entry.generation.wrapping_add(1) & GENERATION_MASK;
            self.free.push(slot as u32);
            self.open -= 1;
            self.shared.connections.fetch_sub(1, Relaxed);
            if let Some(key) = conn.peer {
                release_peer(&mut self.peers, key);
            }
        }
    }

    fn accept(&mut self, index: usize) {
        // A bounded batch, so that one busy listener cannot starve the
        // connections; the listener is level-triggered and reported again.
        for _ in 0..64 {
            let accepted = self.listeners[index].listener.accept();
            match accepted {
                Ok((sock, addr)) => {
                    self.listeners[index].backoff = Duration::from_millis(5);
                    self.admit(sock, addr);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => match AfterAcceptError::of(&e) {
                    AfterAcceptError::Retry => {}
                    AfterAcceptError::Count => {
                        self.shared.accept_errors.fetch_add(1, Relaxed);
                    }
                    AfterAcceptError::Backoff => {
                        // The pending connection keeps the listener
                        // readable: out of the epoll until the pause ends,
                        // or the reactor would spin.
                        self.shared.accept_errors.fetch_add(1, Relaxed);
                        let l = &mut self.listeners[index];
                        let _ = self.epoll.delete(l.listener.raw_fd());
                        l.paused_until = Some(Instant::now() + l.backoff);
                        l.backoff = (l.backoff * 2).min(Duration::from_secs(1));
                        return;
                    }
                    AfterAcceptError::Fatal => {
                        log::error!("Error accepting new client: {}", e);
                        let _ = self.epoll.delete(self.listeners[index].listener.raw_fd());
                        self.ready.push_back(e.into());
                        return;
                    }
                },
            }
        }
    }

    fn resume_listeners(&mut self, now: Instant) {
        for (i, l) in self.listeners.iter_mut().enumerate() {
            if l.paused_until.is_some_and(|at| at <= now) {
                l.paused_until = None;
                let token = WAKE - 1 - i as u64;
                if let Err(e) = self.epoll.add(l.listener.raw_fd(), EPOLLIN as u32, token) {
                    log::error!("cannot watch a listener again: {}", e);
                    self.ready.push_back(e.into());
                }
            }
        }
    }

    fn admit(&mut self, sock: Connection, remote_addr: Option<SocketAddr>) {
        let max = self.shared.limits.max_connections;
        if max != 0 && self.open >= max {
            self.shared.rejected.fetch_add(1, Relaxed);
            refuse_busy(&sock, TOO_MANY);
            return;
        }
        // [patch] One peer may not take every slot (+sysmon.19): over its
        // bound it gets the 503 of the cap above.
        let limits = &self.shared.limits;
        let peer = remote_addr
            .filter(|_| limits.max_connections_per_address != 0)
            .and_then(|addr| peer_key(addr.ip(), limits.loopback_exempt));
        let peer_at = peer.map(|key| self.peers.binary_search_by_key(&key, |p| p.0));
        if let Some(Ok(i)) = peer_at {
            if self.peers[i].1 as usize >= limits.max_connections_per_address {
                self.shared.rejected.fetch_add(1, Relaxed);
                self.shared.rejected_per_address.fetch_add(1, Relaxed);
                // [patch] Named as counted: `::ffff:a.b.c.d` as a.b.c.d
                // (+sysmon.22).
                let refused = remote_addr.map(|a| a.ip().to_canonical());
                *self
                    .shared
                    .last_refused_address
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = refused;
                refuse_busy(&sock, TOO_MANY_FROM_ADDRESS);
                return;
            }
        }
        if sock.set_nonblocking(true).is_err() {
            // [patch] Taken in, and not served: an accept error (+sysmon.13).
            self.shared.accept_errors.fetch_add(1, Relaxed);
            return;
        }
        let slot = match self.free.pop() {
            Some(slot) => slot as usize,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    conn: None,
                    spare_socket: None,
                });
                self.slots.len() - 1
            }
        };
        let token = self.token(slot);
        if self.register(sock.raw_fd(), token).is_err() {
            // [patch] ENOMEM, ENOSPC (max_user_watches): the kernel is out
            // of what a connection needs, as for EMFILE on `accept()`, so
            // an accept error (+sysmon.13). It was counted as `rejected`,
            // which counts the 503s over `max_connections`. Since
            // +sysmon.21 it gets their 503 too (it was closed without an
            // answer): the client learns to come back, not that the
            // server broke off.
            self.free.push(slot as u32);
            self.shared.accept_errors.fetch_add(1, Relaxed);
            refuse_busy(&sock, NO_ROOM);
            return;
        }
        let socket = match self.slots[slot].spare_socket.take() {
            Some(mut kept) => match Arc::get_mut(&mut kept) {
                Some(empty) => {
                    *empty = sock;
                    kept
                }
                None => Arc::new(sock),
            },
            None => Arc::new(sock),
        };
        match (peer, peer_at) {
            (Some(_), Some(Ok(i))) => self.peers[i].1 += 1,
            (Some(key), Some(Err(i))) => self.peers.insert(i, (key, 1)),
            _ => {}
        }
        self.slots[slot].conn = Some(Conn {
            socket,
            remote_addr,
            peer,
            state: State::Reading,
            buf: Vec::new(),
            scanned: 0,
            out: Vec::new(),
            out_pos: 0,
            after_write: AfterWrite::KeepAlive,
            last: false,
            deadline: None,
            drained: 0,
        });
        self.open += 1;
        self.shared.connections.fetch_add(1, Relaxed);
        self.set_deadline(slot, None);
        // What arrived before the registration is reported by the epoll
        // at once (EPOLL_CTL_ADD polls the socket).
    }

    /// Watches an accepted connection's `fd` under `token`.
    fn register(&self, fd: std::os::fd::RawFd, token: u64) -> io::Result<()> {
        // A test stands in for a kernel out of epoll watches.
        #[cfg(test)]
        if self.refuse_registrations {
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.epoll.add(fd, CONNECTION_EVENTS, token)
    }

    fn on_ready(&mut self, slot: usize) {
        match self.conn(slot).state {
            State::Reading => self.read_requests(slot),
            State::Writing => self.write_out(slot),
            State::Lingering => self.linger(slot),
            // the caller's thread has it; the answer will say what next
            State::Answering => {}
        }
    }

    /// Reads until a whole head is buffered (then hands the request on) or
    /// the socket has nothing more.
    fn read_requests(&mut self, slot: usize) {
        let limits = self.head_limits;
        let max = limits.max_head_bytes();
        loop {
            let conn = self.slots[slot].conn.as_mut().expect("an open connection");
            if !conn.buf.is_empty() {
                let mut head = self.spare_heads.pop().unwrap_or_default();
                match parse_head(&conn.buf, &mut conn.scanned, limits, &mut head) {
                    Parsed::Incomplete => keep_spare(&mut self.spare_heads, head),
                    Parsed::Request(len, facts) => {
                        conn.buf.drain(..len);
                        if conn.buf.is_empty() {
                            // idle again: hold no buffer
                            conn.buf = Vec::new();
                        }
                        return self.dispatch(slot, facts, head);
                    }
                    Parsed::Refused(answer) => {
                        keep_spare(&mut self.spare_heads, head);
                        conn.buf = Vec::new();
                        self.shared.count_refused_head(&answer);
                        self.shared.held_bytes.fetch_add(answer.len(), Relaxed);
                        return self.start_write(slot, answer, AfterWrite::Linger);
                    }
                }
            }
            // parse_head refuses a full buffer, so there is room
            let room = max.saturating_sub(conn.buf.len()).min(self.scratch.len());
            match conn.socket.read_shared(&mut self.scratch[..room]) {
                Ok(0) => return self.close(slot),
                // [patch] A head that arrives whole in one read (the usual
                // case) is parsed where it was read: the connection's
                // buffer is made only for a head in pieces, or for what
                // follows a head (pipelined requests).
                Ok(n) if conn.buf.is_empty() => {
                    let read = &self.scratch[..n];
                    let mut head = self.spare_heads.pop().unwrap_or_default();
                    match parse_head(read, &mut conn.scanned, limits, &mut head) {
                        Parsed::Incomplete => {
                            keep_spare(&mut self.spare_heads, head);
                            conn.buf.extend_from_slice(read);
                        }
                        Parsed::Request(len, facts) => {
                            conn.buf.extend_from_slice(&read[len..]);
                            return self.dispatch(slot, facts, head);
                        }
                        Parsed::Refused(answer) => {
                            keep_spare(&mut self.spare_heads, head);
                            self.shared.count_refused_head(&answer);
                            self.shared.held_bytes.fetch_add(answer.len(), Relaxed);
                            return self.start_write(slot, answer, AfterWrite::Linger);
                        }
                    }
                }
                Ok(n) => conn.buf.extend_from_slice(&self.scratch[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.close(slot),
            }
        }
    }

    /// Queues a request for the server's caller; the connection waits for
    /// its answer.
    fn dispatch(&mut self, slot: usize, facts: HeadFacts, head: HeadText) {
        let token = self.token(slot);
        let inbox = Arc::clone(&self.inbox);
        let shared = Arc::clone(&self.shared);
        let conn = self.conn(slot);
        conn.state = State::Answering;
        conn.deadline = None;
        conn.last = facts.last;
        let reply = Reply {
            socket: Arc::clone(&conn.socket),
            token,
            inbox,
            shared,
        };
        let request = new_request(facts, head, conn.remote_addr, reply);
        self.ready.push_back(request.into());
    }

    /// Takes the answers sent back since the last turn.
    fn take_answers(&mut self) {
        let mut answers = std::mem::take(&mut self.answers);
        std::mem::swap(&mut *self.inbox.answers.lock().unwrap(), &mut answers);
        for answer in answers.drain(..) {
            keep_spare(&mut self.spare_heads, answer.head);
            let slot = answer.token as u32 as usize;
            let generation = (answer.token >> 32) as u32;
            let current = self.slots.get(slot).is_some_and(|s| {
                s.generation == generation
                    && s.conn.as_ref().is_some_and(|c| c.state == State::Answering)
            });
            let rest = match answer.outcome {
                Outcome::Rest(rest) if current => rest,
                Outcome::Rest(rest) => {
                    // not while the reactor leaves a connection alone until
                    // its answer is back; counted out all the same
                    self.shared.release(rest.len());
                    continue;
                }
                _ if !current => continue,
                Outcome::Cut => {
                    self.shared.answers_cut.fetch_add(1, Relaxed);
                    let peer = self.conn(slot).remote_addr.map(|a| a.ip().to_canonical());
                    *self
                        .shared
                        .last_cut_address
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = peer;
                    self.close(slot);
                    continue;
                }
                Outcome::Gone => {
                    self.close(slot);
                    continue;
                }
            };
            // [patch] The last answer lingers as a refusal does (+sysmon.8):
            // closed at once, with pipelined bytes unread, it was reset
            // away.
            let after = if self.conn(slot).last {
                AfterWrite::Linger
            } else {
                AfterWrite::KeepAlive
            };
            self.start_write(slot, rest, after);
        }
        self.answers = answers;
    }

    /// Writes `bytes`, already counted in `Shared::held_bytes`, as the
    /// client reads them.
    fn start_write(&mut self, slot: usize, bytes: Vec<u8>, after: AfterWrite) {
        let conn = self.conn(slot);
        conn.out = bytes;
        conn.out_pos = 0;
        conn.after_write = after;
        conn.state = State::Writing;
        self.set_deadline(slot, None);
        self.write_out(slot);
    }

    /// Writes what the socket takes; once all is written, goes on as
    /// `after_write` says.
    fn write_out(&mut self, slot: usize) {
        loop {
            let conn = self.slots[slot].conn.as_mut().expect("an open connection");
            if conn.out_pos == conn.out.len() {
                self.shared.release(conn.out.len());
                conn.out = Vec::new();
                conn.out_pos = 0;
                return match conn.after_write {
                    AfterWrite::KeepAlive => {
                        conn.state = State::Reading;
                        self.set_deadline(slot, None);
                        // a pipelined request may be buffered or waiting
                        self.read_requests(slot)
                    }
                    AfterWrite::Linger => {
                        if conn.socket.shutdown(Shutdown::Write).is_err() {
                            return self.close(slot);
                        }
                        conn.state = State::Lingering;
                        conn.drained = 0;
                        self.set_deadline(slot, Some(LINGER));
                        self.linger(slot)
                    }
                };
            }
            match conn.socket.write_shared(&conn.out[conn.out_pos..]) {
                Ok(0) => return self.close(slot),
                Ok(n) => {
                    conn.out_pos += n;
                    // progress: the client reads, slowly maybe
                    self.set_deadline(slot, None);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.close(slot),
            }
        }
    }

    /// Reads and throws away what a client still sends after its last
    /// answer or a refusal.
    fn linger(&mut self, slot: usize) {
        loop {
            let conn = self.slots[slot].conn.as_mut().expect("an open connection");
            if conn.drained >= LINGER_BYTES {
                return self.close(slot);
            }
            match conn.socket.read_shared(&mut self.scratch) {
                Ok(0) => return self.close(slot),
                Ok(n) => conn.drained += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.close(slot),
            }
        }
    }
}

/// Keeps `head` in `spares` for a next request to be read into, if there
/// is room and it is small (a refused or answered head of many KiB is
/// freed, not held while idle).
fn keep_spare(spares: &mut Vec<HeadText>, head: HeadText) {
    if spares.len() < SPARE_HEADS && head.worth_keeping() {
        spares.push(head);
    }
}

/// [patch] A peer address as `Reactor::peers` counts it (+sysmon.19): an
/// IPv4 address (also when it reaches an IPv6 listener as `::ffff:a.b.c.d`)
/// as itself, shifted left one bit; an IPv6 address by its /64 (the
/// network part: one host has a whole /64 to pick addresses from), with the
/// lowest bit set, so the two kinds never meet. None for a loopback peer
/// when `loopback_exempt`.
type PeerKey = u128;

fn peer_key(ip: std::net::IpAddr, loopback_exempt: bool) -> Option<PeerKey> {
    let ip = ip.to_canonical();
    if loopback_exempt && ip.is_loopback() {
        return None;
    }
    Some(match ip {
        std::net::IpAddr::V4(v4) => u128::from(u32::from(v4)) << 1,
        std::net::IpAddr::V6(v6) => (u128::from(v6) & !u128::from(u64::MAX)) | 1,
    })
}

/// Counts one connection of `key` fewer, removing its entry with the last.
fn release_peer(peers: &mut Vec<(PeerKey, u32)>, key: PeerKey) {
    if let Ok(i) = peers.binary_search_by_key(&key, |p| p.0) {
        peers[i].1 -= 1;
        if peers[i].1 == 0 {
            peers.remove(i);
        }
    }
}

/// Answers a connection over the cap with 503 and closes it, without
/// waiting: what the client has sent already is read first (closing with
/// unread data sends a reset, which can destroy the answer before the
/// client reads it), and a fresh socket's send buffer takes the answer.
///
/// [patch] The answer says why (`answer`, since +sysmon.26; it had no
/// body), and has none when what was read is the start of a HEAD request
/// (RFC 9110 §9.3.2). The answer is written before the request is read,
/// if it has not arrived yet: a HEAD whose bytes come after the accept
/// still gets the body, which a client may take for junk before the
/// close (no request follows on the connection to be misread).
fn refuse_busy(sock: &Connection, answer: BusyAnswer) {
    let _ = sock.set_nonblocking(true);
    let mut sink = [0u8; 2048];
    let mut head_request = false;
    for round in 0..16 {
        match sock.read_shared(&mut sink) {
            Ok(n) if n > 0 => {
                if round == 0 {
                    head_request = crate::client::is_head_request(&sink[..n]);
                }
            }
            _ => break,
        }
    }
    let bytes = if head_request {
        &answer.bytes[..answer.head_len]
    } else {
        answer.bytes
    };
    let _ = sock.send_without_waiting(bytes);
    let _ = sock.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod test {
    use super::{Inbox, Reactor};
    use crate::{Limits, Shared};
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;
    use std::time::Duration;

    /// [patch] Each 503 sent at once says why in a body its
    /// `Content-Length` frames, and its head ends where `head_len` says
    /// (+sysmon.26): what a HEAD request gets.
    #[test]
    fn busy_answers_are_framed_by_their_length() {
        for busy in [
            super::TOO_MANY,
            super::TOO_MANY_FROM_ADDRESS,
            super::NO_ROOM,
        ] {
            let text = std::str::from_utf8(busy.bytes).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert_eq!(head.len() + 4, busy.head_len, "{:?}", text);
            assert!(head.starts_with("HTTP/1.1 503 "), "{:?}", text);
            assert!(head.contains("\r\nRetry-After: 1\r\n"), "{:?}", text);
            assert!(head.contains("\r\nConnection: close"), "{:?}", text);
            let length = format!("\r\nContent-Length: {}", body.len());
            assert!(head.ends_with(&length), "{:?}", text);
            assert!(body.ends_with('\n') && body.len() > 1, "{:?}", text);
        }
    }

    /// Turns `reactor` until `done` holds, at most 100 turns of up to
    /// 100 ms each (each ends as soon as something happens).
    fn turn_until(reactor: &mut Reactor, done: impl Fn() -> bool) -> bool {
        (0..100).any(|_| {
            reactor.turn(Some(Duration::from_millis(100)));
            done()
        })
    }

    /// [patch] Every head refused before a `Request` exists is counted
    /// under its status (+sysmon.27), whether it arrived whole in one
    /// read or in pieces (the connection's buffer); the 503s are not.
    #[test]
    fn refused_heads_are_counted_by_status() {
        use std::io::Write;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::new(Limits {
            max_connections: 64,
            max_head_bytes: 256,
            ..Limits::default()
        }));
        let inbox = Arc::new(Inbox::new().unwrap());
        let mut reactor = Reactor::new(vec![listener.into()], shared.clone(), inbox).unwrap();
        let long = "a".repeat(300);
        let heads = [
            "GET / HTTP/1.1 junk\r\n\r\n".to_string(),
            "GET / HTTP/1.1\r\n\r\n".into(),
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n".into(),
            format!("GET /{} HTTP/1.1\r\n", long),
            "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n".into(),
            format!("GET / HTTP/1.1\r\nX: {}\r\n", long),
            "GET / HTTP/2.0\r\nHost: a\r\n\r\n".into(),
        ];
        let mut clients = Vec::new();
        for head in &heads {
            let mut client = TcpStream::connect(addr).unwrap();
            client.write_all(head.as_bytes()).unwrap();
            clients.push(client);
        }
        // One in pieces: the first read finds no whole head.
        let mut pieces = TcpStream::connect(addr).unwrap();
        pieces.write_all(b"GET / HT").unwrap();
        let buffered = |reactor: &Reactor| {
            reactor
                .slots
                .iter()
                .filter_map(|slot| slot.conn.as_ref())
                .any(|conn| conn.buf == b"GET / HT")
        };
        let read = (0..100).any(|_| {
            reactor.turn(Some(Duration::from_millis(100)));
            buffered(&reactor)
        });
        assert!(read, "the first piece was not read");
        pieces.write_all(b"TP/1.1 junk\r\n\r\n").unwrap();
        clients.push(pieces);
        let counts = || shared.refused_heads.each_ref().map(|n| n.load(Relaxed));
        // 400 400 400, 413, 414, 417, 431, 505
        let expected = [3, 1, 1, 1, 1, 1];
        assert!(
            turn_until(&mut reactor, || counts() == expected),
            "{:?}",
            counts()
        );
        assert_eq!(crate::REFUSED_HEAD_STATUSES, [400, 413, 414, 417, 431, 505]);
        assert_eq!(shared.rejected.load(Relaxed), 0);
    }

    /// [patch] A connection the epoll cannot take (ENOSPC, ENOMEM) is
    /// counted as an accept error (+sysmon.13). It was counted as
    /// rejected, the count of 503s over `max_connections`, which sysmon's
    /// log reports as "all max_connections were open". It is answered
    /// their 503 and closed (+sysmon.21; it was closed unanswered).
    #[test]
    fn a_connection_the_epoll_cannot_take_is_an_accept_error_not_a_rejection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::new(Limits {
            max_connections: 8,
            ..Limits::default()
        }));
        let inbox = Arc::new(Inbox::new().unwrap());
        let mut reactor = Reactor::new(vec![listener.into()], shared.clone(), inbox).unwrap();
        reactor.refuse_registrations = true;
        let mut refused = TcpStream::connect(addr).unwrap();
        let counted = || shared.accept_errors.load(Relaxed) == 1;
        assert!(turn_until(&mut reactor, counted), "not counted");
        assert_eq!(shared.rejected.load(Relaxed), 0);
        assert_eq!(shared.connections.load(Relaxed), 0);
        refused
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = String::new();
        refused.read_to_string(&mut answer).unwrap();
        assert_eq!(answer.as_bytes(), super::NO_ROOM.bytes);

        reactor.refuse_registrations = false;
        let _served = TcpStream::connect(addr).unwrap();
        let admitted = || shared.connections.load(Relaxed) == 1;
        assert!(turn_until(&mut reactor, admitted), "not admitted");
        assert_eq!(shared.accept_errors.load(Relaxed), 1);
        assert_eq!(shared.rejected.load(Relaxed), 0);
    }

    /// [patch] At `max_connections_per_address`, a peer's next connection
    /// gets the cap's 503 and is counted with its refusals; its count is
    /// given back as each connection ends, so it may open as many again
    /// (+sysmon.19). Loopback is bounded here (`loopback_exempt` off).
    #[test]
    fn one_peer_holds_at_most_its_bound_and_gets_it_back_on_close() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::new(Limits {
            max_connections: 64,
            max_connections_per_address: 3,
            ..Limits::default()
        }));
        let inbox = Arc::new(Inbox::new().unwrap());
        let mut reactor = Reactor::new(vec![listener.into()], shared.clone(), inbox).unwrap();
        for round in 0..3 {
            let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
            let admitted = || shared.connections.load(Relaxed) == 3;
            assert!(
                turn_until(&mut reactor, admitted),
                "round {}: not admitted",
                round
            );
            let mut refused = TcpStream::connect(addr).unwrap();
            let counted = || shared.rejected.load(Relaxed) == round + 1;
            assert!(
                turn_until(&mut reactor, counted),
                "round {}: not refused",
                round
            );
            let mut answer = String::new();
            refused.read_to_string(&mut answer).unwrap();
            assert!(answer.starts_with("HTTP/1.1 503 "), "{:?}", answer);
            assert!(answer.contains("\r\nConnection: close\r\n"), "{:?}", answer);
            let (per_address, last) = (
                shared.rejected_per_address.load(Relaxed),
                *shared.last_refused_address.lock().unwrap(),
            );
            assert_eq!(per_address, round + 1);
            assert_eq!(last, Some(addr.ip()));
            assert_eq!(reactor.peers.len(), 1);
            drop(held);
            let released = || shared.connections.load(Relaxed) == 0;
            assert!(
                turn_until(&mut reactor, released),
                "round {}: not closed",
                round
            );
            assert!(
                reactor.peers.is_empty(),
                "round {}: a count left behind",
                round
            );
        }
    }

    /// [patch] An IPv4 client of a `[::]` listener, refused for its
    /// bound, is named as the IPv4 address it is counted as, not as
    /// `::ffff:a.b.c.d`: sysmon's log line, which adds that an IPv6
    /// address counts by its /64, said it was counted as an IPv6 one
    /// (+sysmon.22).
    #[test]
    fn a_refused_ipv4_client_of_an_ipv6_listener_is_named_as_ipv4() {
        let listener = TcpListener::bind("[::]:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::new(Limits {
            max_connections: 64,
            max_connections_per_address: 1,
            ..Limits::default()
        }));
        let inbox = Arc::new(Inbox::new().unwrap());
        let mut reactor = Reactor::new(vec![listener.into()], shared.clone(), inbox).unwrap();
        let _held = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let admitted = || shared.connections.load(Relaxed) == 1;
        assert!(turn_until(&mut reactor, admitted), "not admitted");
        let _refused = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let counted = || shared.rejected_per_address.load(Relaxed) == 1;
        assert!(turn_until(&mut reactor, counted), "not refused");
        let last = *shared.last_refused_address.lock().unwrap();
        assert_eq!(last, Some(std::net::Ipv4Addr::LOCALHOST.into()));
    }

    /// [patch] The rests held for clients that do not read stay within
    /// `max_held_bytes` (+sysmon.25): one held alone is kept however large;
    /// the next, which would go over, is not: its connection is closed,
    /// the answer cut short, counted with its peer; the count goes back to
    /// zero as the rest is written.
    #[test]
    fn answers_held_for_clients_that_do_not_read_stay_within_the_bound() {
        use crate::{Response, Server};
        use std::io::Write;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            max_held_bytes: 64 * 1024,
            ..Limits::default()
        };
        let server = Server::from_listeners(vec![listener.into()], limits).unwrap();
        // more than a socket takes at once (4 MiB at most by default)
        let body = vec![b'x'; 8 << 20];
        let ask = |body: &[u8]| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let rq = server.recv_timeout(Duration::from_secs(5)).unwrap();
            let rq = rq.expect("a request");
            rq.respond(Response::from_data(body.to_vec())).unwrap();
            // a turn takes the answer
            assert!(server
                .recv_timeout(Duration::from_millis(20))
                .unwrap()
                .is_none());
            s
        };
        let first = ask(&body);
        let held = server.held_answer_bytes();
        assert!(held > 64 * 1024, "{} bytes held", held);
        let mut second = ask(&body);
        assert_eq!(server.answers_cut(), (1, Some(addr.ip())));
        assert_eq!(server.held_answer_bytes(), held);
        let mut cut = Vec::new();
        let _ = second.read_to_end(&mut cut);
        assert!(cut.len() < body.len(), "{} bytes", cut.len());
        // an answer the socket takes whole is not cut, whatever is held
        let mut small = ask(b"small");
        let mut whole = Vec::new();
        let _ = small.read_to_end(&mut whole);
        assert!(whole.ends_with(b"\r\n\r\nsmall"), "{:?}", whole);
        assert_eq!(server.answers_cut().0, 1);

        let read = std::thread::scope(|scope| {
            let reader = scope.spawn(move || {
                let mut whole = Vec::new();
                let _ = (&first).read_to_end(&mut whole);
                whole.len()
            });
            while !reader.is_finished() {
                let _ = server.recv_timeout(Duration::from_millis(20));
            }
            reader.join().unwrap()
        });
        assert!(read > body.len(), "{} bytes", read);
        assert_eq!(server.held_answer_bytes(), 0);
    }

    /// [patch] Loopback peers are not counted when `loopback_exempt`.
    #[test]
    fn loopback_is_not_bounded_when_exempt() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::new(Limits {
            max_connections: 64,
            max_connections_per_address: 2,
            loopback_exempt: true,
            ..Limits::default()
        }));
        let inbox = Arc::new(Inbox::new().unwrap());
        let mut reactor = Reactor::new(vec![listener.into()], shared.clone(), inbox).unwrap();
        let _held: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let admitted = || shared.connections.load(Relaxed) == 5;
        assert!(turn_until(&mut reactor, admitted), "not admitted");
        assert_eq!(shared.rejected.load(Relaxed), 0);
        assert!(reactor.peers.is_empty());
    }

    /// [patch] An IPv4 peer is itself, on an IPv6 listener too; an IPv6
    /// peer is its /64.
    #[test]
    fn peers_are_ipv4_addresses_and_ipv6_slash_64s() {
        use super::peer_key;
        let key = |ip: &str| peer_key(ip.parse().unwrap(), true);
        assert_eq!(key("192.0.2.7"), key("::ffff:192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        // an IPv4 address and an IPv6 /64 never share a key
        assert_ne!(key("0.0.0.1"), key("::1:0:0:0:1"));
        assert_ne!(key("0.0.0.0"), key("::1:0:0:0:0"));
        for loopback in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(key(loopback), None, "{loopback}");
            assert!(peer_key(loopback.parse().unwrap(), false).is_some());
        }
    }
}
