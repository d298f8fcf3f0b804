//! Every configuration key, once: its name, whether it may repeat, its
//! default, whether SIGHUP applies it live or it waits for a restart, and
//! how its value is parsed into a [`Config`] and printed back: by the code
//! of its kind ([`Value`]: a duration, a switch, a path, ...) or by its
//! own functions; a comment above each says what it is for. Parsing ([`Config::parse`]), `check-config` ([`Config::render`]) and
//! the reload ([`keep_restart_keys`], called by `Daemon::reload`) all read
//! [`KEYS`]; a test checks that the README's configuration table,
//! `init/sysmon.conf` and `init/sysmon.8` name exactly these keys.
//!
//! Invariant: rendering a [`Config`] key by key in this order, then parsing
//! the text, gives the same `Config` back. [`Config::default`] is built
//! from the keys' `default` texts, the one place defaults are written.

use crate::owned::owned;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::parse::{
    format_duration, format_threshold, normalize_lexically, on_off, parse_command, parse_count,
    parse_duration, parse_duration_or, parse_listen, parse_optional_period, parse_path,
    parse_switch, parse_threshold,
};

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
    pub reload: Reload,
    /// How a value is parsed into a [`Config`] and printed back.
    pub value: Value,
}

impl Key {
    pub fn is_live(&self) -> bool {
        matches!(self.reload, Reload::Live)
    }

    /// Applies one `name = value` line; `base` anchors relative paths. The
    /// error is the message after `FILE:LINE: name: `.
    pub fn apply(&self, c: &mut Config, value: &str, base: &Path) -> Result<(), String> {
        match self.value {
            Value::Duration(f, b) => *(f.set)(c) = b.parse(value, "")?,
            Value::DurationOrOff(f, b) => {
                *(f.set)(c) = match value {
                    "off" => None,
                    _ => Some(b.parse(value, ", or off")?),
                }
            }
            Value::Period(f) => *(f.set)(c) = parse_optional_period(value)?,
            Value::Switch(f) => *(f.set)(c) = parse_switch(value)?,
            Value::Count(f, min, max) => *(f.set)(c) = parse_count(value, min, max)?,
            Value::Size(f, min, max) => *(f.set)(c) = parse_count(value, min, max)? as usize,
            Value::Path(f, instead) => *(f.set)(c) = parse_path(value, base, instead)?,
            Value::PathOrOff(f, instead) => *(f.set)(c) = path_or(value, "off", base, instead)?,
            Value::PathOrAuto(f, instead) => *(f.set)(c) = path_or(value, "auto", base, instead)?,
            Value::Command(f, instead) => *(f.set)(c) = Some(parse_command(value, instead)?),
            Value::Threshold(f) => *(f.set)(c) = parse_threshold(value)?,
            Value::Own { apply, .. } => apply(c, value, base)?,
        }
        Ok(())
    }

    /// Prints the value as `name = value` lines (none: not set).
    pub fn render(&self, c: &Config, text: &mut String) {
        let out = &mut Out {
            text,
            key: self.name,
        };
        match self.value {
            Value::Duration(f, _) => out.duration(*(f.get)(c)),
            Value::DurationOrOff(f, _) | Value::Period(f) => out.period(*(f.get)(c)),
            Value::Switch(f) => out.value(&on_off(*(f.get)(c))),
            Value::Count(f, ..) => out.value((f.get)(c)),
            Value::Size(f, ..) => out.value((f.get)(c)),
            Value::Path(f, _) => out.value(&(f.get)(c).display()),
            Value::PathOrOff(f, _) => out.path_or((f.get)(c), "off"),
            Value::PathOrAuto(f, _) => out.path_or((f.get)(c), "auto"),
            Value::Command(f, _) => (f.get)(c).iter().for_each(|v| out.value(v)),
            Value::Threshold(f) => out.threshold(*(f.get)(c)),
            Value::Own { render, .. } => render(c, out),
        }
    }
}

/// What a key's value is, and where in a [`Config`] it goes. Most keys
/// are one field of a common kind, parsed and printed by the code of
/// their kind ([`Key::apply`], [`Key::render`]); the others bring their
/// own functions. (One function pair per key cost about 18 KB of the
/// release binary; a field's two accessors cost a few bytes.)
#[derive(Clone, Copy)]
pub enum Value {
    /// A duration from the bounds' minimum to their maximum.
    Duration(Field<Duration>, Between),
    /// As [`Value::Duration`], or `off` (`None`).
    DurationOrOff(Field<Option<Duration>>, Between),
    /// A period of at least 1m, or `off` (`None`).
    Period(Field<Option<Duration>>),
    /// `on` or `off` (and `yes`/`no`, `true`/`false`).
    Switch(Field<bool>),
    /// A whole number from the first bound to the second.
    Count(Field<u32>, u32, u32),
    /// As [`Value::Count`], kept as a `usize`.
    Size(Field<usize>, u32, u32),
    /// A path, relative to the config's directory; the text says what to
    /// write instead of a word of this file (`off`, ...).
    Path(Field<PathBuf>, &'static str),
    /// As [`Value::Path`], or `off` (`None`).
    PathOrOff(Field<Option<PathBuf>>, &'static str),
    /// As [`Value::Path`], or `auto` (`None`).
    PathOrAuto(Field<Option<PathBuf>>, &'static str),
    /// A shell command; the text says what to write instead of a word.
    Command(Field<Option<String>>, &'static str),
    /// `90%`, `95.5% for 5m` or `off` (`None`).
    Threshold(Field<Option<Threshold>>),
    /// Parsed and printed by the key's own functions.
    Own {
        apply: fn(&mut Config, &str, &Path) -> Result<(), String>,
        render: fn(&Config, &mut Out<'_>),
    },
}

/// Where a key's value lives in a [`Config`]: read to print it, written
/// to apply a line. [`field!`] makes one from the field's path.
pub struct Field<T: 'static> {
    get: fn(&Config) -> &T,
    set: fn(&mut Config) -> &mut T,
}

// Not derived: a derive would ask `T: Copy`, which `PathBuf` is not.
impl<T> Clone for Field<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Field<T> {}

/// The [`Field`] at `c.$path` (`field!(backup.keep)`).
macro_rules! field {
    ($($name:ident).+) => {
        Field {
            get: |c| &c.$($name).+,
            set: |c| &mut c.$($name).+,
        }
    };
}

/// A [`Value::Duration`]'s bounds in milliseconds (30 days fit in a
/// `u32`, and keep the table small), and `range`, which spells them for
/// the error.
#[derive(Clone, Copy)]
pub struct Between {
    min_ms: u32,
    max_ms: u32,
    range: &'static str,
}

impl Between {
    /// `also` as [`parse_duration_or`] takes it.
    fn parse(self, value: &str, also: &str) -> Result<Duration, String> {
        let d = parse_duration_or(value, also)?;
        let ms = |n: u32| Duration::from_millis(u64::from(n));
        if d < ms(self.min_ms) || d > ms(self.max_ms) {
            return Err(format!(
                "`{}` is out of range ({})",
                log::shown(value),
                self.range
            ));
        }
        Ok(d)
    }
}

/// `word` (`None`), or a path as [`parse_path`] takes it.
fn path_or(value: &str, word: &str, base: &Path, instead: &str) -> Result<Option<PathBuf>, String> {
    if value == word {
        return Ok(None);
    }
    parse_path(value, base, instead).map(Some)
}

/// Where a key's [`Key::render`] prints: one `name = value` line per call.
pub struct Out<'a> {
    text: &'a mut String,
    key: &'static str,
}

impl Out<'_> {
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

    /// A path, or `word` when there is none.
    fn path_or(&mut self, path: &Option<PathBuf>, word: &'static str) {
        match path {
            Some(path) => self.value(&path.display()),
            None => self.value(&word),
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
    // address of the dashboard: IP:PORT, [IPv6]:PORT or a unix socket path
    Key {
        name: "listen",
        repeatable: true,
        default: "127.0.0.1:8080",
        reload: Reload::Restart(|new, running| new.listen = running.listen.clone()),
        value: Value::Own {
            apply: |c, value, _| {
                // One listed twice is refused with the addresses that cannot
                // be bound together (`Config::check_listen_overlaps`): not
                // when `run --listen` replaces them.
                c.listen.push(parse_listen(value)?);
                Ok(())
            },
            render: |c, out| c.listen.iter().for_each(|l| out.value(l)),
        },
    },
    // connections open at once (1 to 65536); more are answered 503
    Key {
        name: "max_connections",
        repeatable: false,
        default: "2048",
        reload: Reload::Restart(|new, running| new.max_connections = running.max_connections),
        value: Value::Size(field!(max_connections), 1, 65536),
    },
    // connections one client address (IPv4, IPv6 /64) may hold (1 to 65536,
    // auto: a quarter of max_connections, at least 16); more are answered 503
    Key {
        name: "max_connections_per_address",
        repeatable: false,
        default: "auto",
        reload: Reload::Restart(|new, running| {
            new.max_connections_per_address = running.max_connections_per_address
        }),
        value: Value::Own {
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
    },
    // exempt: loopback clients (a proxy on this host) are not held to
    // max_connections_per_address; bounded: they are
    Key {
        name: "per_address_loopback",
        repeatable: false,
        default: "exempt",
        reload: Reload::Restart(|new, running| {
            new.per_address_loopback_exempt = running.per_address_loopback_exempt
        }),
        value: Value::Own {
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
    },
    // a connection idle this long is closed (1s to 10m)
    Key {
        name: "client_timeout",
        repeatable: false,
        default: "10s",
        reload: Reload::Restart(|new, running| new.client_timeout = running.client_timeout),
        value: Value::Duration(
            field!(client_timeout),
            Between {
                min_ms: 1_000,
                max_ms: 600_000,
                range: "1s to 10m",
            },
        ),
    },
    // a host name the dashboard answers to besides IP literals and localhost
    Key {
        name: "server_name",
        repeatable: true,
        default: "",
        reload: Reload::Live,
        value: Value::Own {
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
    },
    // a client address block allowed to connect (none: any)
    Key {
        name: "allow",
        repeatable: true,
        default: "",
        reload: Reload::Live,
        value: Value::Own {
            apply: |c, value, _| {
                c.allow.push(crate::cidr::Cidr::parse(value)?);
                Ok(())
            },
            render: |c, out| c.allow.iter().for_each(|a| out.value(a)),
        },
    },
    // HTTP basic auth user (with auth_password_file)
    Key {
        name: "auth_user",
        repeatable: false,
        default: "",
        reload: Reload::Live,
        value: Value::Own {
            apply: |c, value, _| {
                if value.is_empty() || value.contains(':') || value.chars().any(char::is_control) {
                    return Err(format!(
                        "`{}` is not a user name (no `:`, no control characters)",
                        log::shown(value)
                    ));
                }
                c.auth_user = Some(owned(value));
                Ok(())
            },
            render: |c, out| {
                if let (Some(user), Some(_)) = (&c.auth_user, &c.auth_password_file) {
                    out.value(user);
                }
            },
        },
    },
    // the file holding the basic auth password (mode 600 or 640)
    Key {
        name: "auth_password_file",
        repeatable: false,
        default: "",
        reload: Reload::Live,
        value: Value::Own {
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
    },
    // started as root, become this user once the port is bound
    Key {
        name: "user",
        repeatable: false,
        default: "",
        reload: Reload::Restart(|new, running| new.user = running.user.clone()),
        value: Value::Own {
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
                c.user = Some(owned(value));
                Ok(())
            },
            render: |c, out| c.user.iter().for_each(|u| out.value(u)),
        },
    },
    // sampling period (100ms to 1h)
    Key {
        name: "interval",
        repeatable: false,
        default: "5s",
        reload: Reload::Live,
        value: Value::Duration(
            field!(interval),
            Between {
                min_ms: 100,
                max_ms: 3_600_000,
                range: "100ms to 1h",
            },
        ),
    },
    // a mount point to report, or auto: every filesystem backed by a device
    Key {
        name: "mounts",
        repeatable: true,
        default: "auto",
        reload: Reload::Live,
        value: Value::Own {
            apply: |c, value, _| add_mount(c, value),
            render: |c, out| {
                if c.mounts.is_empty() {
                    out.value(&"auto");
                }
                c.mounts.iter().for_each(|m| out.value(&m.display()));
            },
        },
    },
    // a network interface (name or glob) left out of the sample
    Key {
        name: "network_exclude",
        repeatable: true,
        default: "",
        reload: Reload::Live,
        value: Value::Own {
            apply: |c, value, _| {
                c.network_exclude
                    .push(crate::nameglob::NameGlob::parse(value)?);
                Ok(())
            },
            render: |c, out| c.network_exclude.iter().for_each(|g| out.value(g)),
        },
    },
    // rows in each top-processes list, by CPU and by memory (0 to 100; 0: off)
    Key {
        name: "top_processes",
        repeatable: false,
        default: "5",
        reload: Reload::Live,
        value: Value::Size(field!(top_processes), 0, 100),
    },
    // how often the top processes are read while nobody reads /data.json (100ms
    // to 1h), or off: only when /data.json asks
    Key {
        name: "top_every",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::DurationOrOff(
            field!(top_every),
            Between {
                min_ms: 100,
                max_ms: 3_600_000,
                range: "100ms to 1h, or off",
            },
        ),
    },
    // where archives go
    Key {
        name: "backup_dir",
        repeatable: false,
        default: "/var/backups/sysmon",
        reload: Reload::Live,
        value: Value::Path(
            field!(backup_dir),
            "backup_dir takes a path; to turn the backup off write `backup = off`",
        ),
    },
    // where update-audit logs go
    Key {
        name: "log_dir",
        repeatable: false,
        default: "/var/log/sysmon",
        reload: Reload::Live,
        value: Value::Path(
            field!(log_dir),
            "log_dir takes a path; to turn the update audit (whose logs go there) \
                 off write `update_manager = none`",
        ),
    },
    // small state files (the boot id of the last boot backup)
    Key {
        name: "state_dir",
        repeatable: false,
        default: "/var/lib/sysmon",
        reload: Reload::Live,
        value: Value::Path(
            field!(state_dir),
            "state_dir takes a path and cannot be turned off (the boot log is \
                 kept there); to keep no history file write `history_tiers = off`",
        ),
    },
    // off disables the boot backup
    Key {
        name: "backup",
        repeatable: false,
        default: "on",
        reload: Reload::Live,
        value: Value::Switch(field!(backup.enabled)),
    },
    // a folder to archive (no source: no backup)
    Key {
        name: "backup_source",
        repeatable: true,
        default: "",
        reload: Reload::Live,
        value: Value::Own {
            apply: |c, value, base| add_backup_source(c, value, base),
            render: |c, out| {
                c.backup
                    .sources
                    .iter()
                    .for_each(|s| out.value(&s.display()))
            },
        },
    },
    // a glob left out of the backup: *.tmp, node_modules/, **/.cache/
    Key {
        name: "backup_exclude",
        repeatable: true,
        default: "",
        reload: Reload::Live,
        value: Value::Own {
            apply: |c, value, _| {
                if value.is_empty() {
                    return Err(owned("expected a glob such as `*.tmp` or `node_modules/`"));
                }
                crate::pathglob::Pattern::parse(value)?;
                c.backup.excludes.push(owned(value));
                Ok(())
            },
            render: |c, out| c.backup.excludes.iter().for_each(|e| out.value(e)),
        },
    },
    // archives to keep (1 to 10000)
    Key {
        name: "backup_keep",
        repeatable: false,
        default: "7",
        reload: Reload::Live,
        value: Value::Count(field!(backup.keep), 1, 10_000),
    },
    // deflate level, 0 (store) to 9
    Key {
        name: "backup_level",
        repeatable: false,
        default: "6",
        reload: Reload::Live,
        value: Value::Count(field!(backup.level), 0, 9),
    },
    // also back up periodically (at least 1m)
    Key {
        name: "backup_every",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Period(field!(backup.every)),
    },
    // do not descend into other filesystems below a source
    Key {
        name: "backup_one_file_system",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Switch(field!(backup.one_file_system)),
    },
    // auto, pacman, apt, apk, xbps, dnf, command or none
    Key {
        name: "update_manager",
        repeatable: false,
        default: "auto",
        reload: Reload::Live,
        value: Value::Own {
            apply: |c, value, _| {
                c.updates.manager = super::parse_word(&UpdateManager::ALL, value)?;
                Ok(())
            },
            render: |c, out| out.value(&c.updates.manager.name()),
        },
    },
    // with update_manager = command: prints `name current -> new` lines
    Key {
        name: "update_command",
        repeatable: false,
        default: "",
        reload: Reload::Live,
        value: Value::Command(
            field!(updates.command),
            "update_command takes the shell command that lists pending updates; \
                 to audit none write `update_manager = none`",
        ),
    },
    // the time the whole audit is given, all its steps together (at least 1s)
    Key {
        name: "update_timeout",
        repeatable: false,
        default: "5m",
        reload: Reload::Live,
        value: Value::Own {
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
    },
    // repeat the audit periodically (at least 1m)
    Key {
        name: "update_every",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Period(field!(updates.every)),
    },
    // refresh package lists before auditing (needs root)
    Key {
        name: "update_refresh",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Switch(field!(updates.refresh)),
    },
    // audit logs to keep (1 to 100000)
    Key {
        name: "log_keep",
        repeatable: false,
        default: "30",
        reload: Reload::Live,
        value: Value::Count(field!(updates.log_keep), 1, 100_000),
    },
    // a .prom file for node_exporter's textfile collector, or off
    Key {
        name: "textfile_path",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Own {
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
    },
    // a directory whose *.prom files /metrics serves, as node_exporter's
    // textfile collector, or off
    Key {
        name: "textfile_dir",
        repeatable: false,
        default: "off",
        reload: Reload::Restart(|new, running| new.textfile_dir = running.textfile_dir.clone()),
        value: Value::PathOrOff(
            field!(textfile_dir),
            "textfile_dir takes a directory; to serve none write `textfile_dir = off`",
        ),
    },
    // a /metrics body answers further scrapes for this long unless a new
    // sample, a job's change or a connection's came first (0s to 1m; 0s: render
    // every scrape)
    Key {
        name: "metrics_cache",
        repeatable: false,
        default: "1s",
        reload: Reload::Live,
        value: Value::Duration(
            field!(metrics_cache),
            Between {
                min_ms: 0,
                max_ms: 60_000,
                range: "0s to 1m",
            },
        ),
    },
    // how far back /history.json and the sparklines reach (1m to 24h)
    Key {
        name: "history",
        repeatable: false,
        default: "1h",
        reload: Reload::Live,
        value: Value::Duration(
            field!(history),
            Between {
                min_ms: 60_000,
                max_ms: 86_400_000,
                range: "1m to 24h",
            },
        ),
    },
    // the long history kept in state_dir/history.db: STEP:SPAN tiers of
    // min/mean/max points, or off
    Key {
        name: "history_tiers",
        repeatable: false,
        default: super::history::DEFAULT_TIERS,
        reload: Reload::Live,
        value: Value::Own {
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
    },
    // whose services to watch: auto, systemd, openrc, runit or off
    Key {
        name: "services",
        repeatable: false,
        default: "auto",
        reload: Reload::Live,
        value: Value::Own {
            apply: |c, value, _| {
                c.services.init = super::parse_word(&ServiceInit::ALL, value)?;
                Ok(())
            },
            render: |c, out| out.value(&c.services.init.name()),
        },
    },
    // how often the services are read (1s to 1h)
    Key {
        name: "services_every",
        repeatable: false,
        default: "30s",
        reload: Reload::Live,
        value: Value::Duration(
            field!(services.every),
            Between {
                min_ms: 1_000,
                max_ms: 3_600_000,
                range: "1s to 1h",
            },
        ),
    },
    // a service name or glob (* and ?) never reported failed
    Key {
        name: "services_ignore",
        repeatable: true,
        default: "",
        reload: Reload::Live,
        value: Value::Own {
            apply: |c, value, _| {
                crate::nameglob::check_service_glob(value)?;
                c.services.ignore.push(owned(value));
                Ok(())
            },
            render: |c, out| c.services.ignore.iter().for_each(|g| out.value(g)),
        },
    },
    // runit's service directory, or auto (/var/service, /etc/service,
    // /run/runit/service)
    Key {
        name: "services_runit_dir",
        repeatable: false,
        default: "auto",
        reload: Reload::Live,
        value: Value::PathOrAuto(
            field!(services.runit_dir),
            "services_runit_dir takes a directory, or `auto`; to watch no \
                     services write `services = off`",
        ),
    },
    // CPU busy at or above PERCENT[% for DURATION]
    Key {
        name: "alert_cpu",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Threshold(field!(alerts.cpu)),
    },
    // memory used at or above PERCENT[% for DURATION]
    Key {
        name: "alert_memory",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Threshold(field!(alerts.memory)),
    },
    // swap used at or above PERCENT[% for DURATION]
    Key {
        name: "alert_swap",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Threshold(field!(alerts.swap)),
    },
    // any reported disk used at or above PERCENT[% for DURATION]
    Key {
        name: "alert_disk",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Threshold(field!(alerts.disk)),
    },
    // no successful backup for this long (at least 1m)
    Key {
        name: "alert_backup_age",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Period(field!(alerts.backup_age)),
    },
    // at least this many security updates pending
    Key {
        name: "alert_updates_security",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Own {
            apply: |c, value, _| {
                c.alerts.updates_security = match value {
                    "off" => None,
                    _ => Some(u64::from(
                        parse_count(value, 1, 1_000_000).map_err(|e| e + " or off")?,
                    )),
                };
                Ok(())
            },
            render: |c, out| match c.alerts.updates_security {
                Some(count) => out.value(&count),
                None => out.value(&"off"),
            },
        },
    },
    // on: alert while a watched service has failed (names them)
    Key {
        name: "alert_service_failed",
        repeatable: false,
        default: "off",
        reload: Reload::Live,
        value: Value::Switch(field!(alerts.service_failed)),
    },
    // run through /bin/sh -c when an alert starts and ends
    Key {
        name: "alert_command",
        repeatable: false,
        default: "",
        reload: Reload::Live,
        value: Value::Command(
            field!(alerts.command),
            "alert_command takes a shell command; to run none, leave the key out",
        ),
    },
    // alert_command's process group is killed after this (1s to 1h)
    Key {
        name: "alert_timeout",
        repeatable: false,
        default: "10s",
        reload: Reload::Live,
        value: Value::Duration(
            field!(alerts.timeout),
            Between {
                min_ms: 1_000,
                max_ms: 3_600_000,
                range: "1s to 1h",
            },
        ),
    },
    // how often the boot log (state_dir/boots.log) records that this boot is
    // still alive (1s to 1d)
    Key {
        name: "boot_log_every",
        repeatable: false,
        default: "10m",
        reload: Reload::Live,
        value: Value::Duration(
            field!(boot_log_every),
            Between {
                min_ms: 1_000,
                max_ms: 86_400_000,
                range: "1s to 1d",
            },
        ),
    },
    // how long the unexpected_reboot alert fires after a start that finds the
    // previous boot ended without a clean stop (1s to 30d, or off)
    Key {
        name: "alert_unexpected_reboot",
        repeatable: false,
        default: "1d",
        reload: Reload::Live,
        value: Value::DurationOrOff(
            field!(alerts.unexpected_reboot),
            Between {
                min_ms: 1_000,
                max_ms: 2_592_000_000,
                range: "1s to 30d, or off",
            },
        ),
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
        key.render(config, &mut text);
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

    /// Every key set away from its default renders as `check-config`
    /// printed it before the keys shared their parsers by kind (the text
    /// below is what main at 34c4b52 printed), and parsing that text
    /// gives the same configuration again (the module's invariant).
    #[test]
    fn every_key_renders_as_before_and_parses_back() {
        let path = Path::new("/etc/sysmon.conf");
        let text = "listen = 127.0.0.1:9100\nlisten = [::1]:9101\nlisten = /run/s.sock\n\
            max_connections = 77\nmax_connections_per_address = 9\n\
            per_address_loopback = bounded\nclient_timeout = 90s\n\
            server_name = Monitor.Example.org\nallow = ::1\nauth_user = alice\n\
            auth_password_file = pw/secret\nuser = nobody\ninterval = 1500ms\n\
            mounts = /home//\nnetwork_exclude = veth*\ntop_processes = 12\n\
            top_every = 2m\nbackup_dir = rel/backups\nlog_dir = /var/log/x\n\
            state_dir = /var/lib/x\nbackup = off\nbackup_source = ./data/\n\
            backup_exclude = *.tmp\nbackup_keep = 3\nbackup_level = 9\n\
            backup_every = 2h\nbackup_one_file_system = yes\n\
            update_manager = command\nupdate_command = echo a 1 -> 2\n\
            update_timeout = 90s\nupdate_every = 1d\nupdate_refresh = true\n\
            log_keep = 5\ntextfile_path = /tmp/x/sysmon.prom\ntextfile_dir = tfd\n\
            metrics_cache = 0s\nhistory = 2h\nhistory_tiers = 1m:1d\nservices = runit\n\
            services_every = 45s\nservices_ignore = foo*\nservices_runit_dir = ./sv\n\
            alert_cpu = 90%\nalert_memory = 95.5% for 5m\nalert_swap = 50% for 0s\n\
            alert_disk = 100% for 24h\nalert_backup_age = 3d\n\
            alert_updates_security = 4\nalert_service_failed = on\n\
            alert_command = logger alert\nalert_timeout = 30s\nboot_log_every = 1d\n\
            alert_unexpected_reboot = off\n";
        let config = Config::parse(text.as_bytes(), path).unwrap();
        let rendered = config.render();
        let expected = "# effective configuration (from /etc/sysmon.conf)\n\
            listen = 127.0.0.1:9100\nlisten = [::1]:9101\nlisten = /run/s.sock\n\
            max_connections = 77\nmax_connections_per_address = 9\n\
            per_address_loopback = bounded\nclient_timeout = 90s\n\
            server_name = monitor.example.org\nallow = ::1/128\nauth_user = alice\n\
            auth_password_file = /etc/pw/secret\nuser = nobody\ninterval = 1500ms\n\
            mounts = /home\nnetwork_exclude = veth*\ntop_processes = 12\n\
            top_every = 2m\nbackup_dir = /etc/rel/backups\nlog_dir = /var/log/x\n\
            state_dir = /var/lib/x\nbackup = off\nbackup_source = /etc/data\n\
            backup_exclude = *.tmp\nbackup_keep = 3\nbackup_level = 9\n\
            backup_every = 2h\nbackup_one_file_system = on\n\
            update_manager = command\nupdate_command = echo a 1 -> 2\n\
            update_timeout = 90s\nupdate_every = 1d\nupdate_refresh = on\n\
            log_keep = 5\ntextfile_path = /tmp/x/sysmon.prom\n\
            textfile_dir = /etc/tfd\nmetrics_cache = 0ms\nhistory = 2h\n\
            history_tiers = 1m:1d\nservices = runit\nservices_every = 45s\n\
            services_ignore = foo*\nservices_runit_dir = /etc/./sv\n\
            alert_cpu = 90% for 0ms\nalert_memory = 95.5% for 5m\n\
            alert_swap = 50% for 0ms\nalert_disk = 100% for 1d\n\
            alert_backup_age = 3d\nalert_updates_security = 4\n\
            alert_service_failed = on\nalert_command = logger alert\n\
            alert_timeout = 30s\nboot_log_every = 1d\nalert_unexpected_reboot = off\n";
        assert_eq!(rendered, expected);
        let body: String = rendered.lines().skip(1).map(|l| format!("{l}\n")).collect();
        let again = Config::parse(body.as_bytes(), path).unwrap();
        assert_eq!(
            again.render().lines().skip(1).collect::<Vec<_>>(),
            rendered.lines().skip(1).collect::<Vec<_>>()
        );
    }

    /// A bad value of each kind of key is refused with the message
    /// `check-config` gave before the keys shared their parsers (main at
    /// 34c4b52, one line each), except that a key taking `off` beside a
    /// duration or a number now says so when a value is neither.
    #[test]
    fn bad_values_of_each_kind_are_refused_as_before() {
        let path = Path::new("/etc/sysmon.conf");
        for (line, message) in [
            (
                "max_connections = +5",
                "max_connections: `+5` is not a whole number from 1 to 65536",
            ),
            (
                "top_processes = 101",
                "top_processes: `101` is not a whole number from 0 to 100",
            ),
            (
                "backup_keep = 0",
                "backup_keep: `0` is not a whole number from 1 to 10000",
            ),
            (
                "log_keep = 100001",
                "log_keep: `100001` is not a whole number from 1 to 100000",
            ),
            (
                "client_timeout = 0s",
                "client_timeout: `0s` is out of range (1s to 10m)",
            ),
            (
                "interval = 2h",
                "interval: `2h` is out of range (100ms to 1h)",
            ),
            (
                "metrics_cache = 61s",
                "metrics_cache: `61s` is out of range (0s to 1m)",
            ),
            (
                "history = 59s",
                "history: `59s` is out of range (1m to 24h)",
            ),
            (
                "services_every = 2h",
                "services_every: `2h` is out of range (1s to 1h)",
            ),
            (
                "alert_timeout = 0s",
                "alert_timeout: `0s` is out of range (1s to 1h)",
            ),
            (
                "boot_log_every = 2d",
                "boot_log_every: `2d` is out of range (1s to 1d)",
            ),
            (
                "client_timeout = off",
                "client_timeout: `off` is not a duration such as 500ms, 5s, 1m, 2h or 1d",
            ),
            (
                "client_timeout = 99999999d",
                "client_timeout: `99999999d` is too long (at most 36500d)",
            ),
            (
                "top_every = 50ms",
                "top_every: `50ms` is out of range (100ms to 1h, or off)",
            ),
            (
                "alert_unexpected_reboot = 31d",
                "alert_unexpected_reboot: `31d` is out of range (1s to 30d, or off)",
            ),
            (
                "alert_unexpected_reboot = on",
                "alert_unexpected_reboot: `on` is not a duration such as 500ms, 5s, 1m, 2h or 1d, or off",
            ),
            (
                "backup_every = 30s",
                "backup_every: `30s` is too short (at least 1m, or off)",
            ),
            (
                "update_every = on",
                "update_every: `on` is not a duration such as 500ms, 5s, 1m, 2h or 1d, or off",
            ),
            (
                "alert_backup_age = 30s",
                "alert_backup_age: `30s` is too short (at least 1m, or off)",
            ),
            (
                "alert_updates_security = on",
                "alert_updates_security: `on` is not a whole number from 1 to 1000000 or off",
            ),
            ("backup = 1", "backup: `1` is not on or off"),
            (
                "alert_service_failed = sometimes",
                "alert_service_failed: `sometimes` is not on or off",
            ),
            ("backup_dir =", "backup_dir: expected a path"),
            (
                "state_dir = yes",
                "state_dir: `yes` is a word of this file, not a path: state_dir takes a path and cannot be turned off (the boot log is kept there); to keep no history file write `history_tiers = off` (for a file or directory named `yes`, write `./yes`)",
            ),
            ("log_dir = a\0b", "log_dir: `a\\0b` contains a NUL byte"),
            (
                "textfile_dir = on",
                "textfile_dir: `on` is a word of this file, not a path: textfile_dir takes a directory; to serve none write `textfile_dir = off` (for a file or directory named `on`, write `./on`)",
            ),
            (
                "services_runit_dir = off",
                "services_runit_dir: `off` is a word of this file, not a path: services_runit_dir takes a directory, or `auto`; to watch no services write `services = off` (for a file or directory named `off`, write `./off`)",
            ),
            (
                "update_command = none",
                "update_command: `none` is a word of this file, not a command: update_command takes the shell command that lists pending updates; to audit none write `update_manager = none`",
            ),
            ("alert_command =", "alert_command: expected a shell command"),
            (
                "alert_cpu = 90.55%",
                "alert_cpu: `90.55%` is not a threshold such as 90%, 95% for 5m, or off",
            ),
            (
                "alert_disk = 90% for 25h",
                "alert_disk: `90% for 25h`: `for` is at most 24h",
            ),
        ] {
            let err = Config::parse(format!("{line}\n").as_bytes(), path)
                .unwrap_err()
                .to_string();
            assert_eq!(err, format!("/etc/sysmon.conf:1: {message}"), "{line}");
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
