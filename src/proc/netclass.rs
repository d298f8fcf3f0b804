//! `/sys/class/net/<iface>/<attribute>`: one value per file, as
//! node_exporter's `netclass` collector reads them. Numbers are decimal or,
//! for `flags` and `dev_id`, `0x` hexadecimal; `speed` is -1 when unknown.
//! A file that cannot be read (EINVAL for `speed` of a down link or `lo`)
//! is simply absent; that is the caller's `None`.

use super::parse_u64;

/// A signed number in C notation (`42`, `-1`, `0x1003`) and a newline, as
/// Go's `strconv.ParseInt(s, 0, 64)` reads it.
pub fn parse_int(buf: &[u8]) -> Option<i64> {
    let text = buf.trim_ascii();
    let (negative, body) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match body
        .strip_prefix(b"0x")
        .or_else(|| body.strip_prefix(b"0X"))
    {
        Some(hex) => {
            if hex.is_empty() || hex.len() > 16 {
                return None;
            }
            let mut v: u64 = 0;
            for &b in hex {
                v = (v << 4) | u64::from((b as char).to_digit(16)?);
            }
            v
        }
        None => parse_u64(body)?,
    };
    let magnitude = i64::try_from(magnitude).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// A text attribute (`operstate`, `address`, `ifalias`): the file without
/// its trailing newline, if it is UTF-8 (possibly empty).
pub fn parse_text(buf: &[u8]) -> Option<&str> {
    std::str::from_utf8(buf.strip_suffix(b"\n").unwrap_or(buf)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_c_notation() {
        for (text, want) in [
            (&b"1400\n"[..], Some(1400)),
            (b"-1\n", Some(-1)),
            (b"0x1003\n", Some(4099)),
            (b"0x0\n", Some(0)),
            (b"", None),
            (b"0x\n", None),
            (b"12ab\n", None),
            (b"0x10000000000000000\n", None),
        ] {
            assert_eq!(parse_int(text), want, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn the_fixture_eth0() {
        // SOURCE: tests/fixtures/sys/handmade/SOURCE.
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sys/handmade/class/net/eth0/"
        );
        let read = |name: &str| std::fs::read(format!("{dir}{name}")).unwrap();
        assert_eq!(parse_int(&read("flags")), Some(0x1003));
        assert_eq!(parse_int(&read("speed")), Some(-1));
        assert_eq!(parse_text(&read("operstate")), Some("up"));
        assert_eq!(parse_text(&read("ifalias")), Some(""));
    }
}
