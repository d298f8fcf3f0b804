//! `sysmon verify ARCHIVE`: check every entry's CRC with
//! [`crate::backup::verify`]; exit 0 when all are intact, 1 otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use argh::FromArgs;

use crate::backup::verify;
use crate::log;

#[derive(FromArgs)]
#[argh(subcommand, name = "verify")]
/// check every entry's CRC in an archive; exit 0 when all are intact
pub struct VerifyArgs {
    /// the archive to check
    #[argh(positional)]
    pub archive: PathBuf,
}

pub fn verify(args: VerifyArgs) -> Result<ExitCode, ExitCode> {
    let archive = &args.archive;
    let report = match verify::verify(archive) {
        Ok(r) => r,
        Err(e) => {
            log::error(format_args!("verify: {e}"));
            return Ok(ExitCode::from(1));
        }
    };
    for e in &report.errors {
        log::error(format_args!("verify: {e}"));
    }
    if report.errors.is_empty() {
        super::emit(&format!(
            "{}: {} entries, {} bytes, all CRCs match\n",
            archive.display(),
            report.entries,
            report.bytes
        ))?;
        Ok(ExitCode::SUCCESS)
    } else {
        super::emit(&format!(
            "{}: {} entries, {} damaged\n",
            archive.display(),
            report.entries,
            report.errors.len()
        ))?;
        Ok(ExitCode::from(1))
    }
}
