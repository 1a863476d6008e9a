//! The sweep's watch over the published delegations (issue 12): who is told, and when, that
//! a TLD's delegation fails its checks, keeps failing, or works again.
//!
//! A TLD's technical contact and the desk must learn of a broken delegation without being
//! mailed on every sweep. The state is the audit log itself (the TLD's newest
//! `delegation-failing` / `delegation-reminder` / `delegation-recovered` event), so a
//! restart of the daemon or a new sweep schedule cannot lose or repeat a notice. Everything
//! runs in the sweep's own transaction: the results, the events and the notices are stored
//! together or not at all.

use std::collections::BTreeMap;

use rusqlite::Transaction;
use time::OffsetDateTime;

use crate::audit::kinds::Kind;
use crate::audit::{Actor, NewEvent};
use crate::check::{Report, Verdict};
use crate::store::{self, StoreError, WatchState};

/// What the watch does after one sweep.
#[derive(Debug, Clone, Copy)]
pub struct WatchPolicy {
    /// While a reported TLD keeps failing, one reminder per this period; `None`: no reminders.
    pub remind_after: Option<time::Duration>,
}

/// What the watch decided for one TLD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Failing,
    Reminder,
    Recovered,
}

impl Notice {
    fn kind(self) -> &'static str {
        match self {
            Notice::Failing => store::WATCH_EVENT_KINDS[0],
            Notice::Reminder => store::WATCH_EVENT_KINDS[1],
            Notice::Recovered => store::WATCH_EVENT_KINDS[2],
        }
    }

    fn event_kind(self) -> Kind {
        match self {
            Notice::Failing => Kind::DelegationFailing,
            Notice::Reminder => Kind::DelegationReminder,
            Notice::Recovered => Kind::DelegationRecovered,
        }
    }
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// The rule, for one TLD: `was` is its verdict in the previous sweep, `state` its watch
/// events. A failure is reported when the TLD passed or warned before; while it keeps failing,
/// once per `remind_after`; a reported TLD that passes or warns again recovers. `not-run`
/// changes nothing (the delegation could not be judged).
fn decide(
    verdict: Verdict,
    was: Option<&str>,
    state: Option<&WatchState>,
    policy: WatchPolicy,
    now: OffsetDateTime,
) -> Option<Notice> {
    let reported = state.filter(|s| s.last_kind != Notice::Recovered.kind());
    match (verdict, reported) {
        (Verdict::Fail, Some(s)) => {
            let period = policy.remind_after?;
            // An unreadable time is treated as long ago: a reminder too many beats none.
            let due = parse_time(&s.last_time).is_none_or(|last| now - last >= period);
            due.then_some(Notice::Reminder)
        }
        (Verdict::Fail, None) => matches!(was, Some("pass" | "warn")).then_some(Notice::Failing),
        (Verdict::Pass | Verdict::Warn, Some(_)) => Some(Notice::Recovered),
        _ => None,
    }
}

/// After sweep `sweep` is recorded (in `tx`): the audit events and notices its reports call
/// for. `before` holds each TLD's verdict in the previous sweep.
pub fn after_sweep(
    tx: &Transaction<'_>,
    sweep: i64,
    before: &BTreeMap<String, String>,
    reports: &[(String, Report)],
    staff: &str,
    policy: WatchPolicy,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let states = store::watch_states_tx(tx)?;
    for (tld, report) in reports {
        let was = before.get(tld).map(String::as_str);
        let state = states.get(tld);
        let Some(notice) = decide(report.verdict, was, state, policy, now) else {
            continue;
        };
        let since = state.and_then(|s| s.failing_since.as_deref());
        tell(tx, tld, notice, was, since, sweep, report, staff, now)?;
    }
    Ok(())
}

/// Records the audit event (actor `system:sweep`) and queues one notice each to the TLD's
/// technical contact and to the desk.
#[allow(clippy::too_many_arguments)]
fn tell(
    tx: &Transaction<'_>,
    tld: &str,
    notice: Notice,
    was: Option<&str>,
    failing_since: Option<&str>,
    sweep: i64,
    report: &Report,
    staff: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let problems = report.summary();
    let days = failing_since
        .and_then(parse_time)
        .map(|t| (now - t).whole_days());
    let payload = match notice {
        Notice::Failing => serde_json::json!({
            "sweep": sweep, "before": was, "verdict": "fail", "summary": problems,
        }),
        Notice::Reminder => serde_json::json!({
            "sweep": sweep, "verdict": "fail", "failing_since": failing_since, "summary": problems,
        }),
        Notice::Recovered => serde_json::json!({
            "sweep": sweep, "verdict": report.verdict, "failing_since": failing_since,
        }),
    };
    store::append_event(
        tx,
        &NewEvent::of(Actor::system("sweep"), notice.event_kind(), payload)
            .at(now)
            .tld(tld),
    )?;
    let since = match (failing_since, days) {
        (Some(t), Some(d)) => format!(" since {t} ({d} days)"),
        (Some(t), None) => format!(" since {t}"),
        _ => String::new(),
    };
    let (subject, body) = match notice {
        Notice::Failing => (
            format!("[rootdesk] the delegation of .{tld} fails its checks"),
            format!(
                "The published delegation of .{tld} passed the desk's last sweep and fails now.\n\n{problems}\n\nThe desk does not mail again while it keeps failing, except for a reminder after a while.\n"
            ),
        ),
        Notice::Reminder => (
            format!("[rootdesk] reminder: the delegation of .{tld} still fails its checks"),
            format!(
                "The published delegation of .{tld} has failed the desk's sweeps{since}.\n\n{problems}\n\nThe desk reminds you again after the same time while it keeps failing.\n"
            ),
        ),
        Notice::Recovered => (
            format!("[rootdesk] the delegation of .{tld} passes its checks again"),
            format!(
                "The published delegation of .{tld}, reported failing{since}, passes the desk's checks again (verdict: {}).\n",
                report.verdict
            ),
        ),
    };
    let tech = match store::tld_role_holder(tx, tld, "tech")? {
        Some(handle) => store::contact(tx, &handle)?.and_then(|c| c.email),
        None => None,
    };
    let staff = (!staff.is_empty()).then(|| staff.to_string());
    for recipient in tech.into_iter().chain(staff) {
        store::queue_notification(
            tx,
            &store::NewNotification {
                recipient,
                subject: subject.clone(),
                body: body.clone(),
                ticket: None,
                tld: Some(tld.to_string()),
                kind: notice.kind().into(),
            },
            now,
            now,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(kind: &str, time: &str) -> WatchState {
        WatchState {
            last_kind: kind.into(),
            last_time: time.into(),
            failing_since: Some("2026-12-01T00:00:00Z".into()),
        }
    }

    #[test]
    fn the_rule() {
        let now = parse_time("2026-12-10T00:00:00Z").expect("time");
        let weekly = WatchPolicy {
            remind_after: Some(time::Duration::days(7)),
        };
        let never = WatchPolicy { remind_after: None };
        let fresh = state("delegation-failing", "2026-12-05T00:00:00Z");
        let old = state("delegation-failing", "2026-12-02T00:00:00Z");
        let reminded = state("delegation-reminder", "2026-12-09T00:00:00Z");
        let recovered = state("delegation-recovered", "2026-12-02T00:00:00Z");
        use Verdict::*;
        let d = |v, was, s, p| decide(v, was, s, p, now);
        assert_eq!(d(Fail, Some("pass"), None, weekly), Some(Notice::Failing));
        assert_eq!(d(Fail, Some("warn"), None, weekly), Some(Notice::Failing));
        assert_eq!(d(Fail, None, None, weekly), None, "never seen passing");
        assert_eq!(d(Fail, Some("not-run"), None, weekly), None);
        assert_eq!(d(Fail, Some("fail"), Some(&fresh), weekly), None);
        assert_eq!(
            d(Fail, Some("fail"), Some(&old), weekly),
            Some(Notice::Reminder)
        );
        assert_eq!(d(Fail, Some("fail"), Some(&old), never), None);
        assert_eq!(d(Fail, Some("fail"), Some(&reminded), weekly), None);
        assert_eq!(
            d(Pass, Some("fail"), Some(&fresh), weekly),
            Some(Notice::Recovered)
        );
        assert_eq!(
            d(Warn, Some("fail"), Some(&reminded), weekly),
            Some(Notice::Recovered)
        );
        assert_eq!(d(NotRun, Some("fail"), Some(&old), weekly), None);
        assert_eq!(d(Pass, Some("pass"), Some(&recovered), weekly), None);
        assert_eq!(
            d(Fail, Some("pass"), Some(&recovered), weekly),
            Some(Notice::Failing),
            "a new failure after recovery is reported again"
        );
    }
}
