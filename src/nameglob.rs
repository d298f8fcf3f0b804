//! Shell-style globs on short names (network interfaces): `*` matches any
//! run of bytes, `?` any one byte, everything else itself. No classes, no
//! escapes: interface names hold neither.
//!
//! Invariant: matching allocates nothing and takes O(pattern × name) steps
//! at worst (one backtrack point, the last `*`), so the sampler can call it
//! on every interface of every sample.

use crate::log;
use crate::owned::owned;

/// Linux's `IFNAMSIZ`: an interface name and its NUL, so at most 15 bytes.
const IFNAMSIZ: usize = 16;

/// A checked glob (`parse` refused the ones that cannot name an interface).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameGlob(Box<[u8]>);

impl NameGlob {
    /// A glob such as `veth*`, `docker?`, `lo`. Interface names are at most
    /// 15 bytes and contain no `/` or white space; neither may the glob.
    pub fn parse(text: &str) -> Result<NameGlob, String> {
        if text.is_empty() {
            return Err(owned("expected an interface name or glob such as veth*"));
        }
        if text.len() > 64 {
            return Err(format!(
                "`{}` is too long for an interface name glob",
                log::shown(text)
            ));
        }
        if let Some(c) = text
            .chars()
            .find(|c| *c == '/' || c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "`{}` cannot match an interface name (it holds {c:?})",
                log::shown(text)
            ));
        }
        // `*` may match nothing; every other byte takes one of the name's.
        let fewest = text.bytes().filter(|&b| b != b'*').count();
        if fewest > IFNAMSIZ - 1 {
            return Err(format!(
                "`{}` matches only names of {fewest} bytes or more, and an interface \
                 name has at most {} (IFNAMSIZ)",
                log::shown(text),
                IFNAMSIZ - 1
            ));
        }
        Ok(NameGlob(text.as_bytes().into()))
    }

    pub fn matches(&self, name: &[u8]) -> bool {
        glob_match(&self.0, name)
    }
}

impl std::fmt::Display for NameGlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// Checks a `services_ignore` glob: a service name (systemd unit, OpenRC
/// script or runit directory) holds no `/`, white space or control byte,
/// and is at most 256 bytes (systemd's limit). Matched with [`glob_match`].
pub fn check_service_glob(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err(owned("expected a service name or glob such as getty@*"));
    }
    if text.len() > 256 {
        return Err(format!(
            "`{}` is too long for a service name glob",
            log::shown(text)
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| *c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "`{}` cannot match a service name (it holds {c:?})",
            log::shown(text)
        ));
    }
    Ok(())
}

/// Whether `name` matches `pattern` as a whole.
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // After the last `*`: where in the pattern, and how much of the name it
    // has taken so far.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                // Let the last `*` take one byte more and try again.
                Some((after, taken)) => {
                    p = after;
                    n = taken + 1;
                    star = Some((after, taken + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious recursive definition, as the oracle.
    fn naive(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => naive(&p[1..], n) || (!n.is_empty() && naive(p, &n[1..])),
            (Some(&c), Some(&d)) if c == b'?' || c == d => naive(&p[1..], &n[1..]),
            _ => false,
        }
    }

    #[test]
    fn known_answers() {
        for (p, n, want) in [
            ("lo", "lo", true),
            ("lo", "lo0", false),
            ("veth*", "veth1a2b3c", true),
            ("veth*", "veth", true),
            ("veth*", "eth0", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("docker?", "docker0", true),
            ("docker?", "docker", false),
            ("br-*", "br-0123456789ab", true),
            ("*0", "eth0", true),
            ("*0", "eth1", false),
            ("e*h*0", "eth0", true),
            ("e*h*0", "enp0s31f6", false),
            ("a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ] {
            assert_eq!(glob_match(p.as_bytes(), n.as_bytes()), want, "{p} ~ {n}");
        }
    }

    #[test]
    fn agrees_with_the_naive_oracle() {
        // Every pattern and name over a small alphabet, up to 5 bytes each.
        let alphabet = [b'a', b'b', b'*', b'?'];
        let mut patterns = vec![Vec::new()];
        for _ in 0..5 {
            let longer: Vec<Vec<u8>> = patterns
                .iter()
                .flat_map(|p| {
                    alphabet.iter().map(move |c| {
                        let mut q = p.clone();
                        q.push(*c);
                        q
                    })
                })
                .collect();
            patterns.extend(longer);
            patterns.sort();
            patterns.dedup();
        }
        let names: Vec<&Vec<u8>> = patterns
            .iter()
            .filter(|p| !p.iter().any(|c| *c == b'*' || *c == b'?'))
            .collect();
        for p in &patterns {
            for n in &names {
                assert_eq!(glob_match(p, n), naive(p, n), "{p:?} ~ {n:?}");
            }
        }
    }

    #[test]
    fn parse_refuses_what_no_interface_is_called() {
        assert!(NameGlob::parse("veth*").is_ok());
        for bad in ["", "a/b", "eth 0", "x\u{7}"] {
            assert!(NameGlob::parse(bad).is_err(), "{bad:?}");
        }
        // Linux names are at most 15 bytes: a glob needing 16 matched
        // nothing, silently. `*` may match nothing, so it does not count.
        assert_eq!(
            NameGlob::parse("enp0s31f6-backup"),
            Err(
                "`enp0s31f6-backup` matches only names of 16 bytes or more, and an \
                 interface name has at most 15 (IFNAMSIZ)"
                    .into()
            )
        );
        assert!(NameGlob::parse("????????????????*").is_err());
        for fine in [
            "enp0s31f6-backu",
            "*enp0s31f6-back*",
            "???????????????",
            "a*b*c*",
        ] {
            assert!(NameGlob::parse(fine).is_ok(), "{fine}");
        }
    }
}
