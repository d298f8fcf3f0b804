//! `sysmon run`: the daemon in the foreground (init systems supervise it).
//! The start-up checks, each failing with exit 2 (bad usage or config) or 1
//! (the system refused), then [`Daemon::run`] until SIGTERM: exit 0.

use crate::owned::{owned, text_of};
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use crate::config;
use crate::daemon::Daemon;
use crate::{log, sys};

#[derive(FromArgs)]
#[argh(subcommand, name = "run")]
/// run the daemon in the foreground (init systems supervise it)
pub struct RunArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    pub config: Option<PathBuf>,
    /// listen address (repeatable) replacing the config's: 127.0.0.1:0 for
    /// any free port, [::1]:8080, or a unix socket path
    #[argh(option)]
    pub listen: Vec<String>,
    /// where procfs is mounted (default /proc)
    #[argh(option)]
    pub proc_root: Option<PathBuf>,
    /// where sysfs is mounted (default /sys)
    #[argh(option)]
    pub sys_root: Option<PathBuf>,
    /// the host's root file system, where /metrics finds os-release
    /// (default /; node_exporter's --path.rootfs)
    #[argh(option)]
    pub root_fs: Option<PathBuf>,
    /// started as root, become this user once the port is bound, keeping only
    /// CAP_DAC_READ_SEARCH (as `user =` in the config, which it replaces)
    #[argh(option)]
    pub user: Option<String>,
}

pub fn run(args: RunArgs) -> Result<ExitCode, ExitCode> {
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
    let from_command_line = config::FromCommandLine {
        listen: !args.listen.is_empty(),
        user: args.user.is_some(),
    };
    let sys_root_given = args.sys_root.is_some();
    let mut config = super::load_config_for_run(
        args.config.as_deref(),
        args.proc_root,
        args.sys_root,
        from_command_line,
    )?;
    if let Some(root_fs) = args.root_fs {
        super::check_root("--root-fs", &root_fs)?;
        config.root_fs = root_fs;
    }
    if sys_root_given {
        super::check_root("--sys-root", &config.sys_root)?;
    }
    let user_on_command_line = args.user.is_some();
    if let Some(user) = args.user {
        config.user = Some(user);
    }
    super::check_proc_root(&config)?;
    if !args.listen.is_empty() {
        // The bound of the file's `listen` lines: each is checked against
        // every earlier one, and each is bound.
        let most = config::MAX_LINES_OF_ONE_KEY;
        if args.listen.len() > most {
            log::error(format_args!(
                "--listen: given more than {most} times (sysmon takes at most that many \
                 addresses)"
            ));
            return Err(ExitCode::from(2));
        }
        config.listen.clear();
        for listen in &args.listen {
            config
                .listen
                .push(config::parse_listen(listen).map_err(|e| {
                    log::error(format_args!("--listen: {e}"));
                    ExitCode::from(2)
                })?);
        }
        // These replace the file's `listen` lines (loaded unchecked, and
        // named in a warning below): the check the file's get, naming the
        // values as given.
        let ipv6_takes_ipv4 = config::ipv6_wildcard_takes_ipv4();
        if let Some((i, j, why)) = config::first_listen_overlap(&config.listen, ipv6_takes_ipv4) {
            log::error(format_args!(
                "--listen `{}` overlaps --listen `{}`: {why}",
                log::shown(&args.listen[j]),
                log::shown(&args.listen[i])
            ));
            return Err(ExitCode::from(2));
        }
    }
    let file = config
        .file
        .as_ref()
        .map_or(owned("(defaults)"), |f| text_of(&f.display()));
    if let Err(e) = crate::access::AccessPolicy::from_config(&config) {
        log::error(format_args!("{e}"));
        return Err(ExitCode::from(2));
    }
    // As check-config says them (and that --listen and --user replaced the
    // file's `listen` lines and `user`); the reload says them again.
    for warning in config.settings_without_effect() {
        log::warn(format_args!("{warning}"));
    }
    // Config::load has looked the file's user up already; this is for its
    // uid, or the first look at --user's (`e` says `user: ...`).
    let account = config.account().map_err(|e| {
        if user_on_command_line {
            log::error(format_args!("--{e}"));
        } else {
            log::error(format_args!("{file}: {e}"));
        }
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
    let written_dirs = crate::dirs::written(&config);
    let proc_root = config.proc_root.clone();
    let mut daemon = Daemon::bind(config).map_err(|e| {
        log::error(format_args!("{e}"));
        ExitCode::from(1)
    })?;
    // Now that privileges are dropped: the effective uid is sysmon's own.
    crate::dirs::warn_if_loose(&written_dirs, sys::effective_uid(), &proc_root);
    if user_on_command_line {
        daemon.keep_user_from_command_line();
    }
    if !args.listen.is_empty() {
        daemon.keep_listen_from_command_line();
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
