//! `sysmon prepare-dirs`: the directories of the config (see
//! [`crate::dirs`]) made for `--owner`, for init scripts that start sysmon
//! as root; silent when all is well, so a service start stays quiet.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use crate::{log, sys};

#[derive(FromArgs)]
#[argh(subcommand, name = "prepare-dirs")]
/// create sysmon's directories for the service user (init scripts run this as root before a start)
pub struct PrepareDirsArgs {
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

pub fn prepare_dirs(args: PrepareDirsArgs) -> Result<ExitCode, ExitCode> {
    let config = super::load_config(args.config.as_deref(), None, None)?;
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
    for dir in crate::dirs::of(&config, args.log_dir.as_deref()) {
        if let Err(e) = crate::dirs::prepare(&dir, account.uid, account.gid) {
            log::error(format_args!("{}: {e}", dir.what));
            return Err(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
