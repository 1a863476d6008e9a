//! Hand-computed timelines: requests driven through the workflow with a fixed clock, every
//! kind and path, each interval asserted to the second, and the desk's clock shown to stop
//! exactly while the TLD owns the request.

use std::collections::BTreeSet;

use rootdesk::metrics::{Measure, Timeline};
use rootdesk::workflow::{
    Assessment, CheckPhase, Command, Criterion, Evaluation, Evidence, EvidenceKind, Facts, Owner,
    Party, Priority, Proposal, Recorded, Request, State, Verdict,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// A request and its events, with a clock that only moves when told.
pub(crate) struct Script {
    request: Request,
    events: Vec<Recorded>,
    now: OffsetDateTime,
    facts: Facts,
}

pub(crate) fn admin() -> Party {
    Party::Contact("xa-admin".into())
}
pub(crate) fn tech() -> Party {
    Party::Contact("xa-tech".into())
}
pub(crate) fn staff() -> Party {
    Party::Staff("staff-1".into())
}

fn contact(handle: &str) -> rootdesk::registry::Contact {
    serde_json::from_value(serde_json::json!({
        "handle": handle, "email": format!("{handle}@nic.xa.example")
    }))
    .expect("contact")
}

pub(crate) fn delegation_proposal(ip: &str) -> Proposal {
    serde_json::from_value(serde_json::json!({
        "kind": "delegation",
        "delegation": { "nameservers": [
            { "name": "ns1.nic.xa", "addresses": [ip] },
            { "name": "ns2.nic.xa", "addresses": ["192.0.2.2"] }
        ] }
    }))
    .expect("proposal")
}

const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

impl Script {
    pub(crate) fn submit(proposal: Proposal, priority: Priority) -> Script {
        let facts = Facts {
            tld_contacts: BTreeSet::from(["xa-admin".to_string(), "xa-tech".to_string()]),
            ..Facts::default()
        };
        let reason = (priority == Priority::Emergency).then(|| "servers compromised".to_string());
        let events = Request::submit(
            "RD-20260302-0001",
            "xa",
            &admin(),
            proposal,
            priority,
            reason,
            &facts,
        )
        .expect("submit");
        let events: Vec<Recorded> = events
            .into_iter()
            .map(|event| Recorded {
                time: T0,
                by: admin(),
                event,
            })
            .collect();
        let request = Request::replay(&events).expect("replay");
        Script {
            request,
            events,
            now: T0,
            facts,
        }
    }

    /// Waits `secs`, then `by` runs `command`.
    pub(crate) fn after(&mut self, secs: i64, by: Party, command: Command) -> &mut Script {
        self.now += Duration::seconds(secs);
        let decided = self
            .request
            .decide(&command, &by, self.now, &self.facts)
            .unwrap_or_else(|e| panic!("{command:?} refused in {}: {e}", self.request.state));
        for event in decided {
            let r = Recorded {
                time: self.now,
                by: by.clone(),
                event,
            };
            self.request.apply(&r);
            self.events.push(r);
        }
        self
    }

    pub(crate) fn check(&mut self, secs: i64, phase: CheckPhase, verdict: Verdict) -> &mut Script {
        let revision = self.request.revision();
        self.after(
            secs,
            Party::System,
            Command::FinishCheck {
                phase,
                revision,
                verdict,
                check_id: None,
                summary: "test".into(),
            },
        )
    }

    /// The request as replayed so far, and its events.
    pub(crate) fn recorded(&self) -> (&Request, &[Recorded]) {
        (&self.request, &self.events)
    }

    pub(super) fn timeline(&self) -> Timeline {
        let t = Timeline::from_events(&self.events).expect("timeline");
        assert_eq!(
            Timeline::from_events(&self.events).expect("again"),
            t,
            "recomputing gives the same figures"
        );
        t
    }
}

fn values(t: &Timeline, m: Measure) -> Vec<i64> {
    t.values(m).map(|v| v.round() as i64).collect()
}

/// The clock stops exactly while the TLD owns the request: desk time is the sum of the
/// desk-owned stays, TLD time the sum of the TLD-owned ones, and together they are the whole.
fn assert_clock(t: &Timeline, desk: i64, tld: i64) {
    assert_eq!(values(t, Measure::DeskTime), [desk], "desk time");
    assert_eq!(values(t, Measure::TldTime), [tld], "TLD time");
    assert_eq!(values(t, Measure::EndToEnd), [desk + tld], "end to end");
    let end = t.ended_at.expect("finished");
    let by_owner = |o| {
        t.stays
            .iter()
            .filter(|s| s.owner == Some(o))
            .map(|s| (s.to.expect("closed") - s.from).whole_seconds())
            .sum::<i64>()
    };
    assert_eq!(by_owner(Owner::Desk), desk);
    assert_eq!(by_owner(Owner::Tld), tld);
    assert_eq!((end - t.submitted_at).whole_seconds(), desk + tld);
    assert_eq!(t.owned_seconds(Owner::Desk, end).round() as i64, desk);
}

#[test]
fn delegation_straight_through() {
    let mut s = Script::submit(delegation_proposal("192.0.2.1"), Priority::Normal);
    s.check(10 * MIN, CheckPhase::Initial, Verdict::Pass)
        .after(2 * HOUR, admin(), Command::Confirm)
        .after(3 * HOUR, tech(), Command::Confirm)
        .after(DAY, staff(), Command::Approve { note: "ok".into() })
        .check(5 * MIN, CheckPhase::Supplemental, Verdict::Warn)
        .after(
            6 * HOUR,
            staff(),
            Command::Implement {
                serial: Some(2026030201),
            },
        );
    let t = s.timeline();
    assert_eq!(t.state, State::Completed);
    assert_eq!(values(&t, Measure::Acknowledge), [0]);
    assert_eq!(values(&t, Measure::FirstCheck), [10 * MIN]);
    assert!(values(&t, Measure::Recheck).is_empty());
    assert_eq!(values(&t, Measure::ContactsAsked), [0]);
    assert_eq!(values(&t, Measure::StaffReview), [DAY]);
    assert_eq!(values(&t, Measure::SupplementalCheck), [5 * MIN]);
    assert_eq!(values(&t, Measure::Publication), [5 * MIN + 6 * HOUR]);
    assert!(values(&t, Measure::CompletionNotice).is_empty());
    assert!(
        values(&t, Measure::EmergencyDesk).is_empty(),
        "not an emergency"
    );
    assert_eq!(values(&t, Measure::AwaitingInfo), [0]);
    assert_eq!(values(&t, Measure::Questions), [0]);
    assert_clock(&t, 10 * MIN + DAY + 5 * MIN + 6 * HOUR, 5 * HOUR);
    let per_state = t.per_state(t.ended_at.expect("ended"));
    assert_eq!(
        per_state[&State::ContactConfirmation].round() as i64,
        5 * HOUR
    );
    assert_eq!(per_state[&State::ManualReview].round() as i64, DAY);
    assert_eq!(per_state[&State::Implementation].round() as i64, 6 * HOUR);
}

#[test]
fn emergency_with_failed_check_fix_and_question() {
    let mut s = Script::submit(delegation_proposal("192.0.2.9"), Priority::Emergency);
    s.check(20 * MIN, CheckPhase::Initial, Verdict::Fail)
        .after(
            DAY,
            admin(),
            Command::Amend {
                proposal: Box::new(delegation_proposal("192.0.2.1")),
            },
        )
        .check(4 * MIN, CheckPhase::Initial, Verdict::Pass)
        .after(HOUR, tech(), Command::Confirm)
        .after(HOUR, admin(), Command::Confirm)
        .after(
            2 * HOUR,
            staff(),
            Command::Ask {
                question: "who runs ns1?".into(),
            },
        )
        .after(
            3 * DAY,
            admin(),
            Command::Answer {
                answer: "we do".into(),
            },
        )
        .after(HOUR, staff(), Command::Approve { note: "ok".into() })
        .check(2 * MIN, CheckPhase::Supplemental, Verdict::Pass)
        .after(HOUR, staff(), Command::Implement { serial: None });
    let t = s.timeline();
    assert_eq!(values(&t, Measure::FirstCheck), [20 * MIN]);
    assert_eq!(values(&t, Measure::Recheck), [4 * MIN]);
    assert_eq!(values(&t, Measure::ContactsAsked), [0]);
    assert_eq!(
        values(&t, Measure::StaffReview),
        [3 * HOUR],
        "the question's three days are the TLD's"
    );
    assert_eq!(values(&t, Measure::Publication), [2 * MIN + HOUR]);
    assert_eq!(values(&t, Measure::AwaitingInfo), [3 * DAY]);
    assert_eq!(values(&t, Measure::Questions), [1]);
    let desk = 20 * MIN + 4 * MIN + 3 * HOUR + 2 * MIN + HOUR;
    assert_eq!(values(&t, Measure::EmergencyDesk), [desk]);
    assert_clock(&t, desk, DAY + 2 * HOUR + 3 * DAY);
}

#[test]
fn contacts_change_skips_checks_and_asks_the_new_contact() {
    let proposal = Proposal::Contacts {
        admin: Some(contact("xa-admin-2")),
        tech: None,
    };
    let mut s = Script::submit(proposal, Priority::Normal);
    assert_eq!(s.request.state, State::ContactConfirmation);
    s.after(HOUR, admin(), Command::Confirm)
        .after(HOUR, tech(), Command::Confirm)
        .after(
            2 * DAY,
            Party::Contact("xa-admin-2".into()),
            Command::Confirm,
        )
        .after(4 * HOUR, staff(), Command::Approve { note: "ok".into() })
        .after(30 * MIN, staff(), Command::Implement { serial: None });
    let t = s.timeline();
    assert_eq!(t.state, State::Completed);
    assert!(values(&t, Measure::FirstCheck).is_empty());
    assert!(values(&t, Measure::SupplementalCheck).is_empty());
    assert_eq!(values(&t, Measure::ContactsAsked), [0]);
    assert_eq!(values(&t, Measure::StaffReview), [4 * HOUR]);
    assert_eq!(values(&t, Measure::Publication), [30 * MIN]);
    assert_clock(&t, 4 * HOUR + 30 * MIN, 2 * HOUR + 2 * DAY);
}

#[test]
fn sponsor_change_declined() {
    let mut s = Script::submit(
        Proposal::Sponsor {
            sponsor: "New NIC".into(),
        },
        Priority::Normal,
    );
    s.after(5 * HOUR, tech(), Command::Confirm).after(
        DAY,
        admin(),
        Command::Decline {
            reason: "not ours".into(),
        },
    );
    let t = s.timeline();
    assert_eq!(t.state, State::Declined);
    assert!(values(&t, Measure::StaffReview).is_empty());
    assert!(values(&t, Measure::Publication).is_empty());
    assert_clock(&t, 0, 5 * HOUR + DAY);
}

#[test]
fn transfer_review_includes_the_evaluation() {
    let proposal = Proposal::Transfer {
        sponsor: "Successor NIC".into(),
        admin: contact("xa-new-admin"),
        tech: contact("xa-new-tech"),
        delegation: match delegation_proposal("192.0.2.1") {
            Proposal::Delegation { delegation } => Some(delegation),
            _ => None,
        },
        evidence: vec![Evidence {
            kind: EvidenceKind::IncumbentConsent,
            name: "consent.pdf".into(),
            sha256: "ab".repeat(32),
            size: 10,
        }],
    };
    let mut s = Script::submit(proposal, Priority::Normal);
    s.check(3 * MIN, CheckPhase::Initial, Verdict::Pass);
    for who in ["xa-admin", "xa-tech", "xa-new-admin", "xa-new-tech"] {
        s.after(HOUR, Party::Contact(who.into()), Command::Confirm);
    }
    let evaluation = Evaluation {
        assessments: vec![Assessment {
            criterion: Criterion::Stability,
            met: true,
            note: "fine".into(),
        }],
        approve: true,
        summary: "approved".into(),
    };
    s.after(
        DAY,
        staff(),
        Command::Approve {
            note: "to evaluation".into(),
        },
    )
    .after(2 * DAY, staff(), Command::Evaluate { evaluation })
    .check(7 * MIN, CheckPhase::Supplemental, Verdict::Pass)
    .after(10 * HOUR, staff(), Command::Implement { serial: None });
    let t = s.timeline();
    assert_eq!(t.state, State::Completed);
    assert_eq!(values(&t, Measure::StaffReview), [3 * DAY]);
    assert_eq!(values(&t, Measure::SupplementalCheck), [7 * MIN]);
    assert_eq!(values(&t, Measure::Publication), [7 * MIN + 10 * HOUR]);
    assert_clock(&t, 3 * MIN + 3 * DAY + 7 * MIN + 10 * HOUR, 4 * HOUR);
}

#[test]
fn expiry_after_reminders_is_all_tld_time() {
    let mut s = Script::submit(delegation_proposal("192.0.2.1"), Priority::Normal);
    s.check(8 * MIN, CheckPhase::Initial, Verdict::Pass)
        .after(7 * DAY, Party::System, Command::Remind { after_days: 7 })
        .after(14 * DAY, Party::System, Command::Remind { after_days: 21 })
        .after(9 * DAY, Party::System, Command::Expire { limit_days: 30 });
    let t = s.timeline();
    assert_eq!(t.state, State::Expired);
    assert!(values(&t, Measure::StaffReview).is_empty());
    assert_clock(&t, 8 * MIN, 30 * DAY);
}

#[test]
fn rejection_ends_the_review() {
    let mut s = Script::submit(delegation_proposal("192.0.2.1"), Priority::Normal);
    s.check(MIN, CheckPhase::Initial, Verdict::Pass)
        .after(HOUR, admin(), Command::Confirm)
        .after(HOUR, tech(), Command::Confirm)
        .after(
            6 * DAY,
            staff(),
            Command::Reject {
                reason: "no".into(),
            },
        );
    let t = s.timeline();
    assert_eq!(t.state, State::Rejected);
    assert_eq!(
        values(&t, Measure::StaffReview),
        [6 * DAY],
        "a breach of 5 days"
    );
    assert!(values(&t, Measure::Publication).is_empty());
    assert_clock(&t, MIN + 6 * DAY, 2 * HOUR);
}

#[test]
fn withdrawn_while_awaiting_a_fix() {
    let mut s = Script::submit(delegation_proposal("192.0.2.1"), Priority::Normal);
    s.check(15 * MIN, CheckPhase::Initial, Verdict::Fail).after(
        2 * DAY,
        admin(),
        Command::Withdraw {
            reason: "later".into(),
        },
    );
    let t = s.timeline();
    assert_eq!(t.state, State::Withdrawn);
    assert_eq!(values(&t, Measure::FirstCheck), [15 * MIN]);
    assert_clock(&t, 15 * MIN, 2 * DAY);
}

#[test]
fn supplemental_failure_starts_a_new_review_and_publication_counts_from_the_last() {
    let mut s = Script::submit(delegation_proposal("192.0.2.1"), Priority::Normal);
    s.check(5 * MIN, CheckPhase::Initial, Verdict::Pass)
        .after(HOUR, admin(), Command::Confirm)
        .after(HOUR, tech(), Command::Confirm)
        .after(DAY, staff(), Command::Approve { note: "ok".into() })
        .check(9 * MIN, CheckPhase::Supplemental, Verdict::Fail)
        .after(
            3 * HOUR,
            admin(),
            Command::Amend {
                proposal: Box::new(delegation_proposal("192.0.2.7")),
            },
        )
        .check(6 * MIN, CheckPhase::Initial, Verdict::Pass)
        .after(HOUR, admin(), Command::Confirm)
        .after(HOUR, tech(), Command::Confirm)
        .after(2 * HOUR, staff(), Command::Approve { note: "ok".into() })
        .check(3 * MIN, CheckPhase::Supplemental, Verdict::Pass)
        .after(HOUR, staff(), Command::Implement { serial: None });
    let t = s.timeline();
    assert_eq!(values(&t, Measure::FirstCheck), [5 * MIN]);
    assert_eq!(values(&t, Measure::Recheck), [6 * MIN]);
    assert_eq!(values(&t, Measure::ContactsAsked), [0, 0]);
    assert_eq!(values(&t, Measure::StaffReview), [DAY, 2 * HOUR]);
    assert_eq!(values(&t, Measure::SupplementalCheck), [9 * MIN, 3 * MIN]);
    assert_eq!(values(&t, Measure::Publication), [3 * MIN + HOUR]);
    let desk = 5 * MIN + DAY + 9 * MIN + 6 * MIN + 2 * HOUR + 3 * MIN + HOUR;
    assert_clock(&t, desk, 2 * HOUR + 3 * HOUR + 2 * HOUR);
}

#[test]
fn an_open_request_has_no_totals_yet() {
    let mut s = Script::submit(delegation_proposal("192.0.2.1"), Priority::Normal);
    s.check(5 * MIN, CheckPhase::Initial, Verdict::Pass);
    let t = s.timeline();
    assert_eq!(t.ended_at, None);
    assert!(values(&t, Measure::DeskTime).is_empty());
    let later = s.now + Duration::hours(4);
    assert_eq!(t.owned_seconds(Owner::Tld, later).round() as i64, 4 * HOUR);
    assert_eq!(t.owned_seconds(Owner::Desk, later).round() as i64, 5 * MIN);
}

#[test]
fn completion_notice_counts_to_the_last_delivery_after_publication() {
    let mut s = Script::submit(delegation_proposal("192.0.2.1"), Priority::Normal);
    s.check(MIN, CheckPhase::Initial, Verdict::Pass)
        .after(HOUR, admin(), Command::Confirm)
        .after(HOUR, tech(), Command::Confirm)
        .after(HOUR, staff(), Command::Approve { note: "ok".into() })
        .check(MIN, CheckPhase::Supplemental, Verdict::Pass)
        .after(HOUR, staff(), Command::Implement { serial: None });
    let published = s.now;
    assert!(values(&s.timeline(), Measure::CompletionNotice).is_empty());
    let notices = [
        published - Duration::hours(1),
        published + Duration::seconds(20),
        published + Duration::seconds(45),
    ];
    let t = Timeline::from_events_and_notices(&s.events, &notices).expect("timeline");
    assert_eq!(values(&t, Measure::CompletionNotice), [45]);
}
