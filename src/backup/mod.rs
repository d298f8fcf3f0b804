//! PLACEHOLDER (being replaced by the backup implementation, issue #3).
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::report::BackupJson;

pub struct BackupService {
    enabled: bool,
}

impl BackupService {
    pub fn new(config: &Config) -> Self {
        BackupService {
            enabled: config.backup.enabled && !config.backup.sources.is_empty(),
        }
    }
    pub fn reconfigure(&mut self, config: &Config) {
        self.enabled = config.backup.enabled && !config.backup.sources.is_empty();
    }
    pub fn poll(&mut self, _now: Instant, _budget: Duration) {}
    pub fn next_deadline(&self) -> Option<Instant> {
        None
    }
    pub fn is_running(&self) -> bool {
        false
    }
    pub fn status(&self) -> BackupJson {
        BackupJson {
            state: if self.enabled { "pending" } else { "disabled" },
            ..Default::default()
        }
    }
    pub fn abandon(&mut self) {}
}

/// `sysmon backup`: one backup in the foreground. Exit 0 / 3 / 1.
pub fn cli_backup(_config: &Config) -> std::process::ExitCode {
    crate::log::error(format_args!("backup: not implemented yet"));
    std::process::ExitCode::from(1)
}

/// `sysmon verify ARCHIVE`: check every entry's CRC.
pub fn cli_verify(_archive: &std::path::Path) -> std::process::ExitCode {
    crate::log::error(format_args!("verify: not implemented yet"));
    std::process::ExitCode::from(1)
}
