//! Path globs: the `backup_exclude` patterns, parsed (and so checked) by
//! `config` and matched by the backup's walk on raw path bytes (names need
//! not be UTF-8). A lower module both use, beside [`crate::nameglob`].
//!
//! The rules, close to `.gitignore`:
//! - a trailing `/` matches directories only (`node_modules/`);
//! - a pattern with no other `/` matches the entry's name at any depth (`*.tmp`);
//! - a pattern starting with `/` matches the absolute path (`/home/*/Downloads/`);
//! - any other pattern with a `/` matches the path below the source root
//!   (`build/out`), where `**/` stands for zero or more directories (`**/.cache/`);
//! - `*` and `?` never match `/`, `**` does; `[abc]`, `[a-z]`, `[!x]` are classes.
//!
//! Matching is a dynamic program over (pattern token, text byte): linear
//! memory, and no pattern can make it take exponential time.

use crate::log;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `?`
    One,
    /// `*`
    Star,
    /// `**` not followed by `/`
    AnyPath,
    /// `**/`: empty, or anything that ends with `/`
    AnyDirs,
    Class {
        negated: bool,
        ranges: Vec<(u8, u8)>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Anchor {
    Name,
    Absolute,
    SourceRelative,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
    anchor: Anchor,
    dir_only: bool,
}

/// What is known about the entry being tested.
pub struct Candidate<'a> {
    pub name: &'a [u8],
    pub absolute: &'a [u8],
    /// Path below the source root, without a leading `/`.
    pub relative: &'a [u8],
    pub is_dir: bool,
}

impl Pattern {
    pub fn parse(glob: &str) -> Result<Pattern, String> {
        let mut text = glob.as_bytes();
        let dir_only = text.len() > 1 && text.ends_with(b"/");
        if dir_only {
            text = &text[..text.len() - 1];
        }
        let anchor = if text.starts_with(b"/") {
            Anchor::Absolute
        } else if text.contains(&b'/') {
            Anchor::SourceRelative
        } else {
            Anchor::Name
        };
        if text.is_empty() {
            return Err(format!("`{}` matches nothing", log::shown(glob)));
        }
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b'*' if text.get(i + 1) == Some(&b'*') => {
                    if text.get(i + 2) == Some(&b'/') {
                        tokens.push(Token::AnyDirs);
                        i += 3;
                    } else {
                        tokens.push(Token::AnyPath);
                        i += 2;
                    }
                }
                b'*' => {
                    tokens.push(Token::Star);
                    i += 1;
                }
                b'?' => {
                    tokens.push(Token::One);
                    i += 1;
                }
                b'[' => {
                    let (token, used) = parse_class(&text[i..])
                        .ok_or_else(|| format!("`{}`: unclosed `[`", log::shown(glob)))?;
                    tokens.push(token);
                    i += used;
                }
                b'\\' if i + 1 < text.len() => {
                    tokens.push(Token::Byte(text[i + 1]));
                    i += 2;
                }
                b => {
                    tokens.push(Token::Byte(b));
                    i += 1;
                }
            }
        }
        Ok(Pattern {
            tokens,
            anchor,
            dir_only,
        })
    }

    pub fn matches(&self, c: &Candidate<'_>) -> bool {
        if self.dir_only && !c.is_dir {
            return false;
        }
        let text = match self.anchor {
            Anchor::Name => c.name,
            Anchor::Absolute => c.absolute,
            Anchor::SourceRelative => c.relative,
        };
        glob_match(&self.tokens, text)
    }
}

/// `[...]` at the start of `text`: the token and how many bytes it used.
fn parse_class(text: &[u8]) -> Option<(Token, usize)> {
    let mut i = 1;
    let negated = matches!(text.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < text.len() {
        let b = text[i];
        if b == b']' && !first {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        first = false;
        if text.get(i + 1) == Some(&b'-') && text.get(i + 2).is_some_and(|&e| e != b']') {
            ranges.push((b, text[i + 2]));
            i += 3;
        } else {
            ranges.push((b, b));
            i += 1;
        }
    }
    None
}

fn token_accepts(token: &Token, b: u8) -> bool {
    match token {
        Token::Byte(x) => *x == b,
        Token::One | Token::Star => b != b'/',
        Token::AnyPath | Token::AnyDirs => true,
        Token::Class { negated, ranges } => {
            b != b'/' && ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&b)) != *negated
        }
    }
}

/// `row[j]`: the tokens so far match `text[..j]`.
fn glob_match(tokens: &[Token], text: &[u8]) -> bool {
    let n = text.len();
    let mut row = vec![false; n + 1];
    row[0] = true;
    let mut next = vec![false; n + 1];
    for token in tokens {
        match token {
            Token::Star | Token::AnyPath => {
                next[0] = row[0];
                for j in 1..=n {
                    next[j] = row[j] || (next[j - 1] && token_accepts(token, text[j - 1]));
                }
            }
            Token::AnyDirs => {
                // Empty, or any run of bytes that ends with '/'.
                let mut any_before = false;
                for j in 0..=n {
                    next[j] = row[j] || (j > 0 && text[j - 1] == b'/' && any_before);
                    if j < n {
                        any_before |= row[j];
                    }
                }
            }
            _ => {
                next[0] = false;
                for j in 1..=n {
                    next[j] = row[j - 1] && token_accepts(token, text[j - 1]);
                }
            }
        }
        std::mem::swap(&mut row, &mut next);
    }
    row[n]
}

/// The compiled `backup_exclude` list.
#[derive(Clone, Debug, Default)]
pub struct Excludes(Vec<Pattern>);

impl Excludes {
    pub fn new(globs: &[String]) -> Result<Excludes, String> {
        globs
            .iter()
            .map(|g| Pattern::parse(g))
            .collect::<Result<_, _>>()
            .map(Excludes)
    }

    pub fn excluded(&self, c: &Candidate<'_>) -> bool {
        self.0.iter().any(|p| p.matches(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(glob: &str, relative: &str, is_dir: bool) -> bool {
        let name = relative.rsplit('/').next().unwrap();
        let absolute = format!("/src/{relative}");
        Pattern::parse(glob).unwrap().matches(&Candidate {
            name: name.as_bytes(),
            absolute: absolute.as_bytes(),
            relative: relative.as_bytes(),
            is_dir,
        })
    }

    #[test]
    fn table() {
        let cases = [
            ("*.tmp", "a/b/x.tmp", false, true),
            ("*.tmp", "a/b/x.tmpl", false, false),
            ("*.tmp", "x.tmp", true, true),
            ("node_modules/", "web/node_modules", true, true),
            ("node_modules/", "web/node_modules", false, false),
            ("**/.cache/", ".cache", true, true),
            ("**/.cache/", "home/u/.cache", true, true),
            ("**/.cache/", "home/u/.cache", false, false),
            ("**/.cache/", "home/u/x.cache", true, false),
            ("build/out", "build/out", false, true),
            ("build/out", "x/build/out", false, false),
            ("build/*", "build/a", false, true),
            ("build/*", "build/a/b", false, false),
            ("build/**", "build/a/b", false, true),
            ("/src/a/*.log", "a/x.log", false, true),
            ("/src/a/*.log", "b/a/x.log", false, false),
            ("?.c", "a/x.c", false, true),
            ("?.c", "a/xy.c", false, false),
            ("[ab]*.c", "b1.c", false, true),
            ("[!ab]*.c", "b1.c", false, false),
            ("[a-c]", "b", false, true),
            (
                "a*b*c*d*e*f*g",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                false,
                false,
            ),
        ];
        for (glob, path, is_dir, want) in cases {
            assert_eq!(
                m(glob, path, is_dir),
                want,
                "{glob} vs {path} (dir {is_dir})"
            );
        }
        assert!(Pattern::parse("[abc").is_err());
    }
}
