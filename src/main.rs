//! The command line: parse arguments and dispatch to one command of
//! [`sysmon::cli`], which prints and picks the exit status (0 success, 1
//! failure at run time, 2 bad usage or config; see `src/cli/mod.rs` for the
//! per-command additions).

use std::process::ExitCode;

use argh::FromArgs;
use sysmon::cli;
use sysmon::log;

#[derive(FromArgs)]
/// sysmon: boot backup, package update audit and a live dashboard for one Linux box.
struct Args {
    /// print the version and exit
    #[argh(switch)]
    version: bool,
    #[argh(subcommand)]
    command: Option<Command>,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Run(cli::run::RunArgs),
    Sample(cli::sample::SampleArgs),
    CheckConfig(cli::check_config::CheckConfigArgs),
    Backup(cli::backup::BackupArgs),
    Verify(cli::verify::VerifyArgs),
    Audit(cli::audit::AuditArgs),
    PrepareDirs(cli::prepare_dirs::PrepareDirsArgs),
    History(cli::history::HistoryArgs),
    Top(cli::top::TopArgs),
}

fn main() -> ExitCode {
    log::init();
    let argv = match checked_arguments() {
        Ok(argv) => argv,
        Err(code) => return code,
    };
    let strs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let name = strs
        .first()
        .map_or("sysmon", |s| s.rsplit('/').next().unwrap_or(s));
    let args = match Args::from_args(&[name], strs.get(1..).unwrap_or(&[])) {
        Ok(args) => args,
        Err(early) => {
            return if early.status.is_ok() {
                let help = format!("{}\n", early.output);
                cli::emit(&help).map_or_else(|code| code, |()| ExitCode::SUCCESS)
            } else {
                stderr_line(&early.output);
                ExitCode::from(2)
            };
        }
    };
    if args.version {
        let version = concat!("sysmon ", env!("CARGO_PKG_VERSION"), "\n");
        return cli::emit(version).map_or_else(|code| code, |()| ExitCode::SUCCESS);
    }
    let Some(command) = args.command else {
        stderr_line("sysmon: no command given; try `sysmon --help`");
        return ExitCode::from(2);
    };
    // The commands that only print die quietly of SIGPIPE when their
    // reader leaves (`sysmon top | head`), as cat does; Rust's runtime
    // ignores SIGPIPE, so a print to a closed pipe would panic. `run`
    // keeps it ignored (clients hang up), `backup` and `audit` too: they
    // write files and logs, and finish them whoever reads their output.
    if matches!(
        command,
        Command::Sample(_)
            | Command::CheckConfig(_)
            | Command::Verify(_)
            | Command::History(_)
            | Command::Top(_)
    ) {
        // SAFETY: restoring a signal's default disposition, before any
        // thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let result = match command {
        Command::Run(a) => cli::run::run(a),
        Command::Sample(a) => cli::sample::sample(a),
        Command::CheckConfig(a) => cli::check_config::check_config(a),
        Command::Backup(a) => cli::backup::backup(a),
        Command::Verify(a) => cli::verify::verify(a),
        Command::Audit(a) => cli::audit::audit(a),
        Command::PrepareDirs(a) => cli::prepare_dirs::prepare_dirs(a),
        Command::History(a) => cli::history::history(a),
        Command::Top(a) => cli::top::top(a),
    };
    result.unwrap_or_else(|code| code)
}

/// The command line as text. An argument that is not UTF-8, or is empty,
/// is a usage error (exit 2) naming it by position: argh takes `&str`,
/// and `std::env::args` panicked on one that is not UTF-8 (exit 134, a
/// backtrace); no option takes an empty value, and an empty path made
/// errors that named nothing (`: cannot read: ...`) or none at all
/// (`--sys-root ''` read sysfs relative to the working directory).
fn checked_arguments() -> Result<Vec<String>, ExitCode> {
    let mut argv: Vec<String> = Vec::new();
    for (index, arg) in std::env::args_os().enumerate() {
        let arg = match arg.into_string() {
            Ok(arg) => arg,
            // The program's own name only names it in `--help`.
            Err(arg) if index == 0 => arg.to_string_lossy().into_owned(),
            Err(arg) => {
                let arg = escaped(arg.as_encoded_bytes());
                return Err(usage_error(format_args!(
                    "argument {index} `{arg}` is not valid UTF-8 (sysmon takes paths and \
                     values in UTF-8 only)"
                )));
            }
        };
        if arg.is_empty() && index > 0 {
            return Err(match argv.last().filter(|a| a.starts_with("--")) {
                Some(option) => usage_error(format_args!(
                    "argument {index} (the value of {option}) is empty"
                )),
                None => usage_error(format_args!("argument {index} is empty")),
            });
        }
        argv.push(arg);
    }
    Ok(argv)
}

/// `bytes` as a message quotes them: UTF-8 as `log::shown` shows text,
/// the rest as `\xNN`.
fn escaped(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut shown = String::new();
    for chunk in bytes.utf8_chunks() {
        let _ = write!(shown, "{}", log::shown(chunk.valid()));
        for byte in chunk.invalid() {
            let _ = write!(shown, "\\x{byte:02x}");
        }
    }
    shown
}

/// Writes `text` and a newline to stderr. A failed write (stderr on a full
/// disk) is ignored: there is nowhere left to report it, and the exit
/// status still says what happened; `eprintln!` panicked (exit 134).
fn stderr_line(text: &str) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(text.as_bytes())
        .and_then(|()| stderr.write_all(b"\n"));
}

/// Logs a usage error; its exit status.
fn usage_error(message: std::fmt::Arguments<'_>) -> ExitCode {
    log::error(message);
    ExitCode::from(2)
}
