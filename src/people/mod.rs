//! Persons (issue 14): an account per person with a password and a second factor, kept apart
//! from the TLDs' public contacts. This module holds the model and the secrets' rules: argon2id
//! password hashes ([`password`]), RFC 6238 codes ([`totp`]), the in-memory brute-force limits
//! ([`throttle`]), and random secrets. No I/O: the desk (`desk::people`) stores and audits.

pub mod password;
pub mod throttle;
pub mod totp;

pub use crate::store::persons::{Person, Status};
use crate::store::Role;

/// How many recovery codes a person gets at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// The roles a person may have.
pub fn person_role(text: &str) -> Option<Role> {
    match Role::parse(text)? {
        r @ (Role::Manager | Role::Staff | Role::Auditor) => Some(r),
        Role::Contact => None,
    }
}

/// An e-mail address as persons are looked up by: trimmed, lower case.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Whether `email` looks like an address (one `@`, text either side, no spaces).
pub fn plausible_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(local), Some(domain), None)
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
    ) && !email
        .chars()
        .any(|c| c.is_whitespace() || crate::registry::is_forbidden_char(c))
}

/// Random bytes from the operating system.
pub fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| format!("no randomness from the operating system: {e}"))?;
    Ok(bytes)
}

/// A new person id: `p-` and 16 hex digits.
pub fn new_person_id() -> Result<String, String> {
    Ok(format!(
        "p-{}",
        data_encoding::HEXLOWER.encode(&random::<8>()?)
    ))
}

/// A bearer secret (invitation, session, CSRF token, person token): 256 bits, URL-safe.
pub fn new_secret() -> Result<String, String> {
    Ok(data_encoding::BASE64URL_NOPAD.encode(&random::<32>()?))
}

/// Ten recovery codes, 80 bits each, base32 in groups of four (`ABCD-EFGH-IJKL-MNOP`).
pub fn new_recovery_codes() -> Result<Vec<String>, String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let text = data_encoding::BASE32_NOPAD.encode(&random::<10>()?);
            let groups: Vec<&str> = (0..text.len())
                .step_by(4)
                .map(|i| &text[i..(i + 4).min(text.len())])
                .collect();
            Ok(groups.join("-"))
        })
        .collect()
}

/// A recovery code as it is hashed: upper case, without dashes or spaces, so that the way
/// a person types it does not matter.
pub fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The hex SHA-256 under which secrets are stored (the same as role tokens').
pub fn secret_hash(secret: &str) -> String {
    crate::registry::token_hash(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_distinct_and_normalise() {
        let codes = new_recovery_codes().expect("codes");
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        assert_eq!(codes[0].len(), 19, "{}", codes[0]);
        assert_eq!(
            normalise_recovery_code(&codes[0].to_lowercase()),
            codes[0].replace('-', "")
        );
    }

    #[test]
    fn ids_and_emails() {
        let id = new_person_id().expect("id");
        assert!(id.starts_with("p-") && id.len() == 18, "{id}");
        assert_eq!(normalise_email(" Ann@Nic.XA "), "ann@nic.xa");
        assert!(plausible_email("ann@nic.xa"));
        assert!(!plausible_email("ann"));
        assert!(!plausible_email("a@b@c.xa"));
        assert!(!plausible_email("ann @nic.xa"));
    }
}
