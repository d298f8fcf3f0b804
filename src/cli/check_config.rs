//! `sysmon check-config`: validate the config and print the effective
//! configuration; exit 0, or 2 for a bad config or password file.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use crate::log;

#[derive(FromArgs)]
#[argh(subcommand, name = "check-config")]
/// validate the config and print the effective configuration
pub struct CheckConfigArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    pub config: Option<PathBuf>,
}

pub fn check_config(args: CheckConfigArgs) -> Result<ExitCode, ExitCode> {
    let config = super::load_config(args.config.as_deref(), None, None)?;
    // The same checks `run` makes before it binds, password file included.
    if let Err(e) = crate::access::AccessPolicy::from_config(&config) {
        log::error(format_args!("{e}"));
        return Err(ExitCode::from(2));
    }
    // Settings another key makes pointless: the config works, so warnings
    // (on stderr, as `run` logs them), not an error.
    for warning in config.settings_without_effect() {
        log::warn(format_args!("{warning}"));
    }
    // As `run` warns at start, for the user it will run as.
    let daemon_uid = match config.account() {
        Ok(Some(account)) => account.uid,
        _ => crate::sys::effective_uid(),
    };
    crate::dirs::warn_if_loose(
        &crate::dirs::written(&config),
        daemon_uid,
        &config.proc_root,
    );
    let mut out = config.render();
    // The daemon makes the file at this size at once (see history_file):
    // a sysadmin sees what the tiers cost before a restart. A comment, so
    // what is printed still reads as a config.
    if !config.history_tiers.is_empty() {
        outln!(
            out,
            "# history file: {} bytes ({}, made at this size, never grows)",
            crate::num::Grouped(crate::history_file::file_size(&config.history_tiers)),
            config.state_dir.join("history.db").display()
        );
    }
    super::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
