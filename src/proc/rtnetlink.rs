//! The `RTM_GETLINK` dump of routing netlink (`NETLINK_ROUTE`): the
//! request's bytes, and the `RTM_NEWLINK` messages of the answer parsed
//! into [`Link`]s, one per network device of the socket's namespace.
//!
//! Pure: the bytes come from [`crate::sys::RouteSocket`]. A part of the
//! answer (one datagram) is parsed by [`parse_part`] into a caller-owned
//! `Vec<Link>` that is cleared, never shrunk, so a warm dump allocates
//! nothing. Whatever the bytes, the parser does not panic: a message or
//! attribute whose length runs past its container is [`DumpError::Malformed`].
//!
//! What each field holds is what the kernel's `rtnl_fill_ifinfo`
//! (net/core/rtnetlink.c) puts there, and attributes a kernel does not
//! know are absent (`None`), never zero: `IFLA_CARRIER_CHANGES` since
//! Linux 3.15 (4.16: the sum of the up and down counts),
//! `IFLA_CARRIER_UP_COUNT`/`_DOWN_COUNT` since 4.16, `IFLA_ALLMULTI` since
//! 6.6, `rx_nohandler` in `IFLA_STATS64` since 4.6.

use std::fmt;

const NLMSG_HDR_BYTES: usize = 16;
const IFINFOMSG_BYTES: usize = 16;
const NLA_HDR_BYTES: usize = 4;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
/// The dump was interrupted by a change to the device list (its parts
/// may mix two states of it).
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_ROOT: u16 = 0x100;
const NLM_F_MATCH: u16 = 0x200;
const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
/// `nla_type`'s two high bits are flags.
const NLA_TYPE_MASK: u16 = 0x3fff;

// uapi/linux/if_link.h
pub(crate) const IFLA_ADDRESS: u16 = 1;
pub(crate) const IFLA_BROADCAST: u16 = 2;
pub(crate) const IFLA_IFNAME: u16 = 3;
pub(crate) const IFLA_MTU: u16 = 4;
pub(crate) const IFLA_LINK: u16 = 5;
pub(crate) const IFLA_TXQLEN: u16 = 13;
pub(crate) const IFLA_OPERSTATE: u16 = 16;
pub(crate) const IFLA_LINKMODE: u16 = 17;
pub(crate) const IFLA_IFALIAS: u16 = 20;
pub(crate) const IFLA_STATS64: u16 = 23;
pub(crate) const IFLA_GROUP: u16 = 27;
pub(crate) const IFLA_PROMISCUITY: u16 = 30;
pub(crate) const IFLA_CARRIER: u16 = 33;
pub(crate) const IFLA_CARRIER_CHANGES: u16 = 35;
pub(crate) const IFLA_CARRIER_UP_COUNT: u16 = 47;
pub(crate) const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
pub(crate) const IFLA_ALLMULTI: u16 = 61;

/// `rx_nohandler`'s offset in `struct rtnl_link_stats64` (the 24th u64).
const RX_NOHANDLER_AT: usize = 23 * 8;

/// `ifi_flags` bits (uapi/linux/if.h).
pub const IFF_UP: u32 = 0x1;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_PROMISC: u32 = 0x100;
pub const IFF_ALLMULTI: u32 = 0x200;
pub const IFF_LOWER_UP: u32 = 0x1_0000;
pub const IFF_DORMANT: u32 = 0x2_0000;

/// `IFNAMSIZ`, the NUL included.
const NAME_BYTES: usize = 16;
/// `MAX_ADDR_LEN`.
const ADDRESS_BYTES: usize = 32;
/// `IFALIASZ`, the NUL included.
const ALIAS_BYTES: usize = 256;

/// The request: `RTM_GETLINK` with `NLM_F_DUMP` for every family
/// (`AF_UNSPEC`), numbered `seq` so that its answer can be told apart.
pub fn getlink_request(seq: u32) -> [u8; NLMSG_HDR_BYTES + IFINFOMSG_BYTES] {
    let mut bytes = [0u8; NLMSG_HDR_BYTES + IFINFOMSG_BYTES];
    bytes[0..4].copy_from_slice(&((NLMSG_HDR_BYTES + IFINFOMSG_BYTES) as u32).to_ne_bytes());
    bytes[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    bytes[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    bytes[8..12].copy_from_slice(&seq.to_ne_bytes());
    // Port id 0 (the kernel fills in ours), then a zeroed ifinfomsg.
    bytes
}

/// Why a dump could not be used. `Copy`: made on the scrape's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpError {
    /// The kernel answered `NLMSG_ERROR` with this errno.
    Kernel(i32),
    /// `NLM_F_DUMP_INTR`: the device list changed during the dump.
    Interrupted,
    /// A length or type that does not fit the format.
    Malformed(&'static str),
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::Kernel(errno) => write!(
                f,
                "kernel answered error: {}",
                std::io::Error::from_raw_os_error(*errno)
            ),
            DumpError::Interrupted => f.write_str("dump interrupted by a device change"),
            DumpError::Malformed(what) => write!(f, "malformed message: {what}"),
        }
    }
}

/// One network device as `RTM_NEWLINK` describes it. Attributes the
/// message lacks are `None` (or empty, for the byte strings).
#[derive(Clone, Copy)]
pub struct Link {
    /// `ifi_index`.
    pub index: i32,
    /// `ifi_type` (`ARPHRD_*`).
    pub link_type: u16,
    /// `ifi_flags`: `dev_get_flags()`, i.e. `dev->flags` without the
    /// promiscuous and all-multicast counts' bits, with the user's requests
    /// for them, and `IFF_RUNNING`, `IFF_LOWER_UP` and `IFF_DORMANT`
    /// derived from the link state while the device is up.
    pub flags: u32,
    pub mtu: Option<u32>,
    pub tx_queue_len: Option<u32>,
    /// `IF_OPER_*`, already `IF_OPER_DOWN` while the device is not up.
    pub operstate: Option<u8>,
    pub link_mode: Option<u8>,
    pub group: Option<u32>,
    /// `dev_get_iflink()`; the kernel leaves it out when it equals the
    /// device's own index.
    pub iflink: Option<u32>,
    pub carrier: Option<u8>,
    pub carrier_changes: Option<u32>,
    pub carrier_up_count: Option<u32>,
    pub carrier_down_count: Option<u32>,
    pub promiscuity: Option<u32>,
    pub allmulti: Option<u32>,
    pub rx_nohandler: Option<u64>,
    name: [u8; NAME_BYTES],
    name_len: u8,
    address: [u8; ADDRESS_BYTES],
    address_len: u8,
    broadcast: [u8; ADDRESS_BYTES],
    broadcast_len: u8,
    alias: [u8; ALIAS_BYTES],
    alias_len: u16,
}

impl Link {
    const EMPTY: Link = Link {
        index: 0,
        link_type: 0,
        flags: 0,
        mtu: None,
        tx_queue_len: None,
        operstate: None,
        link_mode: None,
        group: None,
        iflink: None,
        carrier: None,
        carrier_changes: None,
        carrier_up_count: None,
        carrier_down_count: None,
        promiscuity: None,
        allmulti: None,
        rx_nohandler: None,
        name: [0; NAME_BYTES],
        name_len: 0,
        address: [0; ADDRESS_BYTES],
        address_len: 0,
        broadcast: [0; ADDRESS_BYTES],
        broadcast_len: 0,
        alias: [0; ALIAS_BYTES],
        alias_len: 0,
    };

    /// `IFLA_IFNAME` without its NUL.
    pub fn name(&self) -> &[u8] {
        &self.name[..usize::from(self.name_len)]
    }

    /// `IFLA_ADDRESS` (`dev->dev_addr`, `addr_len` bytes); empty when the
    /// device has no hardware address (`addr_len` 0).
    pub fn address(&self) -> &[u8] {
        &self.address[..usize::from(self.address_len)]
    }

    /// `IFLA_BROADCAST`, as [`Link::address`].
    pub fn broadcast(&self) -> &[u8] {
        &self.broadcast[..usize::from(self.broadcast_len)]
    }

    /// `IFLA_IFALIAS` without its NUL; empty when no alias is set (the
    /// kernel then leaves the attribute out).
    pub fn alias(&self) -> &[u8] {
        &self.alias[..usize::from(self.alias_len)]
    }
}

/// Reads a native-endian integer of `N` bytes at the start of `bytes`.
fn ne<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.get(..N)?.try_into().ok()
}

/// `(len + 3) & !3`, netlink's 4-byte alignment.
fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// A C string attribute's bytes up to its first NUL (or all of them).
fn c_string(payload: &[u8]) -> &[u8] {
    match payload.iter().position(|&b| b == 0) {
        Some(end) => &payload[..end],
        None => payload,
    }
}

/// Parses one part of the answer to the request numbered `seq`, pushing a
/// [`Link`] per `RTM_NEWLINK` onto `links`. `Ok(true)` when the part ends
/// the dump (`NLMSG_DONE`), `Ok(false)` when more parts follow. Messages
/// of another sequence number (an answer to an earlier, abandoned request)
/// are skipped.
pub fn parse_part(part: &[u8], seq: u32, links: &mut Vec<Link>) -> Result<bool, DumpError> {
    let mut rest = part;
    while !rest.is_empty() {
        let header = rest
            .get(..NLMSG_HDR_BYTES)
            .ok_or(DumpError::Malformed("message header cut short"))?;
        let len = u32::from_ne_bytes(ne(header).unwrap_or_default()) as usize;
        let kind = u16::from_ne_bytes(ne(&header[4..]).unwrap_or_default());
        let flags = u16::from_ne_bytes(ne(&header[6..]).unwrap_or_default());
        let message_seq = u32::from_ne_bytes(ne(&header[8..]).unwrap_or_default());
        if len < NLMSG_HDR_BYTES || len > rest.len() {
            return Err(DumpError::Malformed("message length outside its datagram"));
        }
        let body = &rest[NLMSG_HDR_BYTES..len];
        rest = rest.get(align4(len)..).unwrap_or(&[]);
        if message_seq != seq {
            continue;
        }
        if flags & NLM_F_DUMP_INTR != 0 {
            return Err(DumpError::Interrupted);
        }
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let errno = i32::from_ne_bytes(
                    ne(body).ok_or(DumpError::Malformed("error message cut short"))?,
                );
                return Err(DumpError::Kernel(-errno));
            }
            RTM_NEWLINK => links.push(parse_link(body)?),
            _ => {}
        }
        if flags & NLM_F_MULTI == 0 {
            return Err(DumpError::Malformed("a dump message without NLM_F_MULTI"));
        }
    }
    Ok(false)
}

/// An `RTM_NEWLINK` body: `struct ifinfomsg`, then `IFLA_*` attributes.
fn parse_link(body: &[u8]) -> Result<Link, DumpError> {
    let info = body
        .get(..IFINFOMSG_BYTES)
        .ok_or(DumpError::Malformed("ifinfomsg cut short"))?;
    let mut link = Link::EMPTY;
    link.link_type = u16::from_ne_bytes(ne(&info[2..]).unwrap_or_default());
    link.index = i32::from_ne_bytes(ne(&info[4..]).unwrap_or_default());
    link.flags = u32::from_ne_bytes(ne(&info[8..]).unwrap_or_default());
    let mut rest = &body[IFINFOMSG_BYTES..];
    while rest.len() >= NLA_HDR_BYTES {
        let len = usize::from(u16::from_ne_bytes(ne(rest).unwrap_or_default()));
        let kind = u16::from_ne_bytes(ne(&rest[2..]).unwrap_or_default()) & NLA_TYPE_MASK;
        if len < NLA_HDR_BYTES || len > rest.len() {
            return Err(DumpError::Malformed("attribute length outside its message"));
        }
        let payload = &rest[NLA_HDR_BYTES..len];
        rest = rest.get(align4(len)..).unwrap_or(&[]);
        let u32_of = || ne(payload).map(u32::from_ne_bytes);
        let u8_of = || payload.first().copied();
        match kind {
            IFLA_IFNAME => {
                let name = c_string(payload);
                if name.len() >= NAME_BYTES {
                    return Err(DumpError::Malformed("IFLA_IFNAME longer than IFNAMSIZ"));
                }
                link.name[..name.len()].copy_from_slice(name);
                link.name_len = name.len() as u8;
            }
            IFLA_ADDRESS | IFLA_BROADCAST => {
                if payload.len() > ADDRESS_BYTES {
                    return Err(DumpError::Malformed(
                        "hardware address longer than 32 bytes",
                    ));
                }
                let (bytes, bytes_len) = if kind == IFLA_ADDRESS {
                    (&mut link.address, &mut link.address_len)
                } else {
                    (&mut link.broadcast, &mut link.broadcast_len)
                };
                bytes[..payload.len()].copy_from_slice(payload);
                *bytes_len = payload.len() as u8;
            }
            IFLA_IFALIAS => {
                let alias = c_string(payload);
                if alias.len() >= ALIAS_BYTES {
                    return Err(DumpError::Malformed("IFLA_IFALIAS longer than IFALIASZ"));
                }
                link.alias[..alias.len()].copy_from_slice(alias);
                link.alias_len = alias.len() as u16;
            }
            IFLA_MTU => link.mtu = u32_of(),
            IFLA_LINK => link.iflink = u32_of(),
            IFLA_TXQLEN => link.tx_queue_len = u32_of(),
            IFLA_OPERSTATE => link.operstate = u8_of(),
            IFLA_LINKMODE => link.link_mode = u8_of(),
            IFLA_GROUP => link.group = u32_of(),
            IFLA_PROMISCUITY => link.promiscuity = u32_of(),
            IFLA_ALLMULTI => link.allmulti = u32_of(),
            IFLA_CARRIER => link.carrier = u8_of(),
            IFLA_CARRIER_CHANGES => link.carrier_changes = u32_of(),
            IFLA_CARRIER_UP_COUNT => link.carrier_up_count = u32_of(),
            IFLA_CARRIER_DOWN_COUNT => link.carrier_down_count = u32_of(),
            IFLA_STATS64 => {
                link.rx_nohandler = payload
                    .get(RX_NOHANDLER_AT..)
                    .and_then(ne)
                    .map(u64::from_ne_bytes);
            }
            _ => {}
        }
    }
    Ok(link)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds netlink messages as the kernel lays them out, for the tests.
    pub(crate) struct Builder {
        pub bytes: Vec<u8>,
        message_at: usize,
    }

    impl Builder {
        pub fn new() -> Self {
            Builder {
                bytes: Vec::new(),
                message_at: 0,
            }
        }

        pub fn message(&mut self, kind: u16, flags: u16, seq: u32) -> &mut Self {
            self.message_at = self.bytes.len();
            self.bytes.extend_from_slice(&0u32.to_ne_bytes());
            self.bytes.extend_from_slice(&kind.to_ne_bytes());
            self.bytes.extend_from_slice(&flags.to_ne_bytes());
            self.bytes.extend_from_slice(&seq.to_ne_bytes());
            self.bytes.extend_from_slice(&4242u32.to_ne_bytes());
            self.fix_length();
            self
        }

        pub fn link(&mut self, seq: u32, index: i32, link_type: u16, flags: u32) -> &mut Self {
            self.message(RTM_NEWLINK, NLM_F_MULTI, seq);
            self.raw(&[0, 0]);
            self.raw(&link_type.to_ne_bytes());
            self.raw(&index.to_ne_bytes());
            self.raw(&flags.to_ne_bytes());
            self.raw(&0u32.to_ne_bytes())
        }

        pub fn done(&mut self, seq: u32) -> &mut Self {
            self.message(NLMSG_DONE, NLM_F_MULTI, seq);
            self.raw(&0i32.to_ne_bytes())
        }

        pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
            self.bytes.extend_from_slice(bytes);
            self.fix_length();
            self
        }

        pub fn attribute(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
            self.bytes
                .extend_from_slice(&((NLA_HDR_BYTES + payload.len()) as u16).to_ne_bytes());
            self.bytes.extend_from_slice(&kind.to_ne_bytes());
            self.bytes.extend_from_slice(payload);
            while self.bytes.len() % 4 != 0 {
                self.bytes.push(0);
            }
            self.fix_length();
            self
        }

        pub fn u32(&mut self, kind: u16, v: u32) -> &mut Self {
            self.attribute(kind, &v.to_ne_bytes())
        }

        fn fix_length(&mut self) {
            let len = (self.bytes.len() - self.message_at) as u32;
            self.bytes[self.message_at..self.message_at + 4].copy_from_slice(&len.to_ne_bytes());
        }
    }

    fn veth() -> Builder {
        let mut b = Builder::new();
        b.link(7, 3, 1, 0x1_1043)
            .attribute(IFLA_IFNAME, b"veth0.5\0")
            .attribute(IFLA_ADDRESS, &[0x4e, 0x3f, 0x46, 0xd5, 0x50, 0xe2])
            .attribute(IFLA_BROADCAST, &[0xff; 6])
            .u32(IFLA_MTU, 9000)
            .u32(IFLA_TXQLEN, u32::MAX)
            .attribute(IFLA_OPERSTATE, &[6])
            .attribute(IFLA_LINKMODE, &[1])
            .u32(IFLA_GROUP, u32::MAX)
            .u32(IFLA_LINK, 2)
            .attribute(IFLA_CARRIER, &[1])
            .u32(IFLA_CARRIER_CHANGES, 5)
            .u32(IFLA_CARRIER_UP_COUNT, 3)
            .u32(IFLA_CARRIER_DOWN_COUNT, 2)
            .u32(IFLA_PROMISCUITY, 1)
            .u32(IFLA_ALLMULTI, 0)
            .attribute(IFLA_IFALIAS, b"uplink \"a\"\0");
        let mut stats = [0u8; 25 * 8];
        stats[RX_NOHANDLER_AT..RX_NOHANDLER_AT + 8].copy_from_slice(&77u64.to_ne_bytes());
        // A nested attribute's type carries NLA_F_NESTED; it is skipped.
        b.attribute(IFLA_STATS64, &stats)
            .attribute(26 | 0x8000, &[0; 12]);
        b
    }

    #[test]
    fn the_request_is_a_dump_of_every_family() {
        let r = getlink_request(9);
        assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()), 32);
        assert_eq!(u16::from_ne_bytes(r[4..6].try_into().unwrap()), RTM_GETLINK);
        assert_eq!(u16::from_ne_bytes(r[6..8].try_into().unwrap()), 0x301);
        assert_eq!(u32::from_ne_bytes(r[8..12].try_into().unwrap()), 9);
        assert!(r[12..].iter().all(|&b| b == 0));
    }

    #[test]
    fn every_attribute_of_a_link() {
        let mut b = veth();
        b.done(7);
        let mut links = Vec::new();
        assert_eq!(parse_part(&b.bytes, 7, &mut links), Ok(true));
        let [l] = links.as_slice() else {
            panic!("{} links", links.len())
        };
        assert_eq!((l.index, l.link_type, l.flags), (3, 1, 0x1_1043));
        assert_eq!(l.name(), b"veth0.5");
        assert_eq!(l.address(), [0x4e, 0x3f, 0x46, 0xd5, 0x50, 0xe2]);
        assert_eq!(l.broadcast(), [0xff; 6]);
        assert_eq!(l.alias(), b"uplink \"a\"");
        assert_eq!((l.mtu, l.tx_queue_len), (Some(9000), Some(u32::MAX)));
        assert_eq!((l.operstate, l.link_mode), (Some(6), Some(1)));
        assert_eq!(
            (l.group, l.iflink, l.carrier),
            (Some(u32::MAX), Some(2), Some(1))
        );
        assert_eq!(
            (l.carrier_changes, l.carrier_up_count, l.carrier_down_count),
            (Some(5), Some(3), Some(2))
        );
        assert_eq!((l.promiscuity, l.allmulti), (Some(1), Some(0)));
        assert_eq!(l.rx_nohandler, Some(77));
    }

    #[test]
    fn parts_other_answers_and_errors() {
        // A part without NLMSG_DONE: more follow. A message of another
        // request is skipped.
        let mut b = veth();
        b.link(6, 9, 1, 0).attribute(IFLA_IFNAME, b"old\0");
        let mut links = Vec::new();
        assert_eq!(parse_part(&b.bytes, 7, &mut links), Ok(false));
        assert_eq!(links.len(), 1);

        let mut b = Builder::new();
        b.message(NLMSG_ERROR, 0, 7).raw(&(-105i32).to_ne_bytes());
        assert_eq!(
            parse_part(&b.bytes, 7, &mut links),
            Err(DumpError::Kernel(105))
        );

        let mut b = Builder::new();
        b.message(RTM_NEWLINK, NLM_F_MULTI | NLM_F_DUMP_INTR, 7);
        assert_eq!(
            parse_part(&b.bytes, 7, &mut links),
            Err(DumpError::Interrupted)
        );
    }

    #[test]
    fn absent_attributes_are_none_and_empty() {
        let mut b = Builder::new();
        b.link(1, 1, 772, 0x8)
            .attribute(IFLA_IFNAME, b"lo\0")
            .done(1);
        let mut links = Vec::new();
        assert_eq!(parse_part(&b.bytes, 1, &mut links), Ok(true));
        let l = &links[0];
        assert!(l.address().is_empty() && l.broadcast().is_empty() && l.alias().is_empty());
        assert_eq!(
            (l.mtu, l.iflink, l.allmulti, l.rx_nohandler),
            (None, None, None, None)
        );
    }

    #[test]
    fn every_cut_of_a_message_is_an_error_or_a_shorter_link_never_a_panic() {
        let mut b = veth();
        b.done(7);
        for cut in 0..b.bytes.len() {
            let mut links = Vec::new();
            let _ = parse_part(&b.bytes[..cut], 7, &mut links);
        }
        // A message cut inside its attributes says so: its length runs
        // past the datagram.
        let mut links = Vec::new();
        assert_eq!(
            parse_part(&b.bytes[..100], 7, &mut links),
            Err(DumpError::Malformed("message length outside its datagram"))
        );
    }
}
