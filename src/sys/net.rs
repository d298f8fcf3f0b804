//! Socket options sysmon sets on the descriptors tiny_http hands it.

use std::io;

/// Disables Nagle's algorithm on a listening socket; Linux copies the flag to
/// every accepted connection. An answer the socket does not take at once
/// goes out in several writes (the first at once, the rest on EPOLLOUT), which
/// Nagle plus the peer's delayed ACK would stall by 40 ms.
pub fn set_tcp_nodelay(fd: std::os::fd::RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `on`, which lives
    // for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
