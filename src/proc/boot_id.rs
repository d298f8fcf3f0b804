//! `/proc/sys/kernel/random/boot_id`: the kernel's random UUID for this boot
//! (since Linux 2.6.x), one line of 36 characters, `8-4-4-4-12` lowercase hex
//! digits. It changes at every boot and never within one; inside a container
//! it is the host's (a container's restart is not a boot).

use super::ParseError;

/// A boot id, as the kernel prints it: 36 bytes of `[0-9a-f-]`. `Copy`, so
/// the boot log holds its records without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BootId(pub [u8; 36]);

impl BootId {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes are ever stored (see `parse_id`).
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Display for BootId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The whole file: the id and one optional trailing newline.
pub fn parse(buf: &[u8]) -> Result<BootId, ParseError> {
    let line = buf.strip_suffix(b"\n").unwrap_or(buf);
    parse_id(line).ok_or(ParseError::new(1, "not a boot id (8-4-4-4-12 hex digits)"))
}

/// Exactly one id: dashes at 8, 13, 18 and 23, lowercase hex elsewhere.
pub fn parse_id(bytes: &[u8]) -> Option<BootId> {
    let id: [u8; 36] = bytes.try_into().ok()?;
    let valid = id.iter().enumerate().all(|(i, &b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
    });
    valid.then_some(BootId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernel_line_and_rejects_anything_else() {
        // Captured from Debian 12, Linux 6.1 (`cat /proc/sys/kernel/random/boot_id`).
        let id = parse(b"5b1f2c0e-9c3a-4f4e-8d2b-0a6e3c1d7f90\n").unwrap();
        assert_eq!(id.as_str(), "5b1f2c0e-9c3a-4f4e-8d2b-0a6e3c1d7f90");
        assert_eq!(parse(b"5b1f2c0e-9c3a-4f4e-8d2b-0a6e3c1d7f90"), Ok(id));
        for bad in [
            &b""[..],
            b"\n",
            b"5b1f2c0e-9c3a-4f4e-8d2b-0a6e3c1d7f9\n",
            b"5b1f2c0e-9c3a-4f4e-8d2b-0a6e3c1d7f900\n",
            b"5B1F2C0E-9C3A-4F4E-8D2B-0A6E3C1D7F90\n",
            b"5b1f2c0e 9c3a-4f4e-8d2b-0a6e3c1d7f90\n",
            b"5b1f2c0e-9c3a-4f4e-8d2b-0a6e3c1d7f90\n\n",
            b"zb1f2c0e-9c3a-4f4e-8d2b-0a6e3c1d7f90\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
