//! The update audit reports what the package manager would upgrade, and
//! nothing a package manager does (hang, fail, print garbage or gigabytes)
//! stops the daemon: the service against recorded runs of each manager, the
//! parsers on arbitrary bytes, the real binary end to end, and the real apt
//! of this machine.
#[path = "../common/mod.rs"]
mod common;
mod support;

mod apt_real;
mod e2e;
mod output_bounds;
mod parsers_fuzz;
mod service;
