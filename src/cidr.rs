//! Address blocks (`allow = 192.168.1.0/24`): parsed strictly, printed back
//! in the same form, and matched against a client address, v4-mapped IPv6
//! peers included. A value type below both the config and the access
//! policy, so neither imports the other for it.
//!
//! Invariant: an IPv4 client is matched as IPv4, whichever socket it came
//! through (a dual-stack `[::]` listener shows it as `::ffff:a.b.c.d`), and
//! only against IPv4 blocks; an IPv6 block matches IPv6 clients only, so
//! `::/0` admits every IPv6 client and no IPv4 one. To keep that true of
//! what a user writes, an IPv4-mapped block is parsed as the IPv4 block it
//! names (see [`Cidr::parse`]).

use std::net::IpAddr;

use crate::log;

/// An address block such as `192.168.1.0/24` or `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDR/PREFIX` or a bare address (a /32 or /128). An
    /// IPv4-mapped block, `::ffff:a.b.c.d` with a prefix of 96 or more, is
    /// the IPv4 block `a.b.c.d/(prefix − 96)` (`::ffff:10.0.0.0/104` is
    /// `10.0.0.0/8`). A mapped address with a prefix under 96 is refused:
    /// the block reaches beyond `::ffff:0:0/96` into IPv6 addresses no IPv4
    /// client has, and kept as IPv6 it would never match an IPv4 client
    /// (see the module docs), which cannot be what was meant.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || {
            format!(
                "`{}` is not an address block such as 192.168.1.0/24, 127.0.0.1 or ::1/128",
                log::shown(text)
            )
        };
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        let block = unmapped(Cidr { network, prefix }).ok_or_else(|| {
            format!(
                "`{}` is an IPv4-mapped address with a prefix under /96, a block \
                 beyond ::ffff:0:0/96: write the IPv4 block (::ffff:10.0.0.0/104 is 10.0.0.0/8)",
                log::shown(text)
            )
        })?;
        // `10.0.0.1/8` matched 10.0.0.0/8 while reading as one host, or a
        // typo: which was meant is the user's to say.
        let network = block.network_address();
        if network != block.network {
            return Err(format!(
                "`{}` has address bits set past its /{}: write the network, {}/{}, or the \
                 one address, {}",
                log::shown(text),
                block.prefix,
                network,
                block.prefix,
                block.network
            ));
        }
        Ok(block)
    }

    /// The block's first address: `network` with the bits past the prefix
    /// cleared.
    fn network_address(&self) -> IpAddr {
        match self.network {
            IpAddr::V4(net) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(net) & mask).into())
            }
            IpAddr::V6(net) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(net) & mask).into())
            }
        }
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        // A v4 client reaching a dual-stack [::] socket shows as ::ffff:a.b.c.d.
        match (self.network, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// `block` with an IPv4-mapped network (`::ffff:a.b.c.d`) turned into the
/// IPv4 block it names; `None` when the mapped block's prefix is under 96.
/// Any other block as it is.
fn unmapped(block: Cidr) -> Option<Cidr> {
    let IpAddr::V6(v6) = block.network else {
        return Some(block);
    };
    match v6.to_ipv4_mapped() {
        Some(v4) if block.prefix >= 96 => Some(Cidr {
            network: IpAddr::V4(v4),
            prefix: block.prefix - 96,
        }),
        Some(_) => None,
        None => Some(block),
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_membership() {
        let lan = Cidr::parse("192.168.1.0/24").unwrap();
        assert!(lan.contains(ip("192.168.1.77")));
        assert!(!lan.contains(ip("192.168.2.1")));
        assert!(lan.contains(ip("::ffff:192.168.1.5")), "v4-mapped v6 peer");
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("127.0.0.1").unwrap().contains(ip("127.0.0.1")));
        assert!(!Cidr::parse("127.0.0.1").unwrap().contains(ip("127.0.0.2")));
        assert!(Cidr::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(!Cidr::parse("fd00::/8").unwrap().contains(ip("10.0.0.1")));
        // IPv4-mapped blocks are the IPv4 blocks they name, so that they
        // match IPv4 clients as written and as seen on a [::] listener.
        for (mapped, v4) in [
            ("::ffff:127.0.0.1", "127.0.0.1/32"),
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
            ("::FFFF:7f00:1/128", "127.0.0.1/32"),
            ("::ffff:0.0.0.0/96", "0.0.0.0/0"),
        ] {
            let block = Cidr::parse(mapped).unwrap();
            assert_eq!(block, Cidr::parse(v4).unwrap(), "{mapped}");
            assert_eq!(block.to_string(), v4);
        }
        let mapped = Cidr::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(mapped.contains(ip("10.1.2.3")));
        assert!(mapped.contains(ip("::ffff:10.1.2.3")));
        assert!(!mapped.contains(ip("11.0.0.1")));
        assert!(
            Cidr::parse("::ffff:127.0.0.1")
                .unwrap()
                .contains(ip("127.0.0.1"))
        );
        // Address bits past the prefix: refused, naming the network and
        // the address (they were matched as the network, silently).
        for (text, error) in [
            (
                "10.0.0.1/8",
                "`10.0.0.1/8` has address bits set past its /8: write the network, \
                 10.0.0.0/8, or the one address, 10.0.0.1",
            ),
            (
                "fd00::1/8",
                "`fd00::1/8` has address bits set past its /8: write the network, \
                 fd00::/8, or the one address, fd00::1",
            ),
            (
                "::ffff:10.0.0.1/104",
                "`::ffff:10.0.0.1/104` has address bits set past its /8: write the network, \
                 10.0.0.0/8, or the one address, 10.0.0.1",
            ),
            (
                "192.168.1.1/0",
                "`192.168.1.1/0` has address bits set past its /0: write the network, \
                 0.0.0.0/0, or the one address, 192.168.1.1",
            ),
        ] {
            assert_eq!(Cidr::parse(text).unwrap_err(), error, "{text}");
        }
        for fine in [
            "10.0.0.0/8",
            "10.0.0.1/32",
            "10.0.0.1",
            "0.0.0.0/0",
            "fd00::/8",
            "::1",
        ] {
            assert!(Cidr::parse(fine).is_ok(), "{fine}");
        }
        let error = Cidr::parse("::ffff:10.0.0.0/95").unwrap_err();
        assert!(error.contains("prefix under /96"), "{error}");
        // IPv6 blocks match IPv6 clients only: ::/0 is not "everyone".
        let any_v6 = Cidr::parse("::/0").unwrap();
        assert!(any_v6.contains(ip("2001:db8::1")));
        assert!(!any_v6.contains(ip("::ffff:127.0.0.1")));
        assert!(!any_v6.contains(ip("127.0.0.1")));
        for bad in [
            "",
            "1.2.3.4/33",
            "::/129",
            "1.2.3.4/",
            "1.2.3.4/x",
            "host/24",
            "1.2.3.4/-1",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
