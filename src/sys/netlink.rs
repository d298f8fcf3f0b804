//! A `NETLINK_ROUTE` socket: the kernel's routing netlink, asked for
//! `RTM_GETLINK` dumps by [`crate::metrics`]' `/sys/class/net` families.
//! The bytes sent and received are built and parsed by
//! [`crate::proc::rtnetlink`]; this file only moves them.
//!
//! Nothing here waits: every receive is `MSG_DONTWAIT`, and the kernel
//! writes a dump's first part while the request is sent and each next part
//! as the previous one is read, so a dump is there when asked for. A
//! receive that finds nothing is `WouldBlock`, which the caller takes as a
//! failed dump.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A routing netlink socket, bound by the kernel to a port id of its choice
/// on the first send.
pub struct RouteSocket {
    fd: OwnedFd,
}

impl RouteSocket {
    /// `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)`. Fails
    /// with `EAFNOSUPPORT` under systemd's `RestrictAddressFamilies=`
    /// without `AF_NETLINK`, `EPERM` under a seccomp filter.
    pub fn open() -> io::Result<RouteSocket> {
        // SAFETY: socket(2) takes no pointers; the descriptor it returns is
        // owned by nobody else, so OwnedFd may close it.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(RouteSocket {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    /// Sends one request to the kernel (port 0), whole or not at all.
    pub fn send(&self, request: &[u8]) -> io::Result<()> {
        // SAFETY: the kernel's address is a zeroed sockaddr_nl with the
        // family set (pid 0, no groups); `request` and `to` live for the call
        // and their lengths are passed with them.
        let sent = unsafe {
            let mut to: libc::sockaddr_nl = std::mem::zeroed();
            to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            libc::sendto(
                self.fd.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                libc::MSG_DONTWAIT,
                (&to as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        if sent as usize != request.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "netlink request sent in part",
            ));
        }
        Ok(())
    }

    /// Receives one datagram (one or more netlink messages) into `buf`
    /// without waiting. `MSG_TRUNC` makes the kernel return the datagram's
    /// real length, so a datagram larger than `buf` is an error here rather
    /// than messages silently cut.
    pub fn receive(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: recv(2) writes at most `buf.len()` bytes into `buf`,
            // which is borrowed mutably for the call.
            let got = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if got < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let got = got as usize;
            if got > buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("netlink datagram of {got} bytes truncated to {}", buf.len()),
                ));
            }
            return Ok(got);
        }
    }
}
