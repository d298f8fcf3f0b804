//! The line format of `update_command` (for any manager sysmon does not
//! know), the same as the log's:
//!
//! ```text
//! # comments and blank lines are ignored
//! name current -> new
//! name current -> new [security]
//! ```
//! Versions are single tokens without white space; use `?` for an unknown
//! current version. The command exits 0 (or 100, as `dnf check-update`
//! does) when it succeeded, anything else is a failure; so is output of
//! which no line is understood ([`super::managers`]).

use super::model::{Package, Parsed, is_token, lines};

pub fn parse(stdout: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    for line in lines(stdout) {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        let (core, security) = match fields.as_slice() {
            [core @ .., "[security]"] => (core, true),
            core => (core, false),
        };
        match core {
            [name, current, "->", new] if [name, current, new].iter().all(|s| is_token(s)) => {
                let current = if *current == "?" { "" } else { current };
                out.push_package(Package::new(name, current, new, security));
            }
            _ => out.push_unparsed(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_format() {
        let p = parse(b"# header\nfoo 1.0 -> 1.1\nbar ? -> 2 [security]\nbaz 1 -> \n");
        assert_eq!(
            p.packages,
            [
                Package::new("foo", "1.0", "1.1", false),
                Package::new("bar", "", "2", true)
            ]
        );
        assert_eq!(p.unparsed, ["baz 1 -> "]);
    }
}
