//! Lookups the checker needs from the rest of the DNS: addresses of out-of-bailiwick name
//! servers given without any, and origin AS numbers for network diversity.
//!
//! These go through hickory-resolver rather than the probe: they are ordinary resolution,
//! not a test of the servers under review. Which resolver is configurable (DESIGN §5): the
//! system's, given recursive servers (a lab's, with ports), or iterative resolution from
//! given root hints, so that a lab with its own root works offline.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Instant;

use hickory_proto::op::Query;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::recursor::{DnssecPolicy, Recursor, RecursorOptions};
use hickory_resolver::TokioResolver;

use super::profile::{AsSource, QuerySettings, ResolverSettings};

/// A resolver for ordinary lookups.
pub enum NameResolver {
    Stub(Box<TokioResolver>),
    Iterative(Box<Recursor<TokioRuntimeProvider>>),
}

/// The records a lookup found (CNAMEs included, so that a CNAME at a name server's name can
/// be reported), or why it failed.
pub type LookupResult = Result<Vec<Record>, String>;

impl NameResolver {
    /// Builds the resolver the profile asks for.
    pub fn new(settings: &ResolverSettings, query: &QuerySettings) -> Result<NameResolver, String> {
        let mut opts = ResolverOpts::default();
        opts.timeout = query.timeout();
        opts.attempts = usize::try_from(query.retries).unwrap_or(1) + 1;
        opts.cache_size = 256;
        match settings {
            ResolverSettings::System => {
                let resolver = TokioResolver::builder_tokio()
                    .map_err(|e| format!("cannot read the system resolver configuration: {e}"))?
                    .with_options(opts)
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok(NameResolver::Stub(Box::new(resolver)))
            }
            ResolverSettings::Servers { servers } => {
                Ok(NameResolver::Stub(Box::new(stub(servers, opts)?)))
            }
            ResolverSettings::RootHints { roots } => {
                let mut options = RecursorOptions::default();
                // Labs run their own roots on loopback or private addresses.
                options.deny_server.clear();
                let recursor = Recursor::new(
                    roots,
                    DnssecPolicy::SecurityUnaware,
                    None,
                    options,
                    TokioRuntimeProvider::default(),
                )
                .map_err(|e| format!("cannot build the iterative resolver: {e}"))?;
                Ok(NameResolver::Iterative(Box::new(recursor)))
            }
        }
    }

    /// Looks up `name`/`rtype`. An empty answer (NODATA or NXDOMAIN) is `Ok(vec![])`.
    pub async fn lookup(&self, name: &Name, rtype: RecordType) -> LookupResult {
        match self {
            NameResolver::Stub(r) => match r.lookup(name.clone(), rtype).await {
                Ok(lookup) => Ok(lookup.answers().to_vec()),
                Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
                Err(e) => Err(e.to_string()),
            },
            NameResolver::Iterative(r) => r
                .resolve(Query::query(name.clone(), rtype), Instant::now(), false)
                .await
                .map(|m| m.answers)
                .map_err(|e| e.to_string()),
        }
    }

    /// The addresses of `name` (A and AAAA), and whether a CNAME was met on the way.
    pub async fn addresses(&self, name: &Name) -> (Result<BTreeSet<IpAddr>, String>, Option<Name>) {
        let (a, aaaa) = tokio::join!(
            self.lookup(name, RecordType::A),
            self.lookup(name, RecordType::AAAA)
        );
        let mut cname = None;
        let mut ips = BTreeSet::new();
        let mut errors = Vec::new();
        for result in [a, aaaa] {
            match result {
                Ok(records) => {
                    for r in records {
                        match r.data {
                            RData::A(a) => {
                                ips.insert(IpAddr::V4(a.0));
                            }
                            RData::AAAA(a) => {
                                ips.insert(IpAddr::V6(a.0));
                            }
                            RData::CNAME(c) if r.name.to_lowercase() == name.to_lowercase() => {
                                cname = Some(c.0)
                            }
                            _ => {}
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if ips.is_empty() && !errors.is_empty() {
            return (Err(errors.join("; ")), cname);
        }
        (Ok(ips), cname)
    }
}

fn stub(servers: &[SocketAddr], opts: ResolverOpts) -> Result<TokioResolver, String> {
    if servers.is_empty() {
        return Err("the resolver has no servers".into());
    }
    let configs = servers
        .iter()
        .map(|sa| {
            let mut udp = ConnectionConfig::udp();
            udp.port = sa.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = sa.port();
            NameServerConfig::new(sa.ip(), true, vec![udp, tcp])
        })
        .collect();
    TokioResolver::builder_with_config(
        ResolverConfig::from_parts(None, vec![], configs),
        TokioRuntimeProvider::default(),
    )
    .with_options(opts)
    .build()
    .map_err(|e| e.to_string())
}

/// One entry of a prefix-to-AS table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsEntry {
    pub prefix: ipnet::IpNet,
    pub asn: u32,
}

/// A local prefix-to-origin-AS table.
#[derive(Debug, Clone, Default)]
pub struct AsTable {
    entries: Vec<AsEntry>,
}

impl AsTable {
    /// Parses `ADDRESS-OR-PREFIX ASN [NAME...]` lines (tab or space separated; `#` starts a
    /// comment line), the format of `shared/data/ip-asn.tsv` plus CIDR prefixes.
    pub fn parse(text: &str) -> Result<AsTable, String> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let (Some(addr), Some(asn)) = (fields.next(), fields.next()) else {
                return Err(format!("line {}: expected ADDRESS ASN", i + 1));
            };
            // A bare address is a host prefix.
            let prefix = match addr.parse::<IpAddr>() {
                Ok(ip) => ipnet::IpNet::from(ip),
                Err(_) => addr
                    .parse::<ipnet::IpNet>()
                    .map_err(|_| format!("line {}: bad address or prefix {addr:?}", i + 1))?,
            };
            let asn = asn
                .trim_start_matches("AS")
                .parse::<u32>()
                .map_err(|_| format!("line {}: bad AS number {asn:?}", i + 1))?;
            entries.push(AsEntry { prefix, asn });
        }
        Ok(AsTable { entries })
    }

    pub fn load(path: &Path) -> Result<AsTable, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read AS table {}: {e}", path.display()))?;
        AsTable::parse(&text).map_err(|e| format!("AS table {}: {e}", path.display()))
    }

    /// The origin AS of the longest prefix holding `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<u32> {
        self.entries
            .iter()
            .filter(|e| e.prefix.contains(&ip))
            .max_by_key(|e| e.prefix.prefix_len())
            .map(|e| e.asn)
    }
}

/// The name to ask in a Cymru-style origin zone: reversed octets (IPv4) or nibbles (IPv6).
pub fn origin_name(ip: IpAddr, zone4: &str, zone6: &str) -> Result<Name, String> {
    let text = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!(
                "{}.{}.{}.{}.{}",
                o[3],
                o[2],
                o[1],
                o[0],
                zone4.trim_end_matches('.')
            )
        }
        IpAddr::V6(v6) => {
            let mut labels: Vec<String> = v6
                .octets()
                .iter()
                .flat_map(|b| [b >> 4, b & 0xf])
                .map(|n| format!("{n:x}"))
                .collect();
            labels.reverse();
            format!("{}.{}", labels.join("."), zone6.trim_end_matches('.'))
        }
    };
    Name::from_ascii(format!("{text}.")).map_err(|e| e.to_string())
}

/// The AS numbers in a Cymru-style TXT answer: `"64500 64501 | 192.0.2.0/24 | ZZ | ..."`.
pub fn parse_origin_txt(text: &str) -> Vec<u32> {
    text.split('|')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|a| a.trim_start_matches("AS").parse().ok())
        .collect()
}

/// Finds origin AS numbers the way the profile says.
pub enum AsLookup {
    None,
    Table(AsTable),
    Dns {
        zone4: String,
        zone6: String,
        resolver: Box<NameResolver>,
    },
}

impl AsLookup {
    pub fn new(
        source: &AsSource,
        resolver: &ResolverSettings,
        query: &QuerySettings,
    ) -> Result<AsLookup, String> {
        Ok(match source {
            AsSource::None => AsLookup::None,
            AsSource::Table { path } => AsLookup::Table(AsTable::load(path)?),
            AsSource::Dns {
                zone,
                zone6,
                servers,
            } => {
                let resolver = if servers.is_empty() {
                    NameResolver::new(resolver, query)?
                } else {
                    NameResolver::new(
                        &ResolverSettings::Servers {
                            servers: servers.clone(),
                        },
                        query,
                    )?
                };
                AsLookup::Dns {
                    zone4: zone.clone(),
                    zone6: zone6.clone(),
                    resolver: Box::new(resolver),
                }
            }
        })
    }

    /// The origin ASes of `ip` (several when the prefix is multi-origin), or why unknown.
    pub async fn origin(&self, ip: IpAddr) -> Result<Vec<u32>, String> {
        match self {
            AsLookup::None => Err("no AS source configured".into()),
            AsLookup::Table(t) => t
                .lookup(ip)
                .map(|a| vec![a])
                .ok_or_else(|| "not in the AS table".into()),
            AsLookup::Dns {
                zone4,
                zone6,
                resolver,
            } => {
                let name = origin_name(ip, zone4, zone6)?;
                let records = resolver.lookup(&name, RecordType::TXT).await?;
                let mut asns = Vec::new();
                for r in records {
                    if let RData::TXT(txt) = &r.data {
                        let text: String = txt
                            .txt_data
                            .iter()
                            .map(|s| String::from_utf8_lossy(s))
                            .collect();
                        asns.extend(parse_origin_txt(&text));
                    }
                }
                asns.sort_unstable();
                asns.dedup();
                if asns.is_empty() {
                    Err(format!("no origin AS in TXT at {name}"))
                } else {
                    Ok(asns)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_longest_prefix() {
        let t = AsTable::parse("# c\n192.0.2.0/24\t64500\tA\n192.0.2.128/25 64501\n198.51.100.7\t64502\tX Y\n2001:db8::/32\t64503\n")
            .expect("table");
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(t.lookup(ip("192.0.2.1")), Some(64500));
        assert_eq!(t.lookup(ip("192.0.2.200")), Some(64501));
        assert_eq!(t.lookup(ip("198.51.100.7")), Some(64502));
        assert_eq!(t.lookup(ip("198.51.100.8")), None);
        assert_eq!(t.lookup(ip("2001:db8:5::1")), Some(64503));
        assert!(AsTable::parse("192.0.2.0/33 1").is_err());
        assert!(AsTable::parse("192.0.2.0 x").is_err());
    }

    #[test]
    fn origin_names_and_txt() {
        let n = origin_name(
            "192.0.2.1".parse().expect("ip"),
            "origin.asn.cymru.com.",
            "origin6.asn.cymru.com.",
        )
        .expect("name");
        assert_eq!(n.to_string(), "1.2.0.192.origin.asn.cymru.com.");
        let n6 = origin_name("2001:db8::1".parse().expect("ip"), "o4.", "o6.").expect("name");
        assert!(n6.to_string().starts_with("1.0.0.0.0.0.0.0."));
        assert!(n6.to_string().ends_with("8.b.d.0.1.0.0.2.o6."));
        assert_eq!(
            parse_origin_txt("64500 64501 | 192.0.2.0/24 | ZZ | arin | 2000-01-01"),
            vec![64500, 64501]
        );
    }

    #[test]
    fn shared_ip_asn_table_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ip-asn.tsv");
        if !path.exists() {
            // CI always has ../shared; elsewhere the skip is visible.
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
            assert!(!ci, "{} is missing under CI", path.display());
            eprintln!("SKIPPED: {} is missing", path.display());
            return;
        }
        let t = AsTable::load(&path).expect("ip-asn.tsv parses");
        assert!(t.entries.len() > 1000);
    }
}
