//! DS automation in the workflow (issue 12 part 2): requests the desk's CDS scanner opens
//! for a TLD, and the rules they follow, as pure decisions.
//!
//! The TLD's `cds` setting is recorded in the request's `submitted` event, so a later change
//! of the setting never changes the rules of a request already open. `with-consent` asks the
//! usual consents. `notify-only` asks none: the technical contact is told at once, and the
//! request waits in `contact-confirmation` for the hold (`[cds] hold_days`), during which any
//! contact of the TLD may withdraw it; then the system ends the hold and it goes to review.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Party, Proposal, State, WorkflowError};

/// A TLD's `cds` setting: whether and how the desk acts on its CDS/CDNSKEY records.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum CdsMode {
    /// The desk never acts on CDS for this TLD (the default).
    #[default]
    Off,
    /// A CDS change opens a request that needs the usual contact consents.
    WithConsent,
    /// A CDS change opens a request that needs no consent: the technical contact is told,
    /// and it proceeds after the hold unless a contact of the TLD withdraws it.
    NotifyOnly,
}

impl CdsMode {
    pub const ALL: [CdsMode; 3] = [CdsMode::Off, CdsMode::WithConsent, CdsMode::NotifyOnly];

    pub fn as_str(self) -> &'static str {
        match self {
            CdsMode::Off => "off",
            CdsMode::WithConsent => "with-consent",
            CdsMode::NotifyOnly => "notify-only",
        }
    }

    /// Parses `off`, `with-consent` or `notify-only`.
    pub fn parse(text: &str) -> Result<CdsMode, String> {
        CdsMode::ALL
            .into_iter()
            .find(|m| m.as_str() == text.trim())
            .ok_or_else(|| {
                format!("unknown cds setting {text:?}: use off, with-consent or notify-only")
            })
    }
}

impl std::fmt::Display for CdsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a submission by `by` records as its CDS origin: `None` for anyone but the scanner.
/// The scanner may open only delegation requests, and only for a TLD whose setting is on.
pub fn origin(
    by: &Party,
    tld: &str,
    proposal: &Proposal,
    setting: CdsMode,
) -> Result<Option<CdsMode>, WorkflowError> {
    if *by != Party::CdsScanner {
        return Ok(None);
    }
    if setting == CdsMode::Off {
        return Err(WorkflowError::Forbidden(format!(
            "DS automation is off for {tld}: the CDS scanner opens no requests for it"
        )));
    }
    if !matches!(proposal, Proposal::Delegation { .. }) {
        return Err(WorkflowError::Forbidden(
            "the CDS scanner opens delegation (DS) requests only".into(),
        ));
    }
    Ok(Some(setting))
}

/// Whether a request of this origin asks the contacts' consent.
pub fn asks_consent(origin: Option<CdsMode>) -> bool {
    origin != Some(CdsMode::NotifyOnly)
}

/// Whether the hold of a notify-only request may end at `now`: the request is one, waits in
/// `contact-confirmation`, and `hold_days` have passed since it was submitted.
pub fn hold_may_end(
    origin: Option<CdsMode>,
    state: State,
    submitted_at: OffsetDateTime,
    now: OffsetDateTime,
    hold_days: u32,
) -> Result<(), WorkflowError> {
    if origin != Some(CdsMode::NotifyOnly) {
        return Err(WorkflowError::Conflict(
            "only a notify-only CDS request is held".into(),
        ));
    }
    if state != State::ContactConfirmation {
        return Err(WorkflowError::Conflict(format!(
            "the request is in {state}, not held in contact-confirmation"
        )));
    }
    let held = now - submitted_at;
    if held < time::Duration::days(i64::from(hold_days)) {
        return Err(WorkflowError::Conflict(format!(
            "the hold of {hold_days} days has not passed ({} days so far)",
            held.whole_days()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{Command, Event, Facts, Priority, Recorded, Request};
    use time::macros::datetime;

    fn delegation() -> Proposal {
        serde_json::from_value(serde_json::json!({
            "kind": "delegation",
            "delegation": {"nameservers": [{"name": "ns1.xa", "addresses": ["192.0.2.1"]}]}
        }))
        .expect("proposal")
    }

    fn facts(cds: CdsMode) -> Facts {
        Facts {
            tld_contacts: ["xa-admin", "xa-tech"].map(String::from).into(),
            cds,
            ..Facts::default()
        }
    }

    fn open(cds: CdsMode, at: OffsetDateTime) -> Request {
        let events = Request::submit(
            "RD-1",
            "xa",
            &Party::CdsScanner,
            delegation(),
            Priority::Normal,
            None,
            &facts(cds),
        )
        .expect("submit");
        let recorded: Vec<Recorded> = events
            .into_iter()
            .map(|event| Recorded {
                time: at,
                by: Party::CdsScanner,
                event,
            })
            .collect();
        let mut r = Request::replay(&recorded).expect("replay");
        // The technical check passes.
        let passed = Recorded {
            time: at,
            by: Party::System,
            event: Event::CheckFinished {
                phase: crate::workflow::CheckPhase::Initial,
                revision: 1,
                verdict: crate::workflow::Verdict::Pass,
                check_id: None,
                summary: "pass".into(),
            },
        };
        r.apply(&passed);
        r
    }

    #[test]
    fn modes_parse_and_print() {
        for m in CdsMode::ALL {
            assert_eq!(CdsMode::parse(m.as_str()), Ok(m));
        }
        assert!(CdsMode::parse("on").is_err());
    }

    #[test]
    fn only_the_scanner_has_an_origin_and_only_when_on() {
        let p = delegation();
        assert_eq!(
            origin(
                &Party::Contact("xa-tech".into()),
                "xa",
                &p,
                CdsMode::NotifyOnly
            ),
            Ok(None)
        );
        assert!(origin(&Party::CdsScanner, "xa", &p, CdsMode::Off).is_err());
        let sponsor = Proposal::Sponsor {
            sponsor: "x".into(),
        };
        assert!(origin(&Party::CdsScanner, "xa", &sponsor, CdsMode::WithConsent).is_err());
        assert_eq!(
            origin(&Party::CdsScanner, "xa", &p, CdsMode::WithConsent),
            Ok(Some(CdsMode::WithConsent))
        );
    }

    #[test]
    fn with_consent_asks_the_contacts() {
        let r = open(CdsMode::WithConsent, datetime!(2026-12-01 0:00 UTC));
        assert_eq!(r.state, State::ContactConfirmation);
        assert_eq!(r.pending_consents(), vec!["xa-admin", "xa-tech"]);
        let ended = r.decide(
            &Command::EndHold { hold_days: 3 },
            &Party::System,
            datetime!(2026-12-09 0:00 UTC),
            &facts(CdsMode::WithConsent),
        );
        assert!(
            ended.is_err(),
            "a with-consent request is never released by time"
        );
    }

    #[test]
    fn notify_only_waits_for_the_hold_then_goes_to_review() {
        let t0 = datetime!(2026-12-01 0:00 UTC);
        let r = open(CdsMode::NotifyOnly, t0);
        assert_eq!(r.state, State::ContactConfirmation);
        assert!(r.pending_consents().is_empty());
        assert_eq!(r.cds, Some(CdsMode::NotifyOnly));
        let f = facts(CdsMode::NotifyOnly);
        let early = r.decide(
            &Command::EndHold { hold_days: 3 },
            &Party::System,
            t0 + time::Duration::days(2),
            &f,
        );
        assert!(
            matches!(early, Err(WorkflowError::Conflict(_))),
            "{early:?}"
        );
        // Nobody but the system ends a hold.
        let by_contact = r.decide(
            &Command::EndHold { hold_days: 3 },
            &Party::Contact("xa-tech".into()),
            t0 + time::Duration::days(4),
            &f,
        );
        assert!(matches!(by_contact, Err(WorkflowError::Forbidden(_))));
        let events = r
            .decide(
                &Command::EndHold { hold_days: 3 },
                &Party::System,
                t0 + time::Duration::days(3),
                &f,
            )
            .expect("hold over");
        let mut r2 = r.clone();
        for event in events {
            r2.apply(&Recorded {
                time: t0 + time::Duration::days(3),
                by: Party::System,
                event,
            });
        }
        assert_eq!(r2.state, State::ManualReview);
    }

    #[test]
    fn notify_only_may_be_withdrawn_by_a_contact_during_the_hold() {
        let r = open(CdsMode::NotifyOnly, datetime!(2026-12-01 0:00 UTC));
        let events = r
            .decide(
                &Command::Withdraw {
                    reason: "not our rollover".into(),
                },
                &Party::Contact("xa-admin".into()),
                datetime!(2026-12-02 0:00 UTC),
                &facts(CdsMode::NotifyOnly),
            )
            .expect("withdraw");
        assert!(matches!(events[0], Event::Withdrawn { .. }));
        // A contact of another TLD may not.
        let other = r.decide(
            &Command::Withdraw { reason: "x".into() },
            &Party::Contact("xb-admin".into()),
            datetime!(2026-12-02 0:00 UTC),
            &facts(CdsMode::NotifyOnly),
        );
        assert!(matches!(other, Err(WorkflowError::Forbidden(_))));
    }

    #[test]
    fn the_origin_is_kept_in_the_submitted_event() {
        let events = Request::submit(
            "RD-1",
            "xa",
            &Party::CdsScanner,
            delegation(),
            Priority::Normal,
            None,
            &facts(CdsMode::NotifyOnly),
        )
        .expect("submit");
        let json = serde_json::to_value(&events[0]).expect("json");
        assert_eq!(json["cds"], "notify-only");
        assert_eq!(json["required_consents"], serde_json::json!([]));
        // A person's submission carries no origin field at all (older events replay alike).
        let events = Request::submit(
            "RD-2",
            "xa",
            &Party::Contact("xa-tech".into()),
            delegation(),
            Priority::Normal,
            None,
            &facts(CdsMode::NotifyOnly),
        )
        .expect("submit");
        let json = serde_json::to_value(&events[0]).expect("json");
        assert!(json.get("cds").is_none());
    }
}
