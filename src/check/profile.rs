//! The policy profile: how severe each check is, and how patient the prober is.
//!
//! A desk tightens or relaxes its checks by editing a TOML profile rather than the code
//! (DESIGN §5). The built-in default matches the severities of the design's table; the lab
//! profile shipped in `fixtures/profiles/lab.toml` allows loopback addresses and skips the
//! origin-AS diversity that loopback cannot have. Unknown keys are errors, so that a typo
//! never silently leaves a check at its default.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

super::names::named_enum! {
    /// How a check's findings count toward the verdict.
    pub enum Severity {
        /// The check is not run (or its findings are dropped).
        Off = "off",
        /// Reported; the verdict becomes `warn` at worst.
        Warning = "warning",
        /// Reported; the verdict becomes `fail`.
        Error = "error",
    }
}

/// What a check needs from the servers before it can be judged; a check without it is
/// `not-run`, never `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Judged from the proposal and lookups alone; no query to the servers.
    Nothing,
    /// A name server address to query (`reachable-udp`, `reachable-tcp`).
    Address,
    /// Some server answering the SOA query.
    Answer,
    /// Some server answering the SOA query authoritatively.
    Authority,
}

/// The one declaration of the checks: variant, profile field, id, default severity and what
/// the check needs, in the order of the README's table. Everything per check (the id enum,
/// its words, the profile's `[checks]` table and its defaults, the not-run rules) is derived
/// from it, so a check cannot be half added.
macro_rules! checks {
    ( $( $(#[$doc:meta])* $variant:ident $field:ident $id:literal $default:ident $needs:ident; )+ ) => {
        super::names::named_enum! {
            /// The identifiers of the checks (DESIGN §5), in the order of the README's table.
            pub enum CheckId {
                $( $(#[$doc])* $variant = $id ),+
            }
        }

        impl CheckId {
            /// The default profile's severity.
            pub const fn default_severity(self) -> Severity {
                match self {
                    $( CheckId::$variant => Severity::$default ),+
                }
            }

            /// What the check needs from the servers to be evaluated.
            pub const fn needs(self) -> Needs {
                match self {
                    $( CheckId::$variant => Needs::$needs ),+
                }
            }
        }

        /// The severity of every check, by check id. A check with two levels (for example
        /// `soa-consistent`: serial mismatch versus timer differences) gives its major
        /// findings this severity and its minor ones at most `warning`.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Severities {
            $( #[serde(rename = $id)] pub $field: Severity, )+
        }

        impl Default for Severities {
            fn default() -> Self {
                Severities {
                    $( $field: Severity::$default, )+
                }
            }
        }

        impl Severities {
            /// The configured severity of a check, by its id.
            pub fn get(&self, id: CheckId) -> Severity {
                match id {
                    $( CheckId::$variant => self.$field ),+
                }
            }

            /// Sets the severity of a check.
            pub fn set(&mut self, id: CheckId, severity: Severity) {
                match id {
                    $( CheckId::$variant => self.$field = severity ),+
                }
            }
        }
    };
}

checks! {
    NsCount ns_count "ns-count" Error Nothing;
    NsNameSyntax ns_name_syntax "ns-name-syntax" Error Nothing;
    GlueRequired glue_required "glue-required" Error Nothing;
    AddressRoutable address_routable "address-routable" Error Nothing;
    ReachableUdp reachable_udp "reachable-udp" Error Address;
    ReachableTcp reachable_tcp "reachable-tcp" Error Address;
    Authoritative authoritative "authoritative" Error Answer;
    NsSetMatch ns_set_match "ns-set-match" Error Authority;
    GlueMatch glue_match "glue-match" Error Authority;
    SoaConsistent soa_consistent "soa-consistent" Error Authority;
    NetworkDiversity network_diversity "network-diversity" Error Nothing;
    NoRecursion no_recursion "no-recursion" Error Answer;
    ReferralSize referral_size "referral-size" Error Nothing;
    Edns edns "edns" Warning Answer;
    DsDigest ds_digest "ds-digest" Error Nothing;
    DsMatch ds_match "ds-match" Error Authority;
    DnssecValid dnssec_valid "dnssec-valid" Error Authority;
    DnskeyAlgorithm dnskey_algorithm "dnskey-algorithm" Error Authority;
    Nsec3Params nsec3_params "nsec3-params" Warning Authority;
    SoaValues soa_values "soa-values" Warning Authority;
}

/// How patient the prober is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuerySettings {
    /// How long one query waits for its answer, retransmissions included (milliseconds).
    pub timeout_ms: u64,
    /// UDP retransmissions within that timeout (0: send once).
    pub retries: u32,
    /// Queries in flight at once, over all servers.
    pub concurrency: usize,
    /// The whole check's time budget (milliseconds); queries not done by then fail.
    pub budget_ms: u64,
    /// The EDNS0 UDP payload size advertised in EDNS queries.
    pub edns_payload: u16,
    /// Special-purpose blocks (`"127.0.0.0/8"`, `"::1/128"`) the prober may send to; queries
    /// to any other special-purpose address are refused before a packet is sent.
    pub allow_special_purpose: Vec<String>,
}

impl Default for QuerySettings {
    fn default() -> Self {
        QuerySettings {
            timeout_ms: 3000,
            retries: 2,
            concurrency: 64,
            budget_ms: 60_000,
            edns_payload: 1232,
            allow_special_purpose: Vec::new(),
        }
    }
}

impl QuerySettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }
    pub fn budget(&self) -> Duration {
        Duration::from_millis(self.budget_ms.max(1))
    }

    /// The allowed special-purpose blocks; an entry that is not a block is an error naming it.
    pub fn allowed_blocks(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.allow_special_purpose
            .iter()
            .map(|text| {
                text.parse::<ipnet::IpNet>().map_err(|_| {
                    format!("query.allow_special_purpose: {text:?} is not an address block like \"127.0.0.0/8\" or \"::1/128\"")
                })
            })
            .collect()
    }
}

/// Which resolver finds the addresses of out-of-bailiwick name servers given without any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "mode", rename_all = "kebab-case")]
pub enum ResolverSettings {
    /// The system's resolver (`/etc/resolv.conf`).
    #[default]
    System,
    /// Given recursive servers (`"192.0.2.53:53"`, `"[2001:db8::53]:5353"`).
    Servers { servers: Vec<SocketAddr> },
    /// Iterative resolution from these root server addresses (port 53).
    RootHints { roots: Vec<IpAddr> },
}

/// Where origin AS numbers come from for the network-diversity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "source", rename_all = "kebab-case")]
pub enum AsSource {
    /// No AS lookups: only the /24 and /48 prefix diversity is judged.
    None,
    /// TXT lookups in an origin zone in the Team Cymru style
    /// (`4.3.2.1.origin.asn.cymru.com TXT "64500 | 1.2.3.0/24 | ..."`).
    Dns {
        /// Zone for IPv4 addresses (reversed octets).
        #[serde(default = "default_origin4")]
        zone: String,
        /// Zone for IPv6 addresses (reversed nibbles).
        #[serde(default = "default_origin6")]
        zone6: String,
        /// Recursive servers to ask; empty: the profile's resolver.
        #[serde(default)]
        servers: Vec<SocketAddr>,
    },
    /// A local table: `ADDRESS-OR-PREFIX<TAB>ASN[<TAB>NAME]` lines (`#` comments), longest
    /// prefix wins. A relative path is taken from the profile file's directory.
    Table { path: PathBuf },
}

fn default_origin4() -> String {
    "origin.asn.cymru.com.".into()
}
fn default_origin6() -> String {
    "origin6.asn.cymru.com.".into()
}

impl Default for AsSource {
    fn default() -> Self {
        AsSource::Dns {
            zone: default_origin4(),
            zone6: default_origin6(),
            servers: Vec::new(),
        }
    }
}

/// A complete policy profile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Profile {
    /// Severity per check id.
    pub checks: Severities,
    pub query: QuerySettings,
    pub resolver: ResolverSettings,
    pub asn: AsSource,
}

/// A profile that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid profile {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl Profile {
    /// Parses a profile from TOML text; missing keys take the default.
    pub fn from_toml(text: &str) -> Result<Profile, String> {
        let profile: Profile = toml::from_str(text).map_err(|e| e.to_string())?;
        profile.query.allowed_blocks()?;
        Ok(profile)
    }

    /// Reads a profile file. A relative AS table path is resolved against the file's directory.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut profile = Profile::from_toml(&text).map_err(|message| ProfileError::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        if let AsSource::Table { path: table } = &mut profile.asn {
            if table.is_relative() {
                if let Some(dir) = path.parent() {
                    *table = dir.join(&*table);
                }
            }
        }
        Ok(profile)
    }

    /// The lab profile: loopback and other special-purpose addresses allowed, no
    /// network-diversity check, short timeouts; the built-in twin of `fixtures/profiles/lab.toml`.
    pub fn lab() -> Profile {
        let mut p = Profile::default();
        p.checks.address_routable = Severity::Off;
        p.checks.network_diversity = Severity::Off;
        p.query.timeout_ms = 1000;
        p.query.retries = 1;
        p.query.budget_ms = 20_000;
        p.query.allow_special_purpose = vec!["127.0.0.0/8".into(), "::1/128".into()];
        p.asn = AsSource::None;
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Profile::from_toml("[checks]\nns-cuont = \"off\"\n").is_err());
        assert!(Profile::from_toml("[query]\ntimeout = 5\n").is_err());
        assert!(Profile::from_toml("[checks]\nedns = \"fatal\"\n").is_err());
        assert!(
            Profile::from_toml("[query]\nallow_special_purpose = [\"127.0.0.1/33\"]\n").is_err()
        );
    }

    #[test]
    fn partial_profile_keeps_defaults() {
        let p = Profile::from_toml("[checks]\nedns = \"error\"\n").expect("valid");
        assert_eq!(p.checks.edns, Severity::Error);
        assert_eq!(p.checks.ns_count, Severity::Error);
        assert_eq!(p.query, QuerySettings::default());
    }

    #[test]
    fn resolver_and_asn_forms() {
        let p = Profile::from_toml(
            "[resolver]\nmode = \"servers\"\nservers = [\"127.0.0.1:5353\", \"[::1]:53\"]\n\
             [asn]\nsource = \"table\"\npath = \"ip-asn.tsv\"\n",
        )
        .expect("valid");
        assert!(
            matches!(p.resolver, ResolverSettings::Servers { ref servers } if servers.len() == 2)
        );
        assert!(matches!(p.asn, AsSource::Table { .. }));
        let p = Profile::from_toml("[resolver]\nmode = \"root-hints\"\nroots = [\"127.0.0.2\"]\n")
            .expect("valid");
        assert!(matches!(p.resolver, ResolverSettings::RootHints { .. }));
    }

    #[test]
    fn shipped_profiles_match_the_built_in_ones() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/profiles");
        let default = Profile::load(&dir.join("default.toml")).expect("default.toml parses");
        assert_eq!(default, Profile::default());
        let lab = Profile::load(&dir.join("lab.toml")).expect("lab.toml parses");
        assert_eq!(lab, Profile::lab());
        // Equal to the defaults is not enough (a missing key takes its default): the shipped
        // default profile names every setting.
        let text = std::fs::read_to_string(dir.join("default.toml")).expect("read");
        let defaults = toml::Value::try_from(Profile::default()).expect("defaults");
        let (missing, uncommented) = crate::config::unnamed_settings(&defaults, &text);
        assert!(missing.is_empty(), "default.toml does not name {missing:?}");
        Profile::from_toml(&uncommented).expect("every commented-out setting is a real one");
    }
}
