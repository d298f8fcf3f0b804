//! `checkupdates` output (pacman-contrib), the same lines as `pacman -Qu`:
//!
//! ```text
//! linux 6.9.7.arch1-1 -> 6.9.8.arch1-1
//! python-pip 24.0-2 -> 24.1.1-1
//! nvidia 1:550.90.07-4 -> 1:555.58-1 [ignored]
//! ```
//! `[ignored]` marks a package held by `IgnorePkg`/`IgnoreGroup`: `pacman
//! -Syu` skips it, so it is a note, not a pending update.

use super::model::{Package, Parsed, is_token, lines};

pub fn parse(stdout: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    for line in lines(stdout) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [name, old, "->", new] if [name, old, new].iter().all(|s| is_token(s)) => {
                out.push_package(Package::new(name, old, new, false));
            }
            [name, old, "->", new, "[ignored]"] if [name, old, new].iter().all(|s| is_token(s)) => {
                out.push_note(format!("ignored: {name} {old} -> {new}"));
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
    fn lines_with_epochs_and_ignored() {
        let p = parse(b"linux 6.9.7.arch1-1 -> 6.9.8.arch1-1\nnvidia 1:550.90.07-4 -> 1:555.58-1 [ignored]\n\nvim 9.1.0-1 => 9.1.1-1\n");
        assert_eq!(
            p.packages,
            [Package::new(
                "linux",
                "6.9.7.arch1-1",
                "6.9.8.arch1-1",
                false
            )]
        );
        assert_eq!(p.notes, ["ignored: nvidia 1:550.90.07-4 -> 1:555.58-1"]);
        assert_eq!(p.unparsed, ["vim 9.1.0-1 => 9.1.1-1"]);
    }
}
