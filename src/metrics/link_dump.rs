//! One `RTM_GETLINK` netlink dump per scrape: every network device's
//! flags, MTU, operstate, carrier, counts, addresses and alias in one
//! request and a few receives, where /sys/class/net takes one `pread` per
//! attribute (23 per interface). [`super::netclass`] renders from it.
//!
//! The socket is opened at the first dump and kept; the receive buffer and
//! the list of links are kept too, so a warm dump allocates nothing. A dump
//! that fails (the socket refused by a seccomp filter or systemd's
//! `RestrictAddressFamilies=`, `ENOBUFS`, an interrupted or malformed
//! answer) returns `false` and the caller reads sysfs for that scrape: one
//! log line when dumps start failing, one when they work again, none per
//! scrape. A socket the kernel refuses to create is not asked for again.

use crate::proc::rtnetlink::{self, DumpError, Link};
use crate::sys::RouteSocket;

/// What one receive can take. The kernel fills a dump's datagrams up to
/// the larger of a page and what the reader last asked for, at most 32 KiB
/// (`netlink_dump`); a larger datagram is an error, not cut silently.
const RECEIVE_BYTES: usize = 32 * 1024;
/// A dump's datagrams: ends the loop if an answer never says `NLMSG_DONE`.
const MAX_PARTS: usize = 4096;

pub struct LinkDump {
    socket: Option<RouteSocket>,
    /// The kernel refused the socket itself: sysfs from now on.
    refused: bool,
    /// The last dump failed (logged once until one works again).
    failing: bool,
    seq: u32,
    receive: Vec<u8>,
    links: Vec<Link>,
}

/// Why a dump failed, for the one log line.
enum Failure {
    Io(std::io::Error),
    Dump(DumpError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Io(e) => e.fmt(f),
            Failure::Dump(e) => e.fmt(f),
        }
    }
}

impl LinkDump {
    pub fn new() -> Self {
        LinkDump {
            socket: None,
            refused: false,
            failing: false,
            seq: 0,
            receive: Vec::new(),
            links: Vec::new(),
        }
    }

    /// The links of the last successful [`LinkDump::dump`].
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Dumps the links again: `true` when [`LinkDump::links`] now holds
    /// the whole list, `false` when the caller must read sysfs instead.
    /// An interrupted dump (the device list changed meanwhile) is retried
    /// once.
    pub fn dump(&mut self) -> bool {
        if self.refused {
            return false;
        }
        let mut result = self.try_dump();
        if matches!(result, Err(Failure::Dump(DumpError::Interrupted))) {
            result = self.try_dump();
        }
        match result {
            Ok(()) => {
                if self.failing {
                    crate::log::info(format_args!(
                        "/sys/class/net families: the netlink link dump works again"
                    ));
                    self.failing = false;
                }
                true
            }
            Err(e) => {
                // Whatever is left of that answer stays in the old socket.
                self.socket = None;
                self.links.clear();
                if !self.failing {
                    crate::log::warn(format_args!(
                        "/sys/class/net families: netlink RTM_GETLINK dump failed ({e}); \
                         reading /sys/class/net instead until it works"
                    ));
                    self.failing = true;
                }
                false
            }
        }
    }

    fn try_dump(&mut self) -> Result<(), Failure> {
        if self.socket.is_none() {
            match RouteSocket::open() {
                Ok(socket) => self.socket = Some(socket),
                Err(e) => {
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EPERM | libc::EACCES | libc::EAFNOSUPPORT)
                    ) {
                        crate::log::warn(format_args!(
                            "/sys/class/net families: netlink socket refused ({e}); \
                             reading /sys/class/net instead"
                        ));
                        self.refused = true;
                        self.failing = true;
                    }
                    return Err(Failure::Io(e));
                }
            }
        }
        let Some(socket) = &self.socket else {
            unreachable!("the socket was just opened")
        };
        if self.receive.is_empty() {
            // Zeroed by the allocator (calloc): pages the kernel never
            // writes into stay untouched, so a small dump costs a page or
            // two of memory, not 32 KiB.
            self.receive = vec![0; RECEIVE_BYTES];
        }
        self.seq = self.seq.wrapping_add(1);
        socket
            .send(&rtnetlink::getlink_request(self.seq))
            .map_err(Failure::Io)?;
        self.links.clear();
        for _ in 0..MAX_PARTS {
            let len = socket.receive(&mut self.receive).map_err(Failure::Io)?;
            let done = rtnetlink::parse_part(&self.receive[..len], self.seq, &mut self.links)
                .map_err(Failure::Dump)?;
            if done {
                return Ok(());
            }
        }
        Err(Failure::Dump(DumpError::Malformed(
            "no NLMSG_DONE after 4096 datagrams",
        )))
    }
}
