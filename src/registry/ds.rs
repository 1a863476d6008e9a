//! DS records: the parent-side pointer to a TLD's key-signing key.

use std::fmt;
use std::str::FromStr;

use hickory_proto::dnssec::rdata::DS;
use hickory_proto::dnssec::{Algorithm, DigestType};
use hickory_proto::rr::{RData, RecordType};
use serde::{Deserialize, Serialize};

use super::Invalid;

/// A DS record's data (RFC 4034 §5). The digest length is checked against the digest type;
/// whether the algorithm and digest type are acceptable is the checker's judgement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "DsWire", into = "DsWire")]
pub struct DsRecord {
    pub key_tag: u16,
    pub algorithm: u8,
    pub digest_type: u8,
    pub digest: Vec<u8>,
}

/// The digest length each digest type produces, where the type is known.
pub fn digest_length(digest_type: u8) -> Option<usize> {
    match digest_type {
        1 => Some(20),
        2 => Some(32),
        3 => Some(32),
        4 => Some(48),
        _ => None,
    }
}

impl DsRecord {
    pub fn new(
        key_tag: u16,
        algorithm: u8,
        digest_type: u8,
        digest: Vec<u8>,
    ) -> Result<Self, Invalid> {
        let record = DsRecord {
            key_tag,
            algorithm,
            digest_type,
            digest,
        };
        record.validate()?;
        Ok(record)
    }

    fn validate(&self) -> Result<(), Invalid> {
        let invalid = |reason: String| Invalid::new("DS record", self.to_string(), reason);
        if self.digest.is_empty() {
            return Err(invalid("the digest is empty".into()));
        }
        if self.algorithm == 0 {
            return Err(invalid("algorithm 0 is reserved".into()));
        }
        if self.digest_type == 0 {
            return Err(invalid("digest type 0 is reserved".into()));
        }
        if let Some(expected) = digest_length(self.digest_type) {
            if self.digest.len() != expected {
                return Err(invalid(format!(
                    "digest type {} has a {expected}-octet digest, this one has {} octets",
                    self.digest_type,
                    self.digest.len()
                )));
            }
        }
        Ok(())
    }

    /// Parses presentation form, `KEYTAG ALGORITHM DIGESTTYPE HEX` (the digest may contain
    /// spaces, as in zone files), with hickory's RDATA parser.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let rdata = RData::try_from_str(RecordType::DS, input.trim()).map_err(|e| {
            Invalid::new(
                "DS record",
                input,
                format!("expected 'KEYTAG ALGORITHM DIGESTTYPE HEXDIGEST' ({e})"),
            )
        })?;
        match rdata {
            RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::DS(ds)) => {
                let record = Self::from_hickory(&ds);
                record
                    .validate()
                    .map_err(|e| Invalid::new("DS record", input, e.reason))?;
                Ok(record)
            }
            _ => Err(Invalid::new("DS record", input, "not DS data")),
        }
    }

    pub fn from_hickory(ds: &DS) -> Self {
        DsRecord {
            key_tag: ds.key_tag(),
            algorithm: u8::from(ds.algorithm()),
            digest_type: u8::from(ds.digest_type()),
            digest: ds.digest().to_vec(),
        }
    }

    pub fn to_hickory(&self) -> DS {
        DS::new(
            self.key_tag,
            Algorithm::from_u8(self.algorithm),
            DigestType::from(self.digest_type),
            self.digest.clone(),
        )
    }

    pub fn digest_hex(&self) -> String {
        data_encoding::HEXUPPER.encode(&self.digest)
    }
}

impl fmt::Display for DsRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.key_tag,
            self.algorithm,
            self.digest_type,
            self.digest_hex()
        )
    }
}

impl FromStr for DsRecord {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        DsRecord::parse(s)
    }
}

/// The JSON form: `{"key_tag": 31852, "algorithm": 8, "digest_type": 2, "digest": "89F7..."}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DsWire {
    key_tag: u16,
    algorithm: u8,
    digest_type: u8,
    digest: String,
}

impl TryFrom<DsWire> for DsRecord {
    type Error = Invalid;
    fn try_from(w: DsWire) -> Result<Self, Invalid> {
        let cleaned: String = w.digest.chars().filter(|c| !c.is_whitespace()).collect();
        let digest = data_encoding::HEXUPPER_PERMISSIVE
            .decode(cleaned.as_bytes())
            .map_err(|_| Invalid::new("DS digest", w.digest.clone(), "not hexadecimal"))?;
        DsRecord::new(w.key_tag, w.algorithm, w.digest_type, digest)
    }
}

impl From<DsRecord> for DsWire {
    fn from(r: DsRecord) -> Self {
        DsWire {
            key_tag: r.key_tag,
            algorithm: r.algorithm,
            digest_type: r.digest_type,
            digest: r.digest_hex(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_presentation_form() {
        let ds = DsRecord::parse(
            "31852 8 2 89F7670AFC091B199B47900E4CE4135B9463B7F74D3D19A1C732E78C 345D4DE6",
        )
        .expect("valid DS");
        assert_eq!((ds.key_tag, ds.algorithm, ds.digest_type), (31852, 8, 2));
        assert_eq!(ds.digest.len(), 32);
        assert_eq!(DsRecord::parse(&ds.to_string()), Ok(ds));
    }

    #[test]
    fn refuses_wrong_digest_length() {
        let err = DsRecord::parse("1 8 2 89F7670AFC091B19").expect_err("short digest");
        assert!(err.reason.contains("32-octet"), "{err}");
        assert!(DsRecord::parse("1 8 1 89F7").is_err());
        assert!(DsRecord::parse("x 8 2 00").is_err());
        assert!(DsRecord::parse("1 8 2 ZZ").is_err());
    }

    #[test]
    fn json_round_trip_is_strict() {
        let json = r#"{"key_tag":1,"algorithm":13,"digest_type":2,"digest":"00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"}"#;
        let ds: DsRecord = serde_json::from_str(json).expect("valid");
        assert_eq!(serde_json::to_string(&ds).expect("serialise"), json);
        let extra = json.replace("}", r#","x":1}"#);
        assert!(serde_json::from_str::<DsRecord>(&extra).is_err());
    }
}
