//! The daemon's life as a process: the idle loop wakes only when something
//! is due, SIGHUP reloads the config or keeps the old one, kill -9 at any
//! moment leaves nothing corrupt behind, and nothing a job starts outlives
//! the job or the daemon.
#[path = "../common/mod.rs"]
mod common;

mod crash_safety; // kill -9 at 20 points of a backup and an audit
mod job_descendants; // no grandchild of a job outlives it
mod loop_wakeups; // one wake-up per due deadline; signals at once
mod sighup_reload; // SIGHUP reloads, or keeps the old config
