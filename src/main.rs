//! The command line: parse arguments, load the config, run one command.
//! Exit status: 0 success, 1 failure at run time, 2 bad usage or config.
//! (`backup` adds 3 for "written, some files skipped"; `audit` adds 100 for
//! "updates pending" and 3 for "unknown: the answer is stale".)

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;
use sysmon::config::{self, Config};
use sysmon::daemon::{self, Daemon};
use sysmon::{log, sys};

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
    Run(RunArgs),
    Sample(SampleArgs),
    CheckConfig(CheckConfigArgs),
    Backup(BackupArgs),
    Verify(VerifyArgs),
    Audit(AuditArgs),
    PrepareDirs(PrepareDirsArgs),
}

#[derive(FromArgs)]
#[argh(subcommand, name = "run")]
/// run the daemon in the foreground (init systems supervise it)
struct RunArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    config: Option<PathBuf>,
    /// listen address (repeatable) replacing the config's: 127.0.0.1:0 for
    /// any free port, [::1]:8080, or a unix socket path
    #[argh(option)]
    listen: Vec<String>,
    /// where procfs is mounted (default /proc)
    #[argh(option)]
    proc_root: Option<PathBuf>,
    /// where sysfs is mounted (default /sys)
    #[argh(option)]
    sys_root: Option<PathBuf>,
    /// started as root, become this user once the port is bound, keeping only
    /// CAP_DAC_READ_SEARCH (as `user =` in the config, which it replaces)
    #[argh(option)]
    user: Option<String>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "sample")]
/// print one sample as JSON (the /data.json schema) and exit
struct SampleArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    config: Option<PathBuf>,
    /// where procfs is mounted (default /proc)
    #[argh(option)]
    proc_root: Option<PathBuf>,
    /// where sysfs is mounted (default /sys)
    #[argh(option)]
    sys_root: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "check-config")]
/// validate the config and print the effective configuration
struct CheckConfigArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    config: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "backup")]
/// run one backup now, in the foreground; exit 0 all archived, 3 some files skipped, 1 failed
struct BackupArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    config: Option<PathBuf>,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "verify")]
/// check every entry's CRC in an archive; exit 0 when all are intact
struct VerifyArgs {
    /// the archive to check
    #[argh(positional)]
    archive: PathBuf,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "audit")]
/// list pending package updates now; exit 0 none pending, 100 updates pending, 3 unknown (stale lists), 1 error
struct AuditArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    config: Option<PathBuf>,
    /// print the `updates` object of /data.json instead of a list
    #[argh(switch)]
    json: bool,
}

#[derive(FromArgs)]
#[argh(subcommand, name = "prepare-dirs")]
/// create sysmon's directories for the service user (init scripts run this as root before a start)
struct PrepareDirsArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    config: Option<PathBuf>,
    /// the user the directories are for (and its primary group)
    #[argh(option)]
    owner: String,
    /// also the directory of the service's log file (mode 0750)
    #[argh(option)]
    log_dir: Option<PathBuf>,
}

/// Loads and validates the config, then applies command-line overrides.
fn load_config(
    path: Option<&PathBuf>,
    proc_root: Option<PathBuf>,
    sys_root: Option<PathBuf>,
) -> Result<Config, ExitCode> {
    let mut config = Config::load(path.map(PathBuf::as_path))
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

fn main() -> ExitCode {
    log::init();
    let argv: Vec<String> = std::env::args().collect();
    let strs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let name = strs
        .first()
        .map_or("sysmon", |s| s.rsplit('/').next().unwrap_or(s));
    let args = match Args::from_args(&[name], strs.get(1..).unwrap_or(&[])) {
        Ok(args) => args,
        Err(early) => {
            return if early.status.is_ok() {
                println!("{}", early.output);
                ExitCode::SUCCESS
            } else {
                eprintln!("{}", early.output);
                ExitCode::from(2)
            };
        }
    };
    if args.version {
        println!("sysmon {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let Some(command) = args.command else {
        eprintln!("sysmon: no command given; try `sysmon --help`");
        return ExitCode::from(2);
    };
    let result = match command {
        Command::Run(a) => run(a),
        Command::Sample(a) => sample(a),
        Command::CheckConfig(a) => load_config(a.config.as_ref(), None, None).and_then(|c| {
            // The same checks `run` makes before it binds, password file included.
            if let Err(e) = sysmon::access::AccessPolicy::from_config(&c) {
                log::error(format_args!("{e}"));
                return Err(ExitCode::from(2));
            }
            print!("{}", c.render());
            Ok(ExitCode::SUCCESS)
        }),
        Command::Backup(a) => {
            load_config(a.config.as_ref(), None, None).map(|c| sysmon::backup::cli_backup(&c))
        }
        Command::Verify(a) => Ok(sysmon::backup::cli_verify(&a.archive)),
        Command::Audit(a) => {
            load_config(a.config.as_ref(), None, None).map(|c| sysmon::audit::cli_audit(&c, a.json))
        }
        Command::PrepareDirs(a) => prepare_dirs(a),
    };
    result.unwrap_or_else(|code| code)
}

fn run(args: RunArgs) -> Result<ExitCode, ExitCode> {
    // Before any thread exists (the sets are per thread; children are
    // started from this one): what the service manager passed on as ambient
    // and inheritable capabilities stays with sysmon and goes no further.
    match sys::clear_inherited_capabilities() {
        Ok(true) => {}
        Ok(false) => log::warn(format_args!(
            "cannot empty the inheritable capability set (capset refused by a seccomp filter); \
             the ambient set is empty, so programs sysmon starts get no capability"
        )),
        Err(e) => {
            log::error(format_args!("{e}"));
            return Err(ExitCode::from(1));
        }
    }
    let mut config = load_config(args.config.as_ref(), args.proc_root, args.sys_root)?;
    let user_on_command_line = args.user.is_some();
    if let Some(user) = args.user {
        config.user = Some(user);
    }
    check_proc_root(&config)?;
    if !args.listen.is_empty() {
        config.listen.clear();
        for listen in &args.listen {
            config
                .listen
                .push(config::parse_listen(listen).map_err(|e| {
                    log::error(format_args!("--listen: {e}"));
                    ExitCode::from(2)
                })?);
        }
    }
    let file = config
        .file
        .as_ref()
        .map_or("(defaults)".into(), |f| f.display().to_string());
    if let Err(e) = sysmon::access::AccessPolicy::from_config(&config) {
        log::error(format_args!("{e}"));
        return Err(ExitCode::from(2));
    }
    // Config::load has looked the user up already; this is for its uid.
    let account = config.account().map_err(|e| {
        log::error(format_args!("{file}: {e}"));
        ExitCode::from(2)
    })?;
    let stays_root = account.as_ref().is_none_or(|a| a.uid == 0);
    if let Some(open) = config.listen.iter().find(|l| !l.is_local()) {
        if sys::effective_uid() == 0 && stays_root {
            log::warn(format_args!(
                "running as root and listening on {open}, beyond loopback: set `user = NAME` or use a dedicated user (see README, Security)"
            ));
        }
    }
    if let (Some(user), true) = (&config.user, config.updates.refresh) {
        log::warn(format_args!(
            "update_refresh = on needs root, which `user = {user}` gives up after binding: \
             refreshing the package lists will fail, and the audit will use them as they are (shown stale)"
        ));
    }
    // Archives and logs are private unless a mode is set explicitly.
    sys::set_umask(0o077);
    // Whatever an audit or alert command starts stays below sysmon, even
    // after a setsid or a double fork, so it can be killed (src/orphans.rs).
    if let Err(e) = sys::become_child_subreaper() {
        log::warn(format_args!(
            "cannot become a child subreaper ({e}): processes an audit or alert command leaves behind may survive it"
        ));
    }
    if let Err(e) = sys::install_signal_handlers() {
        log::error(format_args!("cannot install signal handlers: {e}"));
        return Err(ExitCode::from(1));
    }
    if let Err(e) = sys::raise_open_files_limit() {
        log::warn(format_args!("cannot raise the open files limit: {e}"));
    }
    let mut daemon = Daemon::bind(config).map_err(|e| {
        log::error(format_args!("{e}"));
        ExitCode::from(1)
    })?;
    if user_on_command_line {
        daemon.keep_user_from_command_line();
    }
    for listen in daemon.listening() {
        match listen {
            config::Listen::Tcp(addr) => log::info(format_args!("listening on http://{addr}")),
            config::Listen::Unix(path) => {
                log::info(format_args!("listening on unix:{}", path.display()))
            }
        }
    }
    daemon.run();
    Ok(ExitCode::SUCCESS)
}

/// A start-up error (exit 2) when the proc root is not a directory: without
/// it every figure would be a zero that looks measured.
fn check_proc_root(config: &Config) -> Result<(), ExitCode> {
    let root = &config.proc_root;
    match std::fs::metadata(root) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => {
            log::error(format_args!(
                "--proc-root {}: not a directory",
                root.display()
            ));
            Err(ExitCode::from(2))
        }
        Err(e) => {
            log::error(format_args!("--proc-root {}: {e}", root.display()));
            Err(ExitCode::from(2))
        }
    }
}

fn sample(args: SampleArgs) -> Result<ExitCode, ExitCode> {
    let config = load_config(args.config.as_ref(), args.proc_root, args.sys_root)?;
    check_proc_root(&config)?;
    let mut sampler = daemon::new_sampler(&config);
    let mut sample = sysmon::sample::Sample::default();
    // Two readings a moment apart, so CPU figures describe now, not the
    // average since boot (which is what a reading with no change shows).
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    sampler.sample(now(), &mut sample);
    // A sample with a source missing would print zeros as if measured.
    let mut failed = false;
    for why in sampler.failures() {
        log::error(format_args!("cannot sample {why}"));
        failed = true;
    }
    if failed {
        log::error(format_args!(
            "--proc-root {}: not a readable procfs; nothing printed",
            config.proc_root.display()
        ));
        return Err(ExitCode::from(2));
    }
    std::thread::sleep(Duration::from_millis(250));
    sampler.sample(now(), &mut sample);
    let backup = sysmon::backup::BackupService::new(&config);
    let audit = sysmon::audit::AuditService::new(&config);
    println!("{}", daemon::render(&sample, &config, &backup, &audit));
    Ok(ExitCode::SUCCESS)
}

/// `prepare-dirs`: the directories of the config (see `sysmon::dirs`) made
/// for `--owner`; silent when all is well, so a service start stays quiet.
fn prepare_dirs(args: PrepareDirsArgs) -> Result<ExitCode, ExitCode> {
    let config = load_config(args.config.as_ref(), None, None)?;
    let account = match sys::lookup_user(&args.owner) {
        Ok(Some(account)) => account,
        Ok(None) => {
            log::error(format_args!(
                "--owner: no user `{}` on this system",
                args.owner
            ));
            return Err(ExitCode::from(2));
        }
        Err(e) => {
            log::error(format_args!(
                "--owner: cannot look up `{}`: {e}",
                args.owner
            ));
            return Err(ExitCode::from(2));
        }
    };
    for dir in sysmon::dirs::of(&config, args.log_dir.as_deref()) {
        if let Err(e) = sysmon::dirs::prepare(&dir, account.uid, account.gid) {
            log::error(format_args!("{}: {e}", dir.what));
            return Err(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
