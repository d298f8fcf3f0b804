//! The update audit reports what the package manager would upgrade, and
//! nothing a package manager does (hang, fail, print garbage or gigabytes)
//! stops the daemon: the service against recorded runs of each manager, the
//! parsers on arbitrary bytes, the real binary end to end, and the real apt
//! of this machine.
#[path = "../common/mod.rs"]
mod common;
mod support; // the shims on PATH and a driver for AuditService

mod apt_details; // held, kept back, autoremovable, per origin; apt_info.py's metrics
mod apt_real; // this machine's apt, against `apt list --upgradable`
mod apt_sandbox; // a file:// repository: phased updates and foreign-architecture holds
mod arch_audit; // security on Arch: arch-audit present, absent, failing
mod dnf_real; // a real dnf 4 and rpm against a local repository with an advisory
mod e2e; // the real binary: hangs, timeouts, SIGTERM, `sysmon audit`
mod kernel; // reboot required: the running kernel against the newest installed
mod output_bounds; // hostile output cannot grow the daemon
mod parsers_fuzz; // arbitrary bytes into every parser
mod restart; // processes still mapping replaced libraries, listed until restarted
mod restart_systemd; // the same under a real systemd (nspawn): grouped by unit
mod service; // recorded runs of each manager, replayed by shims
