//! The /metrics body gzipped (RFC 1952), for a scrape that accepts it
//! (Prometheus asks with `Accept-Encoding: gzip` by default). The text
//! compresses about 4x at level 1, and the bytes on the loopback were the answer's
//! time (issue 16: a C server sending the same bytes had the same p99).
//!
//! Invariant: while `fresh`, `bytes` is one complete gzip member whose
//! content is exactly the plain body it was made from; the owner
//! ([`super::MetricsRenderer`]) clears `fresh` whenever that body changes,
//! so a body is compressed at most once, at the first gzip request after
//! its render, and every later one is sent the same bytes.
//!
//! Memory: the deflate state (zlib-rs: window, chains, hash table and
//! symbol buffer, some 260 KiB) lives only while one body is compressed,
//! then is freed: the idle daemon holds none of it. What stays is `bytes`,
//! about a quarter of the plain body, and only once a scrape asked for it.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// zlib's fastest level. Measured on a 54,352-byte scrape of a 2-core VM
/// (`level_costs`, ignored, prints the table; zlib-rs is built at
/// opt-level 3 in every profile): level 1 sent 12,734 bytes in 123 µs,
/// level 2 10,323 in 197 µs, level 4 9,623 in 317 µs, level 6 9,498 in
/// 513 µs, level 9 9,440 in 1,084 µs. Level 1 already cuts the bytes
/// 4.3x; the 2.4 KB more than level 2 take microseconds on the loopback
/// (and little on a LAN), while 74 µs more per render would be paid by
/// every scrape at `metrics_cache = 0s`.
const LEVEL: u32 = 1;

/// The member's fixed header: magic, deflate, no flags, no time, XFL 4
/// (fastest, as zlib writes for level 1), OS 3 (Unix).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3];

#[derive(Default)]
pub struct Gzipped {
    /// A gzip member of the last body compressed (valid while `fresh`).
    bytes: Vec<u8>,
    fresh: bool,
}

impl Gzipped {
    /// Forgets the member: the plain body changed.
    pub fn invalidate(&mut self) {
        self.fresh = false;
    }

    /// Whether [`Gzipped::member`] holds `plain` gzipped: the member kept,
    /// or made now if the body changed since. False only if deflate
    /// failed (it does not on a `Vec` it may grow; the caller then sends
    /// `plain` as it is).
    pub fn make(&mut self, plain: &[u8]) -> bool {
        if !self.fresh {
            self.fresh = gzip_into(plain, &mut self.bytes, LEVEL);
        }
        self.fresh
    }

    /// The member [`Gzipped::make`] made or kept.
    pub fn member(&self) -> &[u8] {
        &self.bytes
    }
}

/// Writes `plain` as one gzip member into `out` (cleared first); false if
/// deflate reported an error. Once per render at most: kept out of the
/// answer's path.
#[cold]
#[inline(never)]
fn gzip_into(plain: &[u8], out: &mut Vec<u8>, level: u32) -> bool {
    out.clear();
    out.extend_from_slice(&HEADER);
    // Raw deflate, framed here: the same calls as the backup's, so the
    // binary carries no gzip writer of flate2's.
    let mut deflate = Compress::new(Compression::new(level), false);
    // The text compresses about 4x: a quarter of it and more, grown if short.
    let mut room = plain.len() / 4 + 64;
    loop {
        out.reserve(room);
        let consumed = usize::try_from(deflate.total_in()).unwrap_or(plain.len());
        match deflate.compress_vec(&plain[consumed..], out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => break,
            Ok(_) => room = out.capacity(),
            Err(_) => return false,
        }
    }
    let mut crc = Crc::new();
    crc.update(plain);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE: the length modulo 2^32 (RFC 1952 §2.3.1).
    out.extend_from_slice(&(plain.len() as u32).to_le_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(member: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(member)
            .read_to_end(&mut plain)
            .expect("a gzip member");
        plain
    }

    #[test]
    fn a_member_gunzips_to_the_body_and_is_kept_until_invalidated() {
        let body: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("node_x{{i=\"{}\"}} {}\n", i % 97, i * 7).into_bytes())
            .collect();
        let mut gzipped = Gzipped::default();
        let mut of = |plain: &[u8]| {
            assert!(gzipped.make(plain));
            gzipped.member().to_vec()
        };
        let first = of(&body);
        assert_eq!(gunzip(&first), body);
        assert!(
            first.len() < body.len() / 2,
            "{} of {}",
            first.len(),
            body.len()
        );
        // Kept: the same bytes, even for other input, until invalidated.
        assert_eq!(of(b"other"), first);
        let mut gzipped = Gzipped::default();
        assert!(gzipped.make(&body));
        gzipped.invalidate();
        assert!(gzipped.make(b"other"));
        assert_eq!(gunzip(gzipped.member()), b"other");
        gzipped.invalidate();
        assert!(gzipped.make(b""));
        assert_eq!(gunzip(gzipped.member()), b"");
        // Incompressible input grows past the first guess of room.
        let noise: Vec<u8> = (0..100_000u64)
            .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
            .collect();
        gzipped.invalidate();
        assert!(gzipped.make(&noise));
        assert_eq!(gunzip(gzipped.member()), noise);
    }

    /// The table behind [`LEVEL`]: `SYSMON_GZIP_SAMPLE=FILE cargo test
    /// --lib -- --ignored level_costs --nocapture` with a
    /// captured /metrics body.
    #[test]
    #[ignore]
    fn level_costs() {
        let path = std::env::var("SYSMON_GZIP_SAMPLE").expect("SYSMON_GZIP_SAMPLE");
        let body = std::fs::read(path).unwrap();
        let mut out = Vec::new();
        for level in 1..=9 {
            let rounds = 200;
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                assert!(gzip_into(&body, &mut out, level));
            }
            let us = start.elapsed().as_micros() / rounds;
            println!(
                "level {level}: {} -> {} bytes, {us} us",
                body.len(),
                out.len()
            );
        }
    }
}
