//! Arbitrary bytes into every audit parser never panic, and whatever they
//! report is well-formed (a property test, issue #4). A small xorshift
//! generator makes the cases reproducible (the seed is printed on failure).
use sysmon::audit::model::{Parsed, is_token};
use sysmon::audit::{apk, apt, command, dnf, pacman, xbps};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pieces the parsers look for, so random input often gets deep into them.
const PIECES: &[&[u8]] = &[
    b"Inst ",
    b"Remv ",
    b"[",
    b"]",
    b"(",
    b")",
    b" -> ",
    b"->",
    b" ",
    b"  ",
    b"\n",
    b"\r\n",
    b"\t",
    b":",
    b"/",
    b"-",
    b"_",
    b"-r1",
    b"_1",
    b"1.2",
    b"<",
    b"> ",
    b"=",
    b"[ignored]",
    b"[security]",
    b"update",
    b"install",
    b"Obsoleting Packages",
    b"    ",
    b"Debian-Security:12/stable-security",
    b"[amd64]",
    b"Installed:",
    b"ii ",
    b".x86_64",
    b"#",
    b"?",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\x00",
    b"\x1b[0m",
    "é".as_bytes(),
    b"1:",
    b"~",
    b"+",
    b"Important/Sec. ",
    b"/Sec.",
    b"security ",
    b"FEDORA-2024-1a2b3c4d5e ",
    b"RHSA-2024:3339 ",
    b"i ",
    b"openssl-libs-1:3.2.2-3.fc40.x86_64",
    b" 2024-06-27 03:05:51",
    b"Name Type Severity Package Issued\n",
];

fn input(rng: &mut XorShift) -> Vec<u8> {
    let mut bytes = Vec::new();
    let len = rng.below(64);
    for _ in 0..len {
        if rng.below(3) == 0 {
            bytes.push(rng.next() as u8);
        } else {
            bytes.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        }
    }
    bytes
}

fn check(what: &str, input: &[u8], parsed: &Parsed) {
    let lines = input.split(|b| *b == b'\n').count();
    for p in &parsed.packages {
        assert!(
            is_token(&p.name) && is_token(&p.new),
            "{what}: bad package {p:?} from {input:?}"
        );
        assert!(
            p.current.is_empty() || is_token(&p.current),
            "{what}: bad current {p:?} from {input:?}"
        );
    }
    assert!(
        parsed.packages.len() + parsed.notes.len() + parsed.unparsed.len() <= lines,
        "{what}: more results than lines: {input:?}"
    );
}

/// The advisory list: one result per line at most, well-formed fields, and
/// joined into a check-update list it only flags packages, never adds any.
fn check_security(input: &[u8]) {
    let lines = input.split(|b| *b == b'\n').count();
    let list = dnf::parse_security(input);
    for a in &list.advisories {
        assert!(
            [&a.id, &a.kind, &a.package, &a.evr]
                .iter()
                .all(|f| is_token(f))
                && (a.severity.is_empty() || is_token(&a.severity)),
            "dnf security: bad advisory {a:?} from {input:?}"
        );
    }
    assert!(
        list.advisories.len() + list.unparsed.len() <= lines,
        "dnf security: more results than lines: {input:?}"
    );
    let mut parsed = dnf::parse(UPDATES);
    let before = parsed.packages.len();
    dnf::mark_security(&mut parsed, list);
    assert_eq!(parsed.packages.len(), before);
}

const UPDATES: &[u8] = include_bytes!("../fixtures/audit/dnf/updates/stdout");

fn all_parsers(input: &[u8]) {
    check("apt", input, &apt::parse(input));
    check("pacman", input, &pacman::parse(input));
    check("apk", input, &apk::parse(input));
    check("xbps", input, &xbps::parse(input));
    check("dnf", input, &dnf::parse(input));
    check("command", input, &command::parse(input));
    let _ = xbps::parse_installed(input);
    let _ = dnf::parse_installed(input);
    check_security(input);
    let text = String::from_utf8_lossy(input);
    let _ = apk::split_pkgver(&text);
    let _ = xbps::split_pkgver(&text);
}

#[test]
fn arbitrary_bytes_never_panic() {
    for seed in 1..=20_000u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let bytes = input(&mut rng);
        let result = std::panic::catch_unwind(|| all_parsers(&bytes));
        assert!(result.is_ok(), "seed {seed}: input {bytes:?}");
    }
}

#[test]
fn mutated_recorded_outputs_never_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit");
    let cases = [
        "apt/bookworm-115",
        "apt/new-installs",
        "pacman/updates",
        "apk/updates",
        "xbps/updates",
        "dnf/updates",
        "dnf/security",
        "dnf/security-dnf5",
        "dnf/security-el9",
        "pacman/garbage",
    ];
    let mut rng = XorShift(0x5eed);
    for case in cases {
        let original = std::fs::read(root.join(case).join("stdout")).unwrap();
        all_parsers(&original);
        for _ in 0..300 {
            let mut bytes = original.clone();
            for _ in 0..1 + rng.below(8) {
                match rng.below(3) {
                    0 if !bytes.is_empty() => {
                        let i = rng.below(bytes.len());
                        bytes[i] = rng.next() as u8;
                    }
                    1 if !bytes.is_empty() => {
                        let i = rng.below(bytes.len());
                        bytes.truncate(i);
                    }
                    _ => {
                        let i = rng.below(bytes.len() + 1);
                        let piece = PIECES[rng.below(PIECES.len())];
                        bytes.splice(i..i, piece.iter().copied());
                    }
                }
            }
            let result = std::panic::catch_unwind(|| all_parsers(&bytes));
            assert!(
                result.is_ok(),
                "{case}: input {:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}
