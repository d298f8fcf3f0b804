//! The command line's commands, one file each: a command runs what the
//! library offers, prints what it found and picks the exit status. Nothing
//! below this module prints a result or chooses an exit code: [`crate::backup`]
//! and [`crate::audit`] return results, and `main.rs` only parses the
//! arguments and dispatches here.
//!
//! Exit status, shared by every command: 0 success, 1 failure at run time,
//! 2 bad usage or config. `backup` adds 3 for "written, some files skipped";
//! `audit` adds 100 for "updates pending" and 3 for "unknown: the answer is
//! stale".

/// `writeln!` into a `String`, which cannot fail: what a command prints is
/// gathered and written by [`emit`], so a failed write is an error it
/// reports, not `println!`'s panic.
macro_rules! outln {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = $out.write_fmt(format_args!($($arg)*));
        $out.push('\n');
    }};
}

pub mod audit;
pub mod backup;
pub mod check_config;
pub mod history;
pub mod prepare_dirs;
pub mod run;
pub mod sample;
pub mod top;
pub mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{Config, FromCommandLine};
use crate::log;

/// Writes `text` to stdout. A write that fails (a full disk) is logged
/// naming stdout, exit 1: `println!` panicked (exit 134, a backtrace). A
/// reader gone is no error: SIGPIPE's for the commands that only print
/// (`main.rs`), and EPIPE, ignored, for `audit` and `backup`, which keep
/// SIGPIPE ignored; a closed stdout (EBADF) is ignored, as std does.
pub fn emit(text: &str) -> Result<(), ExitCode> {
    emit_bytes(text.as_bytes())
}

/// [`emit`] for bytes: `backup`'s summary, whose escaped file names are
/// written through [`log::Escaping`], an `io::Write`.
pub fn emit_bytes(text: &[u8]) -> Result<(), ExitCode> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            log::error(format_args!("stdout: {e}"));
            Err(ExitCode::from(1))
        }
        _ => Ok(()),
    }
}

/// Loads and validates the config, then applies command-line overrides; a
/// bad config is logged and exits 2.
pub fn load_config(
    path: Option<&Path>,
    proc_root: Option<PathBuf>,
    sys_root: Option<PathBuf>,
) -> Result<Config, ExitCode> {
    load_config_for_run(path, proc_root, sys_root, FromCommandLine::default())
}

/// [`load_config`] for `run`, whose `--listen` and `--user` replace the
/// file's `listen` lines and `user` (`from_command_line`: those are not
/// checked).
pub fn load_config_for_run(
    path: Option<&Path>,
    proc_root: Option<PathBuf>,
    sys_root: Option<PathBuf>,
    from_command_line: FromCommandLine,
) -> Result<Config, ExitCode> {
    let mut config = Config::load(path, from_command_line)
        .and_then(|c| c.validate().map(|()| c))
        .map_err(|e| {
            log::error(format_args!("{e}"));
            ExitCode::from(2)
        })?;
    if let Some(p) = proc_root {
        config.proc_root = p;
    }
    if let Some(s) = sys_root {
        config.sys_root = s;
    }
    Ok(config)
}

/// A start-up error (exit 2) when the proc root is not a directory: without
/// it every figure would be a zero that looks measured.
fn check_proc_root(config: &Config) -> Result<(), ExitCode> {
    check_root("--proc-root", &config.proc_root)
}

/// A start-up error (exit 2) naming `flag` and `root` when `root` is not a
/// directory. For `--sys-root` and `--root-fs`, checked when given: a
/// mistyped one was found only per collector at the first scrape, and
/// os-release's message did not name the path.
fn check_root(flag: &str, root: &Path) -> Result<(), ExitCode> {
    let problem = match std::fs::metadata(root) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => std::io::Error::from(std::io::ErrorKind::NotADirectory),
        Err(e) => e,
    };
    log::error(format_args!("{flag} {}: {problem}", root.display()));
    Err(ExitCode::from(2))
}
