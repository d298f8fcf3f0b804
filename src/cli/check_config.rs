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
    print!("{}", config.render());
    Ok(ExitCode::SUCCESS)
}
