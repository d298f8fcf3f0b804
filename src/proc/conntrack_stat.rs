//! `/proc/net/stat/nf_conntrack`: a header of column names, then one line
//! per possible CPU of hexadecimal counters. The columns changed with the
//! kernel (`searched`, `new`, `delete`, `delete_list` are gone since 4.10;
//! `clashres` and `chainlength` came in 5.x), so columns are found by their
//! header name; node_exporter (procfs) sums each over the CPUs, as here.

use super::{ParseError, fields, numbered_lines};

fn hex(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in bytes {
        let digit = (b as char).to_digit(16)?;
        v = (v << 4) | u64::from(digit);
    }
    Some(v)
}

/// Sums the columns named in `names` over every CPU line into `sums`
/// (`None` for a column the header does not have). An empty file, a line
/// that is not hexadecimal or has another column count is an error.
pub fn sums(buf: &[u8], names: &[&[u8]], sums: &mut [Option<u64>]) -> Result<(), ParseError> {
    // At most 32 columns are looked at; the kernel prints 17 today.
    let mut column_of = [usize::MAX; 32];
    let mut lines = numbered_lines(buf);
    let (_, header) = lines.next().ok_or(ParseError::new(1, "empty file"))?;
    let mut width = 0;
    for (column, name) in fields(header).enumerate() {
        if let Some(i) = names.iter().position(|n| *n == name) {
            if i < column_of.len() {
                column_of[i] = column;
            }
        }
        width += 1;
    }
    for (i, sum) in sums.iter_mut().enumerate() {
        *sum = (column_of.get(i).copied().unwrap_or(usize::MAX) != usize::MAX).then_some(0);
    }
    for (no, line) in lines {
        let mut count = 0;
        for (column, field) in fields(line).enumerate() {
            let v = hex(field).ok_or(ParseError::new(no, "not a hexadecimal number"))?;
            if let Some(i) = column_of.iter().position(|c| *c == column) {
                if let Some(sum) = sums.get_mut(i).and_then(Option::as_mut) {
                    *sum = sum.wrapping_add(v);
                }
            }
            count += 1;
        }
        if count != width {
            return Err(ParseError::new(no, "not as many columns as the header"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&[u8]; 3] = [b"found", b"insert_failed", b"searched"];

    #[test]
    fn sums_named_columns_over_cpus() {
        let text = b"entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
00000021  00000000 0000000a 00000000 00000003 00000000 00000000 00000000 00000000 00000001 00000000 00000000 00000000  00000000 00000000 00000000 00000002\n\
00000021  00000000 00000010 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n";
        let mut out = [None; 3];
        sums(text, &NAMES, &mut out).unwrap();
        assert_eq!(out, [Some(0x1a), Some(3), None]);
        // Garbage and ragged lines are errors, not zeros.
        let mut out = [None; 3];
        assert!(sums(b"", &NAMES, &mut out).is_err());
        assert!(
            sums(
                b"found insert_failed\n0000000g 00000000\n",
                &NAMES,
                &mut out
            )
            .is_err()
        );
        assert!(sums(b"found insert_failed\n00000001\n", &NAMES, &mut out).is_err());
    }
}
