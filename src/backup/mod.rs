//! PLACEHOLDER (being replaced by the backup implementation, issue #3).
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::report::BackupJson;

pub struct BackupService {
    enabled: bool,
}

impl BackupService {
    pub fn new(config: &Config) -> Self {
        BackupService { enabled: config.backup.enabled && !config.backup.sources.is_empty() }
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
        BackupJson { state: if self.enabled { "pending" } else { "disabled" }, ..Default::default() }
    }
    pub fn abandon(&mut self) {}
}
