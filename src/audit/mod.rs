//! PLACEHOLDER (being replaced by the update audit implementation, issue #4).
use std::time::Instant;

use crate::config::{Config, UpdateManager};
use crate::report::UpdatesJson;

pub struct AuditService {
    enabled: bool,
}

impl AuditService {
    pub fn new(config: &Config) -> Self {
        AuditService { enabled: config.updates.manager != UpdateManager::None }
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
        UpdatesJson { state: if self.enabled { "pending" } else { "disabled" }, ..Default::default() }
    }
    pub fn abandon(&mut self) {}
}
