//! Settings another key makes pointless (`alert_service_failed = on` with
//! `services = off`, `alert_backup_age` with `backup = off`): the file
//! still works, so they are warnings, not errors; `check-config` prints
//! them and `run` logs them at start and at each reload.
//!
//! One table, [`RULES`], read from the keys table (`keys.rs`): each rule
//! is a condition on the configuration and the keys it leaves without
//! effect. A key is named only when the file gives it a value other than
//! its default (`alert_backup_age = off` beside `backup = off` is no
//! mistake), once, for the first rule that applies. Not here: the
//! directories (`backup_dir`, `log_dir`), which `prepare-dirs` and
//! `sysmon backup` use whatever the daemon does, and the keys `sysmon
//! backup` reads with `backup = off` (that switch is the daemon's).
//!
//! Besides the table: the file's `listen` lines, which `run --listen`
//! replaces ([`super::FromCommandLine`]), named once at the first of them,
//! and its `user`, which `run --user` replaces, at its line.

use super::{Config, ConfigError, ServiceInit, UpdateManager, keys};
use crate::owned::owned;

/// While `cause` holds of a configuration (it then says how: `services =
/// off`), the `keys` have no effect, for the reason `meaning` gives.
struct Rule {
    /// The key whose value is the cause, to name its line (an absence,
    /// such as no `backup_source`, has none).
    cause_key: &'static str,
    cause: fn(&Config) -> Option<String>,
    meaning: &'static str,
    keys: &'static [&'static str],
}

const RULES: &[Rule] = &[
    Rule {
        cause_key: "services",
        cause: |c| (c.services.init == ServiceInit::Off).then(|| owned("services = off")),
        meaning: "no service is watched",
        keys: &[
            "services_every",
            "services_ignore",
            "services_runit_dir",
            "alert_service_failed",
        ],
    },
    Rule {
        cause_key: "services",
        cause: |c| {
            matches!(c.services.init, ServiceInit::Systemd | ServiceInit::OpenRc)
                .then(|| format!("services = {}", c.services.init.name()))
        },
        meaning: "only runit's services are read from it",
        keys: &["services_runit_dir"],
    },
    Rule {
        cause_key: "backup",
        cause: |c| (!c.backup.enabled).then(|| owned("backup = off")),
        meaning: "the daemon makes no backup (`sysmon backup` still does)",
        keys: &["backup_every", "alert_backup_age"],
    },
    Rule {
        cause_key: "backup_source",
        cause: |c| {
            c.backup
                .sources
                .is_empty()
                .then(|| owned("no backup_source"))
        },
        meaning: "there is nothing to back up",
        keys: &[
            "backup_every",
            "alert_backup_age",
            "backup_exclude",
            "backup_keep",
            "backup_level",
            "backup_one_file_system",
        ],
    },
    Rule {
        cause_key: "update_manager",
        cause: |c| {
            (c.updates.manager == UpdateManager::None).then(|| owned("update_manager = none"))
        },
        meaning: "no update audit runs",
        keys: &[
            "update_timeout",
            "update_every",
            "update_refresh",
            "log_keep",
            "alert_updates_security",
        ],
    },
    Rule {
        cause_key: "update_manager",
        cause: |c| {
            matches!(
                c.updates.manager,
                UpdateManager::Pacman | UpdateManager::Command
            )
            .then(|| format!("update_manager = {}", c.updates.manager.name()))
        },
        meaning: "only apt, apk, xbps and dnf refresh their lists",
        keys: &["update_refresh"],
    },
    Rule {
        cause_key: "top_processes",
        cause: |c| (c.top_processes == 0).then(|| owned("top_processes = 0")),
        meaning: "the top processes are never read",
        keys: &["top_every"],
    },
    Rule {
        cause_key: "alert_command",
        cause: |c| {
            c.alerts
                .command
                .is_none()
                .then(|| owned("no alert_command"))
        },
        meaning: "no command is run to time out",
        keys: &["alert_timeout"],
    },
];

impl Config {
    /// One warning per key the file sets that another setting leaves
    /// without effect, at that key's line (its last, when repeated), in
    /// the file's order. Empty for a file without such keys.
    pub fn settings_without_effect(&self) -> Vec<ConfigError> {
        let mut warnings: Vec<ConfigError> = self
            .listen_replaced()
            .into_iter()
            .chain(self.user_replaced())
            .collect();
        let rendered = |config: &Config, key: &keys::Key| {
            let mut text = String::new();
            key.render(config, &mut text);
            text
        };
        let defaults = Config::default();
        let mut named: Vec<&str> = Vec::new();
        for rule in RULES {
            let Some(cause) = (rule.cause)(self) else {
                continue;
            };
            let cause_at = self
                .key_lines
                .of(rule.cause_key)
                .map_or(String::new(), |l| format!(" (line {l})"));
            for &name in rule.keys {
                let Some(key) = keys::find(name) else {
                    unreachable!("no_effect::RULES names an unknown key {name}");
                };
                let Some(line) = self.key_lines.of(name) else {
                    continue;
                };
                let value = rendered(self, key);
                if named.contains(&name) || value == rendered(&defaults, key) {
                    continue;
                }
                named.push(name);
                let first = keys::Deferred::first_value(&value).unwrap_or("");
                let mut warning = self.error_at(
                    &[],
                    format!(
                        "{name} = {} has no effect with {cause}{cause_at}: {}",
                        crate::log::shown(first),
                        rule.meaning
                    ),
                );
                warning.line = Some(line);
                warnings.push(warning);
            }
        }
        // crate::sort (std's stable sort was 4.4 KB of code for this one
        // element type); a key is warned about once, so lines are distinct,
        // and the text breaks any tie the same way every time.
        crate::sort::sort_by(&mut warnings, |a, b| {
            (a.line, &a.message).cmp(&(b.line, &b.message))
        });
        warnings
    }

    /// With `run --listen`, the file's `listen` lines are replaced: one
    /// warning at the first, naming them all (their values are gone by
    /// now: `listen` holds the command line's).
    fn listen_replaced(&self) -> Option<ConfigError> {
        if !self.from_command_line.listen {
            return None;
        }
        let lines = self.key_lines.all_of("listen");
        let first = *lines.first()?;
        let listed: Vec<String> = lines.iter().map(|n| crate::owned::text_of(n)).collect();
        let mut warning = self.error_at(
            &[],
            format!(
                "listen has no effect with run --listen: the addresses given on the \
                 command line replace the file's `listen` lines ({})",
                listed.join(", ")
            ),
        );
        warning.line = Some(first);
        Some(warning)
    }

    /// With `run --user`, the file's `user` is replaced (and was not looked
    /// up): one warning at its line (its value is gone by now: `user`
    /// holds the command line's).
    fn user_replaced(&self) -> Option<ConfigError> {
        if !self.from_command_line.user {
            return None;
        }
        let mut warning = self.error_at(
            &[],
            owned(
                "user has no effect with run --user: the user given on the command line \
                 replaces the file's `user`",
            ),
        );
        warning.line = Some(self.key_lines.of("user")?);
        Some(warning)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn warnings(text: &str) -> Vec<String> {
        let c = Config::parse(text.as_bytes(), Path::new("/etc/sysmon.conf")).unwrap();
        c.settings_without_effect()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_rule_names_known_keys_and_a_cause_key() {
        for rule in RULES {
            assert!(keys::find(rule.cause_key).is_some(), "{}", rule.cause_key);
            for key in rule.keys {
                assert!(keys::find(key).is_some(), "{key}");
            }
        }
    }

    /// The README's paragraph on these warnings names every pair.
    #[test]
    fn the_readme_names_every_rule() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .unwrap();
        let start = readme
            .find("A setting another key makes pointless is a warning")
            .expect("README has the paragraph");
        let paragraph = &readme[start..];
        let paragraph = &paragraph[..paragraph.find("\n\n").unwrap()];
        for rule in RULES {
            for key in rule.keys.iter().chain([&rule.cause_key]) {
                assert!(
                    paragraph.contains(&format!("`{key}")),
                    "README's paragraph omits {key}"
                );
            }
        }
    }

    /// Found by a sweep of hostile configs: these were accepted silently.
    #[test]
    fn keys_another_setting_makes_pointless_are_named_with_both_lines() {
        assert_eq!(
            warnings("services = off\nalert_service_failed = on\nservices_ignore = getty@*\n"),
            [
                "/etc/sysmon.conf:2: alert_service_failed = on has no effect with \
                 services = off (line 1): no service is watched",
                "/etc/sysmon.conf:3: services_ignore = getty@* has no effect with \
                 services = off (line 1): no service is watched",
            ]
        );
        assert_eq!(
            warnings("backup_source = /etc\nalert_backup_age = 2d\nbackup = off\n"),
            [
                "/etc/sysmon.conf:2: alert_backup_age = 2d has no effect with backup = off \
              (line 3): the daemon makes no backup (`sysmon backup` still does)"
            ]
        );
        // One warning per key, for the first rule; no line for an absence.
        assert_eq!(
            warnings("backup = off\nbackup_every = 1d\nbackup_level = 9\n"),
            [
                "/etc/sysmon.conf:2: backup_every = 1d has no effect with backup = off \
                 (line 1): the daemon makes no backup (`sysmon backup` still does)",
                "/etc/sysmon.conf:3: backup_level = 9 has no effect with no backup_source: \
                 there is nothing to back up",
            ]
        );
        assert_eq!(
            warnings("update_manager = none\nupdate_every = 1d\nalert_updates_security = 1\n"),
            [
                "/etc/sysmon.conf:2: update_every = 1d has no effect with update_manager = none \
                 (line 1): no update audit runs",
                "/etc/sysmon.conf:3: alert_updates_security = 1 has no effect with \
                 update_manager = none (line 1): no update audit runs",
            ]
        );
        assert_eq!(
            warnings("top_processes = 0\ntop_every = 1m\nalert_timeout = 5s\n").len(),
            2
        );
        assert_eq!(
            warnings("services = systemd\nservices_runit_dir = /etc/sv\n").len(),
            1
        );
        assert_eq!(
            warnings("update_manager = pacman\nupdate_refresh = on\n").len(),
            1
        );
    }

    #[test]
    fn defaults_and_working_settings_warn_of_nothing() {
        for quiet in [
            "",
            // A key at its default beside its cause says nothing wrong.
            "services = off\nalert_service_failed = off\n",
            "backup = off\nalert_backup_age = off\nbackup_every = off\n",
            // What the cause does not touch.
            "services = runit\nservices_runit_dir = /etc/sv\n",
            "services = auto\nservices_runit_dir = /etc/sv\nalert_service_failed = on\n",
            "backup_source = /etc\nbackup_every = 1d\nalert_backup_age = 2d\n",
            "update_manager = apt\nupdate_refresh = on\n",
            "alert_command = logger x\nalert_timeout = 5s\n",
            "top_processes = 3\ntop_every = 1m\n",
        ] {
            assert_eq!(warnings(quiet), Vec::<String>::new(), "{quiet}");
        }
    }
}
