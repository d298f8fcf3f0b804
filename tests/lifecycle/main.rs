//! The daemon's life as a process: the idle loop wakes only when something
//! is due, SIGHUP reloads the config or keeps the old one, kill -9 at any
//! moment leaves nothing corrupt behind, nothing a job starts outlives
//! the job or the daemon, and a boot that ended without a clean stop is
//! an `unexpected_reboot` at the next.
#[path = "../common/mod.rs"]
mod common;

mod boot_log; // fake boots: unexpected_reboot, the 100-boot bound, set aside
mod crash_safety; // kill -9 at 20 points of a backup and an audit
mod idle_sample_calls; // own figures read only when asked; descriptors counted with one fstat; absent files not looked for at every sample
mod job_descendants; // no grandchild of a job outlives it
mod loop_wakeups; // one wake-up per due deadline; signals at once
mod scheduler_slice; // the loop asks for a 100 µs slice, reset on fork
mod sighup_reload; // SIGHUP reloads, or keeps the old config
mod state_dir_lock; // a second daemon on one state_dir exits 1, naming the first
mod unexpected_signals; // SIGUSR1, SIGALRM, real-time, ...: logged (a line a minute) and ignored
