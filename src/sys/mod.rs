//! The only module that calls the C library directly, split by domain:
//! [`signals`], [`process`] (facts, children, subreaper, kill/reap),
//! [`files`] (statvfs, descriptor-relative access for the backup walk,
//! procfs checks), [`privileges`] (the calls the drop of `user = NAME` is made of), [`net`]
//! (setsockopt), [`memory`] (dropping start-up's pages of the binary),
//! [`sched`] (the loop thread's scheduler slice), [`netlink`] (a routing
//! netlink socket), [`time`] (local time) and
//! [`uname`] (the kernel's and machine's names).
//!
//! Invariant: this is the only module tree allowed `unsafe`, and every
//! `unsafe` block carries a `// SAFETY:` note. Everything here is a thin,
//! documented wrapper that turns the C convention (-1 and errno) into
//! `io::Result`. Each function is re-exported here, so callers name it
//! `crate::sys::name` whatever file it lives in.
#![allow(unsafe_code)]

use std::io;

pub mod files;
pub mod memory;
pub mod net;
pub mod netlink;
pub mod privileges;
pub mod process;
pub mod sched;
pub mod signals;
pub mod time;
pub mod uname;

pub use files::*;
pub use memory::*;
pub use net::*;
pub use netlink::*;
pub use privileges::*;
pub use process::*;
pub use sched::*;
pub use signals::*;
pub use time::*;
pub use uname::*;

/// Puts the step that failed in front of an error: `setresuid(998): ...`.
pub(crate) fn context(what: impl std::fmt::Display, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// `Ok` for a C return code of 0, else errno.
fn zero_or_errno(rc: libc::c_int) -> io::Result<()> {
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
