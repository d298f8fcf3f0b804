//! The configuration file: `key = value` lines, `#` comments, validated into
//! a [`Config`] before anything else happens.
//!
//! Invariant: a `Config` that exists is valid. Every problem in the file is a
//! [`ConfigError`] naming `FILE:LINE` and what is wrong, and start-up stops
//! with exit status 2 before any file is written or any port is bound.
//! Relative paths are resolved against the directory of the config file.
//! [`Config::parse`] is pure; [`Config::load`] also checks the one thing
//! that needs the system: that `user` names a user of this machine.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the packaged example config is installed, read when no `--config` is given.
pub const DEFAULT_PATH: &str = "/etc/sysmon.conf";

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file this came from; `None` for built-in defaults.
    pub file: Option<PathBuf>,
    /// Every address the dashboard listens on (at least one).
    pub listen: Vec<Listen>,
    /// A connection that sends or reads nothing for this long is closed.
    pub client_timeout: Duration,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Host names (besides IP literals and localhost) the dashboard answers to.
    pub server_names: Vec<String>,
    /// Client address blocks allowed to connect; empty = any.
    pub allow: Vec<crate::access::Cidr>,
    /// Basic auth user; requires `auth_password_file`.
    pub auth_user: Option<String>,
    pub auth_password_file: Option<PathBuf>,
    /// `user = NAME`: the user `run` becomes once the socket is bound (see
    /// [`crate::sys::drop_privileges`]). [`Config::load`] has checked that
    /// the passwd database knows it.
    pub user: Option<String>,
    pub interval: Duration,
    pub mounts: Vec<PathBuf>,
    /// Network interfaces left out of the sample (globs such as `veth*`).
    pub network_exclude: Vec<crate::nameglob::NameGlob>,
    pub backup_dir: PathBuf,
    pub log_dir: PathBuf,
    pub state_dir: PathBuf,
    pub backup: BackupConfig,
    pub updates: UpdateConfig,
    /// Where procfs is mounted (`--proc-root`), for fixtures and containers.
    pub proc_root: PathBuf,
    /// Where sysfs is mounted (`--sys-root`).
    pub sys_root: PathBuf,
    /// A `.prom` file for node_exporter's textfile collector, rewritten with
    /// sysmon's own series whenever a backup or audit starts or ends.
    pub textfile_path: Option<PathBuf>,
    /// How far back `/history.json` and the sparklines reach.
    pub history: Duration,
    pub alerts: AlertConfig,
    /// The line each key was last given on, so that checks of the whole
    /// file ([`Config::validate`], [`Config::access_policy`]) can name
    /// `FILE:LINE` too. Not part of the configuration: ignored by `==`.
    pub key_lines: KeyLines,
}

/// A threshold on a percentage: `90% for 5m`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    /// Fires at or above this.
    pub percent: f64,
    /// ... once it has held this long (zero: at the first sample).
    pub hold: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AlertConfig {
    pub cpu: Option<Threshold>,
    pub memory: Option<Threshold>,
    pub swap: Option<Threshold>,
    /// Applies to every reported disk, each on its own.
    pub disk: Option<Threshold>,
    /// No successful backup for this long.
    pub backup_age: Option<Duration>,
    /// At least this many security updates pending.
    pub updates_security: Option<u64>,
    /// Run through `/bin/sh -c` when an alert starts and ends.
    pub command: Option<String>,
    pub timeout: Duration,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            cpu: None,
            memory: None,
            swap: None,
            disk: None,
            backup_age: None,
            updates_security: None,
            command: None,
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BackupConfig {
    pub enabled: bool,
    pub sources: Vec<PathBuf>,
    pub excludes: Vec<String>,
    pub keep: u32,
    pub level: u32,
    pub every: Option<Duration>,
    pub one_file_system: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateManager {
    Auto,
    Pacman,
    Apt,
    Apk,
    Xbps,
    Dnf,
    Command,
    None,
}

impl UpdateManager {
    pub const ALL: [(&'static str, UpdateManager); 8] = [
        ("auto", UpdateManager::Auto),
        ("pacman", UpdateManager::Pacman),
        ("apt", UpdateManager::Apt),
        ("apk", UpdateManager::Apk),
        ("xbps", UpdateManager::Xbps),
        ("dnf", UpdateManager::Dnf),
        ("command", UpdateManager::Command),
        ("none", UpdateManager::None),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("?", |(n, _)| n)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct UpdateConfig {
    pub manager: UpdateManager,
    /// For `update_manager = command`: run through `/bin/sh -c`.
    pub command: Option<String>,
    pub timeout: Duration,
    pub every: Option<Duration>,
    pub refresh: bool,
    pub log_keep: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            file: None,
            listen: vec![Listen::Tcp(SocketAddr::from(([127, 0, 0, 1], 8080)))],
            client_timeout: Duration::from_secs(10),
            max_connections: 2048,
            server_names: Vec::new(),
            allow: Vec::new(),
            auth_user: None,
            auth_password_file: None,
            user: None,
            interval: Duration::from_secs(5),
            mounts: Vec::new(),
            network_exclude: Vec::new(),
            backup_dir: PathBuf::from("/var/backups/sysmon"),
            log_dir: PathBuf::from("/var/log/sysmon"),
            state_dir: PathBuf::from("/var/lib/sysmon"),
            backup: BackupConfig {
                enabled: true,
                sources: Vec::new(),
                excludes: Vec::new(),
                keep: 7,
                level: 6,
                every: None,
                one_file_system: false,
            },
            updates: UpdateConfig {
                manager: UpdateManager::Auto,
                command: None,
                timeout: Duration::from_secs(300),
                every: None,
                refresh: false,
                log_keep: 30,
            },
            proc_root: PathBuf::from("/proc"),
            sys_root: PathBuf::from("/sys"),
            textfile_path: None,
            history: Duration::from_secs(3600),
            alerts: AlertConfig::default(),
            key_lines: KeyLines::default(),
        }
    }
}

/// A problem in the configuration, displayed as `FILE:LINE: message`
/// (or `FILE: message` when it concerns the file as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The line each key was last given on, in file order.
#[derive(Clone, Debug, Default)]
pub struct KeyLines(Vec<(&'static str, usize)>);

impl KeyLines {
    /// The line `key` was last given on; `None` when it was not given.
    pub fn of(&self, key: &str) -> Option<usize> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, l)| *l)
    }

    /// The line of whichever of `keys` was given last: the one that
    /// completes a conflict between keys.
    pub fn last_of(&self, keys: &[&str]) -> Option<usize> {
        keys.iter().filter_map(|k| self.of(k)).max()
    }
}

impl PartialEq for KeyLines {
    /// Where a key was written does not change what it means.
    fn eq(&self, _: &KeyLines) -> bool {
        true
    }
}

/// Every key, with whether it may be given more than once.
const KEYS: &[(&str, bool)] = &[
    ("listen", true),
    ("client_timeout", false),
    ("max_connections", false),
    ("server_name", true),
    ("allow", true),
    ("auth_user", false),
    ("auth_password_file", false),
    ("user", false),
    ("interval", false),
    ("mounts", true),
    ("network_exclude", true),
    ("backup_dir", false),
    ("log_dir", false),
    ("state_dir", false),
    ("backup", false),
    ("backup_source", true),
    ("backup_exclude", true),
    ("backup_keep", false),
    ("backup_level", false),
    ("backup_every", false),
    ("backup_one_file_system", false),
    ("update_manager", false),
    ("update_command", false),
    ("update_timeout", false),
    ("update_every", false),
    ("update_refresh", false),
    ("log_keep", false),
    ("textfile_path", false),
    ("history", false),
    ("alert_cpu", false),
    ("alert_memory", false),
    ("alert_swap", false),
    ("alert_disk", false),
    ("alert_backup_age", false),
    ("alert_updates_security", false),
    ("alert_command", false),
    ("alert_timeout", false),
];

impl Config {
    /// Loads `path`, or with `None` the default file if it exists, else the
    /// built-in defaults. An explicitly named file must exist. Besides
    /// [`Config::parse`], checks what needs the system: that `user` names a
    /// user of this machine.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_PATH), false),
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let config = Config::parse(&bytes, &path)?;
                config.account().map_err(|message| ConfigError {
                    line: config.key_lines.of("user"),
                    file: path,
                    message,
                })?;
                Ok(config)
            }
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(e) => Err(ConfigError {
                file: path,
                line: None,
                message: format!("cannot read: {e}"),
            }),
        }
    }

    /// Parses the text of a config file; `path` names it in errors and
    /// anchors relative paths. Pure: nothing is looked up on the system.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Config, ConfigError> {
        let at = |line: usize, message: String| ConfigError {
            file: path.to_path_buf(),
            line: Some(line),
            message,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            at(line, "not valid UTF-8".into())
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut config = Config {
            file: Some(path.to_path_buf()),
            ..Config::default()
        };
        let mut first_seen: Vec<(&str, usize)> = Vec::new();
        let mut listen_seen = false;
        for (index, raw_line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = strip_comment(raw_line).trim();
            if line.is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(at(
                    line_no,
                    format!("expected `key = value`, found `{line}`"),
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            let Some(&(key, repeatable)) = KEYS.iter().find(|(k, _)| *k == key) else {
                return Err(at(line_no, format!("unknown key `{key}`{}", suggest(key))));
            };
            if !repeatable {
                if let Some((_, first)) = first_seen.iter().find(|(k, _)| *k == key) {
                    return Err(at(
                        line_no,
                        format!("`{key}` is already set on line {first}"),
                    ));
                }
                first_seen.push((key, line_no));
            }
            config.key_lines.0.push((key, line_no));
            if key == "listen" && !listen_seen {
                // The first `listen` replaces the default; more add to it.
                config.listen.clear();
                listen_seen = true;
            }
            config
                .apply(key, value, &base)
                .map_err(|message| at(line_no, format!("{key}: {message}")))?;
        }
        Ok(config)
    }

    /// The account `user` names, looked up in the passwd database; `None`
    /// without `user`. The error names the user and says what to do.
    pub fn account(&self) -> Result<Option<crate::sys::Account>, String> {
        let Some(name) = &self.user else {
            return Ok(None);
        };
        match crate::sys::lookup_user(name) {
            Ok(Some(account)) => Ok(Some(account)),
            Ok(None) => Err(format!(
                "user: no user `{name}` on this system (create it, e.g. \
                 `useradd --system --no-create-home --shell /usr/sbin/nologin {name}`, \
                 or fix the name)"
            )),
            Err(e) => Err(format!("user: cannot look up `{name}`: {e}")),
        }
    }

    fn apply(&mut self, key: &str, value: &str, base: &Path) -> Result<(), String> {
        let path = || -> Result<PathBuf, String> {
            if value.is_empty() {
                return Err("expected a path".into());
            }
            Ok(base.join(value))
        };
        match key {
            "listen" => {
                let listen = parse_listen(value)?;
                if self.listen.contains(&listen) {
                    return Err(format!("`{value}` is listed twice"));
                }
                self.listen.push(listen);
            }
            "max_connections" => self.max_connections = parse_count(value, 1, 65536)? as usize,
            "allow" => self.allow.push(crate::access::Cidr::parse(value)?),
            "client_timeout" => {
                let d = parse_duration(value)?;
                if d < Duration::from_secs(1) || d > Duration::from_secs(600) {
                    return Err(format!("`{value}` is out of range (1s to 10m)"));
                }
                self.client_timeout = d;
            }
            "auth_user" => {
                if value.is_empty() || value.contains(':') || value.chars().any(char::is_control) {
                    return Err(format!(
                        "`{value}` is not a user name (no `:`, no control characters)"
                    ));
                }
                self.auth_user = Some(value.to_string());
            }
            "auth_password_file" => self.auth_password_file = Some(path()?),
            "user" => {
                // What useradd and the passwd file allow: no `:`, no `/`, no
                // white space or control characters, no leading `-`.
                let valid = !value.is_empty()
                    && value.len() <= 256
                    && !value.starts_with('-')
                    && !value
                        .chars()
                        .any(|c| c == ':' || c == '/' || c.is_whitespace() || c.is_control());
                if !valid {
                    return Err(format!("`{value}` is not a user name such as sysmon"));
                }
                self.user = Some(value.to_string());
            }
            "server_name" => {
                let valid = !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                if !valid {
                    return Err(format!(
                        "`{value}` is not a host name such as monitor.example.org"
                    ));
                }
                self.server_names.push(value.to_ascii_lowercase());
            }
            "interval" => {
                let d = parse_duration(value)?;
                if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
                    return Err(format!("`{value}` is out of range (100ms to 1h)"));
                }
                self.interval = d;
            }
            "mounts" if value == "auto" => self.mounts.clear(),
            "mounts" => {
                if !value.starts_with('/') {
                    return Err(format!(
                        "`{value}` is not an absolute mount point (or `auto`)"
                    ));
                }
                self.mounts.push(PathBuf::from(value));
            }
            "network_exclude" => self
                .network_exclude
                .push(crate::nameglob::NameGlob::parse(value)?),
            "backup_dir" => self.backup_dir = path()?,
            "log_dir" => self.log_dir = path()?,
            "state_dir" => self.state_dir = path()?,
            "backup" => self.backup.enabled = parse_switch(value)?,
            "backup_source" => self.backup.sources.push(path()?),
            "backup_exclude" => {
                if value.is_empty() {
                    return Err("expected a glob such as `*.tmp` or `node_modules/`".into());
                }
                crate::pathglob::Pattern::parse(value)?;
                self.backup.excludes.push(value.to_string());
            }
            "backup_keep" => self.backup.keep = parse_count(value, 1, 10_000)?,
            "backup_level" => self.backup.level = parse_count(value, 0, 9)?,
            "backup_every" => self.backup.every = parse_optional_period(value)?,
            "backup_one_file_system" => self.backup.one_file_system = parse_switch(value)?,
            "update_manager" => {
                self.updates.manager = UpdateManager::ALL
                    .iter()
                    .find(|(name, _)| *name == value)
                    .map(|(_, m)| *m)
                    .ok_or_else(|| format!("`{value}` is not one of auto, pacman, apt, apk, xbps, dnf, command, none"))?;
            }
            "update_command" => {
                if value.is_empty() {
                    return Err("expected a shell command".into());
                }
                self.updates.command = Some(value.to_string());
            }
            "update_timeout" => {
                let d = parse_duration(value)?;
                if d < Duration::from_secs(1) {
                    return Err(format!("`{value}` is too short (at least 1s)"));
                }
                self.updates.timeout = d;
            }
            "update_every" => self.updates.every = parse_optional_period(value)?,
            "update_refresh" => self.updates.refresh = parse_switch(value)?,
            "log_keep" => self.updates.log_keep = parse_count(value, 1, 100_000)?,
            "textfile_path" if value == "off" => self.textfile_path = None,
            "textfile_path" => {
                let file = path()?;
                // node_exporter's textfile collector reads only `*.prom`.
                if file.extension().is_none_or(|e| e != "prom") {
                    return Err(format!("`{value}` does not end in .prom (or use off)"));
                }
                self.textfile_path = Some(file);
            }
            "history" => {
                let d = parse_duration(value)?;
                if d < Duration::from_secs(60) || d > Duration::from_secs(86_400) {
                    return Err(format!("`{value}` is out of range (1m to 24h)"));
                }
                self.history = d;
            }
            "alert_cpu" => self.alerts.cpu = parse_threshold(value)?,
            "alert_memory" => self.alerts.memory = parse_threshold(value)?,
            "alert_swap" => self.alerts.swap = parse_threshold(value)?,
            "alert_disk" => self.alerts.disk = parse_threshold(value)?,
            "alert_backup_age" => {
                self.alerts.backup_age = match value {
                    "off" => None,
                    _ => {
                        let d = parse_duration(value)?;
                        if d < Duration::from_secs(60) {
                            return Err(format!("`{value}` is too short (at least 1m, or off)"));
                        }
                        Some(d)
                    }
                }
            }
            "alert_updates_security" => {
                self.alerts.updates_security = match value {
                    "off" => None,
                    _ => Some(u64::from(parse_count(value, 1, 1_000_000)?)),
                }
            }
            "alert_command" => {
                if value.is_empty() {
                    return Err("expected a shell command".into());
                }
                self.alerts.command = Some(value.to_string());
            }
            "alert_timeout" => {
                let d = parse_duration(value)?;
                if d < Duration::from_secs(1) || d > Duration::from_secs(3600) {
                    return Err(format!("`{value}` is out of range (1s to 1h)"));
                }
                self.alerts.timeout = d;
            }
            _ => unreachable!("key {key} is in KEYS but has no rule"),
        }
        Ok(())
    }

    /// Checks that need the whole file (keys that depend on each other).
    /// `file` names the config in the error.
    /// Each error names the line of the key that completes the conflict
    /// (the later of the keys involved).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |keys: &[&str], message: String| self.error_at(keys, message);
        if self.auth_user.is_some() != self.auth_password_file.is_some() {
            return Err(err(
                &["auth_user", "auth_password_file"],
                "auth_user and auth_password_file go together".into(),
            ));
        }
        if self.updates.manager == UpdateManager::Command && self.updates.command.is_none() {
            return Err(err(
                &["update_manager"],
                "update_manager = command needs update_command".into(),
            ));
        }
        let points = crate::history::points_for(self.interval, self.history);
        if points > crate::history::MAX_POINTS {
            return Err(err(
                &["interval", "history"],
                format!(
                    "history = {} at interval = {} is {points} points per series (at most {}): \
                 shorten history or lengthen interval",
                    format_duration(self.history),
                    format_duration(self.interval),
                    crate::history::MAX_POINTS
                ),
            ));
        }
        if self.updates.command.is_some()
            && !matches!(
                self.updates.manager,
                UpdateManager::Command | UpdateManager::Auto
            )
        {
            return Err(err(
                &["update_command", "update_manager"],
                format!(
                    "update_command is set but update_manager = {} (use update_manager = command)",
                    self.updates.manager.name()
                ),
            ));
        }
        Ok(())
    }

    /// An error at the line of whichever of `keys` was given last (none
    /// given: the file as a whole).
    fn error_at(&self, keys: &[&str], message: String) -> ConfigError {
        ConfigError {
            file: self
                .file
                .clone()
                .unwrap_or_else(|| PathBuf::from("(defaults)")),
            line: self.key_lines.last_of(keys),
            message,
        }
    }

    /// The HTTP access policy; reads the password file, which must exist,
    /// hold one line, and be unreadable to group and others (like ssh keys).
    /// `check-config` and `run` both call this, so both refuse the same
    /// files; errors name the `auth_password_file` line.
    pub fn access_policy(&self) -> Result<crate::access::AccessPolicy, ConfigError> {
        use std::os::unix::fs::MetadataExt;
        let authorization = match (&self.auth_user, &self.auth_password_file) {
            (Some(user), Some(file)) => {
                let err = |message: String| {
                    self.error_at(
                        &["auth_password_file"],
                        format!("auth_password_file {}: {message}", file.display()),
                    )
                };
                let meta = std::fs::metadata(file).map_err(|e| err(e.to_string()))?;
                if meta.mode() & 0o037 != 0 {
                    return Err(err(format!(
                        "mode {:o} lets others read it or write it; chmod 600 (or 640 for a group)",
                        meta.mode() & 0o777
                    )));
                }
                let text = std::fs::read_to_string(file).map_err(|e| err(e.to_string()))?;
                let password = text.strip_suffix('\n').unwrap_or(&text);
                let password = password.strip_suffix('\r').unwrap_or(password);
                if password.is_empty() || password.contains('\n') {
                    return Err(err("expected the password alone on one line".into()));
                }
                Some(crate::access::AccessPolicy::basic_authorization(
                    user, password,
                ))
            }
            _ => None,
        };
        Ok(crate::access::AccessPolicy {
            allow: self.allow.clone(),
            server_names: self.server_names.clone(),
            authorization,
        })
    }

    /// The effective configuration as a config file, every key spelled out.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let source = self
            .file
            .as_ref()
            .map_or("built-in defaults".to_string(), |p| p.display().to_string());
        let _ = writeln!(out, "# effective configuration (from {source})");
        for listen in &self.listen {
            let _ = writeln!(out, "listen = {listen}");
        }
        let _ = writeln!(out, "max_connections = {}", self.max_connections);
        let _ = writeln!(
            out,
            "client_timeout = {}",
            format_duration(self.client_timeout)
        );
        for name in &self.server_names {
            let _ = writeln!(out, "server_name = {name}");
        }
        for block in &self.allow {
            let _ = writeln!(out, "allow = {block}");
        }
        if let (Some(user), Some(file)) = (&self.auth_user, &self.auth_password_file) {
            let _ = writeln!(out, "auth_user = {user}");
            let _ = writeln!(out, "auth_password_file = {}", file.display());
        }
        if let Some(user) = &self.user {
            let _ = writeln!(out, "user = {user}");
        }
        let _ = writeln!(out, "interval = {}", format_duration(self.interval));
        if self.mounts.is_empty() {
            let _ = writeln!(out, "mounts = auto");
        }
        for glob in &self.network_exclude {
            let _ = writeln!(out, "network_exclude = {glob}");
        }
        for m in &self.mounts {
            let _ = writeln!(out, "mounts = {}", m.display());
        }
        let _ = writeln!(out, "backup_dir = {}", self.backup_dir.display());
        let _ = writeln!(out, "log_dir = {}", self.log_dir.display());
        let _ = writeln!(out, "state_dir = {}", self.state_dir.display());
        let b = &self.backup;
        let _ = writeln!(out, "backup = {}", on_off(b.enabled));
        for s in &b.sources {
            let _ = writeln!(out, "backup_source = {}", s.display());
        }
        for e in &b.excludes {
            let _ = writeln!(out, "backup_exclude = {e}");
        }
        let _ = writeln!(out, "backup_keep = {}", b.keep);
        let _ = writeln!(out, "backup_level = {}", b.level);
        let _ = writeln!(
            out,
            "backup_every = {}",
            b.every.map_or("off".into(), format_duration)
        );
        let _ = writeln!(
            out,
            "backup_one_file_system = {}",
            on_off(b.one_file_system)
        );
        let u = &self.updates;
        let _ = writeln!(out, "update_manager = {}", u.manager.name());
        if let Some(c) = &u.command {
            let _ = writeln!(out, "update_command = {c}");
        }
        let _ = writeln!(out, "update_timeout = {}", format_duration(u.timeout));
        let _ = writeln!(
            out,
            "update_every = {}",
            u.every.map_or("off".into(), format_duration)
        );
        let _ = writeln!(out, "update_refresh = {}", on_off(u.refresh));
        let _ = writeln!(out, "log_keep = {}", u.log_keep);
        match &self.textfile_path {
            Some(p) => writeln!(out, "textfile_path = {}", p.display()),
            None => writeln!(out, "textfile_path = off"),
        }
        .ok();
        let _ = writeln!(out, "history = {}", format_duration(self.history));
        let a = &self.alerts;
        for (key, threshold) in [
            ("alert_cpu", a.cpu),
            ("alert_memory", a.memory),
            ("alert_swap", a.swap),
            ("alert_disk", a.disk),
        ] {
            let value = threshold.map_or("off".into(), format_threshold);
            let _ = writeln!(out, "{key} = {value}");
        }
        let _ = writeln!(
            out,
            "alert_backup_age = {}",
            a.backup_age.map_or("off".into(), format_duration)
        );
        let _ = writeln!(
            out,
            "alert_updates_security = {}",
            a.updates_security.map_or("off".into(), |n| n.to_string())
        );
        if let Some(c) = &a.command {
            let _ = writeln!(out, "alert_command = {c}");
        }
        let _ = writeln!(out, "alert_timeout = {}", format_duration(a.timeout));
        out
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// `#` starts a comment at the beginning of a line or after white space, so
/// values such as `update_command = foo#bar` keep their `#`.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

fn suggest(key: &str) -> String {
    let close = KEYS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| edit_distance(k, key) <= 2);
    close.map_or(String::new(), |k| format!(" (did you mean `{k}`?)"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Where the dashboard listens: a TCP address or a unix socket path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    /// An absolute path; the socket is created mode 0660.
    Unix(PathBuf),
}

impl Listen {
    /// Reachable from this machine only: a loopback address or a unix socket.
    pub fn is_local(&self) -> bool {
        match self {
            Listen::Tcp(addr) => addr.ip().is_loopback(),
            Listen::Unix(_) => true,
        }
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tcp(addr) => write!(f, "{addr}"),
            Listen::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

pub fn parse_listen(value: &str) -> Result<Listen, String> {
    if value.starts_with('/') {
        if value.len() > 107 {
            // sun_path holds 108 bytes with the terminating NUL
            return Err(format!(
                "`{value}` is longer than a unix socket path may be (107 bytes)"
            ));
        }
        return Ok(Listen::Unix(PathBuf::from(value)));
    }
    value.parse().map(Listen::Tcp).map_err(|_| {
        format!(
            "`{value}` is not an address such as 127.0.0.1:8080 or [::1]:8080, nor an absolute unix socket path"
        )
    })
}

fn parse_switch(value: &str) -> Result<bool, String> {
    match value {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(format!("`{value}` is not on or off")),
    }
}

fn parse_count(value: &str, min: u32, max: u32) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{value}` is not a whole number from {min} to {max}"
        )),
    }
}

fn parse_optional_period(value: &str) -> Result<Option<Duration>, String> {
    if value == "off" {
        return Ok(None);
    }
    let d = parse_duration(value)?;
    if d < Duration::from_secs(60) {
        return Err(format!("`{value}` is too short (at least 1m, or off)"));
    }
    Ok(Some(d))
}

/// `90%`, `95.5% for 5m`, or `off`. The percentage is 0 to 100 with at most
/// one decimal; `for` takes a duration (`0s` fires at the first sample).
pub fn parse_threshold(value: &str) -> Result<Option<Threshold>, String> {
    if value == "off" {
        return Ok(None);
    }
    let bad = || format!("`{value}` is not a threshold such as 90%, 95% for 5m, or off");
    let (percent, hold) = match value.split_once(" for ") {
        Some((p, d)) => (p.trim_end(), parse_duration(d.trim_start())?),
        None => (value, Duration::ZERO),
    };
    let number = percent.strip_suffix('%').ok_or_else(bad)?;
    let (whole, tenths) = match number.split_once('.') {
        Some((w, t)) if t.len() == 1 => (w, t),
        Some(_) => return Err(bad()),
        None => (number, "0"),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(tenths) {
        return Err(bad());
    }
    let percent = f64::from(whole.parse::<u16>().map_err(|_| bad())?)
        + f64::from(tenths.parse::<u16>().map_err(|_| bad())?) / 10.0;
    if percent > 100.0 {
        return Err(format!("`{value}`: a percentage is at most 100%"));
    }
    if hold > Duration::from_secs(86_400) {
        return Err(format!("`{value}`: `for` is at most 24h"));
    }
    Ok(Some(Threshold { percent, hold }))
}

pub fn format_threshold(t: Threshold) -> String {
    format!("{}% for {}", t.percent, format_duration(t.hold))
}

/// `500ms`, `5s`, `1m`, `2h`, `1d`: a whole number and a unit, nothing else,
/// at most [`MAX_DURATION_DAYS`].
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = value.split_at(digits);
    let bad = || format!("`{value}` is not a duration such as 500ms, 5s, 1m, 2h or 1d");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let too_long = || format!("`{value}` is too long (at most {MAX_DURATION_DAYS}d)");
    let millis = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => return Err(bad()),
    };
    match millis {
        Some(ms) if ms <= MAX_DURATION_DAYS * 86_400_000 => Ok(Duration::from_millis(ms)),
        _ => Err(too_long()),
    }
}

/// The longest duration any key takes: far beyond any sensible setting, and
/// short enough that `Instant::now() + d` can never overflow (which would
/// panic the poll loop).
pub const MAX_DURATION_DAYS: u64 = 36_500;

pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text.as_bytes(), Path::new("/etc/sysmon.conf")).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_overrides() {
        let c = parse(
            "# comment\n\nlisten = 0.0.0.0:9000  # trailing\ninterval = 500ms\nbackup_dir = b\n",
        )
        .unwrap();
        assert_eq!(c.listen, [parse_listen("0.0.0.0:9000").unwrap()]);
        assert_eq!(c.interval, Duration::from_millis(500));
        assert_eq!(c.backup_dir, PathBuf::from("/etc/b"));
        assert_eq!(c.log_dir, PathBuf::from("/var/log/sysmon"));
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            parse("\nlisten = nope\n").unwrap_err(),
            "/etc/sysmon.conf:2: listen: `nope` is not an address such as 127.0.0.1:8080 or [::1]:8080, nor an absolute unix socket path"
        );
        assert_eq!(
            parse("intervall = 5s").unwrap_err(),
            "/etc/sysmon.conf:1: unknown key `intervall` (did you mean `interval`?)"
        );
        assert_eq!(
            parse("interval = 5").unwrap_err(),
            "/etc/sysmon.conf:1: interval: `5` is not a duration such as 500ms, 5s, 1m, 2h or 1d"
        );
        assert_eq!(
            parse("interval = 5s\ninterval = 6s").unwrap_err(),
            "/etc/sysmon.conf:2: `interval` is already set on line 1"
        );
        assert_eq!(
            parse("just words").unwrap_err(),
            "/etc/sysmon.conf:1: expected `key = value`, found `just words`"
        );
        assert!(parse("backup_level = 10").is_err());
        assert!(parse("mounts = relative").is_err());
        assert!(parse("interval = 10ms").is_err());
        assert!(
            Config::parse(b"listen = \xff", Path::new("x"))
                .unwrap_err()
                .to_string()
                .starts_with("x:1: not valid UTF-8")
        );
    }

    #[test]
    fn repeatable_keys_accumulate_and_render_round_trips() {
        let c = parse("backup_source = /etc\nbackup_source = /home\nbackup_exclude = *.tmp\nmounts = /\nupdate_manager = command\nupdate_command = echo a#b\ntextfile_path = tf/sysmon.prom\n").unwrap();
        assert_eq!(
            c.textfile_path.as_deref(),
            Some(Path::new("/etc/tf/sysmon.prom"))
        );
        assert!(parse("textfile_path = /x/sysmon.txt").is_err());
        assert_eq!(parse("textfile_path = off").unwrap().textfile_path, None);
        assert_eq!(c.backup.sources.len(), 2);
        assert_eq!(c.updates.command.as_deref(), Some("echo a#b"));
        let again = parse(&c.render()).unwrap();
        assert_eq!(
            Config {
                file: c.file.clone(),
                ..again
            },
            c
        );
    }

    #[test]
    fn alert_keys_parse_strictly_and_round_trip() {
        let c = parse(
            "alert_cpu = 90% for 5m\nalert_memory = 95.5%\nalert_disk = 0% for 0s\n\
             alert_backup_age = 36h\nalert_updates_security = 1\nalert_command = /bin/notify x\n\
             alert_timeout = 2s\nhistory = 2h\n",
        )
        .unwrap();
        let a = &c.alerts;
        assert_eq!(
            a.cpu,
            Some(Threshold {
                percent: 90.0,
                hold: Duration::from_secs(300)
            })
        );
        assert_eq!(
            a.memory.map(|t| (t.percent, t.hold)),
            Some((95.5, Duration::ZERO))
        );
        assert_eq!(a.disk.map(|t| t.percent), Some(0.0));
        assert_eq!(a.swap, None);
        assert_eq!(a.backup_age, Some(Duration::from_secs(36 * 3600)));
        assert_eq!(a.updates_security, Some(1));
        assert_eq!(a.command.as_deref(), Some("/bin/notify x"));
        assert_eq!(c.history, Duration::from_secs(7200));
        let again = parse(&c.render()).unwrap();
        assert_eq!(
            Config {
                file: c.file.clone(),
                ..again
            },
            c
        );
        for (text, error) in [
            (
                "alert_cpu = 90",
                "/etc/sysmon.conf:1: alert_cpu: `90` is not a threshold such as 90%, 95% for 5m, or off",
            ),
            (
                "\nalert_cpu = 101%",
                "/etc/sysmon.conf:2: alert_cpu: `101%`: a percentage is at most 100%",
            ),
            (
                "alert_memory = 90% for 5",
                "/etc/sysmon.conf:1: alert_memory: `5` is not a duration such as 500ms, 5s, 1m, 2h or 1d",
            ),
            (
                "history = 30s",
                "/etc/sysmon.conf:1: history: `30s` is out of range (1m to 24h)",
            ),
            (
                "alert_timeout = 0s",
                "/etc/sysmon.conf:1: alert_timeout: `0s` is out of range (1s to 1h)",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), error);
        }
        for bad in [
            "90.55%",
            "-1%",
            "1e2%",
            "90% for",
            "90%for 5m",
            "%",
            ".5%",
            "90 %",
        ] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
        assert!(parse("alert_updates_security = 0").is_err());
        let c = parse("interval = 100ms\nhistory = 24h").unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("864000 points")
        );
        assert!(
            parse("interval = 100ms\nhistory = 2h")
                .unwrap()
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn user_parses_strictly_round_trips_and_is_looked_up_by_load() {
        assert_eq!(parse("").unwrap().user, None);
        assert!(!parse("").unwrap().render().contains("user ="));
        let c = parse("user = sysmon\n").unwrap();
        assert_eq!(c.user.as_deref(), Some("sysmon"));
        assert!(c.render().contains("\nuser = sysmon\n"), "{}", c.render());
        let again = parse(&c.render()).unwrap();
        assert_eq!(
            Config {
                file: c.file.clone(),
                ..again
            },
            c
        );
        for ok in [
            "nobody",
            "_apt",
            "systemd-network",
            "user.name",
            "Debian-exim",
            "m$",
        ] {
            assert!(parse(&format!("user = {ok}")).is_ok(), "{ok}");
        }
        assert_eq!(
            parse("\nuser = a:b").unwrap_err(),
            "/etc/sysmon.conf:2: user: `a:b` is not a user name such as sysmon"
        );
        for bad in ["", "-x", "a/b", "a\u{7}b", &"x".repeat(257)] {
            assert!(parse(&format!("user = {bad}")).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse("user = a\nuser = b").unwrap_err(),
            "/etc/sysmon.conf:2: `user` is already set on line 1"
        );
        // Parsing is pure; load asks the passwd database, and says where.
        let dir = std::env::temp_dir().join(format!("sysmon-config-user-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sysmon.conf");
        std::fs::write(&file, "interval = 5s\nuser = no-such-user-7f3a\n").unwrap();
        assert!(Config::parse(&std::fs::read(&file).unwrap(), &file).is_ok());
        let error = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "{}:2: user: no user `no-such-user-7f3a` on this system",
                file.display()
            )),
            "{error}"
        );
        // root is in every passwd database.
        std::fs::write(&file, "user = root\n").unwrap();
        let c = Config::load(Some(&file)).unwrap();
        let account = c.account().unwrap().unwrap();
        assert_eq!((account.name.as_str(), account.uid), ("root", 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_across_keys_name_the_line_that_completes_them() {
        let error = |text: &str| parse(text).unwrap().validate().unwrap_err().to_string();
        assert_eq!(
            error("interval = 5s\nauth_user = admin\n"),
            "/etc/sysmon.conf:2: auth_user and auth_password_file go together"
        );
        assert_eq!(
            error("auth_password_file = /p\n\ninterval = 5s\n"),
            "/etc/sysmon.conf:1: auth_user and auth_password_file go together"
        );
        assert_eq!(
            error("update_manager = command\n"),
            "/etc/sysmon.conf:1: update_manager = command needs update_command"
        );
        assert!(
            error("history = 24h\n# x\ninterval = 100ms\n")
                .starts_with("/etc/sysmon.conf:3: history = 1d at interval = 100ms"),
        );
        assert!(
            error("update_manager = apt\nupdate_command = x\n")
                .starts_with("/etc/sysmon.conf:2: update_command is set"),
        );
        // Re-parsing what render prints still compares equal: lines are not
        // part of the configuration.
        let c = parse("interval = 5s\n").unwrap();
        assert_eq!(
            parse(&format!("\n\n{}", c.render())).unwrap().interval,
            c.interval
        );
    }

    #[test]
    fn password_file_errors_name_its_line() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sysmon-config-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "secret\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c = parse(&format!(
            "auth_user = a\ninterval = 5s\nauth_password_file = {}\n",
            file.display()
        ))
        .unwrap();
        assert_eq!(
            c.access_policy().unwrap_err().to_string(),
            format!(
                "/etc/sysmon.conf:3: auth_password_file {}: mode 644 lets others read it or write it; chmod 600 (or 640 for a group)",
                file.display()
            )
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(c.access_policy().is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn durations_that_overflow_are_refused() {
        for huge in [
            "18446744073709551615ms",
            "18446744073709551s",
            "36501d",
            "876025h",
        ] {
            assert_eq!(
                parse_duration(huge),
                Err(format!("`{huge}` is too long (at most 36500d)")),
            );
        }
        assert_eq!(
            parse_duration("36500d"),
            Ok(Duration::from_secs(36_500 * 86_400))
        );
        assert_eq!(
            parse("\nupdate_every = 18446744073709551615ms").unwrap_err(),
            "/etc/sysmon.conf:2: update_every: `18446744073709551615ms` is too long (at most 36500d)"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        for bad in ["", "s", "-1s", "1.5s", "1 s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
    }
}
