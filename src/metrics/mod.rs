//! Timeliness metrics (DESIGN §7): how long the desk took and how long it waited on the TLD.
//!
//! Every figure is derived from the workflow events in the audit trail and nothing else, so a
//! report can always be recomputed and checked against the log. A request's events are
//! replayed through the workflow itself ([`Request::apply`]), so the states, and therefore the
//! owner charged with each interval, are exactly those the desk acted on: the desk's clock runs
//! only in desk-owned states and stops while the TLD owns the request (DESIGN §4.1).
//!
//! Intervals end in a [`Measurement`] dated by the event that ended it; reports group and
//! filter measurements by that date (or by the request's TLD, kind or priority) and compare
//! them with the configured [`ServiceLevels`].

pub mod cache;
mod chart;
mod prometheus;
mod report;
pub mod risk;
pub mod simulate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::workflow::{CheckPhase, Event, Owner, Priority, Recorded, Request, RequestKind, State};

pub use cache::load_timelines;
pub use chart::render_chart;
pub use prometheus::{render_prometheus, render_sweep, CheckDuration};
pub use report::{
    human, parse_date, percentile, Breach, GroupBy, GroupReport, MeasureStats, Report,
    ReportOptions,
};

/// What is measured. The first group has service levels (DESIGN §7); the rest are totals
/// reported for trends and attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// Submission to acceptance (the ticket confirmation).
    Acknowledge,
    /// Entering `technical-check` to the first initial check result.
    FirstCheck,
    /// An amendment (re-entering `technical-check`) to its check result.
    Recheck,
    /// End of the previous phase to entering `contact-confirmation`.
    ContactsAsked,
    /// Entering `manual-review` to release for implementation (or rejection), without the
    /// time the TLD spent answering questions.
    StaffReview,
    /// Entering `supplemental-check` to its result.
    SupplementalCheck,
    /// Release after review to the `implemented` event (publication).
    Publication,
    /// Publication to the delivery of the completion notice to every recipient
    /// (`notification-delivered` events of kind `completed`).
    CompletionNotice,
    /// Desk time of a completed emergency request.
    EmergencyDesk,
    /// Time in desk-owned states, per finished request.
    DeskTime,
    /// Time in TLD-owned states, per finished request.
    TldTime,
    /// Submission to the final state.
    EndToEnd,
    /// Time stopped by desk questions (`awaiting-info`), per finished request.
    AwaitingInfo,
    /// Questions asked by the desk, per finished request (a count, not seconds).
    Questions,
}

impl Measure {
    pub const ALL: [Measure; 14] = [
        Measure::Acknowledge,
        Measure::FirstCheck,
        Measure::Recheck,
        Measure::ContactsAsked,
        Measure::StaffReview,
        Measure::SupplementalCheck,
        Measure::Publication,
        Measure::CompletionNotice,
        Measure::EmergencyDesk,
        Measure::DeskTime,
        Measure::TldTime,
        Measure::EndToEnd,
        Measure::AwaitingInfo,
        Measure::Questions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Acknowledge => "acknowledge",
            Measure::FirstCheck => "first-check",
            Measure::Recheck => "recheck",
            Measure::ContactsAsked => "contacts-asked",
            Measure::StaffReview => "staff-review",
            Measure::SupplementalCheck => "supplemental-check",
            Measure::Publication => "publication",
            Measure::CompletionNotice => "completion-notice",
            Measure::EmergencyDesk => "emergency-desk",
            Measure::DeskTime => "desk-time",
            Measure::TldTime => "tld-time",
            Measure::EndToEnd => "end-to-end",
            Measure::AwaitingInfo => "awaiting-info",
            Measure::Questions => "questions",
        }
    }

    /// Whether values are counts rather than seconds.
    pub fn is_count(self) -> bool {
        self == Measure::Questions
    }
}

/// One service level: the limit an interval must meet and the share of measurements that must
/// meet it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLevel {
    pub limit_secs: u64,
    /// Share of measurements that must be within the limit, in percent.
    pub target_percent: u32,
}

/// The service levels of DESIGN §7, from IANA's Category I expectations (configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceLevels {
    pub acknowledge: ServiceLevel,
    pub first_check: ServiceLevel,
    pub recheck: ServiceLevel,
    pub contacts_asked: ServiceLevel,
    pub staff_review: ServiceLevel,
    pub supplemental_check: ServiceLevel,
    pub publication: ServiceLevel,
    pub completion_notice: ServiceLevel,
    pub emergency_desk: ServiceLevel,
}

const fn level(limit_secs: u64, target_percent: u32) -> ServiceLevel {
    ServiceLevel {
        limit_secs,
        target_percent,
    }
}

impl Default for ServiceLevels {
    fn default() -> Self {
        ServiceLevels {
            acknowledge: level(60, 95),
            first_check: level(50 * 60, 95),
            recheck: level(10 * 60, 95),
            contacts_asked: level(60, 95),
            staff_review: level(5 * 86_400, 90),
            supplemental_check: level(10 * 60, 95),
            publication: level(72 * 3600, 99),
            completion_notice: level(60, 95),
            emergency_desk: level(12 * 3600, 95),
        }
    }
}

impl ServiceLevels {
    /// The service level of a measure, if it has one.
    pub fn of(&self, measure: Measure) -> Option<ServiceLevel> {
        Some(match measure {
            Measure::Acknowledge => self.acknowledge,
            Measure::FirstCheck => self.first_check,
            Measure::Recheck => self.recheck,
            Measure::ContactsAsked => self.contacts_asked,
            Measure::StaffReview => self.staff_review,
            Measure::SupplementalCheck => self.supplemental_check,
            Measure::Publication => self.publication,
            Measure::CompletionNotice => self.completion_notice,
            Measure::EmergencyDesk => self.emergency_desk,
            _ => return None,
        })
    }
}

/// A finished interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measurement {
    pub measure: Measure,
    /// Seconds (a count for [`Measure::Questions`]).
    pub value: f64,
    /// When the interval ended.
    #[serde(with = "crate::store::time_format")]
    pub at: OffsetDateTime,
}

/// A span of time a request spent in one state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stay {
    pub state: State,
    pub owner: Option<Owner>,
    #[serde(with = "crate::store::time_format")]
    pub from: OffsetDateTime,
    /// `None` while the request is still in this state.
    #[serde(with = "crate::store::time_format::option")]
    pub to: Option<OffsetDateTime>,
}

impl Stay {
    /// Seconds in the state, up to `now` if it has not ended.
    pub fn seconds(&self, now: OffsetDateTime) -> f64 {
        seconds(self.to.unwrap_or(now) - self.from)
    }
}

/// Everything measured about one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub ticket: String,
    pub tld: String,
    pub kind: RequestKind,
    pub priority: Priority,
    #[serde(with = "crate::store::time_format")]
    pub submitted_at: OffsetDateTime,
    pub state: State,
    /// When the request reached its final state.
    #[serde(with = "crate::store::time_format::option")]
    pub ended_at: Option<OffsetDateTime>,
    pub stays: Vec<Stay>,
    pub measurements: Vec<Measurement>,
    pub questions: u32,
}

fn seconds(d: time::Duration) -> f64 {
    d.as_seconds_f64().max(0.0)
}

impl Timeline {
    /// Replays a request's events (oldest first) and measures it. `None` when the first
    /// event is not a submission.
    pub fn from_events(events: &[Recorded]) -> Option<Timeline> {
        Timeline::from_events_and_notices(events, &[])
    }

    /// As [`Timeline::from_events`], with the delivery times of the request's completion
    /// notices (`notification-delivered` events of kind `completed`).
    pub fn from_events_and_notices(
        events: &[Recorded],
        notices: &[OffsetDateTime],
    ) -> Option<Timeline> {
        let first = events.first()?;
        let mut request = Request::replay(std::iter::once(first))?;
        let mut m = Meter::new(&request, first.time);
        for event in &events[1..] {
            let before = request.state;
            request.apply(event);
            m.step(&request, before, event);
        }
        if let Some(published) = m.implemented.filter(|_| request.state == State::Completed) {
            // The notice is out when the last recipient has it.
            if let Some(last) = notices.iter().filter(|t| **t >= published).max() {
                m.measure(Measure::CompletionNotice, seconds(*last - published), *last);
            }
        }
        Some(m.finish(&request))
    }

    /// Seconds charged to `owner` so far (open stays up to `now`).
    pub fn owned_seconds(&self, owner: Owner, now: OffsetDateTime) -> f64 {
        self.stays
            .iter()
            .filter(|s| s.owner == Some(owner))
            .map(|s| s.seconds(now))
            .sum()
    }

    /// Seconds per state (summed over repeated stays), up to `now`.
    pub fn per_state(&self, now: OffsetDateTime) -> BTreeMap<State, f64> {
        let mut out = BTreeMap::new();
        for stay in self.stays.iter().filter(|s| !s.state.is_final()) {
            *out.entry(stay.state).or_insert(0.0) += stay.seconds(now);
        }
        out
    }

    /// The values of one measure.
    pub fn values(&self, measure: Measure) -> impl Iterator<Item = f64> + '_ {
        self.measurements
            .iter()
            .filter(move |x| x.measure == measure)
            .map(|x| x.value)
    }
}

/// The interval bookkeeping of one replay.
struct Meter {
    submitted_at: OffsetDateTime,
    stays: Vec<Stay>,
    measurements: Vec<Measurement>,
    desk: f64,
    tld: f64,
    info: f64,
    questions: u32,
    /// Entering `technical-check`: which interval its result ends, and since when.
    check: Option<(Measure, OffsetDateTime)>,
    initial_done: bool,
    supplemental: Option<OffsetDateTime>,
    /// Staff review under way: when it began, and TLD time inside it so far.
    review: Option<(OffsetDateTime, f64)>,
    released: Option<OffsetDateTime>,
    implemented: Option<OffsetDateTime>,
}

impl Meter {
    fn new(request: &Request, at: OffsetDateTime) -> Meter {
        Meter {
            submitted_at: at,
            stays: vec![Stay {
                state: request.state,
                owner: request.state.owner(),
                from: at,
                to: None,
            }],
            measurements: Vec::new(),
            desk: 0.0,
            tld: 0.0,
            info: 0.0,
            questions: 0,
            check: None,
            initial_done: false,
            supplemental: None,
            review: None,
            released: None,
            implemented: None,
        }
    }

    fn measure(&mut self, measure: Measure, value: f64, at: OffsetDateTime) {
        self.measurements.push(Measurement { measure, value, at });
    }

    fn step(&mut self, request: &Request, before: State, event: &Recorded) {
        let t = event.time;
        match &event.event {
            Event::Accepted => {
                self.measure(Measure::Acknowledge, seconds(t - self.submitted_at), t)
            }
            Event::QuestionAsked { .. } => self.questions += 1,
            Event::CheckFinished { phase, .. } => match phase {
                CheckPhase::Initial if before == State::TechnicalCheck => {
                    if let Some((measure, since)) = self.check.take() {
                        self.measure(measure, seconds(t - since), t);
                    }
                    self.initial_done = true;
                }
                CheckPhase::Supplemental if before == State::SupplementalCheck => {
                    if let Some(since) = self.supplemental.take() {
                        self.measure(Measure::SupplementalCheck, seconds(t - since), t);
                    }
                }
                _ => {}
            },
            Event::Implemented { .. } => {
                self.implemented = Some(t);
                if let Some(since) = self.released.take() {
                    self.measure(Measure::Publication, seconds(t - since), t);
                }
            }
            _ => {}
        }
        let after = request.state;
        if after == before {
            return;
        }
        // Close the stay that ended, and charge it to its owner.
        if let Some(stay) = self.stays.last_mut() {
            stay.to = Some(t);
            let d = seconds(t - stay.from);
            match stay.owner {
                Some(Owner::Desk) => self.desk += d,
                Some(Owner::Tld) => {
                    self.tld += d;
                    if let Some((_, stopped)) = &mut self.review {
                        *stopped += d;
                    }
                }
                None => {}
            }
            if stay.state == State::AwaitingInfo {
                self.info += d;
            }
        }
        self.stays.push(Stay {
            state: after,
            owner: after.owner(),
            from: t,
            to: None,
        });
        match after {
            State::TechnicalCheck => {
                let measure = if self.initial_done {
                    Measure::Recheck
                } else {
                    Measure::FirstCheck
                };
                self.check = Some((measure, t));
            }
            // The previous phase ended with this very event: with no notification step in
            // between, the contacts are asked at once.
            State::ContactConfirmation => self.measure(Measure::ContactsAsked, 0.0, t),
            State::ManualReview if before != State::AwaitingInfo => self.review = Some((t, 0.0)),
            State::SupplementalCheck => self.supplemental = Some(t),
            _ => {}
        }
        let released = matches!(
            after,
            State::SupplementalCheck | State::Implementation | State::Rejected
        );
        if released {
            if let Some((since, stopped)) = self.review.take() {
                self.measure(
                    Measure::StaffReview,
                    (seconds(t - since) - stopped).max(0.0),
                    t,
                );
                if after != State::Rejected {
                    self.released = Some(t);
                }
            }
        }
        if after.is_final() {
            self.review = None;
            if let Some(stay) = self.stays.last_mut() {
                stay.to = Some(t);
            }
            if after == State::Completed && request.priority == Priority::Emergency {
                self.measure(Measure::EmergencyDesk, self.desk, t);
            }
            let end_to_end = seconds(t - self.submitted_at);
            let (desk, tld, info, questions) = (self.desk, self.tld, self.info, self.questions);
            self.measure(Measure::DeskTime, desk, t);
            self.measure(Measure::TldTime, tld, t);
            self.measure(Measure::EndToEnd, end_to_end, t);
            self.measure(Measure::AwaitingInfo, info, t);
            self.measure(Measure::Questions, f64::from(questions), t);
        }
    }

    fn finish(self, request: &Request) -> Timeline {
        let ended_at = request
            .state
            .is_final()
            .then(|| self.stays.last().map(|s| s.from))
            .flatten();
        Timeline {
            ticket: request.ticket.clone(),
            tld: request.tld.clone(),
            kind: request.kind,
            priority: request.priority,
            submitted_at: self.submitted_at,
            state: request.state,
            ended_at,
            stays: self.stays,
            measurements: self.measurements,
            questions: self.questions,
        }
    }
}

/// Derives the timelines of every request from the workflow events of the audit trail (oldest
/// submission first). One pass reads the log in sequence order (a plain scan, no sort) and
/// gathers each request's events; parsing and replaying then runs on every core.
pub fn timelines(store: &crate::store::Store) -> Result<Vec<Timeline>, crate::store::StoreError> {
    type Gathered = (String, Vec<String>, Vec<OffsetDateTime>);
    let mut per_request: Vec<Gathered> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    store.scan_timeline_rows(|ticket, notice, time, payload| {
        let slot = match index.get(ticket) {
            Some(i) => *i,
            None => {
                index.insert(ticket.to_string(), per_request.len());
                per_request.push((ticket.to_string(), Vec::new(), Vec::new()));
                per_request.len() - 1
            }
        };
        if notice {
            let (at, kind) = crate::store::parse_delivery(time, payload)?;
            if kind == "completed" {
                per_request[slot].2.push(at);
            }
        } else {
            per_request[slot].1.push(payload.to_string());
        }
        Ok(())
    })?;
    drop(index);
    let derive = |chunk: &[Gathered]| -> Result<Vec<Timeline>, crate::store::StoreError> {
        let mut out = Vec::with_capacity(chunk.len());
        let mut events = Vec::new();
        for (ticket, payloads, notices) in chunk {
            events.clear();
            for payload in payloads {
                let recorded: Recorded = serde_json::from_str(payload).map_err(|e| {
                    crate::store::StoreError::Corrupt(format!(
                        "event of {ticket} does not read as a workflow event: {e}"
                    ))
                })?;
                events.push(recorded);
            }
            out.extend(Timeline::from_events_and_notices(&events, notices));
        }
        Ok(out)
    };
    if per_request.len() < 1000 {
        return derive(&per_request);
    }
    // On rayon's pool: a chunk per task, the chunks in order.
    use rayon::prelude::*;
    let parts: Vec<Vec<Timeline>> = per_request
        .par_chunks(256)
        .map(derive)
        .collect::<Result<_, _>>()?;
    Ok(parts.into_iter().flatten().collect())
}

/// The counts of `/metrics`, kept up to date as the log grows (a scrape's cost does not grow
/// with the history), and the last turnaround reports. No timeline is kept in memory: a
/// changed request's old and new timelines are both derived from its own events (those up to
/// the previous head, and all), so the daemon's memory stays flat however long the history.
#[derive(Debug, Default)]
pub struct TimelineCache {
    live: std::sync::Mutex<Option<Live>>,
    reports: std::sync::Mutex<Vec<Memo>>,
    chart: std::sync::Mutex<Option<ChartMemo>>,
}

/// The chart kept for reuse (the SVG text, or why there is none).
type ChartMemo = (
    u64,
    std::time::Instant,
    std::sync::Arc<Result<String, String>>,
);

/// A report kept for reuse, with the log head it was built at.
#[derive(Debug)]
struct Memo {
    seq: u64,
    built: std::time::Instant,
    what: MemoKey,
    report: std::sync::Arc<Report>,
}

#[derive(Debug, Clone, PartialEq)]
struct MemoKey {
    since: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
    by: GroupBy,
    breaches: bool,
    levels: ServiceLevels,
}

/// How many reports are kept (each a few kilobytes of aggregates).
const MEMO_REPORTS: usize = 16;

/// The counts as of one log head.
#[derive(Debug)]
pub struct Live {
    seq: u64,
    hash: String,
    /// The service levels `agg` was counted with (`None`: not counted yet).
    levels: Option<ServiceLevels>,
    agg: prometheus::Aggregates,
    /// Check jobs up to this id have been seen; of those, these had not finished.
    checks_seen: i64,
    checks_pending: std::collections::BTreeSet<i64>,
}

impl Live {
    fn new(seq: u64, hash: String) -> Live {
        Live {
            seq,
            hash,
            levels: None,
            agg: prometheus::Aggregates::default(),
            checks_seen: 0,
            checks_pending: Default::default(),
        }
    }

    /// Moves the counts to a new head: each request with events after the previous head is
    /// counted out as it was then and counted in as it is now.
    fn advance(
        &mut self,
        s: &crate::store::Store,
        seq: u64,
        hash: String,
    ) -> Result<(), crate::store::StoreError> {
        if let Some(levels) = &self.levels {
            for ticket in s.tickets_after(self.seq)? {
                let inputs = s.timeline_inputs(&ticket)?;
                if let Some(before) = timeline_as_of(&inputs, self.seq) {
                    self.agg.timeline(&before, levels, -1);
                }
                if let Some(now) = timeline_as_of(&inputs, u64::MAX) {
                    self.agg.timeline(&now, levels, 1);
                }
            }
        }
        self.seq = seq;
        self.hash = hash;
        Ok(())
    }

    /// Counts in the checks that finished since the last call: those above the last id seen,
    /// and those seen before that were still running (a check can finish without an event).
    fn count_checks(&mut self, s: &crate::store::Store) -> Result<(), crate::store::StoreError> {
        let (agg, pending) = (&mut self.agg, &mut self.checks_pending);
        self.checks_seen = s.checks_after(self.checks_seen, |id, finished| match finished {
            Some((phase, secs)) => agg.check(phase, secs),
            None => {
                pending.insert(id);
            }
        })?;
        let waiting: Vec<i64> = self.checks_pending.iter().copied().collect();
        for id in waiting {
            if let Some((phase, secs)) = s.finished_check(id)? {
                self.agg.check(phase, secs);
                self.checks_pending.remove(&id);
            }
        }
        Ok(())
    }
}

/// A request's timeline from its events and completion notices up to sequence number `upto`.
fn timeline_as_of(inputs: &crate::store::TimelineInputs, upto: u64) -> Option<Timeline> {
    let events: Vec<Recorded> = inputs
        .events
        .iter()
        .take_while(|(seq, _)| *seq <= upto)
        .map(|(_, e)| e.clone())
        .collect();
    let notices: Vec<OffsetDateTime> = inputs
        .notices
        .iter()
        .take_while(|(seq, _)| *seq <= upto)
        .map(|(_, at)| *at)
        .collect();
    Timeline::from_events_and_notices(&events, &notices)
}

impl TimelineCache {
    /// Runs `f` on the counts brought up to the newest event, in one read transaction.
    fn with_live<T>(
        &self,
        store: &crate::store::Store,
        f: impl FnOnce(&crate::store::Store, &mut Live) -> Result<T, crate::store::StoreError>,
    ) -> Result<T, crate::store::StoreError> {
        let mut guard = self.live.lock().map_err(|_| poisoned())?;
        store.snapshot(|s| {
            let (seq, hash) = crate::store::last_event(s.conn())?.unwrap_or((0, String::new()));
            let usable = match guard.as_ref() {
                Some(l) if l.seq == 0 => true,
                Some(l) => s.event_hash(l.seq)?.as_deref() == Some(l.hash.as_str()),
                None => false,
            };
            let live = match guard.as_mut() {
                Some(live) if usable => {
                    if live.seq != seq {
                        live.advance(s, seq, hash)?;
                    }
                    live
                }
                // Another or a restored database: counted afresh when next asked.
                _ => guard.insert(Live::new(seq, hash)),
            };
            f(s, live)
        })
    }

    /// The request and check metrics of `/metrics` as of the newest event.
    pub fn prometheus(
        &self,
        store: &crate::store::Store,
        levels: &ServiceLevels,
    ) -> Result<String, crate::store::StoreError> {
        self.with_live(store, |s, live| {
            if live.levels.as_ref() != Some(levels) {
                // Counted once per daemon (and when the levels change): every timeline
                // afresh, then let go.
                live.agg.clear_timelines();
                for t in timelines(s)? {
                    live.agg.timeline(&t, levels, 1);
                }
                live.levels = Some(*levels);
            }
            live.count_checks(s)?;
            Ok(live.agg.render(levels))
        })
    }

    /// A turnaround report as of the newest event, or one built at most `max_age` ago with the
    /// same options (public pages accept a minute's delay, so that views do not each read the
    /// history). Timelines come through the cache file beside the database
    /// ([`cache::load_timelines`]) and are let go once the report is built.
    pub fn report(
        &self,
        store: &crate::store::Store,
        levels: &ServiceLevels,
        options: &ReportOptions,
        max_age: std::time::Duration,
    ) -> Result<std::sync::Arc<Report>, crate::store::StoreError> {
        let what = MemoKey {
            since: options.since,
            until: options.until,
            by: options.by,
            breaches: options.breaches,
            levels: *levels,
        };
        // One report built at a time: a second caller waits and then finds it here.
        let mut memos = self.reports.lock().map_err(|_| poisoned())?;
        let head = crate::store::last_event(store.conn())?.map_or(0, |(seq, _)| seq);
        if let Some(memo) = memos
            .iter()
            .find(|m| m.what == what && (m.seq == head || m.built.elapsed() <= max_age))
        {
            return Ok(memo.report.clone());
        }
        let report = {
            let timelines = cache::load_timelines(store)?;
            std::sync::Arc::new(Report::build(&timelines, levels, options))
        };
        memos.retain(|m| m.what != what);
        if memos.len() >= MEMO_REPORTS {
            memos.remove(0);
        }
        memos.push(Memo {
            seq: head,
            built: std::time::Instant::now(),
            what,
            report: report.clone(),
        });
        Ok(report)
    }
}

impl TimelineCache {
    /// The turnaround chart (`metrics chart`) as of the newest event, or one drawn at most
    /// `max_age` ago.
    pub fn chart(
        &self,
        store: &crate::store::Store,
        levels: &ServiceLevels,
        max_age: std::time::Duration,
    ) -> Result<std::sync::Arc<Result<String, String>>, crate::store::StoreError> {
        let mut memo = self.chart.lock().map_err(|_| poisoned())?;
        let head = crate::store::last_event(store.conn())?.map_or(0, |(seq, _)| seq);
        if let Some((seq, built, svg)) = memo.as_ref() {
            if *seq == head || built.elapsed() <= max_age {
                return Ok(svg.clone());
            }
        }
        let svg = std::sync::Arc::new(render_chart(&cache::load_timelines(store)?, levels));
        *memo = Some((head, std::time::Instant::now(), svg.clone()));
        Ok(svg)
    }
}

fn poisoned() -> crate::store::StoreError {
    crate::store::StoreError::Corrupt("the metrics cache was poisoned by a panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_index_by_their_discriminant() {
        // Reports index arrays and the cache encodes measures by `measure as usize`.
        for (i, m) in Measure::ALL.iter().enumerate() {
            assert_eq!(*m as usize, i, "{m:?}");
        }
        let names: std::collections::BTreeSet<_> =
            Measure::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(names.len(), Measure::ALL.len());
    }

    #[test]
    fn every_service_level_is_configurable_and_defaults_follow_design() {
        let levels = ServiceLevels::default();
        let with_level: Vec<_> = Measure::ALL
            .iter()
            .filter(|m| levels.of(**m).is_some())
            .collect();
        assert_eq!(with_level.len(), 9);
        assert_eq!(levels.staff_review, level(5 * 86_400, 90));
        assert_eq!(levels.publication, level(72 * 3600, 99));
        assert_eq!(levels.first_check.limit_secs, 3000);
        let text = "staff_review = { limit_secs = 100, target_percent = 80 }\n";
        let parsed: ServiceLevels = toml::from_str(text).expect("partial table");
        assert_eq!(parsed.staff_review, level(100, 80));
        assert_eq!(
            parsed.recheck, levels.recheck,
            "the rest keep their defaults"
        );
        assert!(toml::from_str::<ServiceLevels>(
            "staff_reveiw = { limit_secs = 1, target_percent = 1 }"
        )
        .is_err());
    }
}
