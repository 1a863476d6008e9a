//! DS automation, the acting side (issue 12 part 2): what the desk does with the CDS scans
//! of a sweep ([`crate::check::cds`]).
//!
//! A TLD opts in with its `cds` setting (`off` by default; `with-consent`, `notify-only`). A
//! scan that asks for a new DS set (or, by RFC 8078's delete signal, none) opens a DS-only
//! delegation request through [`Desk::submit`], submitted by the desk's CDS scanner (an
//! actor of its own, `system:cds`): the same technical and supplemental checks, review and
//! implementation as any request, the consent rules of the workflow ([`crate::workflow::cds`]).
//! A scan with a problem is never acted on: the TLD's technical contact is told, once per
//! kind of problem per `[cds] report_days`, and each report is an audit event.

use serde::Serialize;

use crate::audit::{Actor, NewEvent};
use crate::check::cds::{CdsOutcome, CdsScan};
use crate::desk::{Caller, Desk, DeskError, Submission};
use crate::registry::TldLabel;
use crate::store::{self, StoreError};
use crate::workflow::{self, CdsMode, Priority, Proposal, RequestKind, State};

/// What the desk did with one sweep's scans.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CdsActions {
    /// (TLD, ticket) of the requests opened.
    pub opened: Vec<(String, String)>,
    /// (TLD, problem) reported to the technical contact.
    pub reported: Vec<(String, String)>,
    /// (TLD, why) of changes not acted on now (an open request, the setting off).
    pub skipped: Vec<(String, String)>,
}

/// Acts on the scans of a sweep, TLD by TLD; a failure for one TLD is logged and the next
/// goes on.
pub fn act(desk: &Desk, scans: &[(String, CdsScan)]) -> CdsActions {
    let mut done = CdsActions::default();
    for (tld, scan) in scans {
        if let Err(e) = act_on(desk, tld, scan, &mut done) {
            tracing::error!(%tld, error = %e, "acting on CDS failed");
            done.skipped.push((tld.clone(), e.to_string()));
        }
    }
    done
}

fn act_on(desk: &Desk, tld: &str, scan: &CdsScan, done: &mut CdsActions) -> Result<(), DeskError> {
    let mode = desk.read_store(|s| Ok(store::tld_cds(s.conn(), tld)?))?;
    if mode == CdsMode::Off {
        return Ok(());
    }
    let ds = match &scan.outcome {
        CdsOutcome::None | CdsOutcome::Unchanged => return Ok(()),
        CdsOutcome::Problem { problem, message } => {
            if report(desk, tld, problem.as_str(), message)? {
                done.reported.push((tld.to_string(), problem.to_string()));
            }
            return Ok(());
        }
        CdsOutcome::Change { ds } => ds.clone(),
        CdsOutcome::Delete => Vec::new(),
    };
    let label = TldLabel::parse(tld).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let Some(mut delegation) = desk.read_store(|s| Ok(s.current_delegation(&label)?))? else {
        return Ok(());
    };
    let wanted: std::collections::BTreeSet<_> = ds.into_iter().collect();
    if delegation.ds == wanted {
        return Ok(());
    }
    // One delegation request at a time: an open one (ours or the TLD's) is left to finish.
    let open = desk.read_store(|s| Ok(store::open_requests(s.conn(), tld, None)?))?;
    if let Some((ticket, _)) = open
        .iter()
        .find(|(_, k)| RequestKind::Delegation.conflicts_with(*k))
    {
        done.skipped.push((
            tld.to_string(),
            format!("{ticket} is open; the CDS change waits for it"),
        ));
        return Ok(());
    }
    delegation.ds = wanted;
    let submission = Submission {
        tld: tld.to_string(),
        priority: Priority::Normal,
        emergency_reason: None,
        proposal: Proposal::Delegation { delegation },
    };
    let (request, _) = desk.submit(&Caller::cds_scanner(), submission, None)?;
    tracing::info!(%tld, ticket = %request.ticket, cds = %mode, "request opened from CDS");
    done.opened.push((tld.to_string(), request.ticket));
    Ok(())
}

/// Reports a CDS problem to the TLD's technical contact unless the same kind of problem was
/// reported within `[cds] report_days`; returns whether it did. The report is an audit event
/// (`cds-problem-reported`, actor `system:cds`) in the transaction that queues the notice.
pub fn report(desk: &Desk, tld: &str, problem: &str, message: &str) -> Result<bool, DeskError> {
    let now = desk.clock.now();
    let since = store::timestamp(now - time::Duration::days(i64::from(desk.cds.report_days)));
    desk.with_store(|s| {
        s.write(|tx| {
            if let Some(last) = store::last_cds_report(tx, tld, problem)? {
                if last > since {
                    return Ok(false);
                }
            }
            store::append_event(
                tx,
                &NewEvent::of(
                    Actor::system("cds"),
                    crate::audit::kinds::Kind::CdsProblemReported,
                    serde_json::json!({ "problem": problem, "message": message }),
                )
                .at(now)
                .tld(tld),
            )?;
            let tech = match store::tld_role_holder(tx, tld, "tech")? {
                Some(handle) => store::contact(tx, &handle)?.and_then(|c| c.email),
                None => None,
            };
            if let Some(recipient) = tech {
                let body = format!(
                    "The desk read the CDS/CDNSKEY records of .{tld} in its sweep and will not act on them:\n\n\
                     {problem}: {message}\n\n\
                     Nothing changes in the root zone until every name server serves the same, validly \
                     signed records. The desk tells you again about this kind of problem after {} days \
                     if it persists.\n\n-- \nrootdesk, the root zone change desk\n",
                    desk.cds.report_days
                );
                store::queue_notification(
                    tx,
                    &store::NewNotification {
                        recipient,
                        subject: format!("[rootdesk] .{tld}: CDS/CDNSKEY records not acted on"),
                        body,
                        ticket: None,
                        tld: Some(tld.to_string()),
                        kind: "cds-problem".into(),
                    },
                    now,
                    now,
                )?;
            }
            Ok(true)
        })
    })
}

/// Ends the hold of every notify-only CDS request whose `[cds] hold_days` have passed
/// (the daemon calls it with its reminders); returns the tickets released.
pub fn release_holds(desk: &Desk) -> Result<Vec<(String, workflow::Event)>, DeskError> {
    let now = desk.clock.now();
    let open = desk.open_requests()?;
    let mut released = Vec::new();
    for summary in open {
        let Some(request) = desk.read_store(|s| Ok(s.request(&summary.ticket)?))? else {
            continue;
        };
        if request.state != State::ContactConfirmation
            || workflow::cds::hold_may_end(
                request.cds,
                request.state,
                request.submitted_at,
                now,
                desk.cds.hold_days,
            )
            .is_err()
        {
            continue;
        }
        let after = desk.end_cds_hold(&request.ticket)?;
        released.push((
            after.ticket.clone(),
            workflow::Event::HoldEnded {
                after_days: (now - request.submitted_at).whole_days().max(0) as u32,
            },
        ));
    }
    Ok(released)
}

/// A TLD record as the API and `tld show --format json` give it: the record's fields and
/// its `cds` setting.
pub fn with_setting(record: &crate::registry::TldRecord, cds: CdsMode) -> serde_json::Value {
    let mut value = serde_json::to_value(record).unwrap_or(serde_json::Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("cds".into(), serde_json::Value::String(cds.as_str().into()));
    }
    value
}

/// The TLDs a `rootdesk sweep` reads CDS for: every swept TLD with `--cds`, else those with
/// DS automation on.
pub fn sweep_cds_tlds(
    store: &store::Store,
    items: &[crate::check::SweepItem],
    all: bool,
) -> Result<std::collections::BTreeSet<String>, StoreError> {
    if all {
        return Ok(items.iter().map(|i| i.label.clone()).collect());
    }
    Ok(store::cds_enabled(store.conn())?.into_keys().collect())
}

/// Adds the scans to `rootdesk sweep --format json` as `cds` (when there are any).
pub fn add_to_sweep_json(doc: &mut serde_json::Value, scans: &[(String, CdsScan)]) {
    if scans.is_empty() {
        return;
    }
    if let Some(map) = doc.as_object_mut() {
        let list: Vec<serde_json::Value> = scans
            .iter()
            .map(|(_, scan)| serde_json::to_value(scan).unwrap_or(serde_json::Value::Null))
            .collect();
        map.insert("cds".into(), serde_json::Value::Array(list));
    }
}

/// The scans as lines after the sweep's table: `cds xa: ...`.
pub fn sweep_table(scans: &[(String, CdsScan)]) -> String {
    scans
        .iter()
        .map(|(tld, scan)| format!("cds {tld}: {}\n", scan.summary()))
        .collect()
}
