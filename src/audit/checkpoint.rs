//! Signed checkpoints and the key that signs them.
//!
//! The hash chain shows that events were not changed one by one, but whoever holds the
//! database could rewrite the whole chain. A checkpoint is the desk's Ed25519 signature over
//! (sequence number, hash) of the latest event at a moment: it fixes every event up to it.
//! The private key lives in a file beside the database (PKCS#8 PEM, mode 0600), never in the
//! database or an event; auditors get the public key from `rootdesk audit public-key`.
//!
//! The signed message is these bytes (UTF-8, each line ending in one `\n`):
//!
//! ```text
//! rootdesk-audit-checkpoint-v1
//! <seq in decimal>
//! <hash of event seq, 64 lower-case hex digits>
//! <time of signing, RFC 3339 UTC with microseconds>
//! ```
//!
//! The key id is the first 8 bytes of SHA-256 of the 32-byte public key, in hex.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::{DecodePublicKey, EncodePublicKey};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::AuditError;

/// The first line of every signed checkpoint message.
pub const CHECKPOINT_DOMAIN: &str = "rootdesk-audit-checkpoint-v1";

/// A signed statement that event `seq` has hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    pub seq: u64,
    /// The hash of event `seq` (hex).
    pub hash: String,
    /// When it was signed: RFC 3339 UTC with microseconds, exactly as signed.
    pub time: String,
    /// Which key signed it (see [`key_id`]).
    pub key_id: String,
    /// The Ed25519 signature of [`Checkpoint::message`], 128 lower-case hex digits.
    pub signature: String,
}

impl Checkpoint {
    /// Signs (seq, hash, time) with `key`.
    pub fn sign(key: &SigningKey, seq: u64, hash: &str, time: OffsetDateTime) -> Checkpoint {
        let time = crate::registry::timestamp(time);
        let signature = key.sign(&message(seq, hash, &time));
        Checkpoint {
            seq,
            hash: hash.to_string(),
            time,
            key_id: key_id(&key.verifying_key()),
            signature: data_encoding::HEXLOWER.encode(&signature.to_bytes()),
        }
    }

    /// The bytes the signature covers.
    pub fn message(&self) -> Vec<u8> {
        message(self.seq, &self.hash, &self.time)
    }

    /// Whether `key` made this signature. Strict Ed25519 verification (no malleable forms).
    pub fn verify_signature(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = data_encoding::HEXLOWER_PERMISSIVE.decode(self.signature.as_bytes()) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        key.verify_strict(&self.message(), &signature).is_ok()
    }
}

fn message(seq: u64, hash: &str, time: &str) -> Vec<u8> {
    format!("{CHECKPOINT_DOMAIN}\n{seq}\n{hash}\n{time}\n").into_bytes()
}

/// The key id: hex of the first 8 bytes of SHA-256(public key).
pub fn key_id(key: &VerifyingKey) -> String {
    let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    data_encoding::HEXLOWER.encode(&digest[..8])
}

/// What the store's `sign_checkpoint` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointOutcome {
    /// A new checkpoint of the latest event.
    Signed(Checkpoint),
    /// The latest event already had a checkpoint; nothing was added.
    AlreadySigned(Checkpoint),
    /// The log is empty.
    NoEvents,
}

/// Creates a new signing key in `path` (PKCS#8 PEM, mode 0600). Never overwrites a file.
pub fn create_signing_key(path: &Path) -> Result<SigningKey, AuditError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| AuditError::BadKey {
        path: path.to_path_buf(),
        message: format!("no randomness from the operating system: {e}"),
    })?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| AuditError::BadKey {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            AuditError::KeyExists(path.to_path_buf())
        } else {
            AuditError::io(path, e)
        }
    })?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| AuditError::io(path, e))?;
    Ok(key)
}

/// Loads the signing key from `path`, refusing a file that others may read.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, AuditError> {
    load_signing_key_with(path, false)
}

/// Loads the signing key; `allow_readable` accepts a file that group or others may read
/// (the operator said its folder is private).
pub fn load_signing_key_with(path: &Path, allow_readable: bool) -> Result<SigningKey, AuditError> {
    let bad = |message: String| AuditError::BadKey {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            AuditError::KeyMissing(path.to_path_buf())
        } else {
            AuditError::io(path, e)
        }
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| AuditError::io(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 && !allow_readable {
            return Err(AuditError::KeyReadable {
                path: path.to_path_buf(),
                mode: mode & 0o777,
            });
        }
    }
    SigningKey::from_pkcs8_pem(&text)
        .map_err(|e| bad(format!("not an Ed25519 PKCS#8 PEM private key ({e})")))
}

/// How `rootdesk audit public-key` writes the public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PublicKeyFormat {
    /// Standard base64 of the 32 raw key bytes (44 characters).
    Base64,
    /// Lower-case hex of the 32 raw key bytes (64 digits).
    Hex,
    /// X.509 SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), as OpenSSL writes it.
    Pem,
}

/// The public key in `format`.
pub fn format_public_key(key: &VerifyingKey, format: PublicKeyFormat) -> String {
    match format {
        PublicKeyFormat::Base64 => data_encoding::BASE64.encode(key.as_bytes()),
        PublicKeyFormat::Hex => data_encoding::HEXLOWER.encode(key.as_bytes()),
        PublicKeyFormat::Pem => key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_else(|e| format!("(cannot encode: {e})")),
    }
}

/// A public key in any of the [`PublicKeyFormat`]s.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, AuditError> {
    let text = text.trim();
    let bad = |m: &str| AuditError::BadPublicKey(m.to_string());
    let bytes: Vec<u8> = if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        return VerifyingKey::from_public_key_pem(text)
            .map_err(|e| bad(&format!("not an Ed25519 public key PEM ({e})")));
    } else if text.len() == 64 {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .map_err(|_| bad("64 characters but not hex"))?
    } else if text.len() == 44 {
        data_encoding::BASE64
            .decode(text.as_bytes())
            .map_err(|_| bad("44 characters but not base64"))?
    } else {
        return Err(bad(
            "expected the output of `rootdesk audit public-key`: 44 base64 characters, 64 hex digits or a PEM public key",
        ));
    };
    let raw: [u8; 32] = bytes.try_into().map_err(|_| bad("not 32 bytes long"))?;
    VerifyingKey::from_bytes(&raw).map_err(|_| bad("not a valid Ed25519 point"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let time = time::macros::datetime!(2026-01-02 03:04:05.123456 UTC);
        let cp = Checkpoint::sign(&key, 42, &"ab".repeat(32), time);
        assert_eq!(cp.time, "2026-01-02T03:04:05.123456Z");
        assert_eq!(
            cp.message(),
            format!(
                "rootdesk-audit-checkpoint-v1\n42\n{}\n2026-01-02T03:04:05.123456Z\n",
                "ab".repeat(32)
            )
            .into_bytes()
        );
        assert!(cp.verify_signature(&key.verifying_key()));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(!cp.verify_signature(&other.verifying_key()));
        let mut forged = cp.clone();
        forged.seq = 43;
        assert!(!forged.verify_signature(&key.verifying_key()));
        let mut garbage = cp;
        garbage.signature = "zz".into();
        assert!(!garbage.verify_signature(&key.verifying_key()));
    }

    #[test]
    fn public_key_formats_round_trip() {
        let key = SigningKey::from_bytes(&[9; 32]).verifying_key();
        for format in [
            PublicKeyFormat::Base64,
            PublicKeyFormat::Hex,
            PublicKeyFormat::Pem,
        ] {
            let text = format_public_key(&key, format);
            assert_eq!(parse_public_key(&text).expect("parses"), key, "{format:?}");
        }
        assert!(parse_public_key("hello").is_err());
        assert_eq!(key_id(&key).len(), 16);
    }

    #[test]
    fn key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.pem");
        let key = create_signing_key(&path).expect("create");
        assert_eq!(load_signing_key(&path).expect("load"), key);
        assert!(matches!(
            create_signing_key(&path),
            Err(AuditError::KeyExists(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let err = load_signing_key(&path).expect_err("world-readable key refused");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        assert!(matches!(
            load_signing_key(&dir.path().join("none")),
            Err(AuditError::KeyMissing(_))
        ));
    }
}
