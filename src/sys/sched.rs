//! The scheduler slice of the calling thread: on Linux ≥ 6.12 (EEVDF)
//! `sched_setattr` with `SCHED_OTHER` takes `sched_runtime` as the slice
//! the thread asks for (clamped to 0.1–100 ms; the default is the base
//! slice, 0.75 ms × (1 + log2 CPUs)). A short slice gives a waking thread
//! an earlier virtual deadline, so it preempts a CPU-bound task sooner: on
//! a busy box an answer waits less for the loop to get a CPU.
//!
//! Contract: only the calling thread's slice changes, never its policy or
//! nice value; `SCHED_FLAG_RESET_ON_FORK` is set with it, so threads and
//! children started afterwards (the audit's package managers) get the
//! default back. Unprivileged: the kernel checks only that the policy and
//! nice value do not rise (`user_check_sched_setscheduler`), and neither
//! does. Kernels before 6.12 accept the call and ignore the slice, which
//! [`request_thread_slice`] reports as [`Slice::Ignored`].

use std::io;
use std::time::Duration;

/// `struct sched_attr` (include/uapi/linux/sched/types.h), SCHED_ATTR_SIZE_VER1.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
    sched_util_min: u32,
    sched_util_max: u32,
}

const SCHED_OTHER: u32 = 0;
const SCHED_BATCH: u32 = 3;
const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;

/// What the kernel made of a slice request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slice {
    /// In place: the slice the kernel reports now (the request, clamped).
    Set(Duration),
    /// Accepted but not honoured (Linux before 6.12 reads back no slice), or
    /// the thread runs under a policy other than SCHED_OTHER/SCHED_BATCH
    /// (set by an administrator), which is left alone.
    Ignored,
}

fn get_attr() -> io::Result<SchedAttr> {
    let mut attr = SchedAttr::default();
    // SAFETY: sched_getattr writes at most `size` (the third argument)
    // bytes into `attr`, which we own and which is exactly that large; pid
    // 0 is the calling thread.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut SchedAttr,
            std::mem::size_of::<SchedAttr>() as libc::c_uint,
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(attr)
}

/// Asks for `slice` for the calling thread (see the module's contract).
/// An error is the kernel's refusal (ENOSYS before Linux 3.14, EPERM from
/// a seccomp filter); nothing changed then.
pub fn request_thread_slice(slice: Duration) -> io::Result<Slice> {
    let mut attr = get_attr()?;
    if attr.sched_policy != SCHED_OTHER && attr.sched_policy != SCHED_BATCH {
        return Ok(Slice::Ignored);
    }
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    attr.sched_flags = SCHED_FLAG_RESET_ON_FORK;
    attr.sched_runtime = u64::try_from(slice.as_nanos()).unwrap_or(u64::MAX);
    // Kept from the reading above: the policy and the nice value (a lower
    // nice would need CAP_SYS_NICE).
    attr.sched_priority = 0;
    attr.sched_deadline = 0;
    attr.sched_period = 0;
    // SAFETY: sched_setattr reads `attr.size` bytes from `attr`, which
    // lives across the call; pid 0 is the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // Linux ≥ 6.12 reports a fair thread's slice in sched_runtime; older
    // kernels report 0 and ignored the request.
    match get_attr()?.sched_runtime {
        0 => Ok(Slice::Ignored),
        ns => Ok(Slice::Set(Duration::from_nanos(ns))),
    }
}
