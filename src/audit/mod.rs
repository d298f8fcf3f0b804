//! PLACEHOLDER (being replaced by the update audit implementation, issue #4).
use std::time::Instant;

use crate::config::{Config, UpdateManager};
use crate::report::UpdatesJson;

pub struct AuditService {
    enabled: bool,
}

impl AuditService {
    pub fn new(config: &Config) -> Self {
        AuditService {
            enabled: config.updates.manager != UpdateManager::None,
        }
    }
    pub fn reconfigure(&mut self, config: &Config) {
        self.enabled = config.updates.manager != UpdateManager::None;
    }
    pub fn poll(&mut self, _now: Instant) {}
    pub fn next_deadline(&self) -> Option<Instant> {
        None
    }
    pub fn is_running(&self) -> bool {
        false
    }
    pub fn status(&self) -> UpdatesJson {
        UpdatesJson {
            state: if self.enabled { "pending" } else { "disabled" },
            ..Default::default()
        }
    }
    pub fn abandon(&mut self) {}
}

/// `sysmon audit`: run the audit now. Exit 0 none pending, 100 pending, 1 error.
pub fn cli_audit(_config: &Config, _json: bool) -> std::process::ExitCode {
    crate::log::error(format_args!("audit: not implemented yet"));
    std::process::ExitCode::from(1)
}
