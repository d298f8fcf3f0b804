//! `uname(2)`: the kernel's name for itself and the machine, as
//! node_exporter's `node_uname_info` labels it.

use std::io;

/// The six fields of `struct utsname`, kept in the C struct (no allocation);
/// each accessor gives the bytes up to the terminating NUL.
#[derive(Clone, Copy)]
pub struct Uname(libc::utsname);

fn until_nul(field: &[libc::c_char]) -> &[u8] {
    // c_char is i8 or u8 by target; both are one byte.
    // SAFETY: c_char and u8 have the same size and alignment, and the slice
    // is borrowed from `field` for the same lifetime.
    let bytes = unsafe { std::slice::from_raw_parts(field.as_ptr().cast::<u8>(), field.len()) };
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

impl Uname {
    pub fn sysname(&self) -> &[u8] {
        until_nul(&self.0.sysname)
    }
    pub fn nodename(&self) -> &[u8] {
        until_nul(&self.0.nodename)
    }
    pub fn release(&self) -> &[u8] {
        until_nul(&self.0.release)
    }
    pub fn version(&self) -> &[u8] {
        until_nul(&self.0.version)
    }
    pub fn machine(&self) -> &[u8] {
        until_nul(&self.0.machine)
    }
    /// The NIS domain name; `(none)` when unset, as the kernel says.
    pub fn domainname(&self) -> &[u8] {
        until_nul(&self.0.domainname)
    }
}

/// `uname(2)`; it cannot fail on Linux short of a bad pointer, but the
/// errno convention is kept.
pub fn uname() -> io::Result<Uname> {
    // SAFETY: utsname is plain C data, all-zero is a valid value, and
    // uname writes only into the struct we own.
    let mut raw: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `raw` is a valid, writable utsname.
    super::zero_or_errno(unsafe { libc::uname(&mut raw) })?;
    Ok(Uname(raw))
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_proc_sys_kernel() {
        let u = super::uname().unwrap();
        assert_eq!(u.sysname(), b"Linux");
        let release = std::fs::read("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(u.release(), release.trim_ascii_end());
        let host = std::fs::read("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(u.nodename(), host.trim_ascii_end());
        let domain = std::fs::read("/proc/sys/kernel/domainname").unwrap();
        assert_eq!(u.domainname(), domain.trim_ascii_end());
    }
}
