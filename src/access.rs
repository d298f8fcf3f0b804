//! Who may see the dashboard: the `allow` CIDR list, the `Host` check
//! against DNS rebinding, and optional HTTP basic auth, built from the
//! config by [`AccessPolicy::from_config`], which also checks the password
//! file (`run` and `check-config` both call it, so both refuse the same
//! files).
//!
//! Invariant: a request is answered only when every configured check passes;
//! the checks run before routing, so a refused client learns nothing but the
//! status. The password is compared in constant time (with respect to its
//! content), and is never logged or rendered.

use crate::owned::{owned, text_of};
use std::net::IpAddr;

pub use crate::cidr::Cidr;
use crate::config::{Config, ConfigError};
use crate::sample::procfile;

/// The largest password file read: a password alone on one line is far
/// shorter; a larger file is refused without being read whole.
pub const MAX_PASSWORD_FILE_BYTES: usize = 4096;

/// A 400's first words when the `Host` header is no host.
pub const BAD_HOST_HEADER: &str = "invalid Host header: ";
/// A 400's first words when the authority of an absolute-form target
/// (`GET http://AUTHORITY/path`), which stands in for the Host header, is
/// no host: the header beside it may be well-formed, and is not the fault.
pub const BAD_TARGET_AUTHORITY: &str = "invalid authority in the request target: ";

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the Host is not `uri-host [ ":" port ]`: why ([`check_host`]),
    /// for the answer to say after where the host came from
    /// ([`BAD_HOST_HEADER`], [`BAD_TARGET_AUTHORITY`]).
    BadHost(&'static str),
    /// 403: the client address is not allowed, or the Host names another site.
    Forbidden(&'static str),
    /// 401: credentials missing or wrong.
    Unauthorized,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Empty: every client that can connect.
    pub allow: Vec<Cidr>,
    pub server_names: Vec<String>,
    /// The exact `Authorization` header value expected: `Basic base64(user:password)`.
    pub authorization: Option<String>,
}

impl AccessPolicy {
    /// The policy `config` sets; reads the password file, which must exist,
    /// be a regular file of at most [`MAX_PASSWORD_FILE_BYTES`], hold one
    /// line, and be unreadable to group and others (like ssh keys).
    /// `check-config` and `run` both call this, so both refuse the same
    /// files; errors name the `auth_password_file` line.
    pub fn from_config(config: &Config) -> Result<AccessPolicy, ConfigError> {
        use std::os::unix::fs::MetadataExt;
        let authorization = match (&config.auth_user, &config.auth_password_file) {
            (Some(user), Some(file)) => {
                let err = |message: String| {
                    config.error_at(
                        &["auth_password_file"],
                        format!(
                            "auth_password_file {}: {message}",
                            crate::log::shown(&file.to_string_lossy())
                        ),
                    )
                };
                // Opened without waiting and checked by `fstat` of what was
                // opened: a FIFO of mode 600 passes the mode check, and its
                // read would stop the loop on SIGHUP until someone writes.
                let opened = procfile::open_regular(file).map_err(|e| err(text_of(&e)))?;
                let meta = opened.metadata().map_err(|e| err(text_of(&e)))?;
                if meta.mode() & 0o037 != 0 {
                    return Err(err(format!(
                        "mode {:o} lets others read it or write it; chmod 600 (or 640 for a group)",
                        meta.mode() & 0o777
                    )));
                }
                let bytes = procfile::read_whole_from(&opened, MAX_PASSWORD_FILE_BYTES)
                    .map_err(|e| err(text_of(&e)))?;
                let text = String::from_utf8(bytes).map_err(|_| err(owned("not valid UTF-8")))?;
                let password = text.strip_suffix('\n').unwrap_or(&text);
                let password = password.strip_suffix('\r').unwrap_or(password);
                if password.is_empty() || password.contains('\n') {
                    return Err(err(owned("expected the password alone on one line")));
                }
                Some(AccessPolicy::basic_authorization(user, password))
            }
            _ => None,
        };
        Ok(AccessPolicy {
            allow: config.allow.clone(),
            server_names: config.server_names.clone(),
            authorization,
        })
    }

    /// The header a client must send for `user` and `password`.
    pub fn basic_authorization(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            crate::csp::base64(format!("{user}:{password}").as_bytes())
        )
    }

    /// Checks a request: its peer (`None` on a unix socket, where the file
    /// mode decides who connects), its host (the Host header, or the
    /// authority of an absolute-form target: `http::Target::host`) and
    /// its Authorization header.
    pub fn check(
        &self,
        peer: Option<IpAddr>,
        host: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<(), Refusal> {
        if let (false, Some(peer)) = (self.allow.is_empty(), peer) {
            if !self.allow.iter().any(|c| c.contains(peer)) {
                return Err(Refusal::Forbidden("client address not allowed\n"));
            }
        }
        match check_host(host, &self.server_names) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Refusal::Forbidden(
                    "unknown Host header (see server_name)\n",
                ));
            }
            Err(why) => return Err(Refusal::BadHost(why)),
        }
        if let Some(expected) = &self.authorization {
            if !credentials_match(authorization.unwrap_or(""), expected) {
                return Err(Refusal::Unauthorized);
            }
        }
        Ok(())
    }
}

/// Whether an `Authorization` header value carries the credentials of
/// `expected` (`SCHEME TOKEN`, as [`AccessPolicy::basic_authorization`]
/// makes it). The scheme is compared without regard to case (RFC 9110
/// §11.1: `basic` and `BASIC` are `Basic`), after one or more spaces the
/// token in constant time, and both are always compared, so the time does
/// not tell which was wrong.
fn credentials_match(given: &str, expected: &str) -> bool {
    let (expected_scheme, expected_token) = expected.split_once(' ').unwrap_or((expected, ""));
    let given = given.trim();
    let (scheme, token) = given.split_once(' ').unwrap_or((given, ""));
    let scheme_matches = same_name(scheme, expected_scheme);
    let token_matches = constant_time_eq(
        token.trim_start_matches(' ').as_bytes(),
        expected_token.as_bytes(),
    );
    scheme_matches & token_matches
}

/// Equality whose running time does not depend on where the inputs differ
/// (only on the length of `expected`, which is not secret).
pub fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(!e);
        difference |= g ^ e;
    }
    std::hint::black_box(difference) == 0
}

/// Whether a request's `Host` names this server, the defence against DNS
/// rebinding (a page on an attacker's domain that re-resolves to 127.0.0.1
/// sends its own domain as Host). Accepted: an IP literal (rebinding needs a
/// name the attacker controls), `localhost`, a configured `server_name`, each
/// with any port; and no Host at all (HTTP/1.0 tools; browsers always send one).
///
/// `Err` says why the value is not a host at all, a line that the caller
/// puts after where the value came from (RFC 9112 §3.2: 400, not
/// the 403 of a host that is not ours): it must be `uri-host [ ":" port ]`
/// of RFC 3986, the host not empty (RFC 9110 §4.2.1: an `http` URI with an
/// empty host is invalid), an IP literal an IPv6 address or IPvFuture, a
/// name of `reg-name` bytes only (no space, control byte, `@`, `/`, or a
/// second `:`), the port digits of at most 65535. An empty port
/// (`localhost:`) is valid, as RFC 3986 §3.2.3 has it: the default port.
pub fn check_host(host: Option<&str>, server_names: &[String]) -> Result<bool, &'static str> {
    let Some(host) = host else { return Ok(true) };
    if host.is_empty() {
        return Err("empty\n");
    }
    if let Some(rest) = host.strip_prefix('[') {
        let Some((literal, after)) = rest.split_once(']') else {
            return Err("[ without ]\n");
        };
        match after.strip_prefix(':') {
            Some(port) => check_port(port)?,
            None if after.is_empty() => {}
            None => return Err("] followed by other than :port\n"),
        }
        return if literal.parse::<std::net::Ipv6Addr>().is_ok() {
            Ok(true)
        } else if is_ip_future(literal) {
            Ok(false)
        } else {
            Err("not an IPv6 address inside [ ]\n")
        };
    }
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if port.is_some_and(|port| port.contains(':')) {
        return Err("more than one : (IPv6 goes inside [ ])\n");
    }
    if name.is_empty() {
        return Err("empty\n");
    }
    if !is_reg_name(name.as_bytes()) {
        return Err("a byte no host name has (RFC 3986 reg-name)\n");
    }
    if let Some(port) = port {
        check_port(port)?;
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    Ok(name.parse::<std::net::Ipv4Addr>().is_ok()
        || same_name(name, "localhost")
        || server_names.iter().any(|s| same_name(s, name)))
}

/// `a.eq_ignore_ascii_case(b)`, its byte loop out of line: inlined at the
/// three comparisons above it took about 900 bytes of the binary. The
/// lengths are compared inline, so a name of another length costs no call.
#[inline]
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    same_name_bytes(a.as_bytes(), b.as_bytes())
}

/// [`same_name`] of bytes (parts of a header value split at ASCII bytes).
#[inline]
pub(crate) fn same_name_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && same_length_same_name(a, b)
}

#[inline(never)]
fn same_length_same_name(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The port of a Host, after its `:`: empty (the default port), or digits
/// of a value from 0 to 65535, leading zeros and all (RFC 3986 `*DIGIT`;
/// a larger number is no TCP port).
fn check_port(port: &str) -> Result<(), &'static str> {
    let value = port.bytes().try_fold(0u32, |n, b| {
        let digit = b.is_ascii_digit().then(|| u32::from(b - b'0'))?;
        Some(n * 10 + digit).filter(|&n| n <= 65_535)
    });
    match value {
        Some(_) => Ok(()),
        None => Err("the port is not a number from 0 to 65535\n"),
    }
}

/// RFC 3986 `reg-name`: `unreserved`, `sub-delims` and `%` with two hex
/// digits, nothing else (no space, control byte, `@`, `/`, `:`, `[`).
fn is_reg_name(name: &[u8]) -> bool {
    let mut at = 0;
    while let Some(&b) = name.get(at) {
        if b == b'%' {
            let hex = |i| name.get(i).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(at + 1) && hex(at + 2)) {
                return false;
            }
            at += 3;
        } else if is_unreserved_or_sub_delim(b) {
            at += 1;
        } else {
            return false;
        }
    }
    true
}

/// RFC 3986 `unreserved / sub-delims`.
fn is_unreserved_or_sub_delim(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)
}

/// RFC 3986 `IPvFuture`: `v` 1*HEXDIG `.` 1*( unreserved / sub-delims /
/// `:` ), a literal no server of today answers to, but a valid host.
fn is_ip_future(literal: &str) -> bool {
    let Some(rest) = literal.strip_prefix(['v', 'V']) else {
        return false;
    };
    let Some((version, address)) = rest.split_once('.') else {
        return false;
    };
    !version.is_empty()
        && version.bytes().all(|b| b.is_ascii_hexdigit())
        && !address.is_empty()
        && address
            .bytes()
            .all(|b| b == b':' || is_unreserved_or_sub_delim(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `same_name` answers as `eq_ignore_ascii_case` does, over names of
    /// equal and unequal lengths, cases and non-ASCII letters.
    #[test]
    fn same_name_is_eq_ignore_ascii_case() {
        let words = [
            "",
            "a",
            "A",
            "Host",
            "host",
            "HOST",
            "Hos",
            "Hostx",
            "Content-Length",
            "content-length",
            "Content_Length",
            "\u{e9}",
            "\u{c9}",
            "chunked",
            "CHUNKED",
            "identity",
            "TE",
            "te",
            "Connection",
            "close",
            "Upgrade",
            "upgradE",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    super::same_name(a, b),
                    a.eq_ignore_ascii_case(b),
                    "{:?} {:?}",
                    a,
                    b
                );
            }
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn host_check_refuses_foreign_names() {
        let names = vec!["monitor.example.org".to_string()];
        for ok in [
            None,
            Some("127.0.0.1:8080"),
            Some("localhost"),
            Some("LOCALHOST:80"),
            Some("[::1]:8080"),
            Some("10.1.2.3"),
            Some("monitor.example.org:443"),
            Some("localhost."),
            Some("localhost:"),
            Some("[::1]:"),
            Some("127.0.0.1:00080"),
        ] {
            assert_eq!(check_host(ok, &names), Ok(true), "{ok:?}");
        }
        for foreign in [
            "evil.example.com",
            "evil.example.com:8080",
            "evil.example.com:",
            "127.0.0.1.evil.com",
            "127.1",
            "a!b",
            "[v1.fe80::a+en1]:80",
            "local%41host",
        ] {
            assert_eq!(check_host(Some(foreign), &names), Ok(false), "{foreign:?}");
        }
        for (invalid, why) in [
            ("", "empty"),
            (":80", "empty"),
            ("[::1", "[ without ]"),
            ("[zz]", "not an IPv6 address"),
            ("[evil]:80", "not an IPv6 address"),
            ("[]", "not an IPv6 address"),
            ("[v1.]", "not an IPv6 address"),
            ("[::1]x", "] followed"),
            ("[::1]:8x", "port"),
            ("localhost:http", "port"),
            ("localhost:65536", "port"),
            ("localhost:99999999999999999999", "port"),
            ("localhost:-1", "port"),
            ("::1", "more than one :"),
            ("a:1:2", "more than one :"),
            ("local host", "reg-name"),
            ("local\thost", "reg-name"),
            ("localhost ", "reg-name"),
            ("user@localhost", "reg-name"),
            ("local/host", "reg-name"),
            ("local%4", "reg-name"),
            ("local%zz", "reg-name"),
            ("\u{e9}.example", "reg-name"),
        ] {
            let got = check_host(Some(invalid), &names);
            assert!(
                got.is_err_and(|e| e.contains(why) && e.ends_with('\n')),
                "{invalid:?}: {got:?}"
            );
        }
    }

    #[test]
    fn policy_order_and_auth() {
        let policy = AccessPolicy {
            allow: vec![Cidr::parse("127.0.0.1/32").unwrap()],
            server_names: vec![],
            authorization: Some(AccessPolicy::basic_authorization("admin", "s3cret")),
        };
        let good = "Basic YWRtaW46czNjcmV0";
        assert_eq!(
            policy.check(Some(ip("127.0.0.1")), Some("localhost"), Some(good)),
            Ok(())
        );
        assert_eq!(
            policy.check(Some(ip("127.0.0.2")), Some("localhost"), Some(good)),
            Err(Refusal::Forbidden("client address not allowed\n"))
        );
        assert_eq!(
            policy.check(Some(ip("127.0.0.1")), Some("localhost"), None),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(
            policy.check(
                Some(ip("127.0.0.1")),
                Some("localhost"),
                Some("Basic YWRtaW46czNjcmVU")
            ),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(
            policy.check(None, Some("localhost"), Some(good)),
            Ok(()),
            "unix socket peers skip the allow list"
        );
    }

    /// RFC 9110 §11.1: the auth scheme is case-insensitive, and one or more
    /// spaces part it from the credentials. `basic` with the right
    /// credentials was answered 401.
    #[test]
    fn the_basic_scheme_is_matched_without_regard_to_case() {
        let expected = AccessPolicy::basic_authorization("admin", "s3cret");
        for given in [
            "Basic YWRtaW46czNjcmV0",
            "basic YWRtaW46czNjcmV0",
            "BASIC YWRtaW46czNjcmV0",
            "bAsIc YWRtaW46czNjcmV0",
            "Basic   YWRtaW46czNjcmV0",
            " Basic YWRtaW46czNjcmV0 ",
        ] {
            assert!(credentials_match(given, &expected), "{given:?}");
        }
        for given in [
            "",
            "Basic",
            "Basic ",
            "YWRtaW46czNjcmV0",
            "Bearer YWRtaW46czNjcmV0",
            "Basicx YWRtaW46czNjcmV0",
            "basic ywrtaw46czNjcmV0",
            "Basic YWRtaW46czNjcmV0x",
            "Basic YWRtaW46czNjcmV0 x",
        ] {
            assert!(!credentials_match(given, &expected), "{given:?}");
        }
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abd", b"abc"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn password_file_errors_name_its_line() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sysmon-config-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "secret\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c = Config::parse(
            format!(
                "auth_user = a\ninterval = 5s\nauth_password_file = {}\n",
                file.display()
            )
            .as_bytes(),
            std::path::Path::new("/etc/sysmon.conf"),
        )
        .unwrap();
        assert_eq!(
            AccessPolicy::from_config(&c).unwrap_err().to_string(),
            format!(
                "/etc/sysmon.conf:3: auth_password_file {}: mode 644 lets others read it or write it; chmod 600 (or 640 for a group)",
                file.display()
            )
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(AccessPolicy::from_config(&c).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
