//! Special-purpose address blocks (IANA IPv4 and IPv6 Special-Purpose Address Registries,
//! RFC 6890 and successors) and prefix arithmetic.
//!
//! A name server in the root zone must be reachable from the whole Internet, so an address
//! in a block that is not globally reachable (private, loopback, link-local, shared,
//! documentation, multicast, ...) makes a delegation unusable (`address-routable`).

use std::net::IpAddr;

use ipnet::IpNet;

/// Whether `ip` lies in `prefix/len` (an address of the other family never does).
pub fn in_prefix(ip: IpAddr, prefix: IpAddr, len: u8) -> bool {
    IpNet::new(prefix, len).is_ok_and(|net| net.contains(&ip))
}

/// The network of `ip` at `len` bits (`192.0.2.0` for `192.0.2.9/24`); a length beyond the
/// family's is the address itself.
pub fn network(ip: IpAddr, len: u8) -> IpAddr {
    IpNet::new(ip, len).map_or(ip, |net| net.network())
}

/// (prefix, length, name) of the IPv4 blocks that are not globally reachable.
const V4: &[(&str, u8, &str)] = &[
    ("0.0.0.0", 8, "\"this network\" (RFC 791)"),
    ("10.0.0.0", 8, "private-use (RFC 1918)"),
    ("100.64.0.0", 10, "shared address space (RFC 6598)"),
    ("127.0.0.0", 8, "loopback (RFC 1122)"),
    ("169.254.0.0", 16, "link-local (RFC 3927)"),
    ("172.16.0.0", 12, "private-use (RFC 1918)"),
    ("192.0.0.0", 24, "IETF protocol assignments (RFC 6890)"),
    ("192.0.2.0", 24, "documentation TEST-NET-1 (RFC 5737)"),
    (
        "192.88.99.0",
        24,
        "deprecated 6to4 relay anycast (RFC 7526)",
    ),
    ("192.168.0.0", 16, "private-use (RFC 1918)"),
    ("198.18.0.0", 15, "benchmarking (RFC 2544)"),
    ("198.51.100.0", 24, "documentation TEST-NET-2 (RFC 5737)"),
    ("203.0.113.0", 24, "documentation TEST-NET-3 (RFC 5737)"),
    ("224.0.0.0", 4, "multicast (RFC 5771)"),
    ("240.0.0.0", 4, "reserved (RFC 1112)"),
];

/// Globally reachable exceptions inside the blocks above.
const V4_GLOBAL: &[(&str, u8)] = &[("192.0.0.9", 32), ("192.0.0.10", 32)];

const V6: &[(&str, u8, &str)] = &[
    ("::", 128, "unspecified address (RFC 4291)"),
    ("::1", 128, "loopback (RFC 4291)"),
    ("::ffff:0:0", 96, "IPv4-mapped (RFC 4291)"),
    (
        "64:ff9b:1::",
        48,
        "local-use IPv4/IPv6 translation (RFC 8215)",
    ),
    ("100::", 64, "discard-only (RFC 6666)"),
    ("100:0:0:1::", 64, "dummy prefix (RFC 9780)"),
    ("2001::", 23, "IETF protocol assignments (RFC 2928)"),
    ("2001:db8::", 32, "documentation (RFC 3849)"),
    ("2002::", 16, "6to4 (RFC 3056)"),
    ("3fff::", 20, "documentation (RFC 9637)"),
    ("5f00::", 16, "segment routing SIDs (RFC 9602)"),
    ("fc00::", 7, "unique-local (RFC 4193)"),
    ("fe80::", 10, "link-local unicast (RFC 4291)"),
    ("ff00::", 8, "multicast (RFC 4291)"),
];

/// Globally reachable exceptions inside 2001::/23.
const V6_GLOBAL: &[(&str, u8)] = &[
    ("2001:1::1", 128),
    ("2001:1::2", 128),
    ("2001:1::3", 128),
    ("2001:3::", 32),
    ("2001:4:112::", 48),
    ("2001:20::", 28),
    ("2001:30::", 28),
];

fn matches(ip: IpAddr, table: &[(&str, u8)]) -> bool {
    table
        .iter()
        .any(|(p, len)| p.parse::<IpAddr>().is_ok_and(|p| in_prefix(ip, p, *len)))
}

/// Why `ip` is not a globally reachable unicast address, or `None` when it is.
pub fn special_purpose(ip: IpAddr) -> Option<String> {
    // An IPv4-mapped address is judged as the IPv4 address it carries.
    let table = match ip {
        IpAddr::V4(_) => {
            if matches(ip, V4_GLOBAL) {
                return None;
            }
            V4
        }
        IpAddr::V6(v6) => {
            if matches(ip, V6_GLOBAL) {
                return None;
            }
            let hit = V6
                .iter()
                .find(|(p, len, _)| p.parse::<IpAddr>().is_ok_and(|p| in_prefix(ip, p, *len)));
            if let Some((p, len, name)) = hit {
                return Some(format!("{name}, {p}/{len}"));
            }
            // Only 2000::/3 holds global unicast today.
            if !in_prefix(
                IpAddr::V6(v6),
                IpAddr::V6(std::net::Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0)),
                3,
            ) {
                return Some("outside global unicast space 2000::/3".into());
            }
            return None;
        }
    };
    table
        .iter()
        .find(|(p, len, _)| p.parse::<IpAddr>().is_ok_and(|p| in_prefix(ip, p, *len)))
        .map(|(p, len, name)| format!("{name}, {p}/{len}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn special_purpose_blocks() {
        for bad in [
            "10.1.2.3",
            "127.53.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "172.31.255.255",
            "192.168.0.1",
            "192.0.2.1",
            "224.0.0.1",
            "255.255.255.255",
            "0.1.2.3",
            "::1",
            "fe80::1",
            "fd00::53",
            "2001:db8::1",
            "ff02::1",
            "::ffff:192.0.2.1",
            "3fff::1",
        ] {
            assert!(special_purpose(ip(bad)).is_some(), "{bad} accepted");
        }
        for good in [
            "192.0.0.9",
            "8.8.8.8",
            "199.7.83.42",
            "2001:500:2f::f",
            "2a01:4f8::1",
            "2001:4:112::1",
        ] {
            assert_eq!(special_purpose(ip(good)), None, "{good} refused");
        }
    }

    #[test]
    fn prefixes() {
        assert!(in_prefix(ip("192.0.2.200"), ip("192.0.2.0"), 24));
        assert!(!in_prefix(ip("192.0.3.1"), ip("192.0.2.0"), 24));
        assert_eq!(network(ip("2001:db8:1:2::1"), 48), ip("2001:db8:1::"));
        assert!(!in_prefix(ip("::1"), ip("127.0.0.0"), 8));
    }
}
