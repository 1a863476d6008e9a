//! `rootdesk simulate`: a history of requests driven through the real workflow with a
//! simulated clock, so that operators can try the reports and benchmarks have data.
//!
//! Each request is submitted with [`Request::submit`] and carried on with
//! [`Request::decide`] and [`Request::apply`], exactly the rules the desk runs, and its events
//! are written to the audit trail as the desk writes them. Only the waiting is drawn from
//! distributions: how long contacts take to confirm (most within a day, a tail of weeks, some
//! never, so that the request expires), how long staff and checks take, and whether a check
//! passes. Check outcomes are recorded as the daemon records them (`FinishCheck` by the
//! system, with a `check_jobs` row) but no DNS is probed. Simulated implementations record
//! the event without changing the registry or publishing a root zone serial.
//!
//! Writing goes in large transactions in time order across requests (a min-heap of pending
//! events), so 100,000 requests take seconds rather than hours. A seed fixes everything.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use time::{Duration, OffsetDateTime};

use crate::audit::{Actor, NewEvent};
use crate::registry::{Contact, Delegation};
use crate::store::{self, Store, StoreError};
use crate::workflow::{
    CheckPhase, Command, Criterion, Evaluation, Evidence, EvidenceKind, Facts, Party, Priority,
    Proposal, Recorded, Request, RequestKind, State, Verdict, WorkflowError,
};

/// SplitMix64: a tiny, well-distributed generator; deterministic for a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Exponential with this mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Log-normal with this median and spread (sigma of the logarithm).
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        let (u1, u2) = (1.0 - self.unit(), self.unit());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        median * (sigma * z).exp()
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub requests: usize,
    pub seed: u64,
    /// The first submission.
    pub start: OffsetDateTime,
    /// Submissions are spread over this many days.
    pub days: u32,
    /// Days a TLD-owned state may last before expiry, and reminder days (as the desk's
    /// settings).
    pub expire_days: u32,
    pub reminder_days: Vec<u32>,
}

/// What a simulation wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SimSummary {
    pub requests: usize,
    pub events: usize,
    pub tlds: usize,
    pub final_states: BTreeMap<String, usize>,
    #[serde(with = "crate::store::time_format::option")]
    pub first: Option<OffsetDateTime>,
    #[serde(with = "crate::store::time_format::option")]
    pub last: Option<OffsetDateTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The simulation asked the workflow for something it refused: a bug in the simulation.
    #[error("the workflow refused a simulated step of {ticket}: {error}")]
    Workflow {
        ticket: String,
        error: WorkflowError,
    },
    #[error("{0}")]
    Setup(String),
}

const DAY: f64 = 86_400.0;
const HOUR: f64 = 3600.0;
const MINUTE: f64 = 60.0;

fn dur(secs: f64) -> Duration {
    Duration::microseconds((secs * 1e6) as i64)
}

/// Something to write at a time: a workflow event, a projection, a finished check.
enum Item {
    Event {
        ticket: String,
        tld: String,
        recorded: Box<Recorded>,
    },
    Save(Box<Request>),
    Check {
        id: i64,
        ticket: String,
        revision: u32,
        phase: CheckPhase,
        created: OffsetDateTime,
        finished: OffsetDateTime,
        verdict: Verdict,
    },
}

/// Orders pending items by time, then by the order they were made.
struct Pending {
    heap: BinaryHeap<Reverse<(OffsetDateTime, u64)>>,
    items: std::collections::HashMap<u64, Item>,
    counter: u64,
}

impl Pending {
    fn push(&mut self, at: OffsetDateTime, item: Item) {
        self.counter += 1;
        self.heap.push(Reverse((at, self.counter)));
        self.items.insert(self.counter, item);
    }

    /// Items due at or before `until` (all with `None`), in order.
    fn due(&mut self, until: Option<OffsetDateTime>) -> Vec<Item> {
        let mut out = Vec::new();
        while let Some(Reverse((at, n))) = self.heap.peek().copied() {
            if until.is_some_and(|u| at > u) {
                break;
            }
            self.heap.pop();
            if let Some(item) = self.items.remove(&n) {
                out.push(item);
            }
        }
        out
    }
}

fn sim_label(i: usize) -> String {
    let mut s = String::from("x");
    let mut n = i;
    for _ in 0..3 {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    s
}

fn contact(handle: &str, tld: &str) -> Contact {
    Contact {
        handle: handle.to_string(),
        organisation: Some(format!("Registry of .{tld}")),
        name: Some(format!("Contact {handle}")),
        email: Some(format!("{handle}@nic.{tld}.example")),
        phone: None,
        address: None,
    }
}

fn delegation(tld: &str, variant: u32) -> Result<Delegation, SimError> {
    let value = serde_json::json!({
        "nameservers": [
            { "name": format!("ns1.nic.{tld}"), "addresses": [format!("192.0.2.{}", 1 + variant % 250)] },
            { "name": format!("ns2.nic.{tld}"), "addresses": [format!("198.51.100.{}", 1 + variant % 250)] },
        ]
    });
    serde_json::from_value(value).map_err(|e| SimError::Setup(e.to_string()))
}

/// One request on its way through the workflow, with the clock of the simulation.
struct Drive<'a> {
    request: Request,
    facts: &'a Facts,
    items: Vec<(OffsetDateTime, Item)>,
    next_check: &'a mut i64,
    events: usize,
}

impl Drive<'_> {
    fn act(&mut self, by: Party, command: Command, at: OffsetDateTime) -> Result<(), SimError> {
        let decided = self
            .request
            .decide(&command, &by, at, self.facts)
            .map_err(|error| SimError::Workflow {
                ticket: self.request.ticket.clone(),
                error,
            })?;
        for event in decided {
            let recorded = Recorded {
                time: at,
                by: by.clone(),
                event,
            };
            self.request.apply(&recorded);
            self.record(recorded);
        }
        Ok(())
    }

    fn record(&mut self, recorded: Recorded) {
        self.events += 1;
        self.items.push((
            recorded.time,
            Item::Event {
                ticket: self.request.ticket.clone(),
                tld: self.request.tld.clone(),
                recorded: Box::new(recorded),
            },
        ));
    }

    fn now(&self) -> OffsetDateTime {
        self.request.state_since
    }

    fn check(&mut self, rng: &mut Rng, phase: CheckPhase) -> Result<(), SimError> {
        let emergency = self.request.priority == Priority::Emergency;
        let mut secs = rng.lognormal(if emergency { 90.0 } else { 4.0 * MINUTE }, 0.7);
        if rng.chance(0.02) {
            // A slow or overloaded check.
            secs = 20.0 * MINUTE + rng.unit() * 70.0 * MINUTE;
        }
        let fail = match phase {
            CheckPhase::Initial if self.request.revision() == 1 => 0.15,
            CheckPhase::Initial => 0.05,
            CheckPhase::Supplemental => 0.02,
        };
        let verdict = if rng.chance(fail) {
            Verdict::Fail
        } else if rng.chance(0.1) {
            Verdict::Warn
        } else {
            Verdict::Pass
        };
        let created = self.now();
        let at = created + dur(secs);
        *self.next_check += 1;
        let id = *self.next_check;
        let revision = self.request.revision();
        self.act(
            Party::System,
            Command::FinishCheck {
                phase,
                revision,
                verdict,
                check_id: Some(id),
                summary: format!("{verdict:?} (simulated)").to_lowercase(),
            },
            at,
        )?;
        self.items.push((
            at,
            Item::Check {
                id,
                ticket: self.request.ticket.clone(),
                revision,
                phase,
                created,
                finished: at,
                verdict,
            },
        ));
        Ok(())
    }

    /// Waits on the TLD: reminders on the way; expiry when `reply` is too late or never comes.
    /// Returns the time of the reply, or `None` when the request expired.
    fn wait_tld(
        &mut self,
        reply: Option<f64>,
        options: &SimOptions,
    ) -> Result<Option<OffsetDateTime>, SimError> {
        let since = self.now();
        let limit = f64::from(options.expire_days) * DAY;
        let waited = reply.filter(|r| *r < limit);
        for day in &options.reminder_days {
            let at = f64::from(*day) * DAY;
            if at < limit && waited.is_none_or(|w| w > at) {
                self.act(
                    Party::System,
                    Command::Remind { after_days: *day },
                    since + dur(at),
                )?;
            }
        }
        match waited {
            Some(w) => Ok(Some(since + dur(w))),
            None => {
                self.act(
                    Party::System,
                    Command::Expire {
                        limit_days: options.expire_days,
                    },
                    since + dur(limit),
                )?;
                Ok(None)
            }
        }
    }
}

/// How long a TLD contact takes to act: mostly within a day, a tail of weeks, sometimes never.
fn tld_delay(rng: &mut Rng, never: f64) -> Option<f64> {
    let x = rng.unit();
    if x < never {
        None
    } else if x < never + 0.04 {
        Some(10.0 * DAY + rng.unit() * 25.0 * DAY)
    } else if x < never + 0.22 {
        Some(DAY + rng.unit() * 8.0 * DAY)
    } else {
        Some(rng.lognormal(3.0 * HOUR, 1.0).min(DAY))
    }
}

fn run_request(
    d: &mut Drive<'_>,
    rng: &mut Rng,
    options: &SimOptions,
    admin: &str,
) -> Result<(), SimError> {
    let admin_party = Party::Contact(admin.to_string());
    let staff = Party::Staff("staff-sim".into());
    let emergency = d.request.priority == Priority::Emergency;
    let mut review_left: Option<f64> = None;
    while !d.request.state.is_final() {
        let now = d.now();
        match d.request.state {
            State::PreReview => {
                return Err(SimError::Setup("a submission stayed in pre-review".into()))
            }
            State::TechnicalCheck => d.check(rng, CheckPhase::Initial)?,
            State::SupplementalCheck => d.check(rng, CheckPhase::Supplemental)?,
            State::AwaitingFix => {
                let reply = tld_delay(rng, 0.06).map(|s| s * 2.0);
                if let Some(at) = d.wait_tld(reply, options)? {
                    if rng.chance(0.1) {
                        let reason = "giving up on this change".to_string();
                        d.act(admin_party.clone(), Command::Withdraw { reason }, at)?;
                    } else {
                        let mut proposal = d.request.proposal().clone();
                        let variant = d.request.revision() + 1;
                        match &mut proposal {
                            Proposal::Delegation { delegation } => {
                                *delegation = self::delegation(&d.request.tld, variant)?
                            }
                            Proposal::Transfer { delegation, .. } => {
                                *delegation = Some(self::delegation(&d.request.tld, variant)?)
                            }
                            _ => {}
                        }
                        let proposal = Box::new(proposal);
                        d.act(admin_party.clone(), Command::Amend { proposal }, at)?;
                    }
                }
            }
            State::ContactConfirmation => {
                // Each pending contact answers on its own time; the slowest decides.
                let mut answers: Vec<(f64, String, bool)> = Vec::new();
                let mut never = false;
                for contact in d.request.pending_consents() {
                    match tld_delay(rng, if emergency { 0.0 } else { 0.02 }) {
                        Some(secs) => {
                            let secs = if emergency { secs / 8.0 } else { secs };
                            answers.push((secs, contact.to_string(), rng.chance(0.01)))
                        }
                        None => never = true,
                    }
                }
                answers.sort_by(|a, b| a.0.total_cmp(&b.0));
                let decline_at = answers.iter().position(|a| a.2);
                if let Some(i) = decline_at {
                    answers.truncate(i + 1);
                }
                let last = if never || answers.is_empty() {
                    None
                } else {
                    answers.last().map(|a| a.0)
                };
                let limit = f64::from(options.expire_days) * DAY;
                let mut steps: Vec<(f64, Step)> = answers
                    .into_iter()
                    .filter(|a| a.0 < limit)
                    .map(|(secs, c, decline)| {
                        (
                            secs,
                            if decline {
                                Step::Decline(c)
                            } else {
                                Step::Confirm(c)
                            },
                        )
                    })
                    .collect();
                let done = last.filter(|l| *l < limit);
                for day in &options.reminder_days {
                    let at = f64::from(*day) * DAY;
                    if at < limit && done.is_none_or(|l| l > at) {
                        steps.push((at, Step::Remind(*day)));
                    }
                }
                if done.is_none() {
                    steps.push((limit, Step::Expire));
                }
                steps.sort_by(|a, b| a.0.total_cmp(&b.0));
                for (secs, step) in steps {
                    if d.request.state != State::ContactConfirmation {
                        break;
                    }
                    let at = now + dur(secs);
                    let (by, command) = match step {
                        Step::Confirm(c) => (Party::Contact(c), Command::Confirm),
                        Step::Decline(c) => (
                            Party::Contact(c),
                            Command::Decline {
                                reason: "we did not ask for this change".into(),
                            },
                        ),
                        Step::Remind(after_days) => (Party::System, Command::Remind { after_days }),
                        Step::Expire => (
                            Party::System,
                            Command::Expire {
                                limit_days: options.expire_days,
                            },
                        ),
                    };
                    d.act(by, command, at)?;
                }
            }
            State::ManualReview => {
                let total = *review_left.get_or_insert_with(|| {
                    if emergency {
                        rng.lognormal(HOUR, 0.6)
                    } else if rng.chance(0.06) {
                        5.0 * DAY + rng.unit() * 5.0 * DAY
                    } else {
                        rng.lognormal(DAY, 0.8).min(5.0 * DAY)
                    }
                });
                if !emergency && rng.chance(0.08) {
                    let asked = total * rng.unit();
                    review_left = Some(total - asked);
                    let question = "please confirm the new name servers' operator".into();
                    d.act(staff.clone(), Command::Ask { question }, now + dur(asked))?;
                } else {
                    review_left = None;
                    let at = now + dur(total);
                    if rng.chance(0.02) {
                        let reason = "the request does not meet the policy".into();
                        d.act(staff.clone(), Command::Reject { reason }, at)?;
                    } else {
                        let note = "looks right".into();
                        d.act(staff.clone(), Command::Approve { note }, at)?;
                    }
                }
            }
            State::AwaitingInfo => {
                let reply = tld_delay(rng, 0.03);
                if let Some(at) = d.wait_tld(reply, options)? {
                    let answer = "yes, we operate them".into();
                    d.act(admin_party.clone(), Command::Answer { answer }, at)?;
                }
            }
            State::DelegationEvaluation => {
                let at = now + dur(DAY + rng.unit() * 2.0 * DAY);
                let approve = rng.chance(0.95);
                let evaluation = Evaluation {
                    assessments: [
                        Criterion::Stability,
                        Criterion::LocalSupport,
                        Criterion::IncumbentConsent,
                        Criterion::LegalBasis,
                    ]
                    .into_iter()
                    .map(|criterion| crate::workflow::Assessment {
                        criterion,
                        met: approve,
                        note: "simulated evaluation".into(),
                    })
                    .collect(),
                    approve,
                    summary: "simulated".into(),
                };
                d.act(staff.clone(), Command::Evaluate { evaluation }, at)?;
            }
            State::Implementation => {
                let secs = if emergency {
                    rng.lognormal(30.0 * MINUTE, 0.5)
                } else if rng.chance(0.01) {
                    72.0 * HOUR + rng.unit() * 48.0 * HOUR
                } else {
                    rng.lognormal(8.0 * HOUR, 0.8).min(70.0 * HOUR)
                };
                d.act(
                    staff.clone(),
                    Command::Implement { serial: None },
                    now + dur(secs),
                )?;
            }
            _ => break,
        }
    }
    Ok(())
}

/// One step while contacts are asked to confirm.
enum Step {
    Confirm(String),
    Decline(String),
    Remind(u32),
    Expire,
}

/// The simulated TLDs: `xaaa`, `xbaa`, ... with an admin and a tech contact each. Existing
/// ones are kept.
fn ensure_tlds(
    store: &mut Store,
    count: usize,
    now: OffsetDateTime,
) -> Result<Vec<String>, SimError> {
    let labels: Vec<String> = (0..count).map(sim_label).collect();
    let mut lines = String::new();
    for label in &labels {
        let tld =
            crate::registry::TldLabel::parse(label).map_err(|e| SimError::Setup(e.to_string()))?;
        if store.tld_exists(&tld)? {
            continue;
        }
        let line = serde_json::json!({
            "tld": label, "type": "cctld", "tag": "country-code",
            "country": format!("Simulated {label}"), "delegated": true,
            "sponsor": format!("Registry of .{label}"),
            "admin_org": format!("Registry of .{label}"),
            "tech_org": format!("Registry of .{label}"),
            "admin": { "handle": format!("{label}-admin"), "email": format!("{label}-admin@nic.{label}.example") },
            "tech": { "handle": format!("{label}-tech"), "email": format!("{label}-tech@nic.{label}.example") },
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    if !lines.is_empty() {
        let records = crate::registry::parse_tld_lines(&lines)
            .map_err(|e| SimError::Setup(format!("simulated TLD records: {e:?}")))?;
        store.import_tlds(&records, &Actor::system("simulate"), now)?;
    }
    Ok(labels)
}

fn actor_for(by: &Party) -> Actor {
    match by {
        Party::Contact(h) => Actor::token("simulated", Some("contact"), Some(h)),
        Party::Staff(s) => Actor::token("simulated", Some("staff"), Some(s)),
        Party::Person(p) => Actor::person(p, "manager", "simulated"),
        Party::System | Party::CdsScanner => Actor::system("simulate"),
    }
}

/// Writes due items in one transaction.
fn write(store: &mut Store, items: Vec<Item>) -> Result<(), SimError> {
    if items.is_empty() {
        return Ok(());
    }
    store.write(|tx| {
        let mut run: Vec<NewEvent> = Vec::new();
        let flush = |run: &mut Vec<NewEvent>| -> Result<(), SimError> {
            if !run.is_empty() {
                store::append_events(tx, run)?;
                run.clear();
            }
            Ok(())
        };
        for item in items {
            match item {
                Item::Event {
                    ticket,
                    tld,
                    recorded,
                } => {
                    // The desk's own constructor; appended below with store::append_events.
                    run.push(store::request_event(
                        &tld,
                        &ticket,
                        &recorded,
                        actor_for(&recorded.by),
                        None,
                    )?);
                }
                Item::Save(request) => {
                    flush(&mut run)?;
                    store::save_request(tx, &request, None)?;
                }
                Item::Check {
                    id,
                    ticket,
                    revision,
                    phase,
                    created,
                    finished,
                    verdict,
                } => {
                    flush(&mut run)?;
                    store::insert_finished_check(
                        tx, id, &ticket, revision, phase, created, finished, verdict,
                    )?;
                }
            }
        }
        flush(&mut run)?;
        Ok(())
    })
}

/// Runs the simulation into `store`; `progress` hears the number of requests done.
pub fn simulate(
    store: &mut Store,
    options: &SimOptions,
    mut progress: impl FnMut(usize),
) -> Result<SimSummary, SimError> {
    let mut rng = Rng::new(options.seed);
    let tld_count = (options.requests / 20).clamp(50, 5000);
    let labels = ensure_tlds(store, tld_count, options.start)?;
    let evidence = store.write(|tx| {
        let content = b"simulated transfer evidence";
        let sha256 = store::store_document(tx, content, "text/plain", options.start)?;
        Ok::<_, StoreError>(Evidence {
            kind: EvidenceKind::ManagerRequest,
            name: "request.txt".into(),
            sha256,
            size: content.len() as u64,
        })
    })?;
    let mut next_check = store.max_check_id()?;
    let mut pending = Pending {
        heap: BinaryHeap::new(),
        items: Default::default(),
        counter: 0,
    };
    // Open requests per TLD: ticket, kind, and when they end.
    let mut busy: Vec<Vec<(String, RequestKind, OffsetDateTime)>> = vec![Vec::new(); labels.len()];
    let mut day_counter: (String, i64) = (String::new(), 0);
    let mut summary = SimSummary {
        tlds: labels.len(),
        ..Default::default()
    };
    let span = f64::from(options.days.max(1)) * DAY;
    let gap = span / options.requests.max(1) as f64;
    let mut t = options.start;
    let mut buffered = 0usize;
    let mut due: Vec<Item> = Vec::new();
    for i in 0..options.requests {
        if i > 0 {
            t += dur(rng.exponential(gap));
        }
        let x = rng.unit();
        let kind = if x < 0.60 {
            RequestKind::Delegation
        } else if x < 0.84 {
            RequestKind::Contacts
        } else if x < 0.92 {
            RequestKind::Sponsor
        } else {
            RequestKind::Transfer
        };
        let emergency = kind == RequestKind::Delegation && rng.chance(0.03);
        // A TLD with no open request this one conflicts with, near a random start.
        let start = rng.below(labels.len());
        let mut slot = None;
        for k in 0..labels.len() {
            let j = (start + k) % labels.len();
            busy[j].retain(|b| b.2 > t);
            if !busy[j].iter().any(|b| kind.conflicts_with(b.1)) {
                slot = Some(j);
                break;
            }
        }
        let Some(slot) = slot else {
            return Err(SimError::Setup(
                "every simulated TLD is busy; simulate fewer requests per day".into(),
            ));
        };
        let tld = &labels[slot];
        // The store's ticket numbering, counted on in memory: the requests of a batch are
        // written later, in one transaction.
        let day = store::ticket_day(t);
        if day_counter.0 != day {
            day_counter = (day.clone(), store.last_ticket_number(&day)?);
        }
        day_counter.1 += 1;
        let ticket = store::ticket_of(&day, day_counter.1);
        let (admin, tech) = (format!("{tld}-admin"), format!("{tld}-tech"));
        let facts = Facts {
            tld_contacts: BTreeSet::from([admin.clone(), tech.clone()]),
            open_requests: busy[slot].iter().map(|b| (b.0.clone(), b.1)).collect(),
            // Simulated TLDs share no name server hosts.
            shared_host_contacts: BTreeSet::new(),
            new_addresses: Default::default(),
            ..Facts::default()
        };
        let proposal = match kind {
            RequestKind::Delegation => Proposal::Delegation {
                delegation: delegation(tld, 1)?,
            },
            RequestKind::Contacts => Proposal::Contacts {
                admin: Some(contact(&format!("{tld}-admin-{i}"), tld)),
                tech: None,
            },
            RequestKind::Sponsor => Proposal::Sponsor {
                sponsor: format!("New Registry of .{tld}"),
            },
            RequestKind::Transfer => Proposal::Transfer {
                sponsor: format!("Successor Registry of .{tld}"),
                admin: contact(&format!("{tld}-nadmin-{i}"), tld),
                tech: contact(&format!("{tld}-ntech-{i}"), tld),
                delegation: Some(delegation(tld, 1)?),
                evidence: vec![evidence.clone()],
            },
            // The simulated TLDs have no authorised persons, so no authority changes.
            RequestKind::Authority => {
                return Err(SimError::Setup(
                    "the simulator draws no authority requests".into(),
                ))
            }
        };
        let (priority, reason) = if emergency {
            (
                Priority::Emergency,
                Some("name servers compromised".to_string()),
            )
        } else {
            (Priority::Normal, None)
        };
        let submitter = Party::Contact(admin.clone());
        let events = Request::submit(&ticket, tld, &submitter, proposal, priority, reason, &facts)
            .map_err(|error| SimError::Workflow {
                ticket: ticket.clone(),
                error,
            })?;
        let recorded: Vec<Recorded> = events
            .into_iter()
            .map(|event| Recorded {
                time: t,
                by: if matches!(event, crate::workflow::Event::Accepted) {
                    Party::System
                } else {
                    submitter.clone()
                },
                event,
            })
            .collect();
        let request = Request::replay(&recorded)
            .ok_or_else(|| SimError::Setup("a submission did not replay".into()))?;
        let mut drive = Drive {
            request: request.clone(),
            facts: &facts,
            items: Vec::new(),
            next_check: &mut next_check,
            events: 0,
        };
        for r in recorded {
            drive.record(r);
        }
        drive.items.push((t, Item::Save(Box::new(request))));
        run_request(&mut drive, &mut rng, options, &admin)?;
        let end = drive.now();
        drive
            .items
            .push((end, Item::Save(Box::new(drive.request.clone()))));
        busy[slot].push((ticket.clone(), kind, end));
        summary.requests += 1;
        summary.events += drive.events;
        *summary
            .final_states
            .entry(drive.request.state.to_string())
            .or_default() += 1;
        summary.first = Some(summary.first.map_or(t, |f| f.min(t)));
        summary.last = Some(summary.last.map_or(end, |l| l.max(end)));
        for (at, item) in drive.items {
            pending.push(at, item);
        }
        // Everything before this submission can be written.
        let ready = pending.due(Some(t));
        buffered += ready.len();
        due.extend(ready);
        if buffered >= 50_000 {
            write(store, std::mem::take(&mut due))?;
            buffered = 0;
        }
        if (i + 1) % 1000 == 0 {
            progress(i + 1);
        }
    }
    due.extend(pending.due(None));
    write(store, due)?;
    progress(options.requests);
    Ok(summary)
}
