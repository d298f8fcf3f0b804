//! Every configuration key, once: its name, whether it may repeat, its
//! default, a one-line doc, whether SIGHUP applies it live or it waits for a
//! restart, how its value is parsed into a [`Config`] and how it is printed
//! back. Parsing ([`Config::parse`]), `check-config` ([`Config::render`]) and
//! the reload ([`keep_restart_keys`], called by `Daemon::reload`) all read
//! [`KEYS`]; a test checks that the README's configuration table,
//! `init/sysmon.conf` and `init/sysmon.8` name exactly these keys.
//!
//! Invariant: rendering a [`Config`] key by key in this order, then parsing
//! the text, gives the same `Config` back. [`Config::default`] is built
//! from the keys' `default` texts, the one place defaults are written.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::parse::{
    format_duration, format_threshold, normalize_lexically, on_off, parse_command, parse_count,
    parse_duration, parse_listen, parse_optional_period, parse_path, parse_switch, parse_threshold,
};

/// A duration from `min` to `max`, which `range` spells for the error.
fn duration_between(
    value: &str,
    min: Duration,
    max: Duration,
    range: &str,
) -> Result<Duration, String> {
    let d = parse_duration(value)?;
    if d < min || d > max {
        return Err(format!("`{}` is out of range ({range})", log::shown(value)));
    }
    Ok(d)
}
use super::{Config, ServiceInit, Threshold, UpdateManager};
use crate::log;

/// `mounts = VALUE`: `auto` alone (no line: the default), or mount points,
/// each an absolute path normalised lexically and listed once: `/` twice
/// (or `/` and `//`) gave each `node_filesystem_*` series twice, which
/// Prometheus refuses. Mixing the two is refused too (an `auto` after
/// mount points used to drop them silently).
///
/// Invariant: every `mounts` line before this one added one entry to
/// `c.mounts`, or every one was `auto` and `c.mounts` is empty (a mix
/// is refused), so the i-th entry came from the i-th earlier line.
fn add_mount(c: &mut Config, value: &str) -> Result<(), String> {
    let before = c.key_lines.given_before("mounts");
    let first = before.first().copied();
    let earlier_auto = first.filter(|_| c.mounts.is_empty());
    if value == "auto" {
        return match (earlier_auto, first) {
            (Some(line), _) => Err(format!("`auto` is already given on line {line}")),
            (None, Some(line)) => Err(format!(
                "`auto` after mount points (from line {line}): list mount points or auto, not both"
            )),
            (None, None) => Ok(()),
        };
    }
    if !value.starts_with('/') {
        return Err(format!(
            "`{}` is not an absolute mount point (or `auto`)",
            log::shown(value)
        ));
    }
    if let Some(line) = earlier_auto {
        return Err(format!(
            "`{}` after `mounts = auto` on line {line}: list mount points or auto, not both",
            log::shown(value)
        ));
    }
    let path = normalize_lexically(Path::new(value));
    refuse_listed_twice(&c.mounts, &before, &path, value)?;
    c.mounts.push(path);
    Ok(())
}

/// `backup_source = VALUE`: a folder, normalised lexically and listed once
/// (the same folder twice, or as `dir` and `dir/`, was archived twice more
/// under `src_2/`, `src_3/`). Every earlier line added one entry.
fn add_backup_source(c: &mut Config, value: &str, base: &Path) -> Result<(), String> {
    let path = normalize_lexically(&parse_path(
        value,
        base,
        "backup_source takes a folder to archive; to turn the backup off write \
         `backup = off`, or give no backup_source",
    )?);
    let before = c.key_lines.given_before("backup_source");
    refuse_listed_twice(&c.backup.sources, &before, &path, value)?;
    c.backup.sources.push(path);
    Ok(())
}

/// An error naming the earlier line when `path` (written `value`) is one
/// of `listed`, whose i-th entry came from line `lines[i]`.
fn refuse_listed_twice(
    listed: &[std::path::PathBuf],
    lines: &[usize],
    path: &Path,
    value: &str,
) -> Result<(), String> {
    let Some(i) = listed.iter().position(|p| p == path) else {
        return Ok(());
    };
    let line = lines
        .get(i)
        .map_or(String::new(), |l| format!(" on line {l}"));
    let normal = path.to_string_lossy();
    Err(if normal == value {
        format!("`{}` is already listed{line}", log::shown(value))
    } else {
        format!(
            "`{}` is `{}`, already listed{line}",
            log::shown(value),
            log::shown(&normal)
        )
    })
}

/// When a changed value takes effect.
#[derive(Clone, Copy)]
pub enum Reload {
    /// At the SIGHUP that brings it.
    Live,
    /// At the next start: a reload keeps the running value, which the
    /// function copies from the running configuration (second argument)
    /// into the new one.
    Restart(fn(&mut Config, &Config)),
}

/// One configuration key.
pub struct Key {
    pub name: &'static str,
    /// May be given more than once (each adds a value).
    pub repeatable: bool,
    /// The value [`Config::default`] applies, as a file would give it;
    /// empty when the key is unset by default.
    pub default: &'static str,
    pub doc: &'static str,
    pub reload: Reload,
    /// Applies one `name = value` line; `base` anchors relative paths. The
    /// error is the message after `FILE:LINE: name: `.
    pub apply: fn(&mut Config, &str, &Path) -> Result<(), String>,
    /// Prints the value as `name = value` lines (none: not set).
    pub render: fn(&Config, &mut Out<'_>),
}

impl Key {
    pub fn is_live(&self) -> bool {
        matches!(self.reload, Reload::Live)
    }
}

/// Where a key's [`Key::render`] prints: one `name = value` line per call.
pub struct Out<'a> {
    text: &'a mut String,
    key: &'static str,
}

impl<'a> Out<'a> {
    pub fn new(text: &'a mut String, key: &'static str) -> Out<'a> {
        Out { text, key }
    }

    /// Out of line: the key table's ~100 render functions call it, and
    /// inlined `writeln!` took about 40 bytes in each.
    #[inline(never)]
    pub fn value(&mut self, value: &dyn fmt::Display) {
        use std::fmt::Write;
        let _ = writeln!(self.text, "{} = {value}", self.key);
    }

    fn duration(&mut self, d: Duration) {
        self.value(&format_duration(d));
    }

    /// A duration, or `off`.
    fn period(&mut self, d: Option<Duration>) {
        match d {
            Some(d) => self.duration(d),
            None => self.value(&"off"),
        }
    }

    /// A threshold, or `off`.
    fn threshold(&mut self, t: Option<Threshold>) {
        match t {
            Some(t) => self.value(&format_threshold(t)),
            None => self.value(&"off"),
        }
    }
}

/// The limits DNS puts on a host name (RFC 1035 2.3.4, RFC 1123 2.1):
/// 253 bytes in all, a label 63 at most and neither starting nor ending
/// with `-`. A name past them resolves nowhere, so no browser sends it as
/// a Host header and the `server_name` naming it could never match.
/// `name` holds only letters, digits, `-` and single dots already.
fn host_name_limits(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!(
            "`{}` is {} bytes; a host name holds at most 253",
            log::shown(name),
            name.len()
        ));
    }
    for label in name.split('.') {
        let why = if label.len() > 63 {
            "is longer than 63 bytes, the most a label may be"
        } else if label.starts_with('-') || label.ends_with('-') {
            "starts or ends with `-`, which no label may"
        } else {
            continue;
        };
        return Err(format!(
            "`{}` is not a host name: its label `{}` {why}",
            log::shown(name),
            log::shown(label)
        ));
    }
    Ok(())
}

/// The key named `name`.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// In the order `check-config` prints them.
pub const KEYS: &[Key] = &[
    Key {
        name: "listen",
        repeatable: true,
        default: "127.0.0.1:8080",
        doc: "address of the dashboard: IP:PORT, [IPv6]:PORT or a unix socket path",
        reload: Reload::Restart(|new, running| new.listen = running.listen.clone()),
        apply: |c, value, _| {
            // One listed twice is refused with the addresses that cannot
            // be bound together (`Config::check_listen_overlaps`): not
            // when `run --listen` replaces them.
            c.listen.push(parse_listen(value)?);
            Ok(())
        },
        render: |c, out| c.listen.iter().for_each(|l| out.value(l)),
    },
    Key {
        name: "max_connections",
        repeatable: false,
        default: "2048",
        doc: "connections open at once (1 to 65536); more are answered 503",
        reload: Reload::Restart(|new, running| new.max_connections = running.max_connections),
        apply: |c, value, _| {
            c.max_connections = parse_count(value, 1, 65536)? as usize;
            Ok(())
        },
        render: |c, out| out.value(&c.max_connections),
    },
    Key {
        name: "max_connections_per_address",
        repeatable: false,
        default: "auto",
        doc: "connections one client address (IPv4, IPv6 /64) may hold (1 to 65536, \
              auto: a quarter of max_connections, at least 16); more are answered 503",
        reload: Reload::Restart(|new, running| {
            new.max_connections_per_address = running.max_connections_per_address
        }),
        apply: |c, value, _| {
            c.max_connections_per_address = match value {
                "auto" => None,
                _ => Some(parse_count(value, 1, 65536).map_err(|e| e + " or auto")? as usize),
            };
            Ok(())
        },
        render: |c, out| match c.max_connections_per_address {
            Some(n) => out.value(&n),
            None => out.value(&"auto"),
        },
    },
    Key {
        name: "per_address_loopback",
        repeatable: false,
        default: "exempt",
        doc: "exempt: loopback clients (a proxy on this host) are not held to \
              max_connections_per_address; bounded: they are",
        reload: Reload::Restart(|new, running| {
            new.per_address_loopback_exempt = running.per_address_loopback_exempt
        }),
        apply: |c, value, _| {
            c.per_address_loopback_exempt = match value {
                "exempt" => true,
                "bounded" => false,
                _ => return Err(format!("`{}` is not exempt or bounded", log::shown(value))),
            };
            Ok(())
        },
        render: |c, out| {
            out.value(if c.per_address_loopback_exempt {
                &"exempt"
            } else {
                &"bounded"
            })
        },
    },
    Key {
        name: "client_timeout",
        repeatable: false,
        default: "10s",
        doc: "a connection idle this long is closed (1s to 10m)",
        reload: Reload::Restart(|new, running| new.client_timeout = running.client_timeout),
        apply: |c, value, _| {
            c.client_timeout = duration_between(
                value,
                Duration::from_secs(1),
                Duration::from_secs(600),
                "1s to 10m",
            )?;
            Ok(())
        },
        render: |c, out| out.duration(c.client_timeout),
    },
    Key {
        name: "server_name",
        repeatable: true,
        default: "",
        doc: "a host name the dashboard answers to besides IP literals and localhost",
        reload: Reload::Live,
        apply: |c, value, _| {
            // Each label between dots non-empty: `a..b` could never match,
            // nor could `example.org.`, as the Host check drops a
            // trailing dot before comparing.
            let valid = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                && !value.split('.').any(str::is_empty);
            if !valid {
                return Err(format!(
                    "`{}` is not a host name such as monitor.example.org (letters, digits \
                     and `-`, in labels joined by single dots)",
                    log::shown(value)
                ));
            }
            host_name_limits(value)?;
            c.server_names.push(value.to_ascii_lowercase());
            Ok(())
        },
        render: |c, out| c.server_names.iter().for_each(|n| out.value(n)),
    },
    Key {
        name: "allow",
        repeatable: true,
        default: "",
        doc: "a client address block allowed to connect (none: any)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.allow.push(crate::cidr::Cidr::parse(value)?);
            Ok(())
        },
        render: |c, out| c.allow.iter().for_each(|a| out.value(a)),
    },
    Key {
        name: "auth_user",
        repeatable: false,
        default: "",
        doc: "HTTP basic auth user (with auth_password_file)",
        reload: Reload::Live,
        apply: |c, value, _| {
            if value.is_empty() || value.contains(':') || value.chars().any(char::is_control) {
                return Err(format!(
                    "`{}` is not a user name (no `:`, no control characters)",
                    log::shown(value)
                ));
            }
            c.auth_user = Some(value.to_string());
            Ok(())
        },
        render: |c, out| {
            if let (Some(user), Some(_)) = (&c.auth_user, &c.auth_password_file) {
                out.value(user);
            }
        },
    },
    Key {
        name: "auth_password_file",
        repeatable: false,
        default: "",
        doc: "the file holding the basic auth password (mode 600 or 640)",
        reload: Reload::Live,
        apply: |c, value, base| {
            c.auth_password_file = Some(parse_path(
                value,
                base,
                "auth_password_file takes the path of the password file; for no \
                 password, leave out both auth_user and auth_password_file",
            )?);
            Ok(())
        },
        render: |c, out| {
            if let (Some(_), Some(file)) = (&c.auth_user, &c.auth_password_file) {
                out.value(&file.display());
            }
        },
    },
    Key {
        name: "user",
        repeatable: false,
        default: "",
        doc: "started as root, become this user once the port is bound",
        reload: Reload::Restart(|new, running| new.user = running.user.clone()),
        apply: |c, value, _| {
            // What useradd and the passwd file allow: no `:`, no `/`, no
            // white space or control characters, no leading `-`.
            let valid = !value.is_empty()
                && value.len() <= 256
                && !value.starts_with('-')
                && !value
                    .chars()
                    .any(|c| c == ':' || c == '/' || c.is_whitespace() || c.is_control());
            if !valid {
                return Err(format!(
                    "`{}` is not a user name such as sysmon",
                    log::shown(value)
                ));
            }
            c.user = Some(value.to_string());
            Ok(())
        },
        render: |c, out| c.user.iter().for_each(|u| out.value(u)),
    },
    Key {
        name: "interval",
        repeatable: false,
        default: "5s",
        doc: "sampling period (100ms to 1h)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.interval = duration_between(
                value,
                Duration::from_millis(100),
                Duration::from_secs(3600),
                "100ms to 1h",
            )?;
            Ok(())
        },
        render: |c, out| out.duration(c.interval),
    },
    Key {
        name: "mounts",
        repeatable: true,
        default: "auto",
        doc: "a mount point to report, or auto: every filesystem backed by a device",
        reload: Reload::Live,
        apply: |c, value, _| add_mount(c, value),
        render: |c, out| {
            if c.mounts.is_empty() {
                out.value(&"auto");
            }
            c.mounts.iter().for_each(|m| out.value(&m.display()));
        },
    },
    Key {
        name: "network_exclude",
        repeatable: true,
        default: "",
        doc: "a network interface (name or glob) left out of the sample",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.network_exclude
                .push(crate::nameglob::NameGlob::parse(value)?);
            Ok(())
        },
        render: |c, out| c.network_exclude.iter().for_each(|g| out.value(g)),
    },
    Key {
        name: "top_processes",
        repeatable: false,
        default: "5",
        doc: "rows in each top-processes list, by CPU and by memory (0 to 100; 0: off)",
        reload: Reload::Live,
        apply: |c, value, _| {
            // At most `sample::top::MAX_ROWS`.
            c.top_processes = parse_count(value, 0, 100)? as usize;
            Ok(())
        },
        render: |c, out| out.value(&c.top_processes),
    },
    Key {
        name: "top_every",
        repeatable: false,
        default: "off",
        doc: "how often the top processes are read while nobody reads /data.json (100ms to 1h), or off: only when /data.json asks",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.top_every = match value {
                "off" => None,
                _ => Some(duration_between(
                    value,
                    Duration::from_millis(100),
                    Duration::from_secs(3600),
                    "100ms to 1h, or off",
                )?),
            };
            Ok(())
        },
        render: |c, out| out.period(c.top_every),
    },
    Key {
        name: "backup_dir",
        repeatable: false,
        default: "/var/backups/sysmon",
        doc: "where archives go",
        reload: Reload::Live,
        apply: |c, value, base| {
            c.backup_dir = parse_path(
                value,
                base,
                "backup_dir takes a path; to turn the backup off write `backup = off`",
            )?;
            Ok(())
        },
        render: |c, out| out.value(&c.backup_dir.display()),
    },
    Key {
        name: "log_dir",
        repeatable: false,
        default: "/var/log/sysmon",
        doc: "where update-audit logs go",
        reload: Reload::Live,
        apply: |c, value, base| {
            c.log_dir = parse_path(
                value,
                base,
                "log_dir takes a path; to turn the update audit (whose logs go there) \
                 off write `update_manager = none`",
            )?;
            Ok(())
        },
        render: |c, out| out.value(&c.log_dir.display()),
    },
    Key {
        name: "state_dir",
        repeatable: false,
        default: "/var/lib/sysmon",
        doc: "small state files (the boot id of the last boot backup)",
        reload: Reload::Live,
        apply: |c, value, base| {
            c.state_dir = parse_path(
                value,
                base,
                "state_dir takes a path and cannot be turned off (the boot log is \
                 kept there); to keep no history file write `history_tiers = off`",
            )?;
            Ok(())
        },
        render: |c, out| out.value(&c.state_dir.display()),
    },
    Key {
        name: "backup",
        repeatable: false,
        default: "on",
        doc: "off disables the boot backup",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.backup.enabled = parse_switch(value)?;
            Ok(())
        },
        render: |c, out| out.value(&on_off(c.backup.enabled)),
    },
    Key {
        name: "backup_source",
        repeatable: true,
        default: "",
        doc: "a folder to archive (no source: no backup)",
        reload: Reload::Live,
        apply: |c, value, base| add_backup_source(c, value, base),
        render: |c, out| {
            c.backup
                .sources
                .iter()
                .for_each(|s| out.value(&s.display()))
        },
    },
    Key {
        name: "backup_exclude",
        repeatable: true,
        default: "",
        doc: "a glob left out of the backup: *.tmp, node_modules/, **/.cache/",
        reload: Reload::Live,
        apply: |c, value, _| {
            if value.is_empty() {
                return Err("expected a glob such as `*.tmp` or `node_modules/`".into());
            }
            crate::pathglob::Pattern::parse(value)?;
            c.backup.excludes.push(value.to_string());
            Ok(())
        },
        render: |c, out| c.backup.excludes.iter().for_each(|e| out.value(e)),
    },
    Key {
        name: "backup_keep",
        repeatable: false,
        default: "7",
        doc: "archives to keep (1 to 10000)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.backup.keep = parse_count(value, 1, 10_000)?;
            Ok(())
        },
        render: |c, out| out.value(&c.backup.keep),
    },
    Key {
        name: "backup_level",
        repeatable: false,
        default: "6",
        doc: "deflate level, 0 (store) to 9",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.backup.level = parse_count(value, 0, 9)?;
            Ok(())
        },
        render: |c, out| out.value(&c.backup.level),
    },
    Key {
        name: "backup_every",
        repeatable: false,
        default: "off",
        doc: "also back up periodically (at least 1m)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.backup.every = parse_optional_period(value)?;
            Ok(())
        },
        render: |c, out| out.period(c.backup.every),
    },
    Key {
        name: "backup_one_file_system",
        repeatable: false,
        default: "off",
        doc: "do not descend into other filesystems below a source",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.backup.one_file_system = parse_switch(value)?;
            Ok(())
        },
        render: |c, out| out.value(&on_off(c.backup.one_file_system)),
    },
    Key {
        name: "update_manager",
        repeatable: false,
        default: "auto",
        doc: "auto, pacman, apt, apk, xbps, dnf, command or none",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.updates.manager = super::parse_word(&UpdateManager::ALL, value)?;
            Ok(())
        },
        render: |c, out| out.value(&c.updates.manager.name()),
    },
    Key {
        name: "update_command",
        repeatable: false,
        default: "",
        doc: "with update_manager = command: prints `name current -> new` lines",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.updates.command = Some(parse_command(
                value,
                "update_command takes the shell command that lists pending updates; \
                 to audit none write `update_manager = none`",
            )?);
            Ok(())
        },
        render: |c, out| c.updates.command.iter().for_each(|v| out.value(v)),
    },
    Key {
        name: "update_timeout",
        repeatable: false,
        default: "5m",
        doc: "the time the whole audit is given, all its steps together (at least 1s)",
        reload: Reload::Live,
        apply: |c, value, _| {
            let d = parse_duration(value)?;
            if d < Duration::from_secs(1) {
                return Err(format!(
                    "`{}` is too short (at least 1s)",
                    log::shown(value)
                ));
            }
            c.updates.timeout = d;
            Ok(())
        },
        render: |c, out| out.duration(c.updates.timeout),
    },
    Key {
        name: "update_every",
        repeatable: false,
        default: "off",
        doc: "repeat the audit periodically (at least 1m)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.updates.every = parse_optional_period(value)?;
            Ok(())
        },
        render: |c, out| out.period(c.updates.every),
    },
    Key {
        name: "update_refresh",
        repeatable: false,
        default: "off",
        doc: "refresh package lists before auditing (needs root)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.updates.refresh = parse_switch(value)?;
            Ok(())
        },
        render: |c, out| out.value(&on_off(c.updates.refresh)),
    },
    Key {
        name: "log_keep",
        repeatable: false,
        default: "30",
        doc: "audit logs to keep (1 to 100000)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.updates.log_keep = parse_count(value, 1, 100_000)?;
            Ok(())
        },
        render: |c, out| out.value(&c.updates.log_keep),
    },
    Key {
        name: "textfile_path",
        repeatable: false,
        default: "off",
        doc: "a .prom file for node_exporter's textfile collector, or off",
        reload: Reload::Live,
        apply: |c, value, base| {
            if value == "off" {
                c.textfile_path = None;
                return Ok(());
            }
            let file = parse_path(
                value,
                base,
                "textfile_path takes a .prom file; to write none write `textfile_path = off`",
            )?;
            // node_exporter's textfile collector reads only `*.prom`.
            if file.extension().is_none_or(|e| e != "prom") {
                return Err(format!(
                    "`{}` does not end in .prom (or use off)",
                    log::shown(value)
                ));
            }
            c.textfile_path = Some(file);
            Ok(())
        },
        render: |c, out| match &c.textfile_path {
            Some(path) => out.value(&path.display()),
            None => out.value(&"off"),
        },
    },
    Key {
        name: "textfile_dir",
        repeatable: false,
        default: "off",
        doc: "a directory whose *.prom files /metrics serves, as node_exporter's textfile collector, or off",
        reload: Reload::Restart(|new, running| new.textfile_dir = running.textfile_dir.clone()),
        apply: |c, value, base| {
            c.textfile_dir = match value {
                "off" => None,
                _ => Some(parse_path(
                    value,
                    base,
                    "textfile_dir takes a directory; to serve none write `textfile_dir = off`",
                )?),
            };
            Ok(())
        },
        render: |c, out| match &c.textfile_dir {
            Some(path) => out.value(&path.display()),
            None => out.value(&"off"),
        },
    },
    Key {
        name: "metrics_cache",
        repeatable: false,
        default: "1s",
        doc: "a /metrics body answers further scrapes for this long unless a new sample, a job's change or a connection's came first (0s to 1m; 0s: render every scrape)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.metrics_cache =
                duration_between(value, Duration::ZERO, Duration::from_secs(60), "0s to 1m")?;
            Ok(())
        },
        render: |c, out| out.duration(c.metrics_cache),
    },
    Key {
        name: "history",
        repeatable: false,
        default: "1h",
        doc: "how far back /history.json and the sparklines reach (1m to 24h)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.history = duration_between(
                value,
                Duration::from_secs(60),
                Duration::from_secs(86_400),
                "1m to 24h",
            )?;
            Ok(())
        },
        render: |c, out| out.duration(c.history),
    },
    Key {
        name: "history_tiers",
        repeatable: false,
        default: super::history::DEFAULT_TIERS,
        doc: "the long history kept in state_dir/history.db: STEP:SPAN tiers of min/mean/max points, or off",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.history_tiers = super::history::parse_tiers(value)?;
            Ok(())
        },
        render: |c, out| {
            if c.history_tiers.is_empty() {
                out.value(&"off");
            } else {
                out.value(&super::history::format_tiers(&c.history_tiers));
            }
        },
    },
    Key {
        name: "services",
        repeatable: false,
        default: "auto",
        doc: "whose services to watch: auto, systemd, openrc, runit or off",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.services.init = super::parse_word(&ServiceInit::ALL, value)?;
            Ok(())
        },
        render: |c, out| out.value(&c.services.init.name()),
    },
    Key {
        name: "services_every",
        repeatable: false,
        default: "30s",
        doc: "how often the services are read (1s to 1h)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.services.every = duration_between(
                value,
                Duration::from_secs(1),
                Duration::from_secs(3600),
                "1s to 1h",
            )?;
            Ok(())
        },
        render: |c, out| out.duration(c.services.every),
    },
    Key {
        name: "services_ignore",
        repeatable: true,
        default: "",
        doc: "a service name or glob (* and ?) never reported failed",
        reload: Reload::Live,
        apply: |c, value, _| {
            crate::nameglob::check_service_glob(value)?;
            c.services.ignore.push(value.to_string());
            Ok(())
        },
        render: |c, out| c.services.ignore.iter().for_each(|g| out.value(g)),
    },
    Key {
        name: "services_runit_dir",
        repeatable: false,
        default: "auto",
        doc: "runit's service directory, or auto (/var/service, /etc/service, /run/runit/service)",
        reload: Reload::Live,
        apply: |c, value, base| {
            c.services.runit_dir = match value {
                "auto" => None,
                _ => Some(parse_path(
                    value,
                    base,
                    "services_runit_dir takes a directory, or `auto`; to watch no \
                     services write `services = off`",
                )?),
            };
            Ok(())
        },
        render: |c, out| match &c.services.runit_dir {
            Some(path) => out.value(&path.display()),
            None => out.value(&"auto"),
        },
    },
    Key {
        name: "alert_cpu",
        repeatable: false,
        default: "off",
        doc: "CPU busy at or above PERCENT[% for DURATION]",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.alerts.cpu = parse_threshold(value)?;
            Ok(())
        },
        render: |c, out| out.threshold(c.alerts.cpu),
    },
    Key {
        name: "alert_memory",
        repeatable: false,
        default: "off",
        doc: "memory used at or above PERCENT[% for DURATION]",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.alerts.memory = parse_threshold(value)?;
            Ok(())
        },
        render: |c, out| out.threshold(c.alerts.memory),
    },
    Key {
        name: "alert_swap",
        repeatable: false,
        default: "off",
        doc: "swap used at or above PERCENT[% for DURATION]",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.alerts.swap = parse_threshold(value)?;
            Ok(())
        },
        render: |c, out| out.threshold(c.alerts.swap),
    },
    Key {
        name: "alert_disk",
        repeatable: false,
        default: "off",
        doc: "any reported disk used at or above PERCENT[% for DURATION]",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.alerts.disk = parse_threshold(value)?;
            Ok(())
        },
        render: |c, out| out.threshold(c.alerts.disk),
    },
    Key {
        name: "alert_backup_age",
        repeatable: false,
        default: "off",
        doc: "no successful backup for this long (at least 1m)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.alerts.backup_age = match value {
                "off" => None,
                _ => {
                    let d = parse_duration(value)?;
                    if d < Duration::from_secs(60) {
                        return Err(format!(
                            "`{}` is too short (at least 1m, or off)",
                            log::shown(value)
                        ));
                    }
                    Some(d)
                }
            };
            Ok(())
        },
        render: |c, out| out.period(c.alerts.backup_age),
    },
    Key {
        name: "alert_updates_security",
        repeatable: false,
        default: "off",
        doc: "at least this many security updates pending",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.alerts.updates_security = match value {
                "off" => None,
                _ => Some(u64::from(parse_count(value, 1, 1_000_000)?)),
            };
            Ok(())
        },
        render: |c, out| match c.alerts.updates_security {
            Some(count) => out.value(&count),
            None => out.value(&"off"),
        },
    },
    Key {
        name: "alert_service_failed",
        repeatable: false,
        default: "off",
        doc: "on: alert while a watched service has failed (names them)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.alerts.service_failed = parse_switch(value)?;
            Ok(())
        },
        render: |c, out| out.value(&on_off(c.alerts.service_failed)),
    },
    Key {
        name: "alert_command",
        repeatable: false,
        default: "",
        doc: "run through /bin/sh -c when an alert starts and ends",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.alerts.command = Some(parse_command(
                value,
                "alert_command takes a shell command; to run none, leave the key out",
            )?);
            Ok(())
        },
        render: |c, out| c.alerts.command.iter().for_each(|v| out.value(v)),
    },
    Key {
        name: "alert_timeout",
        repeatable: false,
        default: "10s",
        doc: "alert_command's process group is killed after this (1s to 1h)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.alerts.timeout = duration_between(
                value,
                Duration::from_secs(1),
                Duration::from_secs(3600),
                "1s to 1h",
            )?;
            Ok(())
        },
        render: |c, out| out.duration(c.alerts.timeout),
    },
    Key {
        name: "boot_log_every",
        repeatable: false,
        default: "10m",
        doc: "how often the boot log (state_dir/boots.log) records that this boot is still alive (1s to 1d)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.boot_log_every = duration_between(
                value,
                Duration::from_secs(1),
                Duration::from_secs(86_400),
                "1s to 1d",
            )?;
            Ok(())
        },
        render: |c, out| out.duration(c.boot_log_every),
    },
    Key {
        name: "alert_unexpected_reboot",
        repeatable: false,
        default: "1d",
        doc: "how long the unexpected_reboot alert fires after a start that finds the previous boot ended without a clean stop (1s to 30d, or off)",
        reload: Reload::Live,
        apply: |c, value, _| {
            c.alerts.unexpected_reboot = match value {
                "off" => None,
                _ => Some(duration_between(
                    value,
                    Duration::from_secs(1),
                    Duration::from_secs(30 * 86_400),
                    "1s to 30d, or off",
                )?),
            };
            Ok(())
        },
        render: |c, out| out.period(c.alerts.unexpected_reboot),
    },
];

/// A key SIGHUP did not apply: its value in the new file and the one that
/// stays in force until the next start (each as its `name = value` lines;
/// empty when unset).
pub struct Deferred {
    pub key: &'static str,
    pub wanted: String,
    pub running: String,
}

impl Deferred {
    /// The first value of `lines` (as rendered), `None` when unset.
    pub fn first_value(lines: &str) -> Option<&str> {
        lines.lines().next()?.split_once(" = ").map(|(_, v)| v)
    }
}

/// For a reload: keeps in `new` the running value of every key that waits
/// for a restart, and names those the new file changed.
pub fn keep_restart_keys(new: &mut Config, running: &Config) -> Vec<Deferred> {
    let rendered = |key: &Key, config: &Config| {
        let mut text = String::new();
        (key.render)(config, &mut Out::new(&mut text, key.name));
        text
    };
    let mut deferred = Vec::new();
    for key in KEYS {
        let Reload::Restart(keep) = key.reload else {
            continue;
        };
        let (wanted, was) = (rendered(key, new), rendered(key, running));
        keep(new, running);
        if wanted != was {
            deferred.push(Deferred {
                key: key.name,
                wanted,
                running: was,
            });
        }
    }
    deferred
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_what_the_default_config_renders() {
        let rendered = Config::default().render();
        let mut expected = String::new();
        for key in KEYS.iter().filter(|k| !k.default.is_empty()) {
            expected.push_str(&format!("{} = {}\n", key.name, key.default));
        }
        let body: String = rendered.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert_eq!(body, expected);
    }

    /// The per-address bound: a count or `auto`; loopback `exempt` or
    /// `bounded`; anything else is an error naming the line and value.
    #[test]
    fn per_address_keys_parse_and_name_bad_values() {
        let path = Path::new("/etc/sysmon.conf");
        let c = Config::parse(b"max_connections_per_address = 7\n", path).unwrap();
        assert_eq!(c.max_connections_per_address, Some(7));
        assert!(c.per_address_loopback_exempt);
        let c = Config::parse(b"per_address_loopback = bounded\n", path).unwrap();
        assert_eq!(c.max_connections_per_address, None);
        assert!(!c.per_address_loopback_exempt);
        for (text, message) in [
            (
                "max_connections_per_address = 0\n",
                "/etc/sysmon.conf:1: max_connections_per_address: `0` is not a whole number \
                 from 1 to 65536 or auto",
            ),
            (
                "\nper_address_loopback = yes\n",
                "/etc/sysmon.conf:2: per_address_loopback: `yes` is not exempt or bounded",
            ),
        ] {
            let err = Config::parse(text.as_bytes(), path)
                .unwrap_err()
                .to_string();
            assert_eq!(err, message);
        }
    }

    #[test]
    fn names_are_unique_and_snake_case() {
        for (i, key) in KEYS.iter().enumerate() {
            assert!(
                key.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                key.name
            );
            assert!(!key.doc.is_empty(), "{}", key.name);
            assert!(
                KEYS[..i].iter().all(|k| k.name != key.name),
                "{} twice",
                key.name
            );
        }
    }

    #[test]
    fn a_reload_keeps_restart_keys_and_names_the_changed_ones() {
        let path = Path::new("/etc/sysmon.conf");
        let running = Config::parse(b"listen = 127.0.0.1:1\nuser = a\n", path).unwrap();
        let mut new = Config::parse(
            b"listen = 127.0.0.1:2\nuser = a\ninterval = 1s\nmax_connections = 9\n",
            path,
        )
        .unwrap();
        let deferred = keep_restart_keys(&mut new, &running);
        let names: Vec<&str> = deferred.iter().map(|d| d.key).collect();
        assert_eq!(names, ["listen", "max_connections"]);
        assert_eq!(
            Deferred::first_value(&deferred[0].wanted),
            Some("127.0.0.1:2")
        );
        assert_eq!(
            Deferred::first_value(&deferred[0].running),
            Some("127.0.0.1:1")
        );
        assert_eq!(new.listen, running.listen);
        assert_eq!(new.max_connections, running.max_connections);
        assert_eq!(new.interval, Duration::from_secs(1));
    }

    fn repo_file(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn sorted(mut names: Vec<String>) -> Vec<String> {
        names.sort();
        names
    }

    fn key_names() -> Vec<String> {
        sorted(KEYS.iter().map(|k| k.name.to_string()).collect())
    }

    /// The README's configuration table: one row per key, each once, with
    /// its default and its reload scope as the table says.
    #[test]
    fn readme_table_lists_each_key_once_with_default_and_reload_scope() {
        let readme = repo_file("README.md");
        let table = readme
            .split("\n| key | default | SIGHUP | meaning |\n|---|---|---|---|\n")
            .nth(1)
            .expect("README has the configuration table");
        let mut named = Vec::new();
        for row in table.lines().take_while(|l| l.starts_with('|')) {
            let cells: Vec<&str> = row.split(" | ").collect();
            let name = cells[0].trim_start_matches("| `").trim_end_matches('`');
            let key = find(name).unwrap_or_else(|| panic!("README row for unknown key: {row}"));
            let default = match key.default {
                "" => "none".to_string(),
                d => format!("`{d}`"),
            };
            assert_eq!(cells[1], default, "README default of {name}");
            let scope = if key.is_live() { "live" } else { "restart" };
            assert_eq!(cells[2], scope, "README SIGHUP column of {name}");
            named.push(name.to_string());
        }
        assert_eq!(named.len(), KEYS.len(), "a key has two rows, or none");
        assert_eq!(sorted(named), key_names());
    }

    /// The example config shows every key, set or commented out.
    #[test]
    fn example_config_names_exactly_the_keys() {
        let mut named: Vec<String> = repo_file("init/sysmon.conf")
            .lines()
            .filter_map(|l| l.trim_start_matches('#').split_once(" = "))
            .map(|(k, _)| k.to_string())
            .filter(|k| !k.contains(' '))
            .collect();
        named.dedup();
        let mut unique = sorted(named);
        unique.dedup();
        assert_eq!(unique, key_names());
    }

    /// The man page documents every key with `.BI key " = ..."`, once.
    #[test]
    fn man_page_names_exactly_the_keys() {
        let named: Vec<String> = repo_file("init/sysmon.8")
            .lines()
            .filter_map(|l| l.strip_prefix(".BI "))
            .filter_map(|l| l.split_once(" \" = "))
            .map(|(k, _)| k.replace("\\-", "-"))
            .collect();
        assert_eq!(named.len(), KEYS.len(), "{named:?}");
        assert_eq!(sorted(named), key_names());
    }

    /// The reload scope the man page and example config state in prose is
    /// the table's: every restart key is named there.
    #[test]
    fn docs_name_every_key_that_waits_for_a_restart() {
        let restart = KEYS.iter().filter(|k| !k.is_live()).map(|k| k.name);
        let page = repo_file("init/sysmon.8");
        let sighup = page.split(".B SIGHUP\n").nth(1).unwrap();
        let sighup = sighup.split("\n.SH").next().unwrap();
        let example = repo_file("init/sysmon.conf");
        let header = example.split("\n\n").next().unwrap();
        for name in restart {
            assert!(sighup.contains(name), "sysmon.8 SIGHUP omits {name}");
            assert!(
                header.contains(&format!("`{name}`")),
                "sysmon.conf omits {name}"
            );
        }
    }
}
