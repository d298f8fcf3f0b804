//! The sampler's figures are right: the /proc parsers, `cpu::percent` and
//! the `Sampler` against hand-worked answers on recorded fixtures, the fast
//! parsers against a naive oracle, and the live daemon against the kernel's
//! own files on this machine.
#[path = "../common/mod.rs"]
mod common;

mod accuracy;
mod mounts_live;
mod roots;
