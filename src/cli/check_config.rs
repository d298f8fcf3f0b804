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
    crate::dirs::warn_if_loose(&crate::dirs::written(&config), daemon_uid);
    let mut out = config.render();
    // The daemon makes the file at this size at once (see history_file):
    // a sysadmin sees what the tiers cost before a restart. A comment, so
    // what is printed still reads as a config.
    if !config.history_tiers.is_empty() {
        outln!(
            out,
            "# history file: {} bytes ({}, made at this size, never grows)",
            grouped(crate::history_file::file_size(&config.history_tiers)),
            config.state_dir.join("history.db").display()
        );
    }
    super::emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `8183808` as `8,183,808`.
fn grouped(n: u64) -> String {
    let digits = crate::owned::text_of(&n);
    let mut out = String::with_capacity(digits.len() * 4 / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn grouped_puts_a_comma_every_three_digits() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (8_183_808, "8,183,808"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(super::grouped(n), text);
        }
    }
}
