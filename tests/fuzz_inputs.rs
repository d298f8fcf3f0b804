//! Every parser of outside input (config, durations, listen addresses,
//! CIDRs, Host headers, routes, path globs) takes arbitrary bytes without a
//! panic or an unbounded allocation (issue #7). The /proc and
//! package-manager parsers have their own property tests
//! (`tests/sampler/oracle.rs`, `tests/audit/parsers_fuzz.rs`, and the unit
//! tests in `src/proc/mod.rs` for the newer /proc and /sys sources). Random
//! and mutated inputs from a fixed-seed xorshift, so a failure reproduces.
use std::path::Path;

use sysmon::access::{Cidr, check_host};
use sysmon::config::{Config, parse_duration, parse_listen};
use sysmon::http::route;
use sysmon::pathglob::Pattern;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, max: usize, alphabet: &[u8]) -> Vec<u8> {
        let len = (self.next() % (max as u64 + 1)) as usize;
        (0..len)
            .map(|_| {
                if alphabet.is_empty() || self.next() % 4 == 0 {
                    self.next() as u8
                } else {
                    alphabet[(self.next() % alphabet.len() as u64) as usize]
                }
            })
            .collect()
    }
}

const CONFIG_ALPHABET: &[u8] = b"=# \n\tabcdefghijklmnopqrstuvwxyz_0123456789%./:[]*?!-msdh";

#[test]
fn config_parser_takes_any_bytes() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let valid = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/init/sysmon.conf")).unwrap();
    for round in 0..20_000 {
        let input = if round % 2 == 0 {
            rng.bytes(300, CONFIG_ALPHABET)
        } else {
            // Mutate the shipped example: flip, drop or insert a few bytes.
            let mut v = valid.clone();
            for _ in 0..(1 + rng.next() % 4) {
                let at = (rng.next() as usize) % (v.len() + 1);
                match rng.next() % 3 {
                    0 if at < v.len() => v[at] = rng.next() as u8,
                    1 if at < v.len() => {
                        v.remove(at);
                    }
                    _ => v.insert(
                        at,
                        CONFIG_ALPHABET[(rng.next() as usize) % CONFIG_ALPHABET.len()],
                    ),
                }
            }
            v
        };
        match Config::parse(&input, Path::new("/etc/sysmon.conf")) {
            Ok(config) => {
                // Whatever parses renders to a config that parses the same.
                let again =
                    Config::parse(config.render().as_bytes(), Path::new("/etc/sysmon.conf"))
                        .unwrap_or_else(|e| {
                            panic!(
                                "render of {:?} does not parse: {e}",
                                String::from_utf8_lossy(&input)
                            )
                        });
                assert_eq!(again.render(), config.render());
            }
            Err(e) => assert!(e.to_string().starts_with("/etc/sysmon.conf:"), "{e}"),
        }
    }
}

#[test]
fn small_value_parsers_take_any_text() {
    let mut rng = Rng(0xfeed_beef_cafe_0001);
    for _ in 0..50_000 {
        let text =
            String::from_utf8_lossy(&rng.bytes(40, b"0123456789.:/[]abcdefx%*?!-ms")).into_owned();
        let _ = parse_duration(&text);
        let _ = parse_listen(&text);
        if let Ok(cidr) = Cidr::parse(&text) {
            // A parsed block contains its own network address.
            let shown = cidr.to_string();
            assert_eq!(Cidr::parse(&shown), Ok(cidr), "{text} -> {shown}");
        }
        let _ = check_host(Some(&text), &["example.org".to_string()]);
        let _ = Pattern::parse(&text);
        for method in [
            tiny_http::Method::Get,
            tiny_http::Method::Head,
            tiny_http::Method::Post,
        ] {
            let r = route(&method, &text);
            // No request target but the fixed table reaches a page; the
            // others are 404, or 400 for the asterisk-form's path (`*`),
            // which only OPTIONS may use.
            match text.split(['?', '#']).next() {
                Some("/" | "/index.html" | "/data.json" | "/metrics" | "/history.json") => {}
                Some("*") => assert!(
                    matches!(r, sysmon::http::Route::BadRequest(_)),
                    "{text:?}: {r:?}"
                ),
                _ => assert_eq!(r, sysmon::http::Route::NotFound, "{text:?}"),
            }
        }
    }
}

#[test]
fn exclude_globs_parse_any_text() {
    let mut rng = Rng(7);
    for _ in 0..20_000 {
        let glob = String::from_utf8_lossy(&rng.bytes(30, b"*?[]!a-z/.")).into_owned();
        let _ = Pattern::parse(&glob);
    }
}
