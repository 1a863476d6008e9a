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

pub mod authority;
pub mod cds;
pub mod dry_runs;
pub mod gate;
pub mod jobs;
pub mod links;
pub mod outbox;
pub mod people;
pub mod reads;
pub mod review;

pub use authority::set_authority_cli;
use gate::RefusalWindow;
pub use gate::{Action, Caller, Granted, Permission, Resource, REFUSAL_WINDOW};
pub use jobs::SweptSummary;

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
    /// `[workflow] four_eyes`: who approved may not implement.
    pub four_eyes: bool,
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
    pub dry_runs: dry_runs::DryRuns,
    /// DS automation from CDS/CDNSKEY: hold and report intervals (`Desk::with_cds`).
    pub cds: crate::config::CdsSettings,
    /// RFC 9615 bootstrapping for the sweeps' CDS scans, parsed from `cds` by `Desk::with_cds`
    /// (`[cds] trust_anchor` and `resolvers`); `None`: unsigned TLDs are only reported.
    pub cds_bootstrap: Option<Arc<crate::check::dsboot::Bootstrap>>,
    /// Persons' sessions, invitations and tokens (`Desk::with_accounts`).
    pub accounts: crate::config::AccountsSettings,
    /// Login throttle and aggregated login refusals (issue 14).
    pub(crate) people: people::PeopleState,
    /// Session cookies carry `Secure` (the server runs TLS; `Desk::with_secure_cookies`).
    pub secure_cookies: bool,
}

/// Documents one token may store, and their total size in bytes.
pub const MAX_DOCUMENTS_PER_CALLER: usize = 100;
pub const MAX_DOCUMENT_BYTES_PER_CALLER: i64 = 32 << 20;

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
            dry_runs: dry_runs::DryRuns::default(),
            cds: crate::config::CdsSettings::default(),
            cds_bootstrap: None,
            accounts: crate::config::AccountsSettings::default(),
            people: people::PeopleState::default(),
            secure_cookies: false,
        }
    }

    /// Sets the DS automation settings (`[cds]`), reading the RFC 9615 trust anchor file
    /// once here: a trust anchor that cannot be read or parsed, or resolvers that are not
    /// "ip:port", are an error (the daemon refuses to start), not a silent "off".
    pub fn with_cds(mut self, cds: crate::config::CdsSettings) -> Result<Desk, String> {
        self.cds_bootstrap = cds.bootstrap()?.map(Arc::new);
        self.cds = cds;
        Ok(self)
    }

    /// Ends the hold of a notify-only CDS request (src/desk/cds.rs calls it once the hold is over);
    /// the workflow refuses it for any other request or before `[cds] hold_days`.
    pub fn end_cds_hold(&self, ticket: &str) -> Result<Request, DeskError> {
        let command = Command::EndHold {
            hold_days: self.cds.hold_days,
        };
        self.execute(ticket, &Party::System, None, command)
    }

    /// Sets the service levels of the metrics.
    pub fn with_service_levels(mut self, levels: crate::metrics::ServiceLevels) -> Desk {
        self.service_levels = levels;
        self
    }

    /// Every request's timeline, derived from the events through the cache file beside the
    /// database. It reads the whole history: pages and the API ask for [`Desk::turnaround`].
    pub fn timelines(&self) -> Result<Vec<crate::metrics::Timeline>, DeskError> {
        self.read_store(|s| Ok(crate::metrics::load_timelines(s)?))
    }

    /// The turnaround report with the desk's service levels, as of the newest event or built at
    /// most `max_age` ago.
    pub fn turnaround(
        &self,
        options: &crate::metrics::ReportOptions,
        max_age: std::time::Duration,
    ) -> Result<std::sync::Arc<crate::metrics::Report>, DeskError> {
        self.read_store(|s| {
            Ok(self
                .metrics_cache
                .report(s, &self.service_levels, options, max_age)?)
        })
    }

    /// The turnaround chart (SVG, or why there is none yet), as [`Desk::turnaround`].
    pub fn turnaround_chart(
        &self,
        max_age: std::time::Duration,
    ) -> Result<std::sync::Arc<Result<String, String>>, DeskError> {
        self.read_store(|s| Ok(self.metrics_cache.chart(s, &self.service_levels, max_age)?))
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
        self.dry_runs = dry_runs::DryRuns::new(total, per_caller);
        self
    }

    /// What the outbox's messages need of the desk's settings.
    pub fn notify_settings(&self) -> crate::notify::Settings<'_> {
        crate::notify::Settings {
            smtp: &self.notify,
            expire_days: self.settings.expire_days,
            cds_hold_days: self.cds.hold_days,
        }
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

    /// The caller a bearer secret stands for, if it is valid now: a role token, or a person
    /// token (issue 14) with its scope.
    pub fn authenticate(
        &self,
        secret: &str,
        source: Option<String>,
    ) -> Result<Option<Caller>, DeskError> {
        let now = self.clock.now();
        let role_token = self.read_store(|s| Ok(s.authenticate(secret, now)?))?;
        match role_token {
            Some(t) => Ok(Some(Caller::from_token(&t, source))),
            None => self.person_token_caller(secret, source),
        }
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
                self.grant(caller, Permission::SubmitRequest, Resource::Tld(Some(label.as_str())))?;
                let mut facts = facts_for(tx, label.as_str(), None)?;
                facts.shared_host_contacts =
                    shared_host_contacts(tx, label.as_str(), &submission.proposal)?;
                facts.new_addresses = new_addresses(tx, label.as_str(), &submission.proposal)?;
                facts.ds_only = ds_only(&current.delegation, &submission.proposal);
                submission.proposal.validate()?;
                refuse_no_change(&current, facts.authority.as_ref(), &submission.proposal)?;
                check_authority_members(tx, &submission.proposal)?;
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
                crate::notify::queue(tx, self.notify_settings(), &request, &recorded, None, None, now)?;
                Ok((request, true))
            })
        });
        result
    }

    /// Runs a command on a request for `caller`, in one transaction: the request is loaded
    /// once, the gate decides (writing nothing), the workflow decides, and the events, the
    /// projection and the follow-up are written together. A refusal leaves only its audit
    /// event, written in that same transaction.
    pub fn act(
        &self,
        caller: &Caller,
        ticket: &str,
        action: Action,
        command: Command,
    ) -> Result<Request, DeskError> {
        let now = self.clock.now();
        self.with_store(|s| s.write(|tx| self.act_tx(tx, caller, ticket, action, command, now)))?
    }

    /// [`Desk::act`] inside the caller's transaction. `Ok(Err(_))` is a refusal or a failed
    /// command with nothing but its refusal event written: the caller commits it; `Err(_)`
    /// means the transaction must be rolled back.
    pub(crate) fn act_tx(
        &self,
        tx: &rusqlite::Transaction<'_>,
        caller: &Caller,
        ticket: &str,
        action: Action,
        command: Command,
        now: OffsetDateTime,
    ) -> Result<Result<Request, DeskError>, DeskError> {
        let events = store::request_events(tx, ticket)?;
        let Some(request) = Request::replay(&events) else {
            return Ok(Err(DeskError::NotFound(format!("request {ticket}"))));
        };
        let standing = gate::standing_in(tx, caller, &request.tld)?;
        if let Err(reason) = gate::request_rule(caller, action, &request, standing) {
            let tld = request.tld.clone();
            self.record_refusal_tx(tx, caller, Some(ticket), Some(&tld), action.name(), &reason)?;
            return Ok(Err(DeskError::Forbidden(reason)));
        }
        let tld = request.tld.clone();
        // In a savepoint: a command the workflow refuses midway leaves nothing behind.
        let outcome = store::savepoint(tx, |tx| {
            self.execute_loaded(tx, request, &caller.party(), Some(caller), command, now)
        });
        match outcome {
            Ok(after) => Ok(Ok(after)),
            Err(DeskError::Workflow(WorkflowError::Forbidden(reason))) => {
                self.record_refusal_tx(tx, caller, Some(ticket), Some(&tld), "command", &reason)?;
                Ok(Err(DeskError::Workflow(WorkflowError::Forbidden(reason))))
            }
            Err(
                e @ (DeskError::Workflow(_) | DeskError::NotFound(_) | DeskError::Forbidden(_)),
            ) => Ok(Err(e)),
            Err(e) => Err(e),
        }
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
        let request = Request::replay(&events)
            .ok_or_else(|| DeskError::NotFound(format!("request {ticket}")))?;
        self.execute_loaded(tx, request, party, caller, command, now)
    }

    /// The command on a request loaded in this transaction.
    fn execute_loaded(
        &self,
        tx: &rusqlite::Transaction<'_>,
        mut request: Request,
        party: &Party,
        caller: Option<&Caller>,
        command: Command,
        now: OffsetDateTime,
    ) -> Result<Request, DeskError> {
        let ticket = request.ticket.clone();
        let ticket = ticket.as_str();
        let mut facts = facts_for(tx, &request.tld, Some(ticket))?;
        facts.four_eyes = self.settings.four_eyes;
        if let Command::Amend { proposal } = &command {
            facts.shared_host_contacts = shared_host_contacts(tx, &request.tld, proposal)?;
            facts.new_addresses = new_addresses(tx, &request.tld, proposal)?;
            facts.ds_only = ds_only_now(tx, &request.tld, proposal)?;
            check_authority_members(tx, proposal)?;
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
        crate::notify::queue(
            tx,
            self.notify_settings(),
            &request,
            &recorded,
            Some(before),
            prior,
            now,
        )?;
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
            Proposal::Authority { authority } => {
                store::set_authority_tx(tx, tld.as_str(), authority, now)?
            }
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
                &NewEvent::typed(
                    Actor::system("desk"),
                    &crate::audit::Payload::RequestPublished(
                        crate::audit::kinds::RequestPublished {
                            serial,
                            source: source.clone(),
                            tld: request.tld.clone(),
                        },
                    ),
                )
                .at(now)
                .tld(&request.tld)
                .request(&request.ticket),
            )?;
        }
        Ok(serial)
    }

    /// Stores an evidence document; returns its SHA-256.
    pub fn store_document(
        &self,
        caller: &Caller,
        content: &[u8],
        media_type: &str,
    ) -> Result<String, DeskError> {
        self.grant(caller, Permission::UploadDocument, Resource::Document)?;
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
                let mut event = NewEvent::typed(
                    caller.actor(),
                    &crate::audit::Payload::DocumentStored(crate::audit::kinds::DocumentStored {
                        sha256: sha256.clone(),
                        media_type: media_type.to_string(),
                        size: content.len(),
                    }),
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
        if let Some(scope) = &caller.scope {
            if !scope.permissions.contains(Action::Read.name()) {
                return Err(DeskError::Forbidden(
                    "this token does not carry read".into(),
                ));
            }
        }
        self.read_store(|s| {
            // Contacts and persons see their own TLDs' requests only (and a narrowed token
            // only the TLDs it carries).
            let mine = match (caller.role, &caller.person) {
                (Role::Contact, _) => {
                    let mut tlds = s.contact_tlds(&caller.subject)?;
                    let mut run_by_contacts = Vec::with_capacity(tlds.len());
                    for tld in tlds.drain(..) {
                        if !store::authority_in_force(s.conn(), &tld)? {
                            run_by_contacts.push(tld);
                        }
                    }
                    Some(run_by_contacts)
                }
                (Role::Manager, Some(person)) => Some(store::authorised_tlds(s.conn(), person)?),
                (Role::Manager, None) => Some(Vec::new()),
                (Role::Staff | Role::Auditor, _) => None,
            };
            let mine = match (mine, caller.scope.as_ref().and_then(|s| s.tlds.as_ref())) {
                (Some(mine), Some(scoped)) => {
                    Some(mine.into_iter().filter(|t| scoped.contains(t)).collect())
                }
                (None, Some(scoped)) => Some(scoped.iter().cloned().collect()),
                (mine, None) => mine,
            };
            if let Some(mine) = mine {
                filter.tlds = Some(match filter.tlds.take() {
                    Some(asked) => asked.into_iter().filter(|t| mine.contains(t)).collect(),
                    None => mine,
                });
            }
            Ok(s.requests(&filter)?)
        })
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
        cds: store::tld_cds(tx, tld)?,
        authority: store::tld_authority(tx, tld)?,
        ds_only: false,
        four_eyes: false,
    })
}

/// Whether `proposal` changes the published delegation's DS set alone (its policy class is
/// `ds`).
fn ds_only(published: &Delegation, proposal: &Proposal) -> bool {
    matches!(proposal, Proposal::Delegation { delegation }
        if delegation.nameservers == published.nameservers && delegation.ds != published.ds)
}

/// [`ds_only`] for an amendment: the published delegation read in the command's transaction.
fn ds_only_now(
    tx: &rusqlite::Transaction<'_>,
    tld: &str,
    proposal: &Proposal,
) -> Result<bool, DeskError> {
    if !matches!(proposal, Proposal::Delegation { .. }) {
        return Ok(false);
    }
    let label = TldLabel::parse(tld).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(store::tld_record(tx, &label)?.is_some_and(|r| ds_only(&r.delegation, proposal)))
}

/// Checks an authority proposal against the persons on file: each is a TLD manager whose
/// account is not disabled.
fn check_authority_members(
    tx: &rusqlite::Transaction<'_>,
    proposal: &Proposal,
) -> Result<(), DeskError> {
    let Proposal::Authority { authority } = proposal else {
        return Ok(());
    };
    let found = store::person_standing(tx, authority.members.keys())?;
    for person in authority.members.keys() {
        let problem = match found.get(person).map(|(r, s)| (r.as_str(), s.as_str())) {
            None => Some("no person has this id (`rootdesk person list`)".to_string()),
            Some((_, "disabled")) => Some("this person's account is disabled".into()),
            Some(("manager", _)) => None,
            Some((role, _)) => Some(format!(
                "this person is {role}; only TLD managers are authorised for a TLD"
            )),
        };
        if let Some(message) = problem {
            return Err(WorkflowError::Invalid {
                field: format!("proposal.authority.members.{person}"),
                message,
            }
            .into());
        }
    }
    Ok(())
}

/// Contacts of the other TLDs whose consent `proposal` needs: those that use a name server
/// host whose addresses it changes (their delegations change with it), and those under whose
/// name it places glue (an address record owned in another TLD's namespace). Glue under a TLD
/// the desk holds no contacts for is refused: nobody could consent to it.
/// A proposal equal to what is published would walk every step to publish the same data:
/// refused at submission, saying what it repeats.
fn refuse_no_change(
    current: &crate::registry::TldRecord,
    current_authority: Option<&crate::workflow::Authority>,
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
        Proposal::Authority { authority } => {
            (Some(authority) == current_authority).then_some("the authority and policy on file")
        }
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
            Ok(store::request_event(
                &request.tld,
                &request.ticket,
                r,
                actor.clone(),
                source,
            )?)
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

#[cfg(test)]
mod ds_class_tests {
    use super::*;

    fn delegation(ns: &[&str], ds_tag: Option<u16>) -> Delegation {
        let ds: Vec<serde_json::Value> = ds_tag
            .map(|tag| {
                vec![
                    serde_json::json!({"key_tag": tag, "algorithm": 13, "digest_type": 2,
                    "digest": "3490A6806D47F17A34C29E2CE80E8A999FFBE4BE00000000000000000000ABCD"}),
                ]
            })
            .unwrap_or_default();
        serde_json::from_value(serde_json::json!({
            "nameservers": ns.iter().map(|n| serde_json::json!({"name": n})).collect::<Vec<_>>(),
            "ds": ds,
        }))
        .expect("delegation")
    }

    /// A key rollover (the DS set alone) is the policy class `ds`; anything touching the name
    /// servers is `delegation`, and so is a proposal equal to what is published.
    #[test]
    fn ds_only_changes_are_told_apart() {
        let published = delegation(&["ns1.example.net", "ns2.example.net"], Some(1));
        let proposal = |d: Delegation| Proposal::Delegation { delegation: d };
        assert!(ds_only(
            &published,
            &proposal(delegation(&["ns1.example.net", "ns2.example.net"], Some(2)))
        ));
        assert!(!ds_only(
            &published,
            &proposal(delegation(&["ns1.example.net", "ns3.example.net"], Some(2)))
        ));
        assert!(!ds_only(
            &published,
            &proposal(delegation(&["ns1.example.net", "ns2.example.net"], Some(1)))
        ));
        assert!(!ds_only(
            &published,
            &Proposal::Sponsor {
                sponsor: "x".into()
            }
        ));
    }
}
