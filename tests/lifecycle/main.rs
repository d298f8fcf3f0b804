//! The daemon's life as a process: the idle loop wakes only when something
//! is due, SIGHUP reloads the config or keeps the old one, kill -9 at any
//! moment leaves nothing corrupt behind, and nothing a job starts outlives
//! the job or the daemon.
#[path = "../common/mod.rs"]
mod common;

mod crash_safety;
mod job_descendants;
mod loop_wakeups;
mod sighup_reload;
