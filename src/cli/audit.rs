//! `sysmon audit`: run one audit now ([`audit::audit_once`]) and print
//! `name current -> new [security]` per package, or with `--json` the
//! `updates` object of /data.json. Exit status: 0 nothing pending, 100
//! updates pending, 3 unknown (a stale answer listing nothing: lists never
//! downloaded or too old, or the refresh failed), 1 error (including
//! disabled or unsupported).

use crate::owned::owned;
use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use crate::audit::{self, managers::Choice};
use crate::log;
use crate::report::UpdatesJson;

#[derive(FromArgs)]
#[argh(subcommand, name = "audit")]
/// list pending package updates now; exit 0 none pending, 100 updates pending, 3 unknown (stale lists), 1 error
pub struct AuditArgs {
    /// config file (default: /etc/sysmon.conf if it exists, else built-in defaults)
    #[argh(option)]
    pub config: Option<PathBuf>,
    /// print the `updates` object of /data.json instead of a list
    #[argh(switch)]
    pub json: bool,
}

pub fn audit(args: AuditArgs) -> Result<ExitCode, ExitCode> {
    let config = super::load_config(args.config.as_deref(), None, None)?;
    let json = args.json;
    let service = audit::audit_once(&config);
    let status = UpdatesJson::new(&service);
    // A reader that hangs up early (`| head`) is not an error of the audit;
    // a write that fails otherwise (a full disk) is: the exit status would
    // say a list is out there.
    let print = |text: String| super::emit(&text);
    if json {
        print(miniserde::json::to_string(&status) + "\n")?;
    }
    Ok(match service.last_result().map(|r| (&r.outcome, r)) {
        Some((Ok(parsed), result)) => {
            if !json {
                print(parsed.packages.iter().map(|p| p.line() + "\n").collect())?;
            }
            if let Some(why) = &result.stale {
                log::warn(format_args!("the list may be out of date: {why}"));
            }
            if parsed.packages_dropped > 0 {
                log::warn(format_args!(
                    "{} more packages pending, not listed (only the first {} are kept)",
                    parsed.packages_dropped,
                    parsed.packages.len()
                ));
            }
            if result.count_unknown || (parsed.count() == 0 && result.stale.is_some()) {
                ExitCode::from(3)
            } else if parsed.count() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(100)
            }
        }
        Some((Err(_), _)) => ExitCode::from(1),
        None => {
            let why = match service.choice() {
                Choice::Disabled => owned("update_manager = none: the audit is disabled"),
                _ => status.error.unwrap_or_else(|| owned("no result")),
            };
            log::error(format_args!("audit: {why}"));
            ExitCode::from(1)
        }
    })
}
