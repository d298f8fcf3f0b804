//! `sysmon verify ARCHIVE`: reads every entry with the `zip` crate's reader
//! (an implementation independent of our writer) and checks its CRC.
//! Streaming: memory stays bounded whatever the entry sizes.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub entries: u64,
    pub bytes: u64,
    /// `name: error` for each entry that failed.
    pub errors: Vec<String>,
}

/// Checks the whole archive. `Err` when it cannot be opened as a zip at
/// all; entry errors are listed in the report.
pub fn verify(path: &Path) -> Result<Report, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| format!("{}: not a readable zip archive: {e}", path.display()))?;
    let mut report = Report::default();
    let mut buf = vec![0u8; 256 * 1024];
    for i in 0..archive.len() {
        report.entries += 1;
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                report.errors.push(format!("entry {i}: {e}"));
                continue;
            }
        };
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        // The reader checks the CRC when it reaches the end of the data.
        let result: io::Result<u64> = (|| {
            let mut total = 0u64;
            loop {
                let n = entry.read(&mut buf)?;
                if n == 0 {
                    return Ok(total);
                }
                total += n as u64;
            }
        })();
        match result {
            Ok(n) if n == entry.size() => report.bytes += n,
            Ok(n) => report
                .errors
                .push(format!("{name}: {n} bytes read, {} expected", entry.size())),
            Err(e) => report.errors.push(format!("{name}: {e}")),
        }
    }
    Ok(report)
}
