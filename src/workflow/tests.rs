//! Every path of the workflow, with a clock the tests set.

use std::collections::BTreeSet;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::registry::Contact;

const T0: OffsetDateTime = datetime!(2026-11-02 09:00 UTC);

fn contact(handle: &str) -> Contact {
    Contact {
        handle: handle.into(),
        organisation: Some("Org".into()),
        name: None,
        email: Some(format!("{handle}@example.org")),
        phone: None,
        address: None,
    }
}

fn delegation_proposal(ns: &[&str]) -> Proposal {
    let json = serde_json::json!({
        "kind": "delegation",
        "delegation": {"nameservers": ns.iter().map(|n| serde_json::json!({"name": n, "addresses": ["192.0.2.1"]})).collect::<Vec<_>>()}
    });
    serde_json::from_value(json).expect("valid proposal")
}

fn facts() -> Facts {
    Facts {
        tld_contacts: ["xa-admin", "xa-tech"]
            .into_iter()
            .map(String::from)
            .collect(),
        open_requests: vec![],
        shared_host_contacts: BTreeSet::new(),
        new_addresses: Default::default(),
        ..Facts::default()
    }
}

fn admin() -> Party {
    Party::Contact("xa-admin".into())
}
fn tech() -> Party {
    Party::Contact("xa-tech".into())
}
fn staff() -> Party {
    Party::Staff("desk-1".into())
}

/// A request plus its log, advanced by commands at given times.
struct Run {
    log: Vec<Recorded>,
    now: OffsetDateTime,
    facts: Facts,
}

impl Run {
    fn submit(proposal: Proposal, priority: Priority, reason: Option<&str>) -> Run {
        Run::submit_as(admin(), facts(), proposal, priority, reason).expect("submission accepted")
    }

    fn submit_as(
        by: Party,
        facts: Facts,
        proposal: Proposal,
        priority: Priority,
        reason: Option<&str>,
    ) -> Result<Run, WorkflowError> {
        let events = Request::submit(
            "RD-20261102-0001",
            "xa",
            &by,
            proposal,
            priority,
            reason.map(String::from),
            &facts,
        )?;
        let log = events
            .into_iter()
            .map(|event| Recorded {
                time: T0,
                by: if matches!(event, Event::Accepted) {
                    Party::System
                } else {
                    by.clone()
                },
                event,
            })
            .collect();
        Ok(Run {
            log,
            now: T0,
            facts,
        })
    }

    fn request(&self) -> Request {
        Request::replay(&self.log).expect("replays")
    }

    fn state(&self) -> State {
        self.request().state
    }

    fn after(&mut self, d: Duration) -> &mut Self {
        self.now += d;
        self
    }

    fn try_do(&mut self, by: Party, command: Command) -> Result<(), WorkflowError> {
        let events = self
            .request()
            .decide(&command, &by, self.now, &self.facts)?;
        for event in events {
            self.log.push(Recorded {
                time: self.now,
                by: by.clone(),
                event,
            });
        }
        Ok(())
    }

    fn act(&mut self, by: Party, command: Command) -> &mut Self {
        if let Err(e) = self.try_do(by, command.clone()) {
            panic!("{command:?} refused: {e}");
        }
        self
    }

    fn check(&mut self, phase: CheckPhase, verdict: Verdict) -> &mut Self {
        let revision = self.request().revision();
        self.act(
            Party::System,
            Command::FinishCheck {
                phase,
                revision,
                verdict,
                check_id: None,
                summary: String::new(),
            },
        )
    }
}

#[test]
fn delegation_change_from_submission_to_completion() {
    let mut run = Run::submit(
        delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
        Priority::Normal,
        None,
    );
    assert_eq!(run.state(), State::TechnicalCheck);
    assert_eq!(run.request().owner, Some(Owner::Desk));
    run.after(Duration::minutes(3))
        .check(CheckPhase::Initial, Verdict::Pass);
    assert_eq!(run.state(), State::ContactConfirmation);
    assert_eq!(run.request().owner, Some(Owner::Tld));
    run.after(Duration::hours(5)).act(admin(), Command::Confirm);
    assert_eq!(run.state(), State::ContactConfirmation);
    assert_eq!(run.request().pending_consents(), vec!["xa-tech"]);
    run.after(Duration::hours(1)).act(tech(), Command::Confirm);
    assert_eq!(run.state(), State::ManualReview);
    run.after(Duration::days(1))
        .act(staff(), Command::Approve { note: "ok".into() });
    assert_eq!(run.state(), State::SupplementalCheck);
    run.check(CheckPhase::Supplemental, Verdict::Warn);
    assert_eq!(run.state(), State::Implementation);
    run.act(
        staff(),
        Command::Implement {
            serial: Some(2026110300),
        },
    );
    let request = run.request();
    assert_eq!(request.state, State::Completed);
    assert_eq!(request.owner, None);
    assert_eq!(request.serial, Some(2026110300));
    // Nothing more can happen.
    assert!(matches!(
        run.try_do(
            admin(),
            Command::Withdraw {
                reason: String::new()
            }
        ),
        Err(WorkflowError::WrongState { .. })
    ));
}

#[test]
fn failed_check_waits_for_a_fix_and_amendment_restarts() {
    let mut run = Run::submit(
        delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
        Priority::Normal,
        None,
    );
    run.check(CheckPhase::Initial, Verdict::Fail);
    assert_eq!(run.state(), State::AwaitingFix);
    assert_eq!(run.request().owner, Some(Owner::Tld));
    // A check result for an older revision is refused after the amendment.
    run.after(Duration::days(2)).act(
        admin(),
        Command::Amend {
            proposal: Box::new(delegation_proposal(&["ns1.nic.xa", "ns3.nic.xa"])),
        },
    );
    let request = run.request();
    assert_eq!(request.state, State::TechnicalCheck);
    assert_eq!(request.revision(), 2);
    assert_eq!(request.revisions[0].number, 1, "old revisions stay visible");
    let stale = Command::FinishCheck {
        phase: CheckPhase::Initial,
        revision: 1,
        verdict: Verdict::Pass,
        check_id: None,
        summary: String::new(),
    };
    assert!(matches!(
        run.try_do(Party::System, stale),
        Err(WorkflowError::Conflict(_))
    ));
    run.check(CheckPhase::Initial, Verdict::Pass);
    assert_eq!(run.state(), State::ContactConfirmation);
    // Consent to revision 2, then another amendment asks again.
    run.act(admin(), Command::Confirm);
    run.act(
        admin(),
        Command::Amend {
            proposal: Box::new(delegation_proposal(&["ns1.nic.xa", "ns4.nic.xa"])),
        },
    );
    assert_eq!(run.state(), State::TechnicalCheck);
    assert_eq!(run.request().pending_consents().len(), 2);
}

#[test]
fn supplemental_failure_goes_back_to_the_tld() {
    let mut run = Run::submit(
        delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
        Priority::Normal,
        None,
    );
    run.check(CheckPhase::Initial, Verdict::Pass)
        .act(admin(), Command::Confirm)
        .act(tech(), Command::Confirm)
        .act(
            staff(),
            Command::Approve {
                note: String::new(),
            },
        )
        .check(CheckPhase::Supplemental, Verdict::Fail);
    assert_eq!(run.state(), State::AwaitingFix);
}

#[test]
fn consent_rules() {
    let mut run = Run::submit(
        delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
        Priority::Normal,
        None,
    );
    run.check(CheckPhase::Initial, Verdict::Pass);
    // Staff cannot confirm on a contact's behalf; strangers are not asked.
    assert!(matches!(
        run.try_do(staff(), Command::Confirm),
        Err(WorkflowError::Forbidden(_))
    ));
    assert!(matches!(
        run.try_do(Party::Contact("xb-admin".into()), Command::Confirm),
        Err(WorkflowError::Forbidden(_))
    ));
    run.act(admin(), Command::Confirm);
    assert!(matches!(
        run.try_do(admin(), Command::Confirm),
        Err(WorkflowError::Conflict(_))
    ));
    // Any explicit decline ends the request.
    run.act(
        tech(),
        Command::Decline {
            reason: "not ours".into(),
        },
    );
    assert_eq!(run.state(), State::Declined);
}

#[test]
fn one_contact_in_both_roles_confirms_once() {
    let facts = Facts {
        tld_contacts: ["xa-both"].into_iter().map(String::from).collect(),
        ..Facts::default()
    };
    let events = Request::submit(
        "RD-1",
        "xa",
        &Party::Contact("xa-both".into()),
        Proposal::Sponsor {
            sponsor: "New Name Ltd".into(),
        },
        Priority::Normal,
        None,
        &facts,
    )
    .expect("accepted");
    let mut log: Vec<Recorded> = events
        .into_iter()
        .map(|event| Recorded {
            time: T0,
            by: Party::Contact("xa-both".into()),
            event,
        })
        .collect();
    let request = Request::replay(&log).expect("replay");
    assert_eq!(
        request.state,
        State::ContactConfirmation,
        "contact changes skip the checks"
    );
    let events = request
        .decide(
            &Command::Confirm,
            &Party::Contact("xa-both".into()),
            T0,
            &facts,
        )
        .expect("confirms");
    log.extend(events.into_iter().map(|event| Recorded {
        time: T0,
        by: Party::Contact("xa-both".into()),
        event,
    }));
    assert_eq!(
        Request::replay(&log).expect("replay").state,
        State::ManualReview
    );
}

#[test]
fn contacts_change_needs_the_new_contacts_too() {
    let proposal = Proposal::Contacts {
        admin: Some(contact("new-admin")),
        tech: None,
    };
    let mut run = Run::submit(proposal, Priority::Normal, None);
    assert_eq!(run.state(), State::ContactConfirmation);
    let request = run.request();
    let required: BTreeSet<&str> = request.consents.keys().map(String::as_str).collect();
    assert_eq!(
        required,
        ["new-admin", "xa-admin", "xa-tech"].into_iter().collect()
    );
    run.act(admin(), Command::Confirm)
        .act(tech(), Command::Confirm);
    assert_eq!(run.state(), State::ContactConfirmation);
    run.act(Party::Contact("new-admin".into()), Command::Confirm);
    assert_eq!(run.state(), State::ManualReview);
    run.act(
        staff(),
        Command::Approve {
            note: String::new(),
        },
    );
    assert_eq!(
        run.state(),
        State::Implementation,
        "no supplemental check for contacts"
    );
    run.act(staff(), Command::Implement { serial: None });
    assert_eq!(run.state(), State::Completed);
}

#[test]
fn questions_stop_and_return() {
    let mut run = Run::submit(
        delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
        Priority::Normal,
        None,
    );
    run.check(CheckPhase::Initial, Verdict::Pass)
        .act(admin(), Command::Confirm)
        .act(tech(), Command::Confirm)
        .act(
            staff(),
            Command::Ask {
                question: "Who operates ns2?".into(),
            },
        );
    assert_eq!(run.state(), State::AwaitingInfo);
    assert_eq!(run.request().owner, Some(Owner::Tld));
    assert!(matches!(
        run.try_do(
            staff(),
            Command::Answer {
                answer: "us".into()
            }
        ),
        Err(WorkflowError::Forbidden(_))
    ));
    assert!(matches!(
        run.try_do(admin(), Command::Answer { answer: " ".into() }),
        Err(WorkflowError::Invalid { .. })
    ));
    run.act(
        tech(),
        Command::Answer {
            answer: "Our NOC".into(),
        },
    );
    assert_eq!(run.state(), State::ManualReview);
    run.act(
        staff(),
        Command::Reject {
            reason: "policy".into(),
        },
    );
    assert_eq!(run.state(), State::Rejected);
}

#[test]
fn transfer_with_evidence_and_evaluation() {
    let proposal = Proposal::Transfer {
        sponsor: "New Manager".into(),
        admin: contact("nm-admin"),
        tech: contact("nm-tech"),
        delegation: None,
        evidence: vec![Evidence {
            kind: EvidenceKind::GovernmentSupport,
            name: "letter.pdf".into(),
            sha256: "ab".repeat(32),
            size: 1200,
        }],
    };
    let mut run = Run::submit(proposal, Priority::Normal, None);
    for c in ["xa-admin", "xa-tech", "nm-admin", "nm-tech"] {
        run.act(Party::Contact(c.into()), Command::Confirm);
    }
    run.act(
        staff(),
        Command::Approve {
            note: String::new(),
        },
    );
    assert_eq!(run.state(), State::DelegationEvaluation);
    run.act(
        staff(),
        Command::Ask {
            question: "Incumbent's letter?".into(),
        },
    )
    .act(
        admin(),
        Command::Answer {
            answer: "attached".into(),
        },
    );
    assert_eq!(
        run.state(),
        State::DelegationEvaluation,
        "the answer returns to the asker"
    );
    assert!(matches!(
        run.try_do(
            staff(),
            Command::Evaluate {
                evaluation: Evaluation {
                    assessments: vec![],
                    approve: true,
                    summary: String::new()
                }
            }
        ),
        Err(WorkflowError::Invalid { .. })
    ));
    run.act(
        staff(),
        Command::Evaluate {
            evaluation: Evaluation {
                assessments: vec![Assessment {
                    criterion: Criterion::LocalSupport,
                    met: true,
                    note: "letters".into(),
                }],
                approve: true,
                summary: "meets the criteria".into(),
            },
        },
    );
    assert_eq!(run.state(), State::Implementation);
    assert!(run.request().evaluation.is_some());
}

#[test]
fn withdrawal_expiry_and_reminders() {
    let mut run = Run::submit(
        delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
        Priority::Normal,
        None,
    );
    run.check(CheckPhase::Initial, Verdict::Fail);
    assert!(matches!(
        run.try_do(Party::System, Command::Remind { after_days: 7 }),
        Err(WorkflowError::Conflict(_))
    ));
    run.after(Duration::days(7))
        .act(Party::System, Command::Remind { after_days: 7 });
    assert!(matches!(
        run.try_do(Party::System, Command::Remind { after_days: 7 }),
        Err(WorkflowError::Conflict(_))
    ));
    assert!(matches!(
        run.try_do(Party::System, Command::Expire { limit_days: 30 }),
        Err(WorkflowError::Conflict(_))
    ));
    run.after(Duration::days(23))
        .act(Party::System, Command::Expire { limit_days: 30 });
    assert_eq!(run.state(), State::Expired);

    let mut run = Run::submit(
        delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
        Priority::Normal,
        None,
    );
    assert!(matches!(
        run.try_do(
            staff(),
            Command::Withdraw {
                reason: String::new()
            }
        ),
        Err(WorkflowError::Forbidden(_))
    ));
    // The desk owns technical-check, so it cannot expire.
    run.after(Duration::days(40));
    assert!(matches!(
        run.try_do(Party::System, Command::Expire { limit_days: 30 }),
        Err(WorkflowError::WrongState { .. })
    ));
    run.act(
        tech(),
        Command::Withdraw {
            reason: "changed our mind".into(),
        },
    );
    assert_eq!(run.state(), State::Withdrawn);
}

#[test]
fn submissions_are_checked() {
    let p = delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]);
    let submit = |by: Party, priority, reason: Option<&str>, facts: &Facts| {
        Request::submit(
            "RD-1",
            "xa",
            &by,
            p.clone(),
            priority,
            reason.map(String::from),
            facts,
        )
    };
    assert!(matches!(
        submit(
            Party::Contact("xb-admin".into()),
            Priority::Normal,
            None,
            &facts()
        ),
        Err(WorkflowError::Forbidden(_))
    ));
    assert!(matches!(
        submit(admin(), Priority::Emergency, None, &facts()),
        Err(WorkflowError::Invalid { .. })
    ));
    assert!(matches!(
        submit(admin(), Priority::Normal, Some("x"), &facts()),
        Err(WorkflowError::Invalid { .. })
    ));
    let busy = Facts {
        open_requests: vec![("RD-20261101-0007".into(), RequestKind::Delegation)],
        ..facts()
    };
    let err =
        submit(admin(), Priority::Normal, None, &busy).expect_err("one open delegation request");
    assert!(err.to_string().contains("RD-20261101-0007"), "{err}");
    // Staff may key in a request received by e-mail; a contacts change may run beside it.
    assert!(submit(staff(), Priority::Emergency, Some("servers lost"), &facts()).is_ok());
    let contacts = Proposal::Contacts {
        admin: Some(contact("n")),
        tech: None,
    };
    assert!(Request::submit(
        "RD-2",
        "xa",
        &admin(),
        contacts,
        Priority::Normal,
        None,
        &busy
    )
    .is_ok());
}

/// One open request of a kind per TLD: a second would be judged against records the first is
/// about to change (and a caller could pile up open requests without bound). A transfer
/// replaces everything, so it runs beside nothing.
#[test]
fn one_open_request_per_kind_and_tld() {
    let open = |kind| Facts {
        open_requests: vec![("RD-20261101-0009".into(), kind)],
        ..facts()
    };
    let contacts = || Proposal::Contacts {
        admin: Some(contact("n")),
        tech: None,
    };
    let sponsor = || Proposal::Sponsor {
        sponsor: "New Sponsor".into(),
    };
    for (proposal, busy) in [
        (contacts(), RequestKind::Contacts),
        (contacts(), RequestKind::Transfer),
        (sponsor(), RequestKind::Sponsor),
        (sponsor(), RequestKind::Transfer),
    ] {
        let err = Request::submit(
            "RD-3",
            "xa",
            &admin(),
            proposal.clone(),
            Priority::Normal,
            None,
            &open(busy),
        )
        .expect_err("a second open request of the kind");
        assert!(err.to_string().contains("RD-20261101-0009"), "{err}");
    }
    assert!(Request::submit(
        "RD-4",
        "xa",
        &admin(),
        sponsor(),
        Priority::Normal,
        None,
        &open(RequestKind::Contacts)
    )
    .is_ok());
}

#[test]
fn events_round_trip_as_json() {
    let run = Run::submit(
        delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
        Priority::Emergency,
        Some("lost ns2"),
    );
    let json = serde_json::to_string(&run.log).expect("serialise");
    let back: Vec<Recorded> = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, run.log);
    assert_eq!(run.log[0].event.kind(), "request-submitted");
    let request = Request::replay(&back).expect("replay");
    assert_eq!(request.priority, Priority::Emergency);
}

#[test]
fn the_table_covers_every_open_state() {
    for state in State::ALL.into_iter().filter(|s| !s.is_final()) {
        assert!(
            table::TRANSITIONS.iter().any(|r| r.from.contains(&state)),
            "no way out of {state}"
        );
    }
}

#[test]
fn readdressing_a_shared_host_needs_the_other_tlds_consent() {
    let facts = Facts {
        shared_host_contacts: ["xb-admin", "ndo-noc"]
            .into_iter()
            .map(String::from)
            .collect(),
        ..facts()
    };
    let events = Request::submit(
        "RD-1",
        "xa",
        &admin(),
        delegation_proposal(&["ns1.nic.xa", "dns.ndo.xc"]),
        Priority::Normal,
        None,
        &facts,
    )
    .expect("accepted");
    let Event::Submitted {
        required_consents, ..
    } = &events[0]
    else {
        panic!("first event is the submission");
    };
    let required: Vec<&str> = required_consents.iter().map(String::as_str).collect();
    assert_eq!(required, ["ndo-noc", "xa-admin", "xa-tech", "xb-admin"]);
    // A contacts change touches no host.
    let contacts = Proposal::Contacts {
        admin: Some(contact("n")),
        tech: None,
    };
    let events = Request::submit(
        "RD-2",
        "xa",
        &admin(),
        contacts,
        Priority::Normal,
        None,
        &facts,
    )
    .expect("accepted");
    let Event::Submitted {
        required_consents, ..
    } = &events[0]
    else {
        panic!("first event is the submission");
    };
    assert!(!required_consents.contains("xb-admin"));
}

#[test]
fn a_changed_address_needs_the_contact_and_the_new_address() {
    let facts = Facts {
        new_addresses: [("xa-tech".to_string(), "new@example.org".to_string())]
            .into_iter()
            .collect(),
        ..facts()
    };
    let proposal = Proposal::Contacts {
        admin: None,
        tech: Some(contact("xa-tech")),
    };
    let events = Request::submit(
        "RD-1",
        "xa",
        &admin(),
        proposal,
        Priority::Normal,
        None,
        &facts,
    )
    .expect("accepted");
    let Event::Submitted {
        required_consents, ..
    } = &events[0]
    else {
        panic!("first event is the submission");
    };
    let required: Vec<&str> = required_consents.iter().map(String::as_str).collect();
    assert_eq!(required, ["xa-admin", "xa-tech", "xa-tech+new-email"]);
    let recorded: Vec<Recorded> = events
        .into_iter()
        .map(|event| Recorded {
            time: T0,
            by: admin(),
            event,
        })
        .collect();
    let mut request = Request::replay(&recorded).expect("replay");
    // The contact's token confirms the contact only; the new address's consent stays open.
    for by in [admin(), tech()] {
        let events = request
            .decide(&Command::Confirm, &by, T0, &facts)
            .expect("confirm");
        for event in events {
            request.apply(&Recorded {
                time: T0,
                by: by.clone(),
                event,
            });
        }
    }
    assert_eq!(request.state, State::ContactConfirmation);
    assert_eq!(request.pending_consents(), ["xa-tech+new-email"]);
    assert!(request.pending_consent_details()[0].contains("new e-mail address"));
    // A new address consents only as itself.
    let by = Party::Contact("xa-tech+new-email".into());
    let events = request
        .decide(&Command::Confirm, &by, T0, &facts)
        .expect("confirm");
    for event in events {
        request.apply(&Recorded {
            time: T0,
            by: by.clone(),
            event,
        });
    }
    assert_eq!(request.state, State::ManualReview);
}

/// Issue 14: TLDs with authorised persons approve by their policy.
mod persons {
    use super::*;

    fn person(id: &str) -> Party {
        Party::Person(id.into())
    }

    /// xa with four authorised persons: two admin, two tech; delegation changes need any two,
    /// at least one from tech, the submitter not counting.
    fn authority(special_handling: bool) -> Authority {
        let members = [
            ("p-a1", "admin"),
            ("p-a2", "admin"),
            ("p-t1", "tech"),
            ("p-t2", "tech"),
        ]
        .into_iter()
        .map(|(p, g)| (p.to_string(), BTreeSet::from([g.to_string()])))
        .collect();
        Authority {
            members,
            policy: Policy {
                rules: [(
                    ChangeClass::Delegation,
                    ApprovalRule {
                        submit: BTreeSet::new(),
                        approvals: 2,
                        at_least: [("tech".to_string(), 1)].into_iter().collect(),
                        submitter_counts: false,
                    },
                )]
                .into_iter()
                .collect(),
            },
            special_handling: special_handling.then(|| "call +1 555 0100".to_string()),
        }
    }

    fn with_authority(special_handling: bool, four_eyes: bool) -> Facts {
        Facts {
            authority: Some(authority(special_handling)),
            four_eyes,
            ..facts()
        }
    }

    fn checked(facts: Facts) -> Run {
        let mut run = Run::submit_as(
            person("p-a1"),
            facts,
            delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
            Priority::Normal,
            None,
        )
        .expect("submitted");
        run.check(CheckPhase::Initial, Verdict::Pass);
        run
    }

    #[test]
    fn n_of_m_approval_with_the_exact_count() {
        let mut run = checked(with_authority(false, false));
        let request = run.request();
        assert_eq!(request.state, State::ContactConfirmation);
        // The TLD's contacts are not asked: its persons approve instead.
        assert!(
            request.pending_consents().is_empty(),
            "{:?}",
            request.consents
        );
        // The submitter's own approval does not count under this policy.
        let refused = run.try_do(person("p-a1"), Command::Confirm);
        assert!(
            matches!(refused, Err(WorkflowError::Forbidden(_))),
            "{refused:?}"
        );
        // Two admins make two approvals but no tech: still waiting.
        run.act(person("p-a2"), Command::Confirm);
        assert_eq!(run.state(), State::ContactConfirmation);
        assert!(
            run.try_do(person("p-a2"), Command::Confirm).is_err(),
            "twice"
        );
        assert_eq!(
            run.request()
                .missing_approvals(&run.request().approvals)
                .as_deref(),
            Some("1 more approval, 1 from tech")
        );
        // A person not authorised cannot approve.
        assert!(run.try_do(person("p-zz"), Command::Confirm).is_err());
        // A contact's token no longer acts for a TLD run by its persons.
        assert!(run.try_do(admin(), Command::Confirm).is_err());
        run.act(person("p-t1"), Command::Confirm);
        assert_eq!(run.state(), State::ManualReview);
    }

    #[test]
    fn approvals_are_asked_again_for_an_amended_revision() {
        let mut run = checked(with_authority(false, false));
        run.act(person("p-t1"), Command::Confirm);
        run.act(
            person("p-t2"),
            Command::Decline {
                reason: "wrong servers".into(),
            },
        );
        assert_eq!(run.state(), State::Declined);

        let mut run = Run::submit_as(
            person("p-t1"),
            with_authority(false, false),
            delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
            Priority::Normal,
            None,
        )
        .expect("submitted");
        run.check(CheckPhase::Initial, Verdict::Fail);
        run.act(
            person("p-a2"),
            Command::Amend {
                proposal: Box::new(delegation_proposal(&["ns1.nic.xa", "ns3.nic.xa"])),
            },
        );
        run.check(CheckPhase::Initial, Verdict::Pass);
        run.act(person("p-a1"), Command::Confirm);
        assert!(run.request().approvals.contains("p-a1"));
        assert_eq!(run.state(), State::ContactConfirmation);
        run.act(person("p-t2"), Command::Confirm);
        assert_eq!(run.state(), State::ManualReview);
    }

    #[test]
    fn who_may_submit_is_the_policy_s() {
        // A contact token is refused outright.
        let refused = Run::submit_as(
            admin(),
            with_authority(false, false),
            delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
            Priority::Normal,
            None,
        );
        assert!(matches!(refused, Err(WorkflowError::Forbidden(_))));
        // A person of another TLD (or none) is refused.
        assert!(Run::submit_as(
            person("p-zz"),
            with_authority(false, false),
            delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
            Priority::Normal,
            None,
        )
        .is_err());
        // A person on a TLD with no authority is refused.
        assert!(Run::submit_as(
            person("p-a1"),
            facts(),
            delegation_proposal(&["ns1.nic.xa", "ns2.nic.xa"]),
            Priority::Normal,
            None,
        )
        .is_err());
        // Submitting limited to admin for sponsor changes.
        let mut limited = authority(false);
        limited.policy.rules.insert(
            ChangeClass::Sponsor,
            ApprovalRule {
                submit: BTreeSet::from(["admin".to_string()]),
                ..ApprovalRule::default()
            },
        );
        let facts = Facts {
            authority: Some(limited),
            ..facts()
        };
        let sponsor = Proposal::Sponsor {
            sponsor: "New Org".into(),
        };
        assert!(Run::submit_as(
            person("p-t1"),
            facts.clone(),
            sponsor.clone(),
            Priority::Normal,
            None
        )
        .is_err());
        assert!(Run::submit_as(person("p-a1"), facts, sponsor, Priority::Normal, None).is_ok());
    }

    fn approved(special_handling: bool, four_eyes: bool) -> Run {
        let mut run = checked(with_authority(special_handling, four_eyes));
        run.act(person("p-a2"), Command::Confirm);
        run.act(person("p-t1"), Command::Confirm);
        run.act(
            Party::Staff("desk-1".into()),
            Command::Approve {
                note: String::new(),
            },
        );
        run.check(CheckPhase::Supplemental, Verdict::Pass);
        assert_eq!(run.state(), State::Implementation);
        run
    }

    #[test]
    fn special_handling_needs_a_second_staff_member_s_verification() {
        let mut run = approved(true, false);
        let implement = Command::Implement { serial: Some(1) };
        // Not verified yet.
        assert!(matches!(
            run.try_do(Party::Staff("desk-2".into()), implement.clone()),
            Err(WorkflowError::Conflict(_))
        ));
        // The approver may not verify.
        let verify = Command::Verify {
            note: "called the number on file".into(),
        };
        assert!(matches!(
            run.try_do(Party::Staff("desk-1".into()), verify.clone()),
            Err(WorkflowError::Forbidden(_))
        ));
        run.act(Party::Staff("desk-2".into()), verify.clone());
        assert_eq!(
            run.request().verified_by,
            Some(Party::Staff("desk-2".into()))
        );
        assert!(
            run.try_do(Party::Staff("desk-3".into()), verify).is_err(),
            "twice"
        );
        run.act(Party::Staff("desk-1".into()), implement);
        assert_eq!(run.state(), State::Completed);
        // Without special handling there is nothing to verify.
        let mut plain = approved(false, false);
        assert!(plain
            .try_do(
                Party::Staff("desk-2".into()),
                Command::Verify { note: "x".into() }
            )
            .is_err());
    }

    #[test]
    fn four_eyes_keeps_the_approver_from_implementing() {
        let mut run = approved(false, true);
        let implement = Command::Implement { serial: Some(1) };
        assert!(matches!(
            run.try_do(Party::Staff("desk-1".into()), implement.clone()),
            Err(WorkflowError::Forbidden(_))
        ));
        run.act(Party::Staff("desk-2".into()), implement);
        assert_eq!(run.state(), State::Completed);
        // Without the setting the approver may implement.
        let mut run = approved(false, false);
        run.act(
            Party::Staff("desk-1".into()),
            Command::Implement { serial: Some(1) },
        );
        assert_eq!(run.state(), State::Completed);
    }

    #[test]
    fn the_default_rule_reproduces_admin_and_tech_consent() {
        let members = [("p-a", "admin"), ("p-t", "tech")]
            .into_iter()
            .map(|(p, g)| (p.to_string(), BTreeSet::from([g.to_string()])))
            .collect();
        let facts = Facts {
            authority: Some(Authority {
                members,
                ..Authority::default()
            }),
            ..facts()
        };
        let mut run = Run::submit_as(
            person("p-a"),
            facts,
            Proposal::Sponsor {
                sponsor: "New Org".into(),
            },
            Priority::Normal,
            None,
        )
        .expect("submitted");
        assert_eq!(run.state(), State::ContactConfirmation);
        run.act(person("p-a"), Command::Confirm);
        assert_eq!(run.state(), State::ContactConfirmation);
        run.act(person("p-t"), Command::Confirm);
        assert_eq!(run.state(), State::ManualReview);
    }
}
