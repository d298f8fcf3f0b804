//! What every parser produces: packages with updates, lines that were
//! understood but are not updates (notes), and lines that were not
//! understood (unparsed).
//!
//! Invariant: parsers take arbitrary bytes and never panic. Invalid UTF-8
//! is decoded lossily, one line at a time, so one bad byte costs at most the
//! line it is on; a line that does not parse is kept verbatim in `unparsed`
//! (shown in the log), never fatal.

/// One pending update, versions exactly as the manager printed them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    /// The installed version; empty when the manager does not say.
    pub current: String,
    pub new: String,
    /// The new version fixes a security issue, as far as the manager says:
    /// apt (security origin), dnf (security advisory), `update_command`.
    pub security: bool,
}

impl Package {
    pub fn new(name: &str, current: &str, new: &str, security: bool) -> Package {
        Package {
            name: name.to_string(),
            current: current.to_string(),
            new: new.to_string(),
            security,
        }
    }

    /// `name current -> new [security]`, the line format of the log, of
    /// `sysmon audit` and of `update_command`.
    pub fn line(&self) -> String {
        let current = if self.current.is_empty() {
            "?"
        } else {
            &self.current
        };
        let tag = if self.security { " [security]" } else { "" };
        format!("{} {current} -> {}{tag}", self.name, self.new)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub packages: Vec<Package>,
    /// Understood lines that are not updates (new dependencies, removals,
    /// ignored or obsoleted packages), as `what: detail`.
    pub notes: Vec<String>,
    pub unparsed: Vec<String>,
    /// Why the security flags are unknown this time, for a manager that can
    /// usually tell (dnf's advisory list failed); every `security` is then
    /// false for want of an answer, not because none applies.
    pub security_unavailable: Option<String>,
}

impl Parsed {
    pub fn security_count(&self) -> usize {
        self.packages.iter().filter(|p| p.security).count()
    }

    /// `3 security`, or `security unknown`: for the log and its summary.
    pub fn security_summary(&self) -> String {
        match self.security_unavailable {
            Some(_) => "security unknown".into(),
            None => format!("{} security", self.security_count()),
        }
    }
}

/// The lines of `bytes`, each decoded lossily, without `\n` or a trailing `\r`.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes
        .split(|b| *b == b'\n')
        .filter(move |_| !bytes.is_empty())
        .map(|line| String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned())
}

/// A package name or version token as managers print them: non-empty, no
/// white space, no control characters, no U+FFFD (a lossily decoded byte).
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != char::REPLACEMENT_CHARACTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_lossy_and_trimmed() {
        let got: Vec<String> = lines(b"a\r\nb\xff\n\nc").collect();
        assert_eq!(got, ["a", "b\u{fffd}", "", "c"]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n").count(), 0);
    }

    #[test]
    fn package_line() {
        assert_eq!(
            Package::new("bash", "1:5.2-1", "1:5.2-2", true).line(),
            "bash 1:5.2-1 -> 1:5.2-2 [security]"
        );
        assert_eq!(Package::new("x", "", "2", false).line(), "x ? -> 2");
        assert!(
            !is_token("a b") && !is_token("") && !is_token("a\u{fffd}") && is_token("1:2.3+b1~rc1")
        );
    }
}
