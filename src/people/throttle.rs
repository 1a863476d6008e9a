//! Brute-force limits on logins (issue 14): failures are counted per account (the e-mail as
//! given, lower case, whether or not an account has it) and per source address. After
//! [`FREE_FAILURES`] failures each further one backs off twice as long as the one before, from
//! one second up to [`MAX_BACKOFF`]; while backed off a login is answered 429 and nothing is
//! checked. In memory: a restart forgets, which costs an attacker nothing they could not get
//! by waiting.

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// Failures allowed before back-off starts.
pub const FREE_FAILURES: u32 = 5;
/// The longest back-off.
pub const MAX_BACKOFF: Duration = Duration::minutes(15);
/// Keys tracked at once; beyond it, keys not backed off are forgotten first.
const MAX_KEYS: usize = 20_000;
/// A key with no failure for this long starts afresh.
const FORGET_AFTER: Duration = Duration::hours(1);

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    until: Option<OffsetDateTime>,
    last: OffsetDateTime,
}

/// Failure counts by key (`account:<e-mail>`, `source:<address>`).
#[derive(Debug, Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

fn keys(account: &str, source: Option<&str>) -> Vec<String> {
    let mut keys = vec![format!("account:{}", super::normalise_email(account))];
    if let Some(source) = source {
        keys.push(format!("source:{source}"));
    }
    keys
}

impl Throttle {
    /// `Err(wait)` while the account or the source is backed off.
    pub fn check(
        &self,
        account: &str,
        source: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), Duration> {
        let Ok(entries) = self.entries.lock() else {
            return Err(MAX_BACKOFF);
        };
        let wait = keys(account, source)
            .iter()
            .filter_map(|k| entries.get(k)?.until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failure of `account` from `source`.
    pub fn fail(&self, account: &str, source: Option<&str>, now: OffsetDateTime) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, e| e.until.is_some_and(|u| u > now));
            if entries.len() >= MAX_KEYS {
                // Only backed-off keys are left: forget those that end soonest.
                let mut ends: Vec<OffsetDateTime> =
                    entries.values().filter_map(|e| e.until).collect();
                ends.sort();
                let cut = ends.get(MAX_KEYS / 2).copied().unwrap_or(now);
                entries.retain(|_, e| e.until.is_some_and(|u| u > cut));
            }
        }
        for key in keys(account, source) {
            let entry = entries.entry(key).or_insert(Entry {
                failures: 0,
                until: None,
                last: now,
            });
            if now - entry.last > FORGET_AFTER {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last = now;
            if entry.failures >= FREE_FAILURES {
                let doublings = (entry.failures - FREE_FAILURES).min(20);
                let backoff = Duration::seconds(1i64 << doublings).min(MAX_BACKOFF);
                entry.until = Some(now + backoff);
            }
        }
    }

    /// A successful login clears the account's count (the source's stays: one success does
    /// not excuse guesses at other accounts).
    pub fn succeed(&self, account: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&format!("account:{}", super::normalise_email(account)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_after_five_and_doubles() {
        let t = Throttle::default();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        for _ in 0..4 {
            t.fail("Ann@nic.xa", Some("192.0.2.1"), now);
            assert!(t.check("ann@nic.xa", Some("192.0.2.1"), now).is_ok());
        }
        t.fail("ann@nic.xa", Some("192.0.2.1"), now);
        assert_eq!(t.check("ann@nic.xa", None, now), Err(Duration::seconds(1)));
        assert_eq!(
            t.check("other@nic.xa", Some("192.0.2.1"), now),
            Err(Duration::seconds(1)),
            "the source is backed off too"
        );
        let later = now + Duration::seconds(2);
        assert!(t.check("ann@nic.xa", Some("192.0.2.2"), later).is_ok());
        t.fail("ann@nic.xa", Some("192.0.2.2"), later);
        assert_eq!(
            t.check("ann@nic.xa", None, later),
            Err(Duration::seconds(2))
        );
        t.succeed("ann@nic.xa");
        assert!(t.check("ann@nic.xa", None, later).is_ok());
    }
}
