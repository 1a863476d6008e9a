//! The desk: carries stored requests through the workflow.
//!
//! Every command runs in one database transaction: the request is replayed from its events,
//! the caller's permission is checked, the workflow decides, the new events go into the audit
//! trail and the projection is updated, and follow-up work (a check to run, a publication to
//! make) is recorded in the same transaction. The HTTP API and the daemon's background tasks
//! both come through here, so there is one way to change a request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::rr::Name;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{Actor, NewEvent};
use crate::check::{self, Profile};
use crate::registry::{Delegation, TldLabel};
use crate::store::{self, PublishTtls, Role, Store, StoreError, Token};
use crate::workflow::{
    CheckPhase, Command, Event, Facts, Party, Priority, Proposal, Recorded, Request, State,
    Verdict, WorkflowError,
};

/// Why the desk refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An `Idempotency-Key` reused with a different body; the ticket its first use created.
    #[error("this Idempotency-Key was used for another submission, {0}: use a new key for a new request")]
    IdempotencyMismatch(String),
}

/// Who calls, as the API authenticated them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub token: String,
    pub role: Role,
    pub subject: String,
    /// The client's address.
    pub source: Option<String>,
}

impl Caller {
    pub fn from_token(token: &Token, source: Option<String>) -> Caller {
        Caller {
            token: token.id.clone(),
            role: token.role,
            subject: token.subject.clone(),
            source,
        }
    }

    /// The workflow's view of the caller.
    pub fn party(&self) -> Party {
        match self.role {
            Role::Contact => Party::Contact(self.subject.clone()),
            Role::Staff => Party::Staff(self.subject.clone()),
            // Auditors never act; a party is needed only to refuse them.
            Role::Auditor => Party::Staff(format!("auditor:{}", self.subject)),
        }
    }

    /// The audit trail's view of the caller.
    pub fn actor(&self) -> Actor {
        Actor::token(
            &self.token,
            Some(self.role.as_str()),
            (self.role == Role::Contact).then_some(self.subject.as_str()),
        )
    }
}

/// A clock that tests can set; `None` is the system clock.
#[derive(Debug, Default)]
pub struct Clock(Mutex<Option<OffsetDateTime>>);

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        self.0
            .lock()
            .map(|t| t.unwrap_or_else(OffsetDateTime::now_utc))
            .unwrap_or_else(|_| OffsetDateTime::now_utc())
    }

    pub fn set(&self, time: OffsetDateTime) {
        if let Ok(mut t) = self.0.lock() {
            *t = Some(time);
        }
    }

    pub fn advance(&self, by: time::Duration) {
        let next = self.now() + by;
        self.set(next);
    }
}

/// What the desk needs to know beyond the database.
#[derive(Debug, Clone)]
pub struct DeskSettings {
    /// Days a request may wait on the TLD before it expires.
    pub expire_days: u32,
    /// Days in a TLD-owned state after which the TLD is reminded.
    pub reminder_days: Vec<u32>,
    pub ttls: PublishTtls,
    pub profile: Profile,
    /// Lab only: the port to probe at each address (default 53).
    pub check_ports: BTreeMap<IpAddr, u16>,
    /// `[sweep] remind_after`: a reminder per period while a reported TLD keeps failing.
    pub sweep_remind_after: Option<time::Duration>,
}

/// A submission, as the API receives it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub tld: String,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default)]
    pub emergency_reason: Option<String>,
    pub proposal: Proposal,
}

/// What the API's actions are called, for permissions and refusal events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Read,
    Amend,
    Withdraw,
    Answer,
    Confirm,
    Decline,
    Approve,
    Reject,
    Ask,
    Evaluate,
    Implement,
}

impl Action {
    fn staff_only(self) -> bool {
        matches!(
            self,
            Action::Approve | Action::Reject | Action::Ask | Action::Evaluate | Action::Implement
        )
    }
}

/// The desk over one database: one writer connection, and a few read connections so that
/// reads run beside writes (WAL).
pub struct Desk {
    store: Mutex<Store>,
    readers: Vec<Mutex<Store>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// Check jobs running now, by id.
    running_checks: Mutex<BTreeSet<i64>>,
    /// How many checks may run at once.
    check_slots: tokio::sync::Semaphore,
    pub clock: Clock,
    pub settings: DeskSettings,
    /// Service levels the metrics compare against (settings `[service_levels]`).
    pub service_levels: crate::metrics::ServiceLevels,
    /// Request timelines derived from the log, reused until a new event arrives.
    pub metrics_cache: crate::metrics::TimelineCache,
    /// notify: addresses, links and the relay (`Desk::with_notify`).
    pub notify: crate::config::SmtpSettings,
    /// The public RDAP service: redaction and base URL (`Desk::with_rdap`).
    pub rdap: crate::config::RdapSettings,
    /// Refusals per (token, action, request) in the current window, for aggregation.
    refusals: Mutex<HashMap<(String, String, String), RefusalWindow>>,
    /// Dry-run checks (`POST /v1/check`) in flight, bounded per caller and in total.
    pub dry_runs: crate::api::DryRuns,
}

/// Documents one token may store, and their total size in bytes.
pub const MAX_DOCUMENTS_PER_CALLER: usize = 100;
pub const MAX_DOCUMENT_BYTES_PER_CALLER: i64 = 32 << 20;

/// Refusals of one caller on one endpoint are recorded at most once per this window.
pub const REFUSAL_WINDOW: time::Duration = time::Duration::minutes(1);
/// Callers tracked at once; beyond it, expired windows are dropped first, then all.
const REFUSAL_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct RefusalWindow {
    /// When the last event was written.
    recorded: OffsetDateTime,
    /// Refusals since then without an event of their own.
    repeated: u64,
}

/// Read connections beside the writer.
const READERS: usize = 4;
/// Technical checks running at once (each bounds its own queries in flight).
const CHECKS_AT_ONCE: usize = 16;

fn lock_failed() -> DeskError {
    DeskError::Store(StoreError::Corrupt(
        "the database handle was poisoned by an earlier panic; restart the daemon".into(),
    ))
}

impl Desk {
    pub fn new(store: Store, settings: DeskSettings) -> Desk {
        let readers = (0..READERS)
            .map_while(|_| Store::open(store.path()).ok().map(Mutex::new))
            .collect();
        Desk {
            store: Mutex::new(store),
            readers,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            running_checks: Mutex::new(BTreeSet::new()),
            check_slots: tokio::sync::Semaphore::new(CHECKS_AT_ONCE),
            clock: Clock::default(),
            settings,
            service_levels: crate::metrics::ServiceLevels::default(),
            metrics_cache: crate::metrics::TimelineCache::default(),
            notify: crate::config::SmtpSettings::default(),
            rdap: crate::config::RdapSettings::default(),
            refusals: Mutex::new(HashMap::new()),
            dry_runs: crate::api::DryRuns::default(),
        }
    }

    /// Sets the service levels of the metrics.
    pub fn with_service_levels(mut self, levels: crate::metrics::ServiceLevels) -> Desk {
        self.service_levels = levels;
        self
    }

    /// Every request's timeline, derived from the events (cached until the log grows).
    pub fn timelines(&self) -> Result<std::sync::Arc<Vec<crate::metrics::Timeline>>, DeskError> {
        self.read_store(|s| Ok(self.metrics_cache.get(s)?))
    }

    /// notify: the addresses, link base URL and relay of the notifications.
    pub fn with_notify(mut self, notify: crate::config::SmtpSettings) -> Desk {
        self.notify = notify;
        self
    }

    /// RDAP: whether contacts' personal fields are public, and the service's base URL.
    pub fn with_rdap(mut self, rdap: crate::config::RdapSettings) -> Desk {
        self.rdap = rdap;
        self
    }

    /// Bounds dry-run checks: `total` at once, `per_caller` for one caller.
    pub fn with_dry_run_limits(mut self, total: usize, per_caller: usize) -> Desk {
        self.dry_runs = crate::api::DryRuns::new(total, per_caller);
        self
    }

    /// Runs `f` with the writer connection.
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, DeskError>,
    ) -> Result<T, DeskError> {
        let mut store = self.store.lock().map_err(|_| lock_failed())?;
        f(&mut store)
    }

    /// Runs read-only `f` on a read connection (the writer's when there is none).
    pub fn read_store<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, DeskError>,
    ) -> Result<T, DeskError> {
        if self.readers.is_empty() {
            return self.with_store(|s| f(s));
        }
        for reader in &self.readers {
            if let Ok(store) = reader.try_lock() {
                return f(&store);
            }
        }
        let i = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.readers.len();
        let store = self.readers[i].lock().map_err(|_| lock_failed())?;
        f(&store)
    }

    /// The caller a bearer secret stands for, if it is valid now.
    pub fn authenticate(
        &self,
        secret: &str,
        source: Option<String>,
    ) -> Result<Option<Caller>, DeskError> {
        let now = self.clock.now();
        self.read_store(|s| {
            Ok(s.authenticate(secret, now)?
                .map(|t| Caller::from_token(&t, source)))
        })
    }

    /// Records a refused attempt on a request in the audit trail.
    pub fn record_refusal(
        &self,
        caller: &Caller,
        ticket: Option<&str>,
        tld: Option<&str>,
        action: &str,
        reason: &str,
    ) -> Result<(), DeskError> {
        let now = self.clock.now();
        // One event per caller and endpoint per window; the count of the others rides on the
        // next event, so forbidden calls cannot grow the trail one event each.
        let key = (
            caller.token.clone(),
            action.to_string(),
            ticket.unwrap_or_default().to_string(),
        );
        let repeated = {
            let mut windows = self.refusals.lock().map_err(|_| lock_failed())?;
            if let Some(w) = windows.get_mut(&key) {
                if now - w.recorded < REFUSAL_WINDOW && now >= w.recorded {
                    w.repeated += 1;
                    tracing::debug!(token = %caller.token, action, "refusal aggregated");
                    return Ok(());
                }
            }
            if windows.len() >= REFUSAL_KEYS {
                windows.retain(|_, w| now - w.recorded < REFUSAL_WINDOW);
                if windows.len() >= REFUSAL_KEYS {
                    windows.clear();
                }
            }
            let previous = windows.insert(
                key,
                RefusalWindow {
                    recorded: now,
                    repeated: 0,
                },
            );
            previous.map_or(0, |w| w.repeated)
        };
        let mut payload = serde_json::json!({ "action": action, "reason": reason });
        if repeated > 0 {
            payload["repeated"] = repeated.into();
        }
        let mut event = NewEvent::new(caller.actor(), "access-refused", payload).at(now);
        if let Some(source) = &caller.source {
            event = event.source(source);
        }
        if let Some(ticket) = ticket {
            event = event.request(ticket);
        }
        if let Some(tld) = tld {
            event = event.tld(tld);
        }
        self.with_store(|s| {
            s.append_events(std::slice::from_ref(&event))?;
            Ok(())
        })
    }

    /// Submits a request. With an idempotency key, a repeated submission by the same token
    /// returns the request the first one created (and `false`).
    pub fn submit(
        &self,
        caller: &Caller,
        submission: Submission,
        idempotency_key: Option<&str>,
    ) -> Result<(Request, bool), DeskError> {
        let now = self.clock.now();
        let label = TldLabel::parse(&submission.tld).map_err(|e| WorkflowError::Invalid {
            field: "tld".into(),
            message: e.to_string(),
        })?;
        let result = self.with_store(|s| {
            s.write(|tx| {
                if let Some(key) = idempotency_key {
                    if let Some(ticket) = store::idempotent_ticket(tx, &caller.token, key)? {
                        let events = store::request_events(tx, &ticket)?;
                        let request = Request::replay(&events)
                            .ok_or_else(|| DeskError::NotFound(ticket.clone()))?;
                        // The same key for another body is a client error, not a replay
                        // (draft-ietf-httpapi-idempotency-key-header): say which ticket has it.
                        let first = request.revisions.first().map(|r| &r.proposal);
                        if request.tld != label.as_str()
                            || request.priority != submission.priority
                            || request.emergency_reason != submission.emergency_reason
                            || first != Some(&submission.proposal)
                        {
                            return Err(DeskError::IdempotencyMismatch(ticket));
                        }
                        return Ok((request, false));
                    }
                }
                // Read inside the write transaction: what the proposal is compared with is
                // what it will change.
                let Some(current) = store::tld_record(tx, &label)? else {
                    return Err(DeskError::NotFound(format!("TLD {label}")));
                };
                if caller.role == Role::Auditor {
                    return Err(DeskError::Forbidden("auditors read; they do not submit requests".into()));
                }
                let mut facts = facts_for(tx, label.as_str(), None)?;
                facts.shared_host_contacts =
                    shared_host_contacts(tx, label.as_str(), &submission.proposal)?;
                facts.new_addresses = new_addresses(tx, label.as_str(), &submission.proposal)?;
                submission.proposal.validate()?;
                refuse_no_change(&current, &submission.proposal)?;
                if let Proposal::Transfer { evidence, .. } = &submission.proposal {
                    for e in evidence {
                        if !store::has_document(tx, &e.sha256)? {
                            return Err(WorkflowError::Invalid {
                                field: "proposal.evidence.sha256".into(),
                                message: format!(
                                    "no document with SHA-256 {} has been uploaded (POST /v1/documents)",
                                    e.sha256
                                ),
                            }
                            .into());
                        }
                    }
                }
                let ticket = store::next_ticket(tx, now)?;
                let events = Request::submit(
                    &ticket,
                    label.as_str(),
                    &caller.party(),
                    submission.proposal.clone(),
                    submission.priority,
                    submission.emergency_reason.clone(),
                    &facts,
                )?;
                let recorded: Vec<Recorded> = events
                    .into_iter()
                    .map(|event| Recorded {
                        time: now,
                        by: if matches!(event, Event::Accepted) {
                            Party::System
                        } else {
                            caller.party()
                        },
                        event,
                    })
                    .collect();
                let request = Request::replay(&recorded)
                    .ok_or_else(|| DeskError::NotFound(ticket.clone()))?;
                append_recorded(tx, &request, &recorded, caller)?;
                store::save_request(tx, &request, idempotency_key.map(|k| (caller.token.as_str(), k)))?;
                self.follow_up(tx, &request, now)?;
                // notify: in the same transaction as the submission.
                crate::notify::queue(tx, self, &request, &recorded, None, None, now)?;
                Ok((request, true))
            })
        });
        result
    }

    /// A request, if the caller may read it.
    pub fn read(&self, caller: &Caller, ticket: &str) -> Result<Request, DeskError> {
        let request = self
            .read_store(|s| Ok(s.request(ticket)?))?
            .ok_or_else(|| DeskError::NotFound(format!("request {ticket}")))?;
        self.permit(caller, Action::Read, &request)?;
        Ok(request)
    }

    /// Whether `caller` may do `action` on `request`: the role-level gate, before the
    /// workflow's own rules.
    pub fn permit(
        &self,
        caller: &Caller,
        action: Action,
        request: &Request,
    ) -> Result<(), DeskError> {
        let refuse = |reason: String| -> Result<(), DeskError> {
            self.record_refusal(
                caller,
                Some(&request.ticket),
                Some(&request.tld),
                action_name(action),
                &reason,
            )?;
            Err(DeskError::Forbidden(reason))
        };
        match caller.role {
            // Staff read and review; they never act for the TLD or consent for a contact.
            Role::Staff if action == Action::Read || action.staff_only() => Ok(()),
            // Staff who keyed in a request (received by other means) act for its submitter.
            Role::Staff
                if request.submitter == caller.party()
                    && matches!(action, Action::Amend | Action::Withdraw | Action::Answer) =>
            {
                Ok(())
            }
            Role::Staff => refuse(format!(
                "only the TLD's contacts may {}; staff act through review",
                action_name(action)
            )),
            Role::Auditor if action == Action::Read => Ok(()),
            Role::Auditor => refuse("auditors read; they do not act on requests".into()),
            Role::Contact if action.staff_only() => refuse("only desk staff may do this".into()),
            Role::Contact => {
                let holds_role = self
                    .read_store(|s| Ok(s.contact_tlds(&caller.subject)?))?
                    .contains(&request.tld);
                let asked = request.consents.contains_key(&caller.subject);
                let allowed = match action {
                    Action::Confirm | Action::Decline => asked,
                    Action::Read => holds_role || asked,
                    _ => holds_role || request.submitter == caller.party(),
                };
                if allowed {
                    Ok(())
                } else {
                    refuse(format!(
                        "{} is not a contact of {} for this request",
                        caller.subject, request.tld
                    ))
                }
            }
        }
    }

    /// The permission gate alone: whether `caller` may do `action` on the request `ticket`
    /// (a refusal is recorded). The API calls it before it reads a request body.
    pub fn authorize(
        &self,
        caller: &Caller,
        ticket: &str,
        action: Action,
    ) -> Result<(), DeskError> {
        let request = self
            .read_store(|s| Ok(s.request(ticket)?))?
            .ok_or_else(|| DeskError::NotFound(format!("request {ticket}")))?;
        self.permit(caller, action, &request)
    }

    /// Runs a command on a request for `caller`.
    pub fn act(
        &self,
        caller: &Caller,
        ticket: &str,
        action: Action,
        command: Command,
    ) -> Result<Request, DeskError> {
        let request = self
            .read_store(|s| Ok(s.request(ticket)?))?
            .ok_or_else(|| DeskError::NotFound(format!("request {ticket}")))?;
        self.permit(caller, action, &request)?;
        let outcome = self.execute(ticket, &caller.party(), Some(caller), command);
        if let Err(DeskError::Workflow(WorkflowError::Forbidden(reason))) = &outcome {
            self.record_refusal(caller, Some(ticket), Some(&request.tld), "command", reason)?;
        }
        outcome
    }

    /// Decides and records a command in one transaction.
    fn execute(
        &self,
        ticket: &str,
        party: &Party,
        caller: Option<&Caller>,
        command: Command,
    ) -> Result<Request, DeskError> {
        let now = self.clock.now();
        self.with_store(|s| s.write(|tx| self.execute_tx(tx, ticket, party, caller, command, now)))
    }

    /// The command inside a caller's transaction.
    fn execute_tx(
        &self,
        tx: &rusqlite::Transaction<'_>,
        ticket: &str,
        party: &Party,
        caller: Option<&Caller>,
        command: Command,
        now: OffsetDateTime,
    ) -> Result<Request, DeskError> {
        let events = store::request_events(tx, ticket)?;
        let mut request = Request::replay(&events)
            .ok_or_else(|| DeskError::NotFound(format!("request {ticket}")))?;
        let mut facts = facts_for(tx, &request.tld, Some(ticket))?;
        if let Command::Amend { proposal } = &command {
            facts.shared_host_contacts = shared_host_contacts(tx, &request.tld, proposal)?;
            facts.new_addresses = new_addresses(tx, &request.tld, proposal)?;
        }
        let mut prior = None;
        let command = match command {
            Command::Implement { .. } => {
                // Decide first, so that nothing is published from a wrong state.
                request.decide(&Command::Implement { serial: None }, party, now, &facts)?;
                // What the record was, for the completion notice's old -> new.
                prior = Some(crate::notify::Snapshot::read(tx, &request.tld)?);
                let serial = self.implement(tx, &request, now)?;
                Command::Implement { serial }
            }
            other => other,
        };
        let decided = request.decide(&command, party, now, &facts)?;
        let recorded: Vec<Recorded> = decided
            .into_iter()
            .map(|event| Recorded {
                time: now,
                by: party.clone(),
                event,
            })
            .collect();
        let before = request.state;
        for r in &recorded {
            request.apply(r);
        }
        match caller {
            Some(c) => append_recorded(tx, &request, &recorded, c)?,
            None => append_system(tx, &request, &recorded)?,
        }
        store::save_request(tx, &request, None)?;
        if request.state != before || matches!(command, Command::Amend { .. }) {
            self.follow_up(tx, &request, now)?;
        }
        // notify: in the same transaction as the state change.
        crate::notify::queue(tx, self, &request, &recorded, Some(before), prior, now)?;
        Ok(request)
    }

    /// Work a state asks for: a check to queue on entering a check state.
    fn follow_up(
        &self,
        tx: &rusqlite::Transaction<'_>,
        request: &Request,
        now: OffsetDateTime,
    ) -> Result<(), DeskError> {
        let phase = match request.state {
            State::TechnicalCheck => CheckPhase::Initial,
            State::SupplementalCheck => CheckPhase::Supplemental,
            _ => return Ok(()),
        };
        store::enqueue_check(tx, &request.ticket, request.revision(), phase, now)?;
        Ok(())
    }

    /// Applies the final revision to the registry; returns the new publication's serial when
    /// the root zone changed.
    fn implement(
        &self,
        tx: &rusqlite::Transaction<'_>,
        request: &Request,
        now: OffsetDateTime,
    ) -> Result<Option<u32>, DeskError> {
        let tld = TldLabel::parse(&request.tld).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let source = format!("request {}", request.ticket);
        let mut serial = None;
        match request.proposal() {
            Proposal::Delegation { delegation } => {
                serial = Some(store::publish_delegation_tx(
                    tx,
                    &tld,
                    delegation,
                    &source,
                    self.settings.ttls,
                    now,
                )?);
            }
            Proposal::Contacts { admin, tech } => {
                store::set_contacts_tx(tx, &tld, admin.as_ref(), tech.as_ref(), now)?;
            }
            Proposal::Sponsor { sponsor } => store::set_sponsor_tx(tx, &tld, sponsor, now)?,
            Proposal::Transfer {
                sponsor,
                admin,
                tech,
                delegation,
                ..
            } => {
                store::set_sponsor_tx(tx, &tld, sponsor, now)?;
                store::set_contacts_tx(tx, &tld, Some(admin), Some(tech), now)?;
                if let Some(d) = delegation {
                    serial = Some(store::publish_delegation_tx(
                        tx,
                        &tld,
                        d,
                        &source,
                        self.settings.ttls,
                        now,
                    )?);
                }
            }
        }
        if let Some(serial) = serial {
            store::append_event(
                tx,
                &NewEvent::new(
                    Actor::system("desk"),
                    "zone-published",
                    serde_json::json!({ "serial": serial, "source": source, "tld": request.tld }),
                )
                .at(now)
                .tld(&request.tld)
                .request(&request.ticket),
            )?;
        }
        Ok(serial)
    }

    /// The proposal a check job must test, with lab ports applied.
    pub fn check_proposal(&self, delegation: &Delegation) -> check::Proposal {
        let mut proposal = check::Proposal::from_delegation(delegation);
        for ns in &mut proposal.nameservers {
            for address in &mut ns.addresses {
                if let Some(port) = self.settings.check_ports.get(&address.ip()) {
                    *address = SocketAddr::new(address.ip(), *port);
                }
            }
        }
        proposal
    }

    /// Sweeps every delegation of the current publication (the daemon's `[sweep]` schedule):
    /// the same engine, profile and check ports as the request checks, one shared hub, the
    /// results stored per TLD.
    pub async fn sweep_delegations(
        self: &Arc<Self>,
        limits: check::SweepLimits,
    ) -> Result<SweptSummary, DeskError> {
        let me = self.clone();
        let items = tokio::task::spawn_blocking(move || {
            me.with_store(|s| {
                let Some(zone) = s.zone(None)? else {
                    return Ok(Vec::new());
                };
                let mut items = Vec::new();
                for tld in zone.tlds.keys() {
                    if let Some(d) = s.current_delegation(tld)? {
                        items.push(check::SweepItem {
                            label: tld.as_str().to_string(),
                            zone: tld.to_name(),
                            proposal: me.check_proposal(&d),
                        });
                    }
                }
                Ok(items)
            })
        })
        .await
        .map_err(|e| DeskError::Store(StoreError::Conflict(format!("sweep: {e}"))))??;
        let outcome = check::sweep(items, &self.settings.profile, limits, &|_, _| {}).await;
        let counts = outcome.counts();
        let n = |v| counts.get(&v).copied().unwrap_or(0);
        let summary = SweptSummary {
            tlds: outcome.reports.len(),
            pass: n(check::Verdict::Pass),
            warn: n(check::Verdict::Warn),
            fail: n(check::Verdict::Fail),
            not_run: n(check::Verdict::NotRun),
            queries: outcome.queries_sent,
            elapsed_ms: outcome.elapsed_ms,
        };
        let rows: Vec<(String, String, serde_json::Value)> = outcome
            .reports
            .iter()
            .map(|(tld, r)| {
                let json = serde_json::json!({
                    "checks": r.checks,
                    "not_run": r.not_run,
                    "findings": r.findings,
                    "elapsed_ms": r.elapsed_ms,
                });
                (tld.clone(), r.verdict.to_string(), json)
            })
            .collect();
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let now = me.clock.now();
            let staff = me.notify.staff_address.clone();
            let policy = crate::watch::WatchPolicy {
                remind_after: me.settings.sweep_remind_after,
            };
            me.with_store(|s| {
                s.write(|tx| {
                    let before = store::last_sweep_verdicts_tx(tx)?;
                    let id = store::record_sweep_tx(
                        tx,
                        &outcome.started,
                        outcome.elapsed_ms,
                        outcome.queries_sent,
                        &rows,
                    )?;
                    // Newly failing, still failing (reminder), recovered: src/watch.rs.
                    crate::watch::after_sweep(
                        tx,
                        id,
                        &before,
                        &outcome.reports,
                        &staff,
                        policy,
                        now,
                    )?;
                    Ok(())
                })
            })
        })
        .await
        .map_err(|e| DeskError::Store(StoreError::Conflict(format!("sweep: {e}"))))??;
        Ok(summary)
    }

    /// Runs one pending check job to its end: the check, the stored report, and the
    /// workflow's `check-finished` event. A job whose request moved on is closed as stale.
    pub async fn run_check_job(&self, job: &store::CheckJob) -> Result<(), DeskError> {
        let request = self.read_store(|s| Ok(s.request(&job.ticket)?))?;
        let now = self.clock.now();
        let expected = match job.phase {
            CheckPhase::Initial => State::TechnicalCheck,
            CheckPhase::Supplemental => State::SupplementalCheck,
        };
        let current = request
            .as_ref()
            .filter(|r| r.revision() == job.revision && r.state == expected);
        let Some(request) = current else {
            return self.with_store(|s| {
                s.write(|tx| {
                    store::close_stale_check(tx, job.id, now)?;
                    Ok(())
                })
            });
        };
        let Some(delegation) = request.proposal().delegation().cloned() else {
            return Err(StoreError::Corrupt(format!(
                "{} has no delegation to check",
                request.ticket
            ))
            .into());
        };
        let zone = Name::from_ascii(format!("{}.", request.tld))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let proposal = self.check_proposal(&delegation);
        let report = check::run_check(&zone, &proposal, &self.settings.profile).await;
        let verdict = match report.verdict {
            check::Verdict::Pass => Verdict::Pass,
            check::Verdict::Warn => Verdict::Warn,
            // A delegation that could not be judged is never let through: the request is
            // held as by a failed check, and the stored report says `not-run` and why.
            check::Verdict::Fail | check::Verdict::NotRun => Verdict::Fail,
        };
        let summary = summarise(&report);
        let report_json =
            serde_json::to_value(&report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let now = self.clock.now();
        let command = Command::FinishCheck {
            phase: job.phase,
            revision: job.revision,
            verdict,
            check_id: Some(job.id),
            summary,
        };
        // The stored report and the workflow's event commit together: a crash between them
        // would leave a finished job and a request still waiting for it.
        let recorded = self.with_store(|s| {
            s.write(|tx| {
                store::finish_check(tx, job.id, verdict, &report_json, now)?;
                self.execute_tx(tx, &job.ticket, &Party::System, None, command, now)
            })
        });
        match recorded {
            Ok(_) => {}
            // The request moved on while the check ran (amended, withdrawn): keep the report,
            // close the job, record nothing on the request.
            Err(DeskError::Workflow(e)) => {
                tracing::info!(ticket = %job.ticket, reason = %e, "check result no longer applies");
                self.with_store(|s| {
                    s.write(|tx| {
                        store::finish_check(tx, job.id, verdict, &report_json, now)?;
                        Ok(())
                    })
                })?;
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Runs every pending check (the daemon calls this when woken and at start, so that a
    /// restart resumes checks that were in flight).
    /// Each job runs as its own task, so that a slow check never holds up the others; a job
    /// already running is not started twice. Returns how many were started.
    pub fn start_pending_checks(self: &Arc<Self>) -> Result<usize, DeskError> {
        let jobs = self.read_store(|s| Ok(s.pending_checks()?))?;
        let mut started = 0;
        for job in jobs {
            let fresh = self
                .running_checks
                .lock()
                .map(|mut running| running.insert(job.id))
                .unwrap_or(false);
            if !fresh {
                continue;
            }
            started += 1;
            let desk = self.clone();
            tokio::spawn(async move {
                let _permit = desk.check_slots.acquire().await;
                if let Err(e) = desk.run_check_job(&job).await {
                    tracing::error!(ticket = %job.ticket, error = %e, "check job failed");
                }
                if let Ok(mut running) = desk.running_checks.lock() {
                    running.remove(&job.id);
                }
            });
        }
        Ok(started)
    }

    /// Sends due reminders and expires requests left with the TLD too long. Returns the
    /// tickets it acted on.
    pub fn sweep(&self) -> Result<Vec<(String, Event)>, DeskError> {
        let now = self.clock.now();
        let open = self.read_store(|s| {
            Ok(s.requests(&store::RequestFilter {
                open_only: true,
                limit: u32::MAX,
                ..Default::default()
            })?)
        })?;
        let mut acted = Vec::new();
        for summary in open.iter().filter(|r| r.owner.as_deref() == Some("tld")) {
            let Some(request) = self.read_store(|s| Ok(s.request(&summary.ticket)?))? else {
                continue;
            };
            let Some(waited) = request.waiting_on_tld_for(now) else {
                continue;
            };
            let days = waited.whole_days().max(0) as u32;
            let command = if days >= self.settings.expire_days {
                Command::Expire {
                    limit_days: self.settings.expire_days,
                }
            } else if let Some(due) = self
                .settings
                .reminder_days
                .iter()
                .filter(|d| **d <= days && !request.reminders.contains(d))
                .max()
            {
                Command::Remind { after_days: *due }
            } else {
                continue;
            };
            let after = self.execute(&summary.ticket, &Party::System, None, command)?;
            if let Some(last) = self
                .read_store(|s| Ok(s.request_history(&after.ticket)?))?
                .pop()
            {
                acted.push((after.ticket.clone(), last.event));
            }
        }
        Ok(acted)
    }

    /// Stores an evidence document; returns its SHA-256.
    pub fn store_document(
        &self,
        caller: &Caller,
        content: &[u8],
        media_type: &str,
    ) -> Result<String, DeskError> {
        if caller.role == Role::Auditor {
            return Err(DeskError::Forbidden(
                "auditors read; they do not upload documents".into(),
            ));
        }
        let now = self.clock.now();
        self.with_store(|s| {
            s.write(|tx| {
                // The quota counts this token's stored-document events: the trail is the
                // record of who uploaded what (documents themselves are shared by hash).
                let (count, bytes): (i64, i64) = tx
                    .query_row(
                        "SELECT count(*), COALESCE(sum(json_extract(payload, '$.size')), 0)                          FROM events WHERE kind = 'document-stored' AND actor_kind = 'token'                          AND actor_id = ?1",
                        [&caller.token],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(StoreError::from)?;
                let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
                if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_DOCUMENTS_PER_CALLER
                    || bytes.saturating_add(size) > MAX_DOCUMENT_BYTES_PER_CALLER
                {
                    return Err(DeskError::Workflow(WorkflowError::Invalid {
                        field: "body".into(),
                        message: format!(
                            "document quota reached: this token stored {count} documents, \
                             {bytes} bytes; at most {MAX_DOCUMENTS_PER_CALLER} documents and \
                             {MAX_DOCUMENT_BYTES_PER_CALLER} bytes per token. Reuse a stored \
                             document by its sha256, or ask the desk's staff"
                        ),
                    }));
                }
                let sha256 = store::store_document(tx, content, media_type, now)?;
                let mut event = NewEvent::new(
                    caller.actor(),
                    "document-stored",
                    serde_json::json!({ "sha256": sha256, "media_type": media_type, "size": content.len() }),
                )
                .at(now);
                if let Some(source) = &caller.source {
                    event = event.source(source);
                }
                store::append_event(tx, &event)?;
                Ok(sha256)
            })
        })
    }

    /// Requests the caller may see.
    pub fn list(
        &self,
        caller: &Caller,
        mut filter: store::RequestFilter,
    ) -> Result<Vec<store::RequestSummary>, DeskError> {
        self.read_store(|s| {
            if caller.role == Role::Contact {
                let mine = s.contact_tlds(&caller.subject)?;
                filter.tlds = Some(match filter.tlds.take() {
                    Some(asked) => asked.into_iter().filter(|t| mine.contains(t)).collect(),
                    None => mine,
                });
            }
            Ok(s.requests(&filter)?)
        })
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Read => "read",
        Action::Amend => "amend",
        Action::Withdraw => "withdraw",
        Action::Answer => "answer",
        Action::Confirm => "confirm",
        Action::Decline => "decline",
        Action::Approve => "approve",
        Action::Reject => "reject",
        Action::Ask => "ask",
        Action::Evaluate => "evaluate",
        Action::Implement => "implement",
    }
}

/// What the workflow needs to know about the TLD, read in the transaction.
fn facts_for(
    tx: &rusqlite::Transaction<'_>,
    tld: &str,
    except: Option<&str>,
) -> Result<Facts, DeskError> {
    Ok(Facts {
        tld_contacts: store::tld_contact_handles(tx, tld)?
            .into_iter()
            .collect::<BTreeSet<_>>(),
        open_requests: store::open_requests(tx, tld, except)?,
        shared_host_contacts: BTreeSet::new(),
        new_addresses: BTreeMap::new(),
    })
}

/// Contacts of the other TLDs whose consent `proposal` needs: those that use a name server
/// host whose addresses it changes (their delegations change with it), and those under whose
/// name it places glue (an address record owned in another TLD's namespace). Glue under a TLD
/// the desk holds no contacts for is refused: nobody could consent to it.
/// A proposal equal to what is published would walk every step to publish the same data:
/// refused at submission, saying what it repeats.
fn refuse_no_change(
    current: &crate::registry::TldRecord,
    proposal: &Proposal,
) -> Result<(), WorkflowError> {
    let same = match proposal {
        Proposal::Delegation { delegation } => {
            (delegation == &current.delegation).then_some("the delegation published now")
        }
        Proposal::Sponsor { sponsor } => (current.sponsor.as_deref() == Some(sponsor.as_str()))
            .then_some("the sponsoring organisation on file"),
        Proposal::Contacts { admin, tech } => {
            let unchanged =
                |proposed: &Option<crate::registry::Contact>,
                 on_file: &Option<crate::registry::Contact>| {
                    proposed.is_none() || proposed == on_file
                };
            (unchanged(admin, &current.admin) && unchanged(tech, &current.tech))
                .then_some("the contacts on file")
        }
        Proposal::Transfer { .. } => None,
    };
    match same {
        Some(what) => Err(WorkflowError::Invalid {
            field: "proposal".into(),
            message: format!(
                "the proposal changes nothing: it equals {what} for .{}; submit only what \
                 should change",
                current.label.as_str()
            ),
        }),
        None => Ok(()),
    }
}

/// Contacts on file that `proposal` gives an e-mail address they do not have on file, with
/// that address. "On file" is the TLD's own record of the contact, or, for a contact the TLD
/// does not hold yet, every record other TLDs keep of it: a handle the desk knows is one
/// person, asked where the desk knows it, never only where a proposal says.
fn new_addresses(
    tx: &rusqlite::Transaction<'_>,
    tld: &str,
    proposal: &Proposal,
) -> Result<BTreeMap<String, String>, DeskError> {
    let named: Vec<&crate::registry::Contact> = match proposal {
        Proposal::Contacts { admin, tech } => admin.iter().chain(tech.iter()).collect(),
        Proposal::Transfer { admin, tech, .. } => vec![admin, tech],
        _ => Vec::new(),
    };
    let mut changed = BTreeMap::new();
    for contact in named {
        let Some(email) = &contact.email else {
            continue;
        };
        let on_file = match store::tld_contact(tx, tld, &contact.handle)? {
            Some(record) => vec![record],
            None => store::contact_records(tx, &contact.handle)?,
        };
        if !on_file.is_empty() && on_file.iter().all(|r| r.email.as_ref() != Some(email)) {
            changed.insert(contact.handle.clone(), email.clone());
        }
    }
    Ok(changed)
}

fn shared_host_contacts(
    tx: &rusqlite::Transaction<'_>,
    tld: &str,
    proposal: &Proposal,
) -> Result<BTreeSet<String>, DeskError> {
    let mut contacts = BTreeSet::new();
    let Some(delegation) = proposal.delegation() else {
        return Ok(contacts);
    };
    for (host, addresses) in &delegation.nameservers {
        if addresses.is_empty() {
            continue;
        }
        let current = store::host_glue(tx, host)?;
        if current == *addresses {
            // Published already, so consented to already.
            continue;
        }
        let owner = host.tld_label();
        if owner != tld {
            let handles = store::tld_contact_handles(tx, owner)?;
            if handles.is_empty() {
                return Err(WorkflowError::Invalid {
                    field: "proposal.nameservers".into(),
                    message: format!(
                        "{host} lies under .{owner}, which has no contacts at this desk, so no one \
                         can consent to glue for it: name it without addresses, or use a host \
                         under .{tld}"
                    ),
                }
                .into());
            }
            contacts.extend(handles);
        }
        if current.is_empty() {
            continue;
        }
        for other in store::host_tlds(tx, host)? {
            if other != tld {
                contacts.extend(store::tld_contact_handles(tx, &other)?);
            }
        }
    }
    Ok(contacts)
}

fn to_new_events(
    request: &Request,
    recorded: &[Recorded],
    actor: &Actor,
    source: Option<&str>,
) -> Result<Vec<NewEvent>, DeskError> {
    recorded
        .iter()
        .map(|r| {
            let payload =
                serde_json::to_value(r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut event = NewEvent::new(actor.clone(), r.event.kind(), payload)
                .at(r.time)
                .tld(&request.tld)
                .request(&request.ticket);
            if let Some(source) = source {
                event = event.source(source);
            }
            Ok(event)
        })
        .collect()
}

fn append_recorded(
    tx: &rusqlite::Transaction<'_>,
    request: &Request,
    recorded: &[Recorded],
    caller: &Caller,
) -> Result<(), DeskError> {
    let events = to_new_events(request, recorded, &caller.actor(), caller.source.as_deref())?;
    store::append_events(tx, &events)?;
    Ok(())
}

fn append_system(
    tx: &rusqlite::Transaction<'_>,
    request: &Request,
    recorded: &[Recorded],
) -> Result<(), DeskError> {
    let events = to_new_events(request, recorded, &Actor::system("desk"), None)?;
    store::append_events(tx, &events)?;
    Ok(())
}

/// One line per problem of a check, for the event and the submitter.
fn summarise(report: &check::Report) -> String {
    let problems: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.severity != check::Severity::Off)
        .take(20)
        .map(|f| format!("{} {}: {}", f.severity, f.check.as_str(), f.message))
        .chain(
            report
                .not_run
                .iter()
                .map(|(id, why)| format!("not-run {}: {why}", id.as_str())),
        )
        .take(20)
        .collect();
    if problems.is_empty() {
        format!("{}: no problems", report.verdict)
    } else {
        format!("{}: {}", report.verdict, problems.join("; "))
    }
}

/// What one scheduled sweep of the delegations came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweptSummary {
    pub tlds: usize,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub not_run: usize,
    pub queries: u64,
    pub elapsed_ms: u64,
}
