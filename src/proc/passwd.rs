//! `/etc/passwd`: user names by uid, for the user column of the top
//! processes. An /etc file read under /proc's rules (see
//! [`crate::proc::os_release`]): pure, no allocation, garbage skipped.
//!
//! Only the local file is read: a static binary has no NSS, so users known
//! only to LDAP or systemd-homed show as their number.

use super::parse_u64;

/// `(name, uid)` for each well-formed line (`name:password:uid:...`), in
/// file order; comments, blank and malformed lines are skipped.
pub fn entries(buf: &[u8]) -> impl Iterator<Item = (&[u8], u32)> {
    buf.split(|b| *b == b'\n').filter_map(|line| {
        let mut parts = line.split(|b| *b == b':');
        let name = parts.next()?;
        let _password = parts.next()?;
        let uid = parse_u64(parts.next()?)?;
        if name.is_empty() || name.starts_with(b"#") || name.starts_with(b"+") {
            return None;
        }
        Some((name, u32::try_from(uid).ok()?))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_and_uids_in_file_order() {
        let text = b"root:x:0:0:root:/root:/bin/bash\n# comment\n\nbroken\nbad:x:-1:0::/:\n+nis::0:0:::\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nlast:x:1000:1000::/home/last:/bin/sh";
        let got: Vec<(&[u8], u32)> = super::entries(text).collect();
        assert_eq!(got, [(&b"root"[..], 0), (b"www-data", 33), (b"last", 1000)]);
    }
}
