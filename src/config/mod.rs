//! The configuration file: `key = value` lines, `#` comments, validated into
//! a [`Config`] before anything else happens.
//!
//! Invariant: a `Config` that exists is valid. Every problem in the file is a
//! [`ConfigError`] naming `FILE:LINE` and what is wrong, and start-up stops
//! with exit status 2 before any file is written or any port is bound.
//! Relative paths are resolved against the directory of the config file.
//! [`Config::parse`] is pure; [`Config::load`] also checks what needs the
//! system: that `user` names a user of this machine, and that the `listen`
//! addresses can all be bound (unless `run --user` and `run --listen`
//! replace them: [`FromCommandLine`]).
//!
//! Invariant: reading the configuration never waits and is bounded, since
//! the daemon's one loop reads it again on SIGHUP: the config file and the
//! password file are opened with `O_NONBLOCK`, refused unless `fstat` says
//! they are regular files, and read up to a bound ([`MAX_FILE_BYTES`]; the
//! password file's in `crate::access`).
//!
//! Where things are: every key (name, default, parser, printer, SIGHUP
//! scope) is one entry of [`KEYS`] in `keys.rs`; the value parsers they
//! share are in `parse.rs`; this file reads lines, checks keys against each
//! other ([`Config::validate`]) and prints the effective configuration.
//! The password file is checked by `crate::access::AccessPolicy::from_config`.

use crate::owned::{owned, text_of};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::log;

pub mod history;
pub mod keys;
mod no_effect;
pub(crate) mod parse;

pub use keys::{KEYS, Key, Reload};
pub use parse::{
    Listen, MAX_DURATION_DAYS, format_duration, format_threshold, parse_duration, parse_listen,
    parse_threshold,
};

/// Where the packaged example config is installed, read when no `--config` is given.
pub const DEFAULT_PATH: &str = "/etc/sysmon.conf";

/// The largest config file read (1 MiB, a thousand times the annotated
/// example): a larger one is refused, so that a config replaced by a
/// symlink to /dev/zero or an endless file cannot make the daemon
/// allocate without end on SIGHUP.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// The most lines one repeatable key (`listen`, `allow`, `mounts`, ...)
/// may be given on. Checking a line looks at every earlier one of its key
/// (a path listed twice, two `listen` addresses that cannot both be bound),
/// so the work grows with the square of the count: 40,000 lines, within
/// [`MAX_FILE_BYTES`], held the loop for most of a minute on SIGHUP. A
/// thousand is far more than any machine lists.
pub const MAX_LINES_OF_ONE_KEY: usize = 1024;

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
    /// Connections one client address (IPv4, or IPv6 /64) may hold at once;
    /// `None`: `auto`, a quarter of the slots, at least 16
    /// (`listener::per_address_bound`).
    pub max_connections_per_address: Option<usize>,
    /// Loopback clients are not held to `max_connections_per_address`.
    pub per_address_loopback_exempt: bool,
    /// Host names (besides IP literals and localhost) the dashboard answers to.
    pub server_names: Vec<String>,
    /// Client address blocks allowed to connect; empty = any.
    pub allow: Vec<crate::cidr::Cidr>,
    /// Basic auth user; requires `auth_password_file`.
    pub auth_user: Option<String>,
    pub auth_password_file: Option<PathBuf>,
    /// `user = NAME`: the user `run` becomes once the socket is bound (see
    /// [`crate::privileges::drop_privileges`]). [`Config::load`] has checked that
    /// the passwd database knows it, unless `run --user` replaces it.
    pub user: Option<String>,
    pub interval: Duration,
    pub mounts: Vec<PathBuf>,
    /// Network interfaces left out of the sample (globs such as `veth*`).
    pub network_exclude: Vec<crate::nameglob::NameGlob>,
    /// Rows in each top-processes list (by CPU, by memory); 0: not read.
    pub top_processes: usize,
    /// How often the top processes are read while nobody reads /data.json
    /// (their CPU shares cover the time between two readings); `None`
    /// (`off`): only when a /data.json answer needs them.
    pub top_every: Option<Duration>,
    pub backup_dir: PathBuf,
    pub log_dir: PathBuf,
    pub state_dir: PathBuf,
    pub backup: BackupConfig,
    pub updates: UpdateConfig,
    /// Where procfs is mounted (`--proc-root`), for fixtures and containers.
    pub proc_root: PathBuf,
    /// Where sysfs is mounted (`--sys-root`).
    pub sys_root: PathBuf,
    /// The host's root file system, for os-release (`--root-fs`).
    pub root_fs: PathBuf,
    /// A `.prom` file for node_exporter's textfile collector, rewritten with
    /// sysmon's own series whenever a backup or audit starts or ends.
    pub textfile_path: Option<PathBuf>,
    /// Where node_exporter-style `*.prom` files are read at each scrape.
    pub textfile_dir: Option<PathBuf>,
    /// How long a rendered /metrics body may answer further scrapes while
    /// nothing it is keyed on changed (zero: render every scrape).
    pub metrics_cache: Duration,
    /// How far back `/history.json` and the sparklines reach.
    pub history: Duration,
    /// The tiers of `state_dir/history.db` (empty: no history file).
    pub history_tiers: Vec<history::TierSpec>,
    pub alerts: AlertConfig,
    /// How often the boot log records that this boot is alive
    /// ([`crate::bootlog`]).
    pub boot_log_every: Duration,
    /// What [`crate::services`] watches: the init system's services.
    pub services: ServicesConfig,
    /// The line each key was last given on, so that checks of the whole
    /// file ([`Config::validate`], [`crate::access::AccessPolicy::from_config`]) can name
    /// `FILE:LINE` too. Not part of the configuration: ignored by `==`.
    pub key_lines: KeyLines,
    /// Which of `listen` and `user` are `run`'s command line's, not the
    /// file's; not a key, set by [`Config::load`].
    pub from_command_line: FromCommandLine,
}

/// What `run`'s command line gives in place of the file's lines (all
/// `false`: the file's). What it replaces is neither used nor checked, and
/// [`Config::settings_without_effect`] names it at its line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FromCommandLine {
    /// `run --listen`: the file's `listen` lines are not bound, nor checked
    /// against each other (`run` checks its own).
    pub listen: bool,
    /// `run --user`: the file's `user` is not looked up (`run` looks up
    /// its own).
    pub user: bool,
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
    /// How long `unexpected_reboot` fires after a start that found the
    /// previous boot ended without a clean stop; `None`: never.
    pub unexpected_reboot: Option<Duration>,
    /// Run through `/bin/sh -c` when an alert starts and ends.
    pub command: Option<String>,
    pub timeout: Duration,
    /// Fires while a service not ignored by `services_ignore` has failed.
    pub service_failed: bool,
}

/// The init system whose services are watched (`services = ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceInit {
    /// Whichever runs: see [`crate::services`] for how it is told.
    Auto,
    Systemd,
    OpenRc,
    Runit,
    Off,
}

impl ServiceInit {
    pub const ALL: [(&'static str, ServiceInit); 5] = [
        ("auto", ServiceInit::Auto),
        ("systemd", ServiceInit::Systemd),
        ("openrc", ServiceInit::OpenRc),
        ("runit", ServiceInit::Runit),
        ("off", ServiceInit::Off),
    ];

    pub fn name(self) -> &'static str {
        word_name(&Self::ALL, self)
    }
}

/// The word of `value` in a key's table of words (`ALL` of an enum).
fn word_name<T: Copy + PartialEq>(all: &[(&'static str, T)], value: T) -> &'static str {
    all.iter()
        .find(|(_, v)| *v == value)
        .map_or("?", |(n, _)| n)
}

/// The value of `word` in a key's table of words; the error lists them.
pub fn parse_word<T: Copy>(all: &[(&'static str, T)], word: &str) -> Result<T, String> {
    all.iter()
        .find(|(name, _)| *name == word)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let words: Vec<&str> = all.iter().map(|(name, _)| *name).collect();
            format!("`{}` is not one of {}", log::shown(word), words.join(", "))
        })
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServicesConfig {
    pub init: ServiceInit,
    /// How often the services are read (a `systemctl` child each time
    /// for systemd).
    pub every: Duration,
    /// Globs (`*`, `?`) on service names left out of the failed count,
    /// the alert and the list.
    pub ignore: Vec<String>,
    /// runit's service directory; `None`: the first of `/var/service`,
    /// `/etc/service`, `/run/runit/service` that exists.
    pub runit_dir: Option<PathBuf>,
}

impl Default for AlertConfig {
    /// The `alert_*` keys at their defaults.
    fn default() -> Self {
        Config::default().alerts
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
        word_name(&Self::ALL, self)
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
    /// Every key at its [`Key::default`]: defaults are written once, in
    /// [`KEYS`]. A default that does not parse is a bug in the table, which
    /// `keys::tests::defaults_are_what_the_default_config_renders` catches.
    fn default() -> Self {
        let mut config = Config::unset();
        for key in KEYS.iter().filter(|k| !k.default.is_empty()) {
            if let Err(e) = key.apply(&mut config, key.default, Path::new("/")) {
                unreachable!("the default of {} does not parse: {e}", key.name);
            }
        }
        config
    }
}

impl Config {
    /// Every key unset (empty, zero, off): what [`Config::default`] fills in.
    /// `proc_root`, `sys_root` and `root_fs` are not keys but command-line
    /// options.
    fn unset() -> Config {
        Config {
            file: None,
            listen: Vec::new(),
            client_timeout: Duration::ZERO,
            max_connections: 0,
            max_connections_per_address: None,
            per_address_loopback_exempt: false,
            server_names: Vec::new(),
            allow: Vec::new(),
            auth_user: None,
            auth_password_file: None,
            user: None,
            interval: Duration::ZERO,
            mounts: Vec::new(),
            network_exclude: Vec::new(),
            top_processes: 0,
            top_every: None,
            backup_dir: PathBuf::new(),
            log_dir: PathBuf::new(),
            state_dir: PathBuf::new(),
            backup: BackupConfig {
                enabled: false,
                sources: Vec::new(),
                excludes: Vec::new(),
                keep: 0,
                level: 0,
                every: None,
                one_file_system: false,
            },
            updates: UpdateConfig {
                manager: UpdateManager::None,
                command: None,
                timeout: Duration::ZERO,
                every: None,
                refresh: false,
                log_keep: 0,
            },
            proc_root: PathBuf::from(owned("/proc")),
            sys_root: PathBuf::from(owned("/sys")),
            root_fs: PathBuf::from(owned("/")),
            textfile_path: None,
            textfile_dir: None,
            metrics_cache: Duration::ZERO,
            history: Duration::ZERO,
            history_tiers: Vec::new(),
            alerts: AlertConfig {
                cpu: None,
                memory: None,
                swap: None,
                disk: None,
                backup_age: None,
                updates_security: None,
                unexpected_reboot: None,
                command: None,
                timeout: Duration::ZERO,
                service_failed: false,
            },
            services: ServicesConfig {
                init: ServiceInit::Off,
                every: Duration::ZERO,
                ignore: Vec::new(),
                runit_dir: None,
            },
            boot_log_every: Duration::ZERO,
            key_lines: KeyLines::default(),
            from_command_line: FromCommandLine::default(),
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

    /// The lines `key` was given on before the one being applied, in file
    /// order: [`Config::parse`] records a line before it applies it, so a
    /// key's [`Key::apply`] finds its own line last and leaves it out.
    pub(crate) fn given_before(&self, key: &str) -> Vec<usize> {
        let mut lines = self.all_of(key);
        lines.pop();
        lines
    }

    /// Every line `key` was given on, in file order.
    pub(crate) fn all_of(&self, key: &str) -> Vec<usize> {
        self.0
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, l)| *l)
            .collect()
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

impl Config {
    /// Loads `path`, or with `None` the default file if it exists, else the
    /// built-in defaults. An explicitly named file must exist. Besides
    /// [`Config::parse`], checks what needs the system: that `user` names a
    /// user of this machine, and that the `listen` lines can all be bound
    /// ([`Config::check_listen_overlaps`]); either is not checked when
    /// `from_command_line` says the command line replaces it (the caller
    /// puts its own in `user` or `listen`). The file is read without ever waiting (the
    /// daemon's loop reads it on SIGHUP): anything but a regular file (a
    /// FIFO, a device) is refused, as is one larger than [`MAX_FILE_BYTES`].
    pub fn load(
        path: Option<&Path>,
        from_command_line: FromCommandLine,
    ) -> Result<Config, ConfigError> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(owned(DEFAULT_PATH)), false),
        };
        match crate::sample::procfile::read_whole(&path, MAX_FILE_BYTES) {
            Ok(bytes) => {
                let mut config = Config::parse(&bytes, &path)?;
                config.from_command_line = from_command_line;
                if !from_command_line.listen {
                    config.check_listen_overlaps(ipv6_wildcard_takes_ipv4())?;
                }
                if !from_command_line.user {
                    config.account().map_err(|message| ConfigError {
                        line: config.key_lines.of("user"),
                        file: path,
                        message,
                    })?;
                }
                Ok(config)
            }
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Config {
                from_command_line,
                ..Config::default()
            }),
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
            at(line, owned("not valid UTF-8"))
        })?;
        // Editors on some systems save UTF-8 with a byte order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut config = Config {
            file: Some(path.to_path_buf()),
            ..Config::default()
        };
        let mut first_seen: Vec<(&str, usize)> = Vec::new();
        // Lines so far of each repeatable key (a handful of keys).
        let mut repeats: Vec<(&str, usize)> = Vec::new();
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
                    format!("expected `key = value`, found `{}`", log::shown(line)),
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            let Some(spec) = keys::find(key) else {
                return Err(at(
                    line_no,
                    format!("unknown key `{}`{}", log::shown(key), suggest(key)),
                ));
            };
            let key = spec.name;
            if !spec.repeatable {
                if let Some((_, first)) = first_seen.iter().find(|(k, _)| *k == key) {
                    return Err(at(
                        line_no,
                        format!("`{key}` is already set on line {first}"),
                    ));
                }
                first_seen.push((key, line_no));
            } else {
                let count = match repeats.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, count)) => count,
                    None => {
                        repeats.push((key, 0));
                        &mut repeats.last_mut().expect("just pushed").1
                    }
                };
                *count += 1;
                if *count > MAX_LINES_OF_ONE_KEY {
                    return Err(at(
                        line_no,
                        format!(
                            "{key}: given more than {MAX_LINES_OF_ONE_KEY} times (sysmon \
                             takes at most that many lines of one key)"
                        ),
                    ));
                }
            }
            config.key_lines.0.push((key, line_no));
            if key == "listen" && !listen_seen {
                // The first `listen` replaces the default; more add to it.
                config.listen.clear();
                listen_seen = true;
            }
            spec.apply(&mut config, value, &base)
                .map_err(|message| at(line_no, format!("{key}: {message}")))?;
        }
        Ok(config)
    }

    /// Refuses two `listen` addresses of which the second cannot be bound
    /// beside the first (`0.0.0.0:P` and `127.0.0.1:P`, `[::]:P` and
    /// `[::1]:P`; see [`parse::listen_overlap`]; or one address listed
    /// twice), at the later one's line and naming the earlier's:
    /// `check-config` passed them and `run` failed at the second bind.
    /// Not in [`Config::parse`]: `run --listen` replaces these lines, and
    /// then they are not bound, so not refused. Apart from [`Config::parse`] because it
    /// depends on the kernel: `ipv6_takes_ipv4` is whether a `[::]` socket
    /// also takes IPv4 ([`ipv6_wildcard_takes_ipv4`]).
    pub fn check_listen_overlaps(&self, ipv6_takes_ipv4: bool) -> Result<(), ConfigError> {
        // The i-th address came from the i-th `listen` line (the first one
        // replaces the default, so with none there is one address).
        let lines = self.key_lines.all_of("listen");
        let Some((i, j, why)) = first_listen_overlap(&self.listen, ipv6_takes_ipv4) else {
            return Ok(());
        };
        let shown = |l: &Listen| log::shown(&l.to_string()).to_string();
        let first_line = lines.get(i).copied().unwrap_or(0);
        let message = if self.listen[i] == self.listen[j] {
            format!(
                "listen: `{}` is listed twice (first on line {first_line})",
                shown(&self.listen[j])
            )
        } else {
            format!(
                "listen: `{}` overlaps `{}` on line {first_line}: {why}",
                shown(&self.listen[j]),
                shown(&self.listen[i]),
            )
        };
        let mut error = self.error_at(&[], message);
        error.line = lines.get(j).copied();
        Err(error)
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

    /// For a reload: refuses a file that gives no key at all (empty, or
    /// only blanks and comments). At start such a file means the defaults;
    /// on SIGHUP it is far more likely a file caught mid-save (an editor
    /// that truncates it, then writes), and applying it would move every
    /// live key (`state_dir`, `log_dir`, `backup_dir`, ...) to its default.
    pub fn refuse_empty_for_reload(&self) -> Result<(), ConfigError> {
        if self.key_lines.0.is_empty() {
            return Err(self.error_at(&[], owned("empty")));
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
                owned("auth_user and auth_password_file go together"),
            ));
        }
        if self.updates.manager == UpdateManager::Command && self.updates.command.is_none() {
            return Err(err(
                &["update_manager"],
                owned("update_manager = command needs update_command"),
            ));
        }
        let points = history::points_for(self.interval, self.history);
        if points > history::MAX_POINTS {
            return Err(err(
                &["interval", "history"],
                format!(
                    "history = {} at interval = {} is {points} points per series (at most {}): \
                 shorten history or lengthen interval",
                    format_duration(self.history),
                    format_duration(self.interval),
                    history::MAX_POINTS
                ),
            ));
        }
        self.check_backup_sources_outside_backup_dir()?;
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

    /// Refuses a `backup_source` that is `backup_dir` or inside it (paths
    /// compared lexically: `.` and `..` resolved, nothing read from the
    /// disk): the walk never enters `backup_dir`, so such a source backed
    /// up nothing (a 22-byte archive, exit 0), or would hold the archives.
    /// `backup_dir` inside a source is fine: the walk leaves it out. The
    /// error is at the later of that source's line and `backup_dir`'s.
    fn check_backup_sources_outside_backup_dir(&self) -> Result<(), ConfigError> {
        let backup_dir = parse::normalize_lexically(&self.backup_dir);
        // Paths are absolute but for a file named without a directory
        // (`--config sysmon.conf`): there `.` holds every relative path
        // not above it, as the `""` of the copy this replaced did.
        let inside = |source: &Path| {
            let source = parse::normalize_lexically(source);
            if backup_dir == Path::new(".") {
                source.is_relative() && !source.starts_with("..")
            } else {
                source.starts_with(&backup_dir)
            }
        };
        let source_lines = self
            .key_lines
            .0
            .iter()
            .filter(|(k, _)| *k == "backup_source");
        let mut source_lines = source_lines.map(|(_, line)| *line);
        for source in &self.backup.sources {
            let source_line = source_lines.next();
            if !inside(source) {
                continue;
            }
            let message = format!(
                "backup_source = {} is backup_dir ({}) or inside it: the backup would \
                 hold its own archives (backup_dir inside a source is fine: it is left out)",
                source.display(),
                self.backup_dir.display()
            );
            let mut error = self.error_at(&[], message);
            error.line = source_line.max(self.key_lines.of("backup_dir"));
            return Err(error);
        }
        Ok(())
    }

    /// An error at the line of whichever of `keys` was given last (none
    /// given: the file as a whole).
    pub(crate) fn error_at(&self, keys: &[&str], message: String) -> ConfigError {
        ConfigError {
            file: self
                .file
                .clone()
                .unwrap_or_else(|| PathBuf::from(owned("(defaults)"))),
            line: self.key_lines.last_of(keys),
            message,
        }
    }

    /// The effective configuration as a config file, every key spelled out
    /// (the optional ones only when set), in [`KEYS`] order.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let source = self
            .file
            .as_ref()
            .map_or(owned("built-in defaults"), |p| text_of(&p.display()));
        let _ = writeln!(out, "# effective configuration (from {source})");
        for key in KEYS {
            key.render(self, &mut out);
        }
        out
    }
}

/// The first two of `listen` that cannot both be bound: the earlier's
/// index, the later's, and why (with what to do). One check for the
/// file's `listen` lines ([`Config::check_listen_overlaps`]) and for
/// `run --listen`, which replaces them. `ipv6_takes_ipv4`: see
/// [`parse::listen_overlap`].
pub fn first_listen_overlap(
    listen: &[Listen],
    ipv6_takes_ipv4: bool,
) -> Option<(usize, usize, String)> {
    for (j, later) in listen.iter().enumerate() {
        for (i, earlier) in listen[..j].iter().enumerate() {
            let why = match parse::listen_overlap(earlier, later, ipv6_takes_ipv4) {
                Some(why) => {
                    why + ", so the second bind fails (address in use); listen on the \
                           wildcard alone, or on each address but not the wildcard"
                }
                // A TCP address listed twice is `listen_overlap`'s.
                None if earlier == later && matches!(later, Listen::Unix(_)) => owned(
                    "the same unix socket twice (the second bind would find the first \
                         answering); give it once",
                ),
                None => continue,
            };
            return Some((i, j, why));
        }
    }
    None
}

/// Whether a `[::]` socket also takes IPv4 on this machine: Linux's
/// `net.ipv6.bindv6only` (per network namespace) is 0 by default, and
/// sysmon does not set `IPV6_V6ONLY` on its sockets. Unreadable (no
/// IPv6: a `[::]` bind fails anyway): the default.
pub fn ipv6_wildcard_takes_ipv4() -> bool {
    std::fs::read("/proc/sys/net/ipv6/bindv6only").map_or(true, |v| v.trim_ascii() != b"1")
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

/// ` (did you mean `KEY`?)` for a key at most two edits from `key`; nothing
/// for a key longer than [`SUGGEST_MAX_BYTES`], which no typo of a key is
/// (the edit distance is quadratic: a 1 MB key took 1.8 s).
fn suggest(key: &str) -> String {
    if key.len() > SUGGEST_MAX_BYTES {
        return String::new();
    }
    let close = KEYS
        .iter()
        .map(|k| k.name)
        .find(|k| edit_distance(k, key) <= 2);
    close.map_or(String::new(), |k| format!(" (did you mean `{k}`?)"))
}

/// The longest unknown key [`suggest`] looks at: twice the longest key.
const SUGGEST_MAX_BYTES: usize = 64;

#[cfg(test)]
thread_local! {
    /// The cells [`edit_distance`] has filled on this thread: tests count the
    /// "did you mean" search's work instead of timing it.
    static EDIT_CELLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        #[cfg(test)]
        EDIT_CELLS.with(|n| n.set(n.get() + b.len() as u64));
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

    /// Hostile-input review (2026-12-04): 40,000 `listen`, `mounts` or
    /// `backup_source` lines (under `MAX_FILE_BYTES`) took 36 to 55 s to
    /// check in a release build, each line compared with every earlier one,
    /// with the loop held on SIGHUP all that time. A key may be given
    /// `MAX_LINES_OF_ONE_KEY` times; the line after is refused, named.
    #[test]
    fn a_key_given_more_than_its_bound_is_refused_at_the_line_over() {
        for (key, value) in [
            ("listen", "/run/s{}.sock"),
            ("mounts", "/m/{}"),
            ("backup_source", "/b/{}"),
            ("services_ignore", "s{}"),
        ] {
            let lines = |n: usize| -> String {
                (0..n)
                    .map(|i| format!("{key} = {}\n", value.replace("{}", &i.to_string())))
                    .collect()
            };
            assert!(parse(&lines(MAX_LINES_OF_ONE_KEY)).is_ok(), "{key}");
            assert_eq!(
                parse(&lines(MAX_LINES_OF_ONE_KEY + 1)).err(),
                Some(format!(
                    "/etc/sysmon.conf:{}: {key}: given more than {MAX_LINES_OF_ONE_KEY} \
                     times (sysmon takes at most that many lines of one key)",
                    MAX_LINES_OF_ONE_KEY + 1
                )),
            );
        }
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
        let error = Config::load(Some(&file), FromCommandLine::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!(
                "{}:2: user: no user `no-such-user-7f3a` on this system",
                file.display()
            )),
            "{error}"
        );
        // root is in every passwd database.
        std::fs::write(&file, "user = root\n").unwrap();
        let c = Config::load(Some(&file), FromCommandLine::default()).unwrap();
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
        // Fuzzing: a backup_source equal to backup_dir backed up nothing
        // (the walk never enters backup_dir), exit 0. Refused, as is one
        // inside it, compared lexically; backup_dir inside a source is fine.
        assert_eq!(
            error("backup_dir = /srv/b\nbackup_source = /etc\nbackup_source = /srv/./b/\n"),
            "/etc/sysmon.conf:3: backup_source = /srv/b is backup_dir (/srv/b) or inside it: \
             the backup would hold its own archives (backup_dir inside a source is fine: it is left out)"
        );
        assert!(
            error("backup_source = /srv/b/x/../y\n\nbackup_dir = /srv/b\n")
                .starts_with("/etc/sysmon.conf:3: backup_source = /srv/b/y is backup_dir"),
        );
        for fine in [
            "backup_dir = /srv/b\nbackup_source = /srv\n",
            "backup_dir = /srv/b\nbackup_source = /srv/bb\n",
            "backup_dir = /srv/b\nbackup_source = /srv/b/../c\n",
        ] {
            assert!(parse(fine).unwrap().validate().is_ok(), "{fine}");
        }
        // A file named without a directory leaves relative paths relative.
        let relative = |text: &str| {
            let c = Config::parse(text.as_bytes(), Path::new("sysmon.conf")).unwrap();
            c.validate().map_err(|e| e.to_string())
        };
        for (text, refused) in [
            ("backup_dir = b\nbackup_source = ./b/x\n", true),
            ("backup_dir = a/../b\nbackup_source = b\n", true),
            ("backup_dir = .\nbackup_source = x\n", true),
            ("backup_dir = ./\nbackup_source = .\n", true),
            ("backup_dir = b\nbackup_source = c\n", false),
            // `..` above the start is kept: `../b` is not `b`. The copy of
            // the normalisation this check had dropped it and refused these.
            ("backup_dir = ../b\nbackup_source = b\n", false),
            ("backup_dir = b\nbackup_source = ../b\n", false),
            ("backup_dir = .\nbackup_source = ../x\n", false),
            ("backup_dir = .\nbackup_source = /etc\n", false),
        ] {
            assert_eq!(
                relative(text).is_err(),
                refused,
                "{text}: {:?}",
                relative(text)
            );
        }
        // Re-parsing what render prints still compares equal: lines are not
        // part of the configuration.
        let c = parse("interval = 5s\n").unwrap();
        assert_eq!(
            parse(&format!("\n\n{}", c.render())).unwrap().interval,
            c.interval
        );
    }

    /// An empty file is the defaults at start, but a reload refuses it
    /// (and a file of blanks and comments alone) rather than reset every
    /// live key.
    #[test]
    fn a_file_without_keys_is_the_defaults_but_no_reload() {
        for empty in ["", "\n \n", "# being edited\n\n  # more\n"] {
            let c = parse(empty).unwrap();
            assert_eq!(
                Config {
                    file: None,
                    ..c.clone()
                },
                Config::default()
            );
            assert_eq!(
                c.refuse_empty_for_reload().unwrap_err().to_string(),
                "/etc/sysmon.conf: empty"
            );
        }
        assert!(
            parse("# a comment\ninterval = 5s\n")
                .unwrap()
                .refuse_empty_for_reload()
                .is_ok()
        );
    }

    #[test]
    fn paths_are_normalised_by_their_text() {
        for (path, normal) in [
            ("/", "/"),
            ("//", "/"),
            ("/tmp/..", "/"),
            ("/..", "/"),
            ("/../tmp", "/tmp"),
            ("/a/./b//c/", "/a/b/c"),
            ("/a/b/../../c", "/c"),
            ("a/..", "."),
            ("a/../..", ".."),
            ("../a", "../a"),
        ] {
            assert_eq!(
                parse::normalize_lexically(Path::new(path)),
                Path::new(normal),
                "{path}"
            );
        }
    }

    /// A mount point or backup source listed twice, however written, is
    /// refused naming both lines (it gave every `node_filesystem_*` series
    /// twice, or archived the folder twice more); `auto` and mount points
    /// do not mix (a later `auto` dropped the points silently).
    #[test]
    fn mounts_and_backup_sources_are_normalised_and_listed_once() {
        let c = parse("mounts = /tmp/\nmounts = //\nmounts = /var/./log/..\n").unwrap();
        assert_eq!(
            c.mounts,
            [Path::new("/tmp"), Path::new("/"), Path::new("/var")]
        );
        let c = parse("backup_source = /etc/\nbackup_source = srv//www/.\n").unwrap();
        assert_eq!(
            c.backup.sources,
            [Path::new("/etc"), Path::new("/etc/srv/www")]
        );
        for (text, error) in [
            (
                "mounts = /\ninterval = 5s\nmounts = /",
                "/etc/sysmon.conf:3: mounts: `/` is already listed on line 1",
            ),
            (
                "mounts = /home\nmounts = /\nmounts = /tmp/..",
                "/etc/sysmon.conf:3: mounts: `/tmp/..` is `/`, already listed on line 2",
            ),
            (
                "mounts = /\nmounts = //",
                "/etc/sysmon.conf:2: mounts: `//` is `/`, already listed on line 1",
            ),
            (
                "mounts = /\nmounts = auto",
                "/etc/sysmon.conf:2: mounts: `auto` after mount points (from line 1): \
                 list mount points or auto, not both",
            ),
            (
                "mounts = auto\n\nmounts = /",
                "/etc/sysmon.conf:3: mounts: `/` after `mounts = auto` on line 1: \
                 list mount points or auto, not both",
            ),
            (
                "mounts = auto\nmounts = auto",
                "/etc/sysmon.conf:2: mounts: `auto` is already given on line 1",
            ),
            (
                "backup_source = /etc\nbackup_source = /srv\nbackup_source = /etc/",
                "/etc/sysmon.conf:3: backup_source: `/etc/` is `/etc`, already listed on line 1",
            ),
            (
                "backup_source = /etc\nbackup_source = ../etc",
                "/etc/sysmon.conf:2: backup_source: `../etc` is `/etc`, already listed on line 1",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), error, "{text}");
        }
        // auto alone, or not at all, is auto.
        assert!(parse("mounts = auto").unwrap().mounts.is_empty());
    }

    /// What an error quotes from the file is escaped and cut: an escape
    /// sequence reached the terminal or journal as is, a NUL went to stderr,
    /// a 1 MB value made a 1 MB line, and a 1 MB unknown key spent seconds
    /// in the "did you mean" search.
    #[test]
    fn errors_quote_file_text_escaped_and_cut() {
        for (text, error) in [
            (
                "interval = \u{1b}[31mred",
                "/etc/sysmon.conf:1: interval: `\\x1b[31mred` is not a duration such as 500ms, 5s, 1m, 2h or 1d",
            ),
            (
                "\n\u{1b}]0;owned\u{7} = 1",
                "/etc/sysmon.conf:2: unknown key `\\x1b]0;owned\\x07`",
            ),
            (
                "just \u{9b}words",
                "/etc/sysmon.conf:1: expected `key = value`, found `just \\u{9b}words`",
            ),
            (
                "allow = 10.0.0.0/8\u{202e}",
                "/etc/sysmon.conf:1: allow: `10.0.0.0/8\\u{202e}` is not an address block such as 192.168.1.0/24, 127.0.0.1 or ::1/128",
            ),
            (
                "backup_exclude = \u{1b}[",
                "/etc/sysmon.conf:1: backup_exclude: `\\x1b[`: unclosed `[`",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), error, "{text:?}");
        }
        let huge = "9".repeat(1_000_000);
        let error = parse(&format!("interval = {huge}x")).unwrap_err();
        assert!(error.len() < 400, "{} bytes", error.len());
        assert!(error.contains(&format!("`{}…`", "9".repeat(crate::log::SHOWN_CHARS))));
        // Counted, not timed: the 1 MB key costs the search nothing (it
        // filled 10^6 cells per known key, seconds in all), and a key at
        // the limit at most one 64-column table per known key.
        EDIT_CELLS.with(|n| n.set(0));
        let error = parse(&format!("{} = 1", "k".repeat(1_000_000))).unwrap_err();
        assert!(
            error.len() < 400 && !error.contains("did you mean"),
            "{error}"
        );
        assert_eq!(EDIT_CELLS.with(std::cell::Cell::get), 0);
        let longest = KEYS.iter().map(|k| k.name.len()).max().unwrap() as u64;
        let error = parse(&format!("{} = 1", "k".repeat(SUGGEST_MAX_BYTES))).unwrap_err();
        assert!(!error.contains("did you mean"), "{error}");
        let cells = EDIT_CELLS.with(std::cell::Cell::get);
        let bound = KEYS.len() as u64 * longest * SUGGEST_MAX_BYTES as u64;
        assert!(cells > 0 && cells <= bound, "{cells} cells, bound {bound}");
    }

    /// A NUL byte cannot reach the kernel in a path, a socket path or a
    /// command line: refused with the file's line, so `check-config` sees
    /// it, where before `run` failed later (or cut the path).
    #[test]
    fn a_nul_byte_in_a_path_listen_address_or_command_is_refused() {
        for (key, value) in [
            ("backup_dir", "/var/b\0x"),
            ("state_dir", "\0"),
            ("backup_source", "/etc\0/x"),
            ("textfile_path", "/run/a\0.prom"),
            ("listen", "/run/sysmon\0.sock"),
            ("listen", "127.0.0.1:80\0"),
            ("update_command", "echo\0 x"),
            ("alert_command", "logger\0"),
        ] {
            let shown = value.replace('\0', "\\0");
            assert_eq!(
                parse(&format!("\n{key} = {value}\n")).unwrap_err(),
                format!("/etc/sysmon.conf:2: {key}: `{shown}` contains a NUL byte"),
            );
        }
    }

    /// Two `listen` addresses the second of which cannot be bound beside
    /// the first passed `check-config` and failed at `run` (EADDRINUSE at
    /// the second bind): refused at the later line, naming the earlier.
    /// Each case below was bound by hand on Linux 6 (two listening sockets
    /// with SO_REUSEADDR, as std binds them), with `net.ipv6.bindv6only` 0
    /// and, in a network namespace of its own, 1.
    #[test]
    fn listen_addresses_that_cannot_be_bound_together_are_refused() {
        let check = |lines: &str, ipv6_takes_ipv4: bool| {
            let text = lines
                .split(' ')
                .map(|l| format!("listen = {l}\n"))
                .collect::<String>();
            parse(&format!("interval = 5s\n{text}"))
                .unwrap()
                .check_listen_overlaps(ipv6_takes_ipv4)
                .map_err(|e| e.to_string())
        };
        let overlap = |later: &str, earlier: &str, line: (usize, usize), why: &str| {
            format!(
                "/etc/sysmon.conf:{}: listen: `{later}` overlaps `{earlier}` on line {}: {why}, \
                 so the second bind fails (address in use); listen on the wildcard alone, \
                 or on each address but not the wildcard",
                line.1, line.0
            )
        };
        let dual = " (a `[::]` socket takes IPv4 too: sysmon does not set IPV6_V6ONLY \
                    and net.ipv6.bindv6only is 0 here)";
        for (lines, ipv6_takes_ipv4, error) in [
            (
                "0.0.0.0:8080 127.0.0.1:8080",
                true,
                Some(overlap(
                    "127.0.0.1:8080",
                    "0.0.0.0:8080",
                    (2, 3),
                    "0.0.0.0:8080 takes port 8080 on every IPv4 address",
                )),
            ),
            (
                "10.0.0.1:9 127.0.0.1:8080 0.0.0.0:8080",
                false,
                Some(overlap(
                    "0.0.0.0:8080",
                    "127.0.0.1:8080",
                    (3, 4),
                    "0.0.0.0:8080 takes port 8080 on every IPv4 address",
                )),
            ),
            (
                "[::]:8080 [::1]:8080",
                false,
                Some(overlap(
                    "[::1]:8080",
                    "[::]:8080",
                    (2, 3),
                    "[::]:8080 takes port 8080 on every IPv6 address",
                )),
            ),
            (
                "[::]:8080 127.0.0.1:8080",
                true,
                Some(overlap(
                    "127.0.0.1:8080",
                    "[::]:8080",
                    (2, 3),
                    &format!("[::]:8080 takes port 8080 on every IPv4 address{dual}"),
                )),
            ),
            (
                "0.0.0.0:8080 [::]:8080",
                true,
                Some(overlap(
                    "[::]:8080",
                    "0.0.0.0:8080",
                    (2, 3),
                    "0.0.0.0:8080 takes port 8080 on every IPv4 address",
                )),
            ),
            (
                "127.0.0.1:8080 [::ffff:127.0.0.1]:8080",
                true,
                Some(overlap(
                    "[::ffff:127.0.0.1]:8080",
                    "127.0.0.1:8080",
                    (2, 3),
                    "both take 127.0.0.1 port 8080",
                )),
            ),
            // These bind: with bindv6only = 1 a [::] socket is IPv6 only;
            // [::1] takes no IPv4; other ports, other addresses, port 0.
            ("[::]:8080 0.0.0.0:8080", false, None),
            ("[::]:8080 127.0.0.1:8080", false, None),
            ("[::1]:8080 0.0.0.0:8080", true, None),
            ("[::1]:8080 127.0.0.1:8080", true, None),
            ("0.0.0.0:8080 127.0.0.1:8081", true, None),
            ("127.0.0.1:8080 127.0.0.2:8080", true, None),
            ("0.0.0.0:0 127.0.0.1:0 [::]:0", true, None),
            // Port 0 is "any free port": this was refused as listed twice.
            ("127.0.0.1:0 127.0.0.1:0 127.0.0.1:0", true, None),
            ("/run/a.sock /run/b.sock 127.0.0.1:8080", true, None),
        ] {
            assert_eq!(check(lines, ipv6_takes_ipv4).err(), error, "{lines}");
        }
        // The default alone, and one address, never overlap.
        assert!(parse("").unwrap().check_listen_overlaps(true).is_ok());
        // One listed twice is refused here, not as the file is parsed:
        // `run --listen` replaces the lines and then binds neither.
        assert_eq!(
            check("127.0.0.1:9 127.0.0.1:9", true).err().as_deref(),
            Some("/etc/sysmon.conf:3: listen: `127.0.0.1:9` is listed twice (first on line 2)")
        );
        assert_eq!(
            check("/run/a.sock /run/a.sock", true).err().as_deref(),
            Some("/etc/sysmon.conf:3: listen: `/run/a.sock` is listed twice (first on line 2)")
        );
    }

    /// `alert_command = off` ran `/bin/sh -c off` at every alert: no
    /// command key takes a lone `off`, `on`, `none` or `auto` as a command
    /// (a new command key is caught here too), while `true`, `false` and
    /// `yes` (programs) and a command that merely begins with a word are
    /// still taken.
    #[test]
    fn command_keys_refuse_the_words_of_other_keys() {
        for key in KEYS.iter().filter(|k| k.name.ends_with("_command")) {
            for word in parse::NOT_COMMANDS {
                for word in [word.to_string(), word.to_ascii_uppercase()] {
                    let error = parse(&format!("{} = {word}", key.name))
                        .err()
                        .unwrap_or_else(|| panic!("{} = {word} is taken", key.name));
                    assert!(
                        error.contains("is a word of this file, not a command"),
                        "{error}"
                    );
                }
            }
        }
        assert_eq!(
            parse("\nalert_command = off").unwrap_err(),
            "/etc/sysmon.conf:2: alert_command: `off` is a word of this file, not a command: \
             alert_command takes a shell command; to run none, leave the key out"
        );
        assert_eq!(
            parse("update_manager = command\nupdate_command = None").unwrap_err(),
            "/etc/sysmon.conf:2: update_command: `None` is a word of this file, not a \
             command: update_command takes the shell command that lists pending updates; \
             to audit none write `update_manager = none`"
        );
        for fine in [
            "alert_command = off-site-notify",
            "alert_command = /usr/bin/true",
        ] {
            assert!(parse(fine).is_ok(), "{fine}");
        }
    }

    /// `backup_dir = off` made a directory named `off` beside the config:
    /// no path key takes a word other keys take as a path, whichever key
    /// (a new path key is caught here too: its value would render as
    /// `/etc/off`), and the error says what was probably meant.
    #[test]
    fn path_keys_refuse_the_words_of_other_keys() {
        for key in KEYS {
            for word in parse::KEYWORDS {
                for word in [word.to_string(), word.to_ascii_uppercase()] {
                    let Ok(c) = parse(&format!("{} = {word}", key.name)) else {
                        continue;
                    };
                    let rendered = c.render();
                    assert!(
                        !rendered.contains(&format!("/{word}\n")),
                        "{} = {word} is taken as a path:\n{rendered}",
                        key.name
                    );
                }
            }
        }
        for (text, error) in [
            (
                "\nbackup_dir = off",
                "/etc/sysmon.conf:2: backup_dir: `off` is a word of this file, not a path: \
                 backup_dir takes a path; to turn the backup off write `backup = off` \
                 (for a file or directory named `off`, write `./off`)",
            ),
            (
                "state_dir = None",
                "/etc/sysmon.conf:1: state_dir: `None` is a word of this file, not a path: \
                 state_dir takes a path and cannot be turned off (the boot log is kept \
                 there); to keep no history file write `history_tiers = off` \
                 (for a file or directory named `None`, write `./None`)",
            ),
            (
                "services_runit_dir = off",
                "/etc/sysmon.conf:1: services_runit_dir: `off` is a word of this file, not a \
                 path: services_runit_dir takes a directory, or `auto`; to watch no services \
                 write `services = off` (for a file or directory named `off`, write `./off`)",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), error, "{text}");
        }
        // The words' own keys still take them; a relative path is still
        // fine, and `./off` names a directory `off`.
        for fine in [
            "textfile_path = off",
            "textfile_dir = off",
            "services_runit_dir = auto",
            "backup_dir = ./output/",
            "backup_dir = offsite",
        ] {
            assert!(parse(fine).is_ok(), "{fine}");
        }
        assert_eq!(
            parse("backup_dir = ./off").unwrap().backup_dir,
            Path::new("/etc/./off")
        );
    }

    /// `history_tiers` took the same step twice (two tiers holding the
    /// same points) and up to eight tiers of a million points: a 4 GB
    /// file, made whole at start. Both are refused at the key's line.
    #[test]
    fn history_tiers_take_each_step_once_and_a_million_points_in_all() {
        for (text, error) in [
            (
                "\nhistory_tiers = 1m:2d 10m:30d 60s:7d",
                "/etc/sysmon.conf:2: history_tiers: `60s:7d`: tier 1 (`1m:2d`) has the \
                 step 1m already: one tier per step",
            ),
            (
                "history_tiers = 1s:11d 1m:365d",
                "/etc/sysmon.conf:1: history_tiers: `1s:11d 1m:365d` is 1476000 points in all \
                 (at most 1000000, a file of about 512 MB: it is written whole when made \
                 and read whole at every start)",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), error, "{text}");
        }
        for fine in ["1s:11d", "1m:2d 10m:30d 1h:365d", "1s:1h 2s:1h", "1m:694d"] {
            assert!(parse(&format!("history_tiers = {fine}")).is_ok(), "{fine}");
        }
    }

    /// Small laxness a sweep of hostile configs found: a count took a
    /// leading `+` (`u32::from_str` does), and `server_name` took empty
    /// labels (`a..b`, `example.org.`), which no Host header can match.
    #[test]
    fn counts_take_digits_only_and_host_names_whole_labels() {
        assert_eq!(
            parse("\nbackup_keep = +5").unwrap_err(),
            "/etc/sysmon.conf:2: backup_keep: `+5` is not a whole number from 1 to 10000"
        );
        for bad in ["+0", "-0", " 5", "5 ", "0x5", ""] {
            assert!(parse::parse_count(bad, 0, 9).is_err(), "{bad:?}");
        }
        assert_eq!(parse::parse_count("007", 0, 9), Ok(7));
        assert!(parse("alert_updates_security = +1").is_err());
        assert_eq!(
            parse("server_name = a..b").unwrap_err(),
            "/etc/sysmon.conf:1: server_name: `a..b` is not a host name such as \
             monitor.example.org (letters, digits and `-`, in labels joined by single dots)"
        );
        for bad in [".example.org", "example.org.", "."] {
            assert!(parse(&format!("server_name = {bad}")).is_err(), "{bad}");
        }
        for fine in ["monitor.example.org", "localhost2", "x-1.lan"] {
            assert!(parse(&format!("server_name = {fine}")).is_ok(), "{fine}");
        }
        // What DNS allows (RFC 1035, 1123) at its edges: accepted ...
        let label_63 = "a".repeat(63);
        let name_253 = [&label_63[..], &label_63, &label_63, &"b".repeat(61)].join(".");
        for fine in [&label_63[..], &name_253, "0-0.x--y.1"] {
            assert!(parse(&format!("server_name = {fine}")).is_ok(), "{fine}");
        }
        // ... and past them: a name no browser sends, so no Host matches.
        let label_64 = "a".repeat(64);
        let name_254 = format!("{name_253}b");
        for (bad, error) in [
            (
                format!("x.{label_64}.lan"),
                format!(
                    "its label `{}` is longer than 63 bytes, the most a label may be",
                    log::shown(&label_64)
                ),
            ),
            (
                "-monitor.lan".into(),
                "`-monitor.lan` is not a host name: its label `-monitor` starts or ends \
                 with `-`, which no label may"
                    .into(),
            ),
            (
                "monitor.lan-".into(),
                "its label `lan-` starts or ends with `-`".into(),
            ),
            ("a.-.b".into(), "its label `-` starts or ends".into()),
            (
                name_254.clone(),
                "is 254 bytes; a host name holds at most 253".into(),
            ),
        ] {
            let got = parse(&format!("interval = 5s\nserver_name = {bad}")).unwrap_err();
            assert!(
                got.starts_with("/etc/sysmon.conf:2: server_name: `") && got.contains(&error),
                "{bad}: {got}"
            );
        }
        // Both refusals reach the keys through their parsers.
        assert!(
            parse("allow = 10.0.0.1/8")
                .unwrap_err()
                .contains("write the network, 10.0.0.0/8")
        );
        assert!(
            parse(&format!("network_exclude = {}", "x".repeat(16)))
                .unwrap_err()
                .contains("an interface name has at most 15")
        );
    }

    /// `run --listen` replaces the file's lines and gets the same check;
    /// there a socket path twice (refused as the file is read) meets it too.
    #[test]
    fn first_listen_overlap_names_the_pair_and_why() {
        let check = |given: &[&str]| {
            let listen: Vec<Listen> = given.iter().map(|l| parse_listen(l).unwrap()).collect();
            first_listen_overlap(&listen, true)
        };
        let (i, j, why) = check(&["127.0.0.1:9", "[::1]:9", "0.0.0.0:9"]).unwrap();
        assert_eq!((i, j), (0, 2));
        assert!(
            why.starts_with("0.0.0.0:9 takes port 9 on every IPv4 address, so the second bind"),
            "{why}"
        );
        let (i, j, why) = check(&["/run/a.sock", "127.0.0.1:0", "/run//a.sock"]).unwrap();
        assert_eq!((i, j), (0, 2));
        assert!(why.starts_with("the same unix socket twice"), "{why}");
        assert_eq!(check(&["127.0.0.1:0", "127.0.0.1:0", "[::]:0"]), None);
        assert_eq!(check(&["/run/a.sock", "/run/b.sock"]), None);
    }

    /// Editors that save UTF-8 with a byte order mark: it is skipped.
    #[test]
    fn a_byte_order_mark_at_the_start_is_skipped() {
        let c = parse("\u{feff}interval = 7s\n").unwrap();
        assert_eq!(c.interval, Duration::from_secs(7));
        // Anywhere else it is part of the text, shown escaped.
        assert_eq!(
            parse("interval = 7s\n\u{feff}history = 2h").unwrap_err(),
            "/etc/sysmon.conf:2: unknown key `\\u{feff}history` (did you mean `history`?)"
        );
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
