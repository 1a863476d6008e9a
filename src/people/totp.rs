//! The second factor: RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30-second steps) through totp-rs,
//! checked against the desk's clock with one step of skew either side. Which step was used
//! last is the desk's to record: a code is never accepted twice.

use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Totp};

/// The issuer shown in authenticator apps.
pub const ISSUER: &str = "rootdesk";
/// Seconds per step.
pub const STEP: u64 = 30;

/// A new random secret (160 bits, as RFC 4226 recommends), base32 as authenticator apps take it.
pub fn new_secret() -> Result<String, String> {
    Ok(data_encoding::BASE32_NOPAD.encode(&super::random::<20>()?))
}

fn totp(secret: &str, account: &str) -> Result<Totp, String> {
    let bytes = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .map_err(|e| format!("the stored TOTP secret is not base32: {e}"))?;
    let builder = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(STEP)
        .with_skew(1)
        .with_secret(bytes);
    let builder = if account.is_empty() {
        builder
    } else {
        builder.with_account_name(account).with_issuer(Some(ISSUER))
    };
    builder.build().map_err(|e| format!("TOTP: {e}"))
}

/// The `otpauth://` URI an authenticator app enrols from.
pub fn uri(secret: &str, account: &str) -> Result<String, String> {
    totp(secret, account)?
        .to_url()
        .map_err(|e| format!("TOTP: {e}"))
}

fn unix(now: OffsetDateTime) -> u64 {
    u64::try_from(now.unix_timestamp()).unwrap_or(0)
}

/// The step `code` was made in, if it is valid at `now` (one step either side) and its step
/// comes after `last_step`.
pub fn verify(
    secret: &str,
    code: &str,
    now: OffsetDateTime,
    last_step: Option<i64>,
) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "").ok()?;
    let current = unix(now) / STEP;
    // Each step of the window on its own, so that a code of an older step that was not used
    // is not hidden by the newest one being refused.
    (current.saturating_sub(1)..=current + 1)
        .filter(|step| last_step.is_none_or(|last| i64::try_from(*step).is_ok_and(|s| s > last)))
        .find(|step| {
            let t = step * STEP;
            totp.check(code, t).is_some_and(|matched| matched == *step)
        })
        .and_then(|step| i64::try_from(step).ok())
}

/// The code of `secret` at `time` (for tests and tools; the desk only verifies).
pub fn code_at(secret: &str, time: OffsetDateTime) -> Result<String, String> {
    Ok(totp(secret, "")?.generate(unix(time)).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_reuse() {
        let secret = new_secret().expect("secret");
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_015).expect("time");
        let step = 1_800_000_015 / 30;
        let code = code_at(&secret, now).expect("code");
        assert_eq!(verify(&secret, &code, now, None), Some(step));
        assert_eq!(verify(&secret, &code, now, Some(step)), None, "reused");
        let old = code_at(&secret, now - time::Duration::seconds(30)).expect("code");
        assert_eq!(verify(&secret, &old, now, None), Some(step - 1));
        let older = code_at(&secret, now - time::Duration::seconds(60)).expect("code");
        assert_eq!(verify(&secret, &older, now, None), None);
        assert_eq!(verify(&secret, "12345", now, None), None);
        let uri = uri(&secret, "ann@nic.xa").expect("uri");
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains(&secret), "{uri}");
    }
}
