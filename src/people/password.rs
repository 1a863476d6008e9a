//! Passwords: argon2id with the crate's recommended parameters, stored as PHC strings.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// The shortest password accepted, in characters.
pub const MIN_CHARS: usize = 12;
/// The longest, so that hashing cost stays bounded.
pub const MAX_CHARS: usize = 256;

/// Why a new password is refused, for the person to act on.
pub fn check_rules(password: &str, email: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(format!(
            "password: {chars} characters; at least {MIN_CHARS} are needed (a passphrase of a few words is good)"
        ));
    }
    if chars > MAX_CHARS {
        return Err(format!(
            "password: {chars} characters; at most {MAX_CHARS} are accepted"
        ));
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err("password: it must not be your e-mail address".into());
    }
    Ok(())
}

/// The PHC string of a new argon2id hash with a random salt.
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches the PHC string `phc`. A malformed hash matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// Verifies against a fixed hash that nothing matches, so that a login for an unknown
/// account costs the same argon2 work as one for a known account.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc =
        DUMMY.get_or_init(|| hash("rootdesk dummy password, never anyone's").unwrap_or_default());
    let _ = verify(password, phc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verify_and_rules() {
        let phc = hash("correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
        assert!(!verify("x", "not a hash"));
        assert!(check_rules("short", "a@b.xa").is_err());
        assert!(check_rules("ann@nic.example", "ann@nic.example").is_err());
        assert!(check_rules("a long enough phrase", "ann@nic.example").is_ok());
    }
}
