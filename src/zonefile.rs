//! Root zone master files in and out (RFC 1035 syntax).
//!
//! Records are parsed by hickory's zone file parser and written with hickory's record types.
//! The parser reports no line numbers and refuses types it cannot build from text (RRSIG,
//! NSEC, DNSKEY, ZONEMD), so a light first pass splits the file into logical records with
//! their line numbers, sets aside the DNSSEC records of the apex (not delegation data), and
//! keeps an index from owner and type to line, so that every refusal names its line.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hickory_proto::rr::rdata::{A, AAAA, NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::{parse_ttl, Parser};

use crate::registry::{Apex, DsRecord, HostName, RootZone, Soa, TldDelegation, TldLabel};

/// A zone file that cannot be imported: the file, the line and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct ZoneFileError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is the file as a whole.
    pub line: usize,
    pub reason: String,
}

/// Types at the apex that are not delegation data and are set aside on import.
const APEX_IGNORED: &[&str] = &["DNSKEY", "ZONEMD", "NSEC3PARAM", "CDS", "CDNSKEY"];
/// Types ignored wherever they stand: signatures and denial of existence.
const IGNORED: &[&str] = &["RRSIG", "NSEC", "NSEC3"];
const CLASSES: &[&str] = &["IN", "CH", "CS", "HS", "ANY", "NONE"];

/// One logical record of the file (parentheses joined, comments removed).
struct Logical {
    line: usize,
    text: String,
    /// The owner was omitted: the line started with white space.
    inherits_owner: bool,
}

/// Splits a master file into logical records. This only finds where records begin and end
/// (comments, quotes, parentheses); reading them is hickory's job.
fn logical_records(text: &str) -> Result<Vec<Logical>, (usize, String)> {
    let mut records = Vec::new();
    let mut current = String::new();
    let mut start_line = 1;
    let mut line = 1;
    let mut depth = 0usize;
    let mut paren_line = 0;
    let mut in_quote = false;
    let mut escaped = false;
    let mut in_comment = false;
    let mut at_line_start = true;
    let mut inherits_owner = false;
    for c in text.chars() {
        if at_line_start && depth == 0 && current.trim().is_empty() {
            start_line = line;
            inherits_owner = c == ' ' || c == '\t';
        }
        at_line_start = c == '\n';
        if c == '\n' {
            in_comment = false;
            if depth == 0 && !in_quote {
                if !current.trim().is_empty() {
                    records.push(Logical {
                        line: start_line,
                        text: std::mem::take(&mut current),
                        inherits_owner,
                    });
                }
                current.clear();
            } else {
                current.push(' ');
            }
            line += 1;
            continue;
        }
        if in_comment {
            continue;
        }
        if in_quote {
            current.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        match c {
            ';' => in_comment = true,
            '"' => {
                in_quote = true;
                current.push(c);
            }
            '(' => {
                if depth == 0 {
                    paren_line = line;
                }
                depth += 1;
                current.push(' ');
            }
            ')' => {
                if depth == 0 {
                    return Err((line, "')' without a matching '('".into()));
                }
                depth -= 1;
                current.push(' ');
            }
            '\r' => {}
            _ => current.push(c),
        }
    }
    if in_quote {
        return Err((start_line, "unterminated quoted string".into()));
    }
    if depth > 0 {
        return Err((paren_line, "'(' is never closed".into()));
    }
    if !current.trim().is_empty() {
        records.push(Logical {
            line: start_line,
            text: current,
            inherits_owner,
        });
    }
    Ok(records)
}

/// Refuses a name with a U-label that is not valid IDNA2008 or an `xn--` label that does not
/// decode; hickory's own mapping is laxer, and would store a name no registry could hold.
fn check_idna(name: &str) -> Result<(), String> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    let suspect = !bare.is_ascii()
        || bare
            .split('.')
            .any(|l| l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--")));
    if !suspect {
        return Ok(());
    }
    let bad = |why: &str| format!("name {name:?}: {why}");
    let ascii = idna::domain_to_ascii_strict(bare)
        .map_err(|_| bad("not a valid internationalised name (IDNA2008; an xn-- label must decode to a valid U-label)"))?;
    for label in ascii.split('.').filter(|l| l.starts_with("xn--")) {
        let (unicode, result) = idna::domain_to_unicode(label);
        if result.is_err() || unicode == label {
            return Err(bad(&format!(
                "the A-label {label} does not decode to a valid U-label"
            )));
        }
    }
    Ok(())
}

/// A record kept for hickory, with what is needed to point at it later.
struct Kept {
    line: usize,
    owner: Name,
    rtype: String,
    /// `$ORIGIN` and `$TTL` in force, to re-parse this record alone.
    origin: Name,
    ttl: Option<String>,
    text: String,
}

/// Reads a root zone master file into delegation data.
pub fn read_root_zone(path: &Path) -> Result<RootZone, ZoneFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ZoneFileError {
        file: path.to_path_buf(),
        line: 0,
        reason: format!("cannot read the file: {e}"),
    })?;
    parse_root_zone(&text, path)
}

/// Parses root zone text; `file` is only used in error messages.
pub fn parse_root_zone(text: &str, file: &Path) -> Result<RootZone, ZoneFileError> {
    let fail = |line: usize, reason: String| ZoneFileError {
        file: file.to_path_buf(),
        line,
        reason,
    };
    let logical = logical_records(text).map_err(|(line, reason)| fail(line, reason))?;

    // First pass: resolve owners, set aside what is not delegation data, keep an index.
    let mut origin = Name::root();
    let mut default_ttl: Option<String> = None;
    let mut owner: Option<Name> = None;
    let mut kept: Vec<Kept> = Vec::with_capacity(logical.len());
    let mut for_hickory = String::with_capacity(text.len());
    for record in &logical {
        let mut tokens = record.text.split_whitespace();
        let first = tokens.next().unwrap_or_default();
        if let Some(directive) = first.strip_prefix('$') {
            let argument = tokens
                .next()
                .ok_or_else(|| fail(record.line, format!("${directive} needs an argument")))?;
            match directive.to_ascii_uppercase().as_str() {
                "ORIGIN" => {
                    origin = Name::parse(argument, Some(&origin))
                        .map_err(|e| fail(record.line, format!("bad $ORIGIN {argument:?}: {e}")))?;
                }
                "TTL" => {
                    parse_ttl(argument)
                        .map_err(|e| fail(record.line, format!("bad $TTL {argument:?}: {e}")))?;
                    default_ttl = Some(argument.to_string());
                }
                "INCLUDE" => {
                    return Err(fail(
                        record.line,
                        "$INCLUDE is not supported: import one self-contained file".into(),
                    ))
                }
                other => return Err(fail(record.line, format!("unknown directive ${other}"))),
            }
            for_hickory.push_str(&record.text);
            for_hickory.push('\n');
            continue;
        }
        let rest: Vec<&str> = if record.inherits_owner {
            record.text.split_whitespace().collect()
        } else {
            let name = if first == "@" {
                origin.clone()
            } else {
                check_idna(first).map_err(|reason| fail(record.line, reason))?;
                Name::parse(first, Some(&origin))
                    .map_err(|e| fail(record.line, format!("bad owner name {first:?}: {e}")))?
            };
            owner = Some(name);
            tokens.collect()
        };
        let Some(owner_name) = owner.clone() else {
            return Err(fail(
                record.line,
                "the first record has no owner name".into(),
            ));
        };
        let mut class = "IN".to_string();
        let mut rtype = None;
        for token in &rest {
            let upper = token.to_ascii_uppercase();
            if parse_ttl(token).is_ok() {
                continue;
            }
            if CLASSES.contains(&upper.as_str()) {
                class = upper;
                continue;
            }
            rtype = Some(upper);
            break;
        }
        let Some(rtype) = rtype else {
            return Err(fail(record.line, "the record has no type".into()));
        };
        if rtype == "NS" {
            if let Some(target) = rest.last() {
                check_idna(target).map_err(|reason| fail(record.line, reason))?;
            }
        }
        if class != "IN" {
            return Err(fail(
                record.line,
                format!("class {class}: the root zone holds only class IN data"),
            ));
        }
        if IGNORED.contains(&rtype.as_str())
            || (owner_name.is_root() && APEX_IGNORED.contains(&rtype.as_str()))
        {
            continue;
        }
        // A record that names its owner absolutely goes to hickory as written; others get
        // their owner spelt out, since records set aside above may have carried it.
        let line_text = if !record.inherits_owner && first.ends_with('.') {
            record.text.trim().to_string()
        } else {
            format!("{} {}", owner_name, rest.join(" "))
        };
        for_hickory.push_str(&line_text);
        for_hickory.push('\n');
        kept.push(Kept {
            line: record.line,
            owner: owner_name,
            rtype,
            origin: origin.clone(),
            ttl: default_ttl.clone(),
            text: line_text,
        });
    }

    // Second pass: hickory reads every kept record at once.
    let records = match Parser::new(for_hickory, None, Some(Name::root())).parse() {
        Ok((_, sets)) => sets,
        Err(_) => return Err(first_bad_record(&kept, file)),
    };

    let mut lines: HashMap<(Name, String), Vec<usize>> = HashMap::new();
    for k in &kept {
        lines
            .entry((k.owner.to_lowercase(), k.rtype.clone()))
            .or_default()
            .push(k.line);
    }
    let line_of = |name: &Name, rtype: RecordType| -> usize {
        lines
            .get(&(name.to_lowercase(), rtype.to_string()))
            .and_then(|l| l.first().copied())
            .unwrap_or(0)
    };

    let mut soa: Option<Soa> = None;
    let mut apex = Apex::default();
    let mut tlds: BTreeMap<TldLabel, TldDelegation> = BTreeMap::new();
    let mut ds_sets: Vec<(TldLabel, BTreeSet<DsRecord>, u32, usize)> = Vec::new();
    let mut hosts: BTreeMap<HostName, BTreeMap<IpAddr, u32>> = BTreeMap::new();
    let mut host_lines: BTreeMap<HostName, usize> = BTreeMap::new();
    for (key, set) in &records {
        let name = key.name.clone().into();
        let rtype = set.record_type();
        let line = line_of(&name, rtype);
        let parsed_count = lines
            .get(&(name.to_lowercase(), rtype.to_string()))
            .map_or(0, Vec::len);
        if parsed_count > set.records_count() {
            return Err(duplicate_record(&kept, &name, rtype, file));
        }
        let tld_of = |what: &str| -> Result<TldLabel, ZoneFileError> {
            if name.num_labels() != 1 {
                return Err(fail(
                    line,
                    format!(
                        "out-of-zone data: {what} at {name} lies below the delegation of {}.; the root zone delegates only top-level domains",
                        name.iter().next_back().map(String::from_utf8_lossy).unwrap_or_default()
                    ),
                ));
            }
            TldLabel::parse(&name.to_ascii()).map_err(|e| fail(line, e.to_string()))
        };
        match rtype {
            RecordType::SOA => {
                if !name.is_root() {
                    return Err(fail(
                        line,
                        format!("SOA at {name}: this is the zone of {name}, not the root zone"),
                    ));
                }
                if set.records_count() != 1 {
                    return Err(fail(line, "the apex has more than one SOA record".into()));
                }
                for record in set.records_without_rrsigs() {
                    if let RData::SOA(s) = &record.data {
                        soa = Some(soa_from(s, record.ttl));
                    }
                }
            }
            RecordType::NS => {
                let mut ns = BTreeSet::new();
                let mut ttl = 0;
                for record in set.records_without_rrsigs() {
                    if let RData::NS(target) = &record.data {
                        let host = HostName::parse(&target.0.to_ascii()).map_err(|e| {
                            fail(line, format!("NS of {name}: {e}"))
                        })?;
                        ns.insert(host);
                        ttl = record.ttl;
                    }
                }
                if name.is_root() {
                    apex = Apex { ns, ns_ttl: ttl };
                } else {
                    let label = tld_of("NS")?;
                    let entry = tlds.entry(label).or_default();
                    entry.ns = ns;
                    entry.ns_ttl = ttl;
                }
            }
            RecordType::DS => {
                let label = tld_of("DS")?;
                let mut ds = BTreeSet::new();
                let mut ttl = 0;
                for record in set.records_without_rrsigs() {
                    if let RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::DS(d)) =
                        &record.data
                    {
                        let ds_record = DsRecord::new(
                            d.key_tag(),
                            u8::from(d.algorithm()),
                            u8::from(d.digest_type()),
                            d.digest().to_vec(),
                        )
                        .map_err(|e| fail(line, format!("DS of {name}: {}", e.reason)))?;
                        ds.insert(ds_record);
                        ttl = record.ttl;
                    }
                }
                ds_sets.push((label, ds, ttl, line));
            }
            RecordType::A | RecordType::AAAA => {
                if name.num_labels() < 2 {
                    return Err(fail(
                        line,
                        format!("{rtype} at {name}: only name server hosts have addresses in the root zone"),
                    ));
                }
                let host = HostName::parse(&name.to_ascii())
                    .map_err(|e| fail(line, format!("glue owner: {e}")))?;
                let addresses = hosts.entry(host.clone()).or_default();
                host_lines.entry(host).or_insert(line);
                for record in set.records_without_rrsigs() {
                    let address = match &record.data {
                        RData::A(a) => IpAddr::V4(a.0),
                        RData::AAAA(a) => IpAddr::V6(a.0),
                        _ => continue,
                    };
                    addresses.insert(address, record.ttl);
                }
            }
            other => {
                return Err(fail(
                    line,
                    format!("{other} at {name} is not root zone delegation data (only SOA, NS, DS, A and AAAA are)"),
                ))
            }
        }
    }
    for (label, ds, ttl, line) in ds_sets {
        let Some(entry) = tlds.get_mut(&label) else {
            return Err(fail(
                line,
                format!("DS at {label}. without NS records: a DS set needs a delegation"),
            ));
        };
        entry.ds = ds;
        entry.ds_ttl = ttl;
    }
    let Some(soa) = soa else {
        return Err(fail(
            0,
            "no SOA record at the root apex: is this a root zone file?".into(),
        ));
    };
    let zone = RootZone {
        soa,
        apex,
        tlds,
        hosts,
    };
    let used: BTreeSet<HostName> = zone.used_hosts().into_iter().cloned().collect();
    if let Some((host, line)) = host_lines.iter().find(|(h, _)| !used.contains(*h)) {
        return Err(fail(
            *line,
            format!("glue for {host}, a name that no TLD (nor the root) uses as a name server"),
        ));
    }
    Ok(zone)
}

fn soa_from(s: &SOA, ttl: u32) -> Soa {
    Soa {
        mname: s.mname.to_ascii(),
        rname: s.rname.to_ascii(),
        serial: s.serial,
        refresh: s.refresh as u32,
        retry: s.retry as u32,
        expire: s.expire as u32,
        minimum: s.minimum,
        ttl,
    }
}

fn parse_one(k: &Kept) -> Result<Vec<Record>, String> {
    let mut text = format!("$ORIGIN {}\n", k.origin);
    if let Some(ttl) = &k.ttl {
        let _ = writeln!(text, "$TTL {ttl}");
    }
    text.push_str(&k.text);
    text.push('\n');
    Parser::new(text, None, Some(k.origin.clone()))
        .parse()
        .map(|(_, sets)| {
            sets.values()
                .flat_map(|s| s.records_without_rrsigs().cloned())
                .collect()
        })
        .map_err(|e| e.to_string())
}

/// The slow path after hickory refused the file: read records one by one to find the line.
fn first_bad_record(kept: &[Kept], file: &Path) -> ZoneFileError {
    for k in kept {
        if let Err(reason) = parse_one(k) {
            return ZoneFileError {
                file: file.to_path_buf(),
                line: k.line,
                reason: format!("cannot parse the {} record: {reason}", k.rtype),
            };
        }
    }
    ZoneFileError {
        file: file.to_path_buf(),
        line: 0,
        reason: "the zone file parser refused the file".into(),
    }
}

/// The slow path for an RRset with fewer records than lines: find the repeated one.
fn duplicate_record(kept: &[Kept], name: &Name, rtype: RecordType, file: &Path) -> ZoneFileError {
    let mut seen: Vec<(RData, usize)> = Vec::new();
    let owner = name.to_lowercase();
    for k in kept
        .iter()
        .filter(|k| k.owner.to_lowercase() == owner && k.rtype == rtype.to_string())
    {
        for record in parse_one(k).unwrap_or_default() {
            if let Some((_, first)) = seen.iter().find(|(data, _)| *data == record.data) {
                return ZoneFileError {
                    file: file.to_path_buf(),
                    line: k.line,
                    reason: format!(
                        "duplicate record: {name} {rtype} {} is already on line {first}",
                        record.data
                    ),
                };
            }
            seen.push((record.data, k.line));
        }
    }
    ZoneFileError {
        file: file.to_path_buf(),
        line: 0,
        reason: format!("duplicate {rtype} record at {name}"),
    }
}

/// Renders delegation data as a master file: the apex SOA, NS and ZONEMD, then every owner in
/// canonical order with its records by type, each RRset sorted.
///
/// Every name is written as its A-label: hickory's `Display` of a `Name` (and so of a
/// `Record`) is the Unicode form, which DNS software reads as different names. The text
/// depends only on the delegation data, so any serial renders to the same bytes again.
pub fn render_root_zone(zone: &RootZone) -> Result<String, ZonemdError> {
    let records = zone_records(zone);
    let digest = zonemd_digest(&records)?;
    Ok(render_records(zone, &records, &digest))
}

/// Renders `records` with a given ZONEMD digest (the digest recorded for the serial).
pub fn render_records(zone: &RootZone, records: &[ExportRecord], digest: &[u8]) -> String {
    let mut out = String::with_capacity(64 * (records.len() + 16));
    let _ = writeln!(
        out,
        "; Root zone delegation data, serial {}, as published by the root zone change desk.\n\
         ; The ZONEMD record (RFC 8976, scheme 1 SIMPLE, hash 1 SHA-384) covers exactly the\n\
         ; records of this file: the SOA, the root's NS, every TLD's NS and DS, and glue.\n\
         ; This is not the signed root zone: it has no DNSKEY, RRSIG or NSEC records.",
        zone.soa.serial
    );
    let mut records = records.iter().peekable();
    // The apex first (SOA, NS), then its ZONEMD, then the other owners.
    while let Some(rr) = records.next_if(|rr| rr.owner == ".") {
        let _ = writeln!(out, "{rr}");
    }
    let _ = writeln!(
        out,
        ". {} {CLASS} ZONEMD {} {ZONEMD_SCHEME_SIMPLE} {ZONEMD_HASH_SHA384} {}",
        zone.soa.ttl,
        zone.soa.serial,
        data_encoding::HEXUPPER.encode(digest)
    );
    for rr in records {
        let _ = writeln!(out, "{rr}");
    }
    out
}

/// The ZONEMD digest of a zone's export, as [`render_root_zone`] writes it.
pub fn zone_digest(zone: &RootZone) -> Result<Vec<u8>, ZonemdError> {
    zonemd_digest(&zone_records(zone))
}

/// Why a publication cannot be exported as it was published.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Digest(#[from] ZonemdError),
    #[error(
        "serial {serial}: the delegation data in the database no longer gives the ZONEMD digest \
         recorded when it was published (recorded {recorded}, now {computed}); \
         the history was changed after publication, so it is not exported"
    )]
    Mismatch {
        serial: u32,
        recorded: String,
        computed: String,
    },
}

/// Renders a publication and checks it against the digest recorded at publication (if any),
/// so that what is exported for a serial is byte for byte what was published.
pub fn export_root_zone(zone: &RootZone, recorded: Option<&[u8]>) -> Result<String, ExportError> {
    let records = zone_records(zone);
    let digest = zonemd_digest(&records)?;
    if let Some(recorded) = recorded {
        if recorded != digest.as_slice() {
            return Err(ExportError::Mismatch {
                serial: zone.soa.serial,
                recorded: data_encoding::HEXUPPER.encode(recorded),
                computed: data_encoding::HEXUPPER.encode(&digest),
            });
        }
    }
    Ok(render_records(zone, &records, &digest))
}

/// ZONEMD scheme 1, SIMPLE (RFC 8976 §2.2.3).
pub const ZONEMD_SCHEME_SIMPLE: u8 = 1;
/// ZONEMD hash algorithm 1, SHA-384 (RFC 8976 §2.2.4).
pub const ZONEMD_HASH_SHA384: u8 = 1;

/// A record that cannot be put in wire form for the digest (a name hickory refuses).
#[derive(Debug, thiserror::Error)]
#[error("cannot compute the zone digest: record {owner} {rtype}: {reason}")]
pub struct ZonemdError {
    pub owner: String,
    pub rtype: RecordType,
    pub reason: String,
}

/// The SHA-384 ZONEMD digest (RFC 8976 §3, scheme SIMPLE) of the export's records.
///
/// Each record is put in DNSSEC canonical wire form by hickory's encoder (owner and names in
/// RDATA uncompressed and lower case, RFC 4034 §6.2); the records are sorted by owner in
/// canonical order, then type, then RDATA (RFC 8976 §3.3.1), duplicates dropped, and hashed
/// in that order. The apex ZONEMD itself is not among `records`, as §3.1 requires.
pub fn zonemd_digest(records: &[ExportRecord]) -> Result<Vec<u8>, ZonemdError> {
    use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
    use sha2::Digest as _;

    let mut wire: Vec<(Name, u16, Vec<u8>, usize)> = Vec::with_capacity(records.len());
    for rr in records {
        let fail = |reason: String| ZonemdError {
            owner: rr.owner.clone(),
            rtype: rr.rtype,
            reason,
        };
        let owner = Name::from_ascii(&rr.owner)
            .map_err(|e| fail(e.to_string()))?
            .to_lowercase();
        let record = Record::from_rdata(owner.clone(), rr.ttl, rr.data.clone());
        let mut bytes = Vec::with_capacity(64);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_canonical_form(true);
        encoder.set_name_encoding(NameEncoding::UncompressedLowercase);
        record.emit(&mut encoder).map_err(|e| fail(e.to_string()))?;
        // Owner, then TYPE, CLASS, TTL and RDLENGTH (10 octets): RDATA starts after them.
        let rdata_at = owner.to_bytes().map_err(|e| fail(e.to_string()))?.len() + 10;
        wire.push((owner, u16::from(rr.rtype), bytes, rdata_at));
    }
    wire.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then_with(|| a.2[a.3..].cmp(&b.2[b.3..]))
    });
    wire.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
    let mut hash = sha2::Sha384::new();
    for (_, _, bytes, _) in &wire {
        hash.update(bytes);
    }
    Ok(hash.finalize().to_vec())
}

/// One record of the export, all names in A-label presentation form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRecord {
    /// Absolute owner name, A-label, with the trailing dot.
    pub owner: String,
    pub ttl: u32,
    pub rtype: RecordType,
    pub data: RData,
}

impl std::fmt::Display for ExportRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {CLASS} {} ", self.owner, self.ttl, self.rtype)?;
        match &self.data {
            RData::NS(ns) => f.write_str(&ns.0.to_ascii()),
            RData::SOA(s) => write!(
                f,
                "{} {} {} {} {} {} {}",
                s.mname.to_ascii(),
                s.rname.to_ascii(),
                s.serial,
                s.refresh,
                s.retry,
                s.expire,
                s.minimum
            ),
            // A, AAAA and DS hold no names: hickory's presentation form is the DNS one.
            other => write!(f, "{other}"),
        }
    }
}

/// The records of the export in file order: SOA, apex NS, then owners canonically.
pub fn zone_records(zone: &RootZone) -> Vec<ExportRecord> {
    let mut out = Vec::with_capacity(zone.tlds.len() * 12 + zone.hosts.len() * 2 + 16);
    let mut push = |owner: String, ttl: u32, data: RData| {
        out.push(ExportRecord {
            owner,
            ttl,
            rtype: data.record_type(),
            data,
        });
    };
    let s = &zone.soa;
    if let (Ok(mname), Ok(rname)) = (Name::from_str(&s.mname), Name::from_str(&s.rname)) {
        push(
            ".".into(),
            s.ttl,
            RData::SOA(SOA::new(
                mname,
                rname,
                s.serial,
                s.refresh as i32,
                s.retry as i32,
                s.expire as i32,
                s.minimum,
            )),
        );
    }
    for host in &zone.apex.ns {
        push(".".into(), zone.apex.ns_ttl, RData::NS(NS(host.to_name())));
    }

    // Owners in canonical order: TLDs, and the hosts beneath them.
    enum Owner<'a> {
        Tld(&'a TldLabel, &'a TldDelegation),
        Host(&'a HostName, &'a BTreeMap<IpAddr, u32>),
    }
    let mut owners: Vec<(Vec<&str>, Owner)> =
        Vec::with_capacity(zone.tlds.len() + zone.hosts.len());
    for (label, delegation) in &zone.tlds {
        owners.push((vec![label.as_str()], Owner::Tld(label, delegation)));
    }
    for (host, addresses) in &zone.hosts {
        owners.push((
            host.as_str().rsplit('.').collect(),
            Owner::Host(host, addresses),
        ));
    }
    owners.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, owner) in owners {
        match owner {
            Owner::Tld(label, d) => {
                let name = format!("{}.", label.as_str());
                for host in &d.ns {
                    push(name.clone(), d.ns_ttl, RData::NS(NS(host.to_name())));
                }
                for ds in &d.ds {
                    push(
                        name.clone(),
                        d.ds_ttl,
                        RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::DS(
                            ds.to_hickory(),
                        )),
                    );
                }
            }
            Owner::Host(host, addresses) => {
                let name = host.to_fqdn();
                // A before AAAA (type order); BTreeMap keeps IPv4 before IPv6, each sorted.
                for (address, ttl) in addresses {
                    let data = match address {
                        IpAddr::V4(v4) => RData::A(A(*v4)),
                        IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
                    };
                    push(name.clone(), *ttl, data);
                }
            }
        }
    }
    out
}

/// The DNS class every record carries; kept for readers of the rendered text.
pub const CLASS: DNSClass = DNSClass::IN;

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "\
$ORIGIN .
$TTL 86400
@  86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. ( 2026082201 ; serial
        1800 900 604800 86400 )
.  518400 IN NS a.root-servers.net.
.  172800 IN DNSKEY 256 3 8 AwEAAeCYD6Z7
.  86400 IN RRSIG SOA 8 0 86400 20260904170000 20260822160000 46441 . abc=
example.net. 172800 IN A 198.51.100.1
a.root-servers.net. 518400 IN A 198.41.0.4
de.  172800 IN NS a.nic.de.
     172800 IN NS ns.example.net.
de.  86400 IN DS 26755 8 2 F341357809A5954311CCB82ADE114C6C1D724A75C0395137AA397803 5425E78D
a.nic.de. 172800 IN A 194.0.0.53
a.nic.de. 172800 IN AAAA 2001:678:2::53
ns.example.net. 172800 IN A 198.51.100.1
";

    fn parse(text: &str) -> Result<RootZone, ZoneFileError> {
        parse_root_zone(text, Path::new("test.zone"))
    }

    #[test]
    fn refuses_bad_idn_names_with_their_line() {
        let clean = SMALL.replace("\nexample.net. 172800 IN A 198.51.100.1\n", "\n");
        // A valid U-label is accepted and stored as its A-label.
        let text = format!("{clean}рф. 172800 IN NS a.nic.de.\n");
        let zone = parse(&text).expect("valid U-label");
        assert!(zone.tlds.keys().any(|l| l.as_str() == "xn--p1ai"));
        let lines = clean.lines().count() + 1;
        for (bad, expect) in [
            ("xn--zzzzzzz-9999. 172800 IN NS a.nic.de.", "IDNA2008"),
            (
                "a\u{301}\u{301}\u{200d}. 172800 IN NS a.nic.de.",
                "IDNA2008",
            ),
            ("xa. 172800 IN NS ns.xn--zzzzzzz-9999.de.", "IDNA2008"),
        ] {
            let err = parse(&format!("{clean}{bad}\n")).expect_err(bad);
            assert!(err.reason.contains(expect), "{bad}: {err}");
            assert_eq!(err.line, lines, "{bad}: {err}");
        }
    }

    /// RFC 8976 Appendix A.1, the simple example zone: the digest is the RFC's.
    #[test]
    fn zonemd_digest_matches_rfc_8976_appendix_a1() {
        let name = |n: &str| Name::from_ascii(n).expect("name");
        let rr = |owner: &str, ttl: u32, data: RData| ExportRecord {
            owner: owner.into(),
            ttl,
            rtype: data.record_type(),
            data,
        };
        let records = vec![
            rr(
                "example.",
                86400,
                RData::SOA(SOA::new(
                    name("ns1.example."),
                    name("admin.example."),
                    2018031900,
                    1800,
                    900,
                    604800,
                    86400,
                )),
            ),
            rr("example.", 86400, RData::NS(NS(name("ns2.example.")))),
            rr("example.", 86400, RData::NS(NS(name("NS1.example.")))),
            // A repeated record counts once (RFC 8976 §3.3.1.1).
            rr("example.", 86400, RData::NS(NS(name("ns1.example.")))),
            rr(
                "ns2.example.",
                3600,
                RData::AAAA(AAAA("2001:db8::63".parse().expect("ip"))),
            ),
            rr(
                "NS1.example.",
                3600,
                RData::A(A("203.0.113.63".parse().expect("ip"))),
            ),
        ];
        let digest = zonemd_digest(&records).expect("digest");
        assert_eq!(
            data_encoding::HEXLOWER.encode(&digest),
            "c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3\
             a1ddc0b9a87153b9a9713b3c9ae5cc27777f98b8e730044c"
        );
    }

    #[test]
    fn splits_logical_records() {
        let records = logical_records("a ( 1\n 2 ) ; c\n\n  b \"x;y\"\n").expect("splits");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].line, 1);
        assert!(!records[0].inherits_owner);
        assert_eq!(records[1].line, 4);
        assert!(records[1].inherits_owner);
        assert!(records[1].text.contains("\"x;y\""));
        assert!(logical_records("a ( 1\n").is_err());
        assert!(logical_records("a ) 1\n").is_err());
    }

    #[test]
    fn reads_delegations() {
        let zone = parse(&SMALL.replace("\nexample.net. 172800 IN A 198.51.100.1\n", "\n"))
            .expect("parses");
        assert_eq!(zone.soa.serial, 2026082201);
        let de = TldLabel::parse("de").expect("label");
        let d = zone.delegation(&de).expect("de delegated");
        assert_eq!(d.nameservers.len(), 2);
        assert_eq!(d.ds.len(), 1);
        assert_eq!(zone.apex.ns.len(), 1);
        let text = render_root_zone(&zone).expect("digest");
        let again = parse(&text).expect("own output parses");
        assert_eq!(zone, again);
    }

    #[test]
    fn refuses_with_line_numbers() {
        // example.net. is not a name server of anything.
        let err = parse(SMALL).expect_err("unused glue");
        assert_eq!(err.line, 8, "{err}");
        assert!(err.reason.contains("no TLD"), "{err}");

        let clean = SMALL.replace("\nexample.net. 172800 IN A 198.51.100.1\n", "\n");
        let cases: &[(&str, &str, &str)] = &[
            (
                "a.nic.de. 172800 IN A 194.0.0.53\n",
                "a.nic.de. 172800 IN A 194.0.0.999\n",
                "cannot parse",
            ),
            (
                "de.  172800 IN NS a.nic.de.\n",
                "www.de.  172800 IN NS a.nic.de.\n",
                "out-of-zone",
            ),
            (
                "de.  172800 IN NS a.nic.de.\n",
                "de1.  172800 IN NS a.nic.de.\n",
                "letters only",
            ),
            ("5425E78D\n", "5425E7\n", "32-octet"),
            (
                "a.nic.de. 172800 IN A 194.0.0.53\n",
                "a.nic.de. 172800 IN A 194.0.0.53\na.nic.de. 172800 IN A 194.0.0.53\n",
                "duplicate",
            ),
            (
                "a.nic.de. 172800 IN A 194.0.0.53\n",
                "a.nic.de. 172800 IN MX 10 mx.de.\n",
                "not root zone delegation data",
            ),
            (
                "a.nic.de. 172800 IN A 194.0.0.53\n",
                "a.nic.de. 172800 CH A 194.0.0.53\n",
                "class CH",
            ),
        ];
        for (from, to, expect) in cases {
            let text = clean.replacen(from, to, 1);
            assert_ne!(text, clean, "case {expect} did not apply");
            let err = parse(&text).expect_err(expect);
            assert!(err.reason.contains(expect), "{expect}: {err}");
            assert!(err.line > 0, "{expect}: no line in {err}");
        }
    }
}
