//! The desk staff's pages (issue 15): the work queue (`/desk`), a request with what it
//! changes, its checks, approvals, evidence, timeline and the review actions the gate and the
//! workflow allow now (`/desk/requests/{ticket}`), and the turnaround dashboard with the
//! breaches of the last 30 days (`/desk/turnaround`).
//!
//! Reads go through the desk's named reads and `Desk::read`; actions through `Desk::act`, the
//! same call as `POST /v1/requests/{ticket}/{action}`: the pages add no rules of their own.

use std::collections::BTreeMap;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::layout::{self, count, scroll_table, Nav};
use super::public::{duration, measure_name};
use super::session::{acting, Viewer};
use super::{html_response, PageError, Portal, NO_STORE};
use crate::desk::{Action, DeskError};
use crate::http::Peer;
use crate::metrics::{risk, Measure, ReportOptions, ServiceLevels};
use crate::registry::{Contact, Delegation, TldLabel, TldRecord};
use crate::store::{CheckJob, RequestSummary};
use crate::workflow::{
    Assessment, Command, Criterion, Evaluation, Event, Party, Priority, Proposal, Recorded,
    Request, State as RequestState, WorkflowError,
};

/// How the queue is ordered after the emergencies, which always come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueSort {
    /// Least time left before a service level is breached first.
    Risk,
    /// Oldest submission first.
    Age,
    /// The desk's own work first, then what waits on the TLD.
    Owner,
    /// Normal requests by age (emergencies are on top in every order).
    Priority,
}

const SORTS: [(QueueSort, &str, &str); 4] = [
    (QueueSort::Risk, "risk", "service-level risk"),
    (QueueSort::Age, "age", "age"),
    (QueueSort::Owner, "owner", "owner"),
    (QueueSort::Priority, "priority", "priority"),
];

impl QueueSort {
    pub fn parse(text: &str) -> Option<QueueSort> {
        SORTS
            .iter()
            .find(|(_, n, _)| *n == text)
            .map(|(s, _, _)| *s)
    }
}

/// One open request in the queue, with its service-level risk.
#[derive(Debug, Clone)]
pub struct QueueRow {
    pub summary: RequestSummary,
    pub emergency: bool,
    pub submitted: Option<OffsetDateTime>,
    /// The measure whose clock runs and the seconds left (negative: breached).
    pub risk: Option<(Measure, i64)>,
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn parse_state(text: &str) -> Option<RequestState> {
    RequestState::ALL.into_iter().find(|s| s.as_str() == text)
}

/// The queue's rows in order: emergencies first, then by `sort`, then by ticket.
pub fn queue_rows(
    summaries: Vec<RequestSummary>,
    levels: &ServiceLevels,
    now: OffsetDateTime,
    sort: QueueSort,
) -> Vec<QueueRow> {
    let mut rows: Vec<QueueRow> = summaries
        .into_iter()
        .map(|summary| {
            let emergency = summary.priority == "emergency";
            let submitted = parse_time(&summary.submitted_at);
            let risk = match (
                parse_state(&summary.state),
                parse_time(&summary.state_since),
                submitted,
            ) {
                (Some(state), Some(since), Some(submitted)) => {
                    let priority = if emergency {
                        Priority::Emergency
                    } else {
                        Priority::Normal
                    };
                    risk::time_left(levels, state, priority, since, submitted, now)
                }
                _ => None,
            };
            QueueRow {
                summary,
                emergency,
                submitted,
                risk,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        let age = || a.submitted.cmp(&b.submitted);
        let then = match sort {
            // No running clock (the TLD must act) sorts after every running one.
            QueueSort::Risk => match (a.risk, b.risk) {
                (Some(x), Some(y)) => x.1.cmp(&y.1),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(age),
            QueueSort::Age | QueueSort::Priority => age(),
            QueueSort::Owner => owner_rank(&a.summary)
                .cmp(&owner_rank(&b.summary))
                .then_with(age),
        };
        b.emergency
            .cmp(&a.emergency)
            .then(then)
            .then_with(|| a.summary.ticket.cmp(&b.summary.ticket))
    });
    rows
}

fn owner_rank(s: &RequestSummary) -> u8 {
    match s.owner.as_deref() {
        Some("desk") => 0,
        Some("tld") => 1,
        _ => 2,
    }
}

/// Seconds as a signed, readable span: `3.5 h left`, `2 days over`.
fn risk_text(risk: Option<(Measure, i64)>) -> (String, &'static str) {
    match risk {
        None => ("clock stopped (the TLD must act)".into(), "muted"),
        Some((_, left)) if left < 0 => (
            format!("{} over", duration(left.unsigned_abs() as f64)),
            "bad",
        ),
        Some((_, left)) => (format!("{} left", duration(left as f64)), ""),
    }
}

fn age_text(submitted: Option<OffsetDateTime>, now: OffsetDateTime) -> String {
    submitted
        .map(|s| duration((now - s).as_seconds_f64().max(0.0)))
        .unwrap_or_else(|| "–".into())
}

/// Requests per page of the queue.
pub const QUEUE_PAGE: usize = 100;

/// The queue page `page` (from 1) of `rows` (already ordered).
pub fn render_queue(
    viewer: &Viewer,
    all: &[QueueRow],
    sort: QueueSort,
    page: usize,
    now: OffsetDateTime,
) -> Markup {
    let emergencies = all.iter().filter(|r| r.emergency).count();
    let mine = all.iter().filter(|r| owner_rank(&r.summary) == 0).count();
    let pages = all.len().div_ceil(QUEUE_PAGE).max(1);
    let page = page.clamp(1, pages);
    let first = (page - 1) * QUEUE_PAGE;
    let rows = &all[first.min(all.len())..(first + QUEUE_PAGE).min(all.len())];
    let sort_name = SORTS
        .iter()
        .find(|(s, _, _)| *s == sort)
        .map(|(_, n, _)| *n)
        .unwrap_or("risk");
    let link = |p: usize| format!("/desk?sort={sort_name}&page={p}");
    let body = html! {
        p.lead {
            (count(all.len())) @if all.len() == 1 { " open request; " } @else { " open requests; " }
            (count(mine)) @if mine == 1 { " waits on the desk" } @else { " wait on the desk" }
            @if emergencies > 0 { ", " strong.bad { (count(emergencies)) " emergency" @if emergencies != 1 { " requests" } } }
            ". Emergencies are always listed first."
        }
        form.filters method="get" action="/desk" {
            div.field {
                label for="sort" { "Order the rest by" }
                select #sort name="sort" {
                    @for (s, name, label) in SORTS {
                        option value=(name) selected[s == sort] { (label) }
                    }
                }
            }
            div.actions { button type="submit" { "Sort" } }
        }
        p.note {
            "Service-level risk is the time left before the step the desk is on breaches its "
            "level (" a href="/desk/turnaround" { "turnaround" } "); a request waiting on its TLD "
            "has no running clock."
        }
        (scroll_table("Open requests", html! {
            table.stack #queue {
                thead { tr {
                    th scope="col" { "Ticket" } th scope="col" { "TLD" } th scope="col" { "Kind" }
                    th scope="col" { "State" } th scope="col" { "Owner" } th scope="col" { "Age" }
                    th scope="col" { "Service level" } th scope="col" { "Priority" }
                } }
                tbody {
                    @for row in rows {
                        @let (risk, class) = risk_text(row.risk);
                        tr {
                            th.nowrap scope="row" { a href={ "/desk/requests/" (row.summary.ticket) } { (row.summary.ticket) } }
                            td data-label="TLD" { "." (row.summary.tld) }
                            td data-label="Kind" { (row.summary.kind) }
                            td.nowrap data-label="State" { (row.summary.state) }
                            td data-label="Owner" { (row.summary.owner.as_deref().unwrap_or("–")) }
                            td data-label="Age" { (age_text(row.submitted, now)) }
                            td data-label="Service level" class=(class) {
                                (risk)
                                @if let Some((m, _)) = row.risk { br; span.note { (measure_name(m)) } }
                            }
                            td data-label="Priority" {
                                @if row.emergency { strong.bad { "emergency" } } @else { "normal" }
                            }
                        }
                    }
                }
            }
        }))
    };
    let body = html! {
        (body)
        @if pages > 1 {
            nav.pager aria-label="Pages of the queue" {
                @if page > 1 { a href=(link(page - 1)) { "← Previous " (QUEUE_PAGE) } } @else { span {} }
                span { "Requests " (count(first + 1)) "–" (count(first + rows.len())) " of " (count(all.len())) }
                @if page < pages { a href=(link(page + 1)) { "Next " (QUEUE_PAGE) " →" } }
            }
        }
    };
    layout::page_as("Work queue", Nav::Queue, Some(viewer), body)
}

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    sort: Option<String>,
    page: Option<usize>,
}

fn refused(e: DeskError) -> PageError {
    match e {
        DeskError::Forbidden(reason) => PageError::forbidden(format!(
            "{reason}. Nothing was done; ask the desk's operator if you need this access."
        )),
        DeskError::NotFound(what) => PageError::not_found(format!("There is no {what}.")),
        DeskError::Workflow(WorkflowError::Forbidden(reason)) => {
            PageError::forbidden(format!("{reason}. Nothing was done."))
        }
        DeskError::Workflow(e @ WorkflowError::Invalid { .. }) => PageError::bad_request(format!(
            "{e}. Nothing was done: go back, correct the form and send it again."
        )),
        DeskError::Workflow(e) => PageError {
            status: StatusCode::CONFLICT,
            title: "Not possible now",
            message: format!("{e}. Nothing was done: reload the request to see its state."),
        },
        other => PageError::from(other),
    }
}

/// A read that may be refused: the gate's refusal becomes a 403 page, not a 500.
pub(super) async fn gated<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DeskError> + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PageError::from(DeskError::Forbidden(format!("the page failed: {e}"))))?
        .map_err(refused)
}

fn private(mut response: Response) -> Response {
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static(NO_STORE),
    );
    response
}

/// `GET /desk?sort=risk|age|owner|priority`: the open requests.
pub async fn queue(
    State(portal): State<Portal>,
    viewer: Viewer,
    query: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(q) = query.map_err(|e| PageError::bad_request(e.body_text()))?;
    let sort = match q.sort.as_deref().filter(|s| !s.is_empty()) {
        None => QueueSort::Risk,
        Some(text) => QueueSort::parse(text).ok_or_else(|| {
            PageError::bad_request(format!(
                "sort: {text:?} is not an order; use risk, age, owner or priority"
            ))
        })?,
    };
    let desk = portal.desk.clone();
    let caller = viewer.caller.clone();
    let (summaries, now) = gated(move || Ok((desk.work_queue(&caller)?, desk.clock.now()))).await?;
    let rows = queue_rows(summaries, &portal.desk.service_levels, now, sort);
    Ok(private(html_response(
        StatusCode::OK,
        render_queue(&viewer, &rows, sort, q.page.unwrap_or(1), now),
    )))
}

/// What a request page shows.
struct RequestPage {
    request: Request,
    history: Vec<Recorded>,
    checks: Vec<(CheckJob, Option<serde_json::Value>)>,
    record: Option<TldRecord>,
    actions: Vec<Action>,
    now: OffsetDateTime,
    /// Persons' names by id, so that people are named, not numbered.
    names: BTreeMap<String, String>,
}

/// A person's name (with the id, which the audit log uses), or the id alone.
fn person(names: &BTreeMap<String, String>, id: &str) -> String {
    match names.get(id) {
        Some(name) => format!("{name} ({id})"),
        None => id.to_string(),
    }
}

fn party(p: &Party, names: &BTreeMap<String, String>) -> String {
    match p {
        Party::Contact(h) => format!("contact {h}"),
        Party::Staff(s) => format!("staff {}", person(names, s)),
        Party::Person(p) => person(names, p),
        Party::System => "rootdesk".into(),
        Party::CdsScanner => "CDS scanner".into(),
    }
}

/// A time for readers: `2026-12-06 13:44 UTC` (seconds and below only in the audit log).
pub(super) fn when(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn nameserver_lines(d: &Delegation) -> Vec<String> {
    d.nameservers
        .iter()
        .map(|(host, addrs)| {
            let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            if addrs.is_empty() {
                host.to_string()
            } else {
                format!("{host} ({})", addrs.join(", "))
            }
        })
        .collect()
}

fn ds_lines(d: &Delegation) -> Vec<String> {
    d.ds.iter().map(|ds| ds.to_string()).collect()
}

fn contact_line(c: Option<&Contact>) -> Vec<String> {
    c.map(|c| {
        let mut parts = vec![c.handle.clone()];
        parts.extend(c.name.clone());
        parts.extend(c.organisation.clone());
        parts.extend(c.email.clone());
        vec![parts.join(" · ")]
    })
    .unwrap_or_default()
}

/// Rows of (what, published, proposed) for the proposal against the record on file.
fn diff_rows(
    record: Option<&TldRecord>,
    proposal: &Proposal,
) -> Vec<(&'static str, Vec<String>, Vec<String>)> {
    let empty = Delegation::default();
    let published = record.map(|r| &r.delegation).unwrap_or(&empty);
    let mut rows = Vec::new();
    let delegation = |d: &Delegation, rows: &mut Vec<_>| {
        rows.push((
            "Name servers",
            nameserver_lines(published),
            nameserver_lines(d),
        ));
        rows.push(("DS records", ds_lines(published), ds_lines(d)));
    };
    match proposal {
        Proposal::Delegation { delegation: d } => delegation(d, &mut rows),
        Proposal::Contacts { admin, tech } => {
            if admin.is_some() {
                rows.push((
                    "Administrative contact",
                    contact_line(record.and_then(|r| r.admin.as_ref())),
                    contact_line(admin.as_ref()),
                ));
            }
            if tech.is_some() {
                rows.push((
                    "Technical contact",
                    contact_line(record.and_then(|r| r.tech.as_ref())),
                    contact_line(tech.as_ref()),
                ));
            }
        }
        Proposal::Sponsor { sponsor } => rows.push((
            "Sponsoring organisation",
            record.and_then(|r| r.sponsor.clone()).into_iter().collect(),
            vec![sponsor.clone()],
        )),
        Proposal::Transfer {
            sponsor,
            admin,
            tech,
            delegation: d,
            ..
        } => {
            rows.push((
                "Sponsoring organisation",
                record.and_then(|r| r.sponsor.clone()).into_iter().collect(),
                vec![sponsor.clone()],
            ));
            rows.push((
                "Administrative contact",
                contact_line(record.and_then(|r| r.admin.as_ref())),
                contact_line(Some(admin)),
            ));
            rows.push((
                "Technical contact",
                contact_line(record.and_then(|r| r.tech.as_ref())),
                contact_line(Some(tech)),
            ));
            if let Some(d) = d {
                delegation(d, &mut rows);
            }
        }
        Proposal::Authority { authority } => {
            rows.push(("Authority and policy", Vec::new(), authority.lines()))
        }
    }
    rows
}

fn lines(items: &[String], other: &[String]) -> Markup {
    html! {
        @if items.is_empty() { span.muted { "none" } }
        ul.plain {
            @for item in items {
                li {
                    @if other.contains(item) { (item) } @else { strong { (item) } }
                }
            }
        }
    }
}

fn event_detail(e: &Event) -> String {
    match e {
        Event::Submitted {
            priority,
            emergency_reason,
            ..
        } => match emergency_reason {
            Some(r) => format!("{priority:?} priority: {r}").to_lowercase(),
            None => String::new(),
        },
        // The summary starts with the verdict (`pass: no problems`).
        Event::CheckFinished { phase, summary, .. } => {
            format!("{} check: {summary}", format!("{phase:?}").to_lowercase())
        }
        Event::Amended { revision, .. } => format!("revision {revision}"),
        Event::Confirmed { contact, revision } => format!("{contact}, revision {revision}"),
        Event::Consented { person, revision } => format!("{person}, revision {revision}"),
        Event::Declined { contact, reason } => format!("{contact}: {reason}"),
        Event::Verified { note, .. } | Event::Approved { note } => note.clone(),
        Event::QuestionAsked { question } => question.clone(),
        Event::Answered { answer } => answer.clone(),
        Event::Rejected { reason } | Event::Withdrawn { reason } => reason.clone(),
        Event::Evaluated { evaluation } => format!(
            "{}: {}",
            if evaluation.approve {
                "approve"
            } else {
                "reject"
            },
            evaluation.summary
        ),
        Event::Implemented { serial } => serial
            .map(|s| format!("published in serial {s}"))
            .unwrap_or_else(|| "recorded (no root zone change)".into()),
        Event::Reminded { after_days } => format!("after {after_days} days"),
        Event::Expired { after_days } | Event::HoldEnded { after_days } => {
            format!("after {after_days} days")
        }
        Event::Accepted => String::new(),
    }
}

/// A check report's findings, by name server: (server, severity, check, message).
fn findings(report: &serde_json::Value) -> BTreeMap<String, Vec<(String, String, String)>> {
    let mut by_server: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    let text = |v: &serde_json::Value, k: &str| {
        v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string()
    };
    for f in report
        .get("findings")
        .and_then(|f| f.as_array())
        .into_iter()
        .flatten()
    {
        let server = match (
            f.get("nameserver").and_then(|x| x.as_str()),
            f.get("address").and_then(|x| x.as_str()),
        ) {
            (Some(n), Some(a)) => format!("{n} ({a})"),
            (Some(n), None) => n.to_string(),
            (None, Some(a)) => a.to_string(),
            (None, None) => "the zone as a whole".into(),
        };
        by_server.entry(server).or_default().push((
            text(f, "severity"),
            text(f, "check"),
            text(f, "message"),
        ));
    }
    by_server
}

fn action_form(ticket: &str, action: Action, csrf: &str, four_eyes: bool) -> Markup {
    let target = format!("/desk/requests/{ticket}/{}", action.name());
    let id = |field: &str| format!("{}-{field}", action.name());
    html! {
        form.review method="post" action=(target) {
            input type="hidden" name="csrf" value=(csrf);
            @match action {
                Action::Approve => {
                    h3 { "Approve" }
                    div.field { label for=(id("note")) { "Note (optional)" } textarea id=(id("note")) name="note" rows="2" {} }
                    button type="submit" { "Approve" }
                }
                Action::Reject => {
                    h3 { "Reject" }
                    div.field { label for=(id("reason")) { "Reason (sent to the TLD)" } textarea id=(id("reason")) name="reason" rows="2" required {} }
                    button.danger type="submit" { "Reject" }
                }
                Action::Ask => {
                    h3 { "Ask the TLD" }
                    div.field { label for=(id("question")) { "Question (the request waits on the TLD until answered)" } textarea id=(id("question")) name="question" rows="2" required {} }
                    button type="submit" { "Ask" }
                }
                Action::Evaluate => {
                    h3 { "Record the evaluation" }
                    fieldset {
                        legend { "Criteria met" }
                        @for (c, name, label) in CRITERIA {
                            @let _ = c;
                            div.check {
                                input type="checkbox" id=(id(name)) name=(name) value="met";
                                label for=(id(name)) { (label) }
                            }
                        }
                    }
                    div.field { label for=(id("summary")) { "Summary" } textarea id=(id("summary")) name="summary" rows="2" required {} }
                    div.field {
                        label for=(id("decision")) { "Decision" }
                        select id=(id("decision")) name="decision" {
                            option value="approve" { "approve the transfer" }
                            option value="reject" { "reject the transfer" }
                        }
                    }
                    button type="submit" { "Record evaluation" }
                }
                Action::Implement => {
                    h3 { "Implement" }
                    p.note {
                        "Applies the change to the registry and, for a delegation, publishes a new root zone serial."
                        @if four_eyes { " Four eyes: not by the staff member who approved." }
                    }
                    button type="submit" { "Implement now" }
                }
                Action::Verify => {
                    h3 { "Record the special-handling verification" }
                    div.field { label for=(id("note")) { "How the change was verified out of band" } textarea id=(id("note")) name="note" rows="2" required {} }
                    button type="submit" { "Record verification" }
                }
                _ => {}
            }
        }
    }
}

const CRITERIA: [(Criterion, &str, &str); 4] = [
    (Criterion::Stability, "stability", "Stability"),
    (Criterion::LocalSupport, "local_support", "Local support"),
    (
        Criterion::IncumbentConsent,
        "incumbent_consent",
        "Incumbent consent",
    ),
    (Criterion::LegalBasis, "legal_basis", "Legal basis"),
];

fn render_request(
    viewer: &Viewer,
    page: &RequestPage,
    levels: &ServiceLevels,
    four_eyes: bool,
) -> Markup {
    let r = &page.request;
    let risk = risk::time_left(
        levels,
        r.state,
        r.priority,
        r.state_since,
        r.submitted_at,
        page.now,
    );
    let (risk, risk_class) = if r.state.is_final() {
        ("none: the request is closed".to_string(), "muted")
    } else {
        let (text, class) = risk_text(risk);
        match risk {
            Some((m, _)) => (
                format!("{text} ({})", measure_name(m).to_lowercase()),
                class,
            ),
            None => (text, class),
        }
    };
    let proposal = r.proposal();
    let body = html! {
        p { a href="/desk" { "← Back to the work queue" } " · " a href={ "/audit?request=" (r.ticket) } { "Audit history of this request" } }
        dl.facts {
            dt { "TLD" } dd { a href={ "/tlds/" (r.tld) } { "." (r.tld) } }
            dt { "Kind" } dd { (r.kind.as_str()) }
            dt { "State" } dd { strong { (r.state.as_str()) } " · owner: " (r.owner.map(|o| format!("{o:?}").to_lowercase()).unwrap_or_else(|| "none (closed)".into())) }
            dt { "Priority" } dd {
                @if r.priority == Priority::Emergency { strong.bad { "emergency" } @if let Some(why) = &r.emergency_reason { ": " (why) } } @else { "normal" }
            }
            dt { "Submitted" } dd { (when(r.submitted_at)) " by " (party(&r.submitter, &page.names)) }
            dt { "In this state since" } dd { (when(r.state_since)) }
            dt { "Service level" } dd class=(risk_class) { (risk) }
            dt { "Revision" } dd { (r.revision()) }
        }
        h2 { "What changes" }
        @if r.state.is_final() {
            p.note { "This request is closed: \"Published now\" is today's record, not the one the request was judged against; the timeline says what happened." }
        }
        (scroll_table("Published and proposed", html! {
            table.stack #diff {
                thead { tr { th scope="col" { "" } th scope="col" { "Published now" } th scope="col" { "Proposed (revision " (r.revision()) ")" } } }
                tbody {
                    @for (what, before, after) in diff_rows(page.record.as_ref(), proposal) {
                        tr {
                            th scope="row" { (what) }
                            td data-label="Published now" { (lines(&before, &after)) }
                            td data-label="Proposed" { (lines(&after, &before)) }
                        }
                    }
                }
            }
        }))
        p.note { "Bold: what differs between the two sides." }
        h2 { "Technical checks" }
        @if page.checks.is_empty() { p { "No check has run for this request (contact and sponsor changes skip them)." } }
        @for (job, report) in &page.checks {
            h3 { (format!("{:?}", job.phase).to_lowercase()) " check of revision " (job.revision) ": "
                @match job.verdict {
                    Some(v) => span class=(if matches!(v, crate::workflow::Verdict::Fail) { "bad" } else { "ok" }) { (format!("{v:?}").to_lowercase()) },
                    None => span.muted { "running" },
                }
            }
            @if let Some(report) = report {
                @let by_server = findings(report);
                @if by_server.is_empty() { p.ok { "No findings: every check passed." } }
                @for (server, items) in &by_server {
                    h4 { (server) }
                    ul {
                        @for (severity, check, message) in items {
                            li { span class=(if severity == "error" { "bad" } else { "" }) { (severity) } " · " code { (check) } ": " (message) }
                        }
                    }
                }
            }
        }
        h2 { "Consents and approvals" }
        @if r.consents.is_empty() && r.approval.is_none() { p { "This request asks no consent." } }
        @if !r.consents.is_empty() {
            ul {
                @for (who, done) in &r.consents {
                    li { (crate::workflow::describe_consent(who)) " — " @if *done { span.ok { "confirmed" } } @else { span.bad { "pending" } } }
                }
            }
        }
        @if let Some(approval) = &r.approval {
            p { "The TLD's policy for " (approval.class.as_str()) " changes: " (approval.rule.describe())
                @if approval.special_handling { ". Special handling: a second staff member verifies out of band before implementation" } "." }
            p { "Approved by: "
                @if r.approvals.is_empty() { span.muted { "nobody yet" } }
                (r.approvals.iter().map(|id| person(&page.names, id)).collect::<Vec<_>>().join(", "))
            }
            @if let Some(missing) = r.missing_approvals(&r.approvals) { p.bad { "Still missing: " (missing) } } @else { p.ok { "The policy is met." } }
        }
        @if let Some(by) = &r.approved_by { p { "Approved at the desk by " (party(by, &page.names)) "." } }
        @if let Some(by) = &r.verified_by { p { "Verified out of band by " (party(by, &page.names)) "." } }
        @if let Proposal::Transfer { evidence, .. } = proposal {
            h2 { "Evidence documents" }
            (scroll_table("Evidence", html! {
                table.stack {
                    thead { tr { th scope="col" { "Document" } th scope="col" { "Kind" } th scope="col" { "Size" } th scope="col" { "SHA-256" } } }
                    tbody { @for e in evidence { tr {
                        th scope="row" { (e.name) }
                        td data-label="Kind" { (format!("{:?}", e.kind)) }
                        td data-label="Size" { (count(e.size as usize)) " bytes" }
                        td data-label="SHA-256" { code.digest { (e.sha256) } }
                    } } }
                }
            }))
        }
        h2 { "Timeline" }
        (scroll_table("Timeline", html! {
            table.stack #timeline {
                thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Event" } th scope="col" { "By" } th scope="col" { "Details" } } }
                tbody { @for e in &page.history { tr {
                    td data-label="When" { (when(e.time)) }
                    td data-label="Event" { (e.event.kind()) }
                    td data-label="By" { (party(&e.by, &page.names)) }
                    td data-label="Details" { (event_detail(&e.event)) }
                } } }
            }
        }))
        h2 { "Actions" }
        @if page.actions.is_empty() {
            p { "There is nothing for you to do on this request now"
                @match r.owner { Some(crate::workflow::Owner::Tld) => { ": it waits on the TLD." }, _ => { "." } } }
        } @else {
            div.review-actions { @for a in &page.actions { (action_form(&r.ticket, *a, &viewer.csrf, four_eyes)) } }
        }
    };
    layout::page_as(
        &format!("Request {}", r.ticket),
        Nav::Queue,
        Some(viewer),
        body,
    )
}

fn plain_ticket(ticket: &str) -> Result<(), PageError> {
    let ok = !ticket.is_empty()
        && ticket.len() <= 64
        && ticket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PageError::not_found(
            "That is not a ticket; tickets look like RD-20261206-0001.",
        ))
    }
}

/// `GET /desk/requests/{ticket}`.
pub async fn request(
    State(portal): State<Portal>,
    viewer: Viewer,
    Path(ticket): Path<String>,
) -> Result<Response, PageError> {
    plain_ticket(&ticket)?;
    let desk = portal.desk.clone();
    let caller = viewer.caller.clone();
    let page = gated(move || {
        desk.require_work_queue(&caller)?;
        let request = desk.read(&caller, &ticket)?;
        let (history, _) = desk.request_history_and_checks(&ticket)?;
        let checks = desk.checks_of(&ticket)?;
        let record = TldLabel::parse(&request.tld)
            .ok()
            .map(|l| desk.tld_with_cds(&l))
            .transpose()?
            .flatten()
            .map(|(r, _)| r);
        let actions = desk.review_actions_now(&caller, &request)?;
        let names = desk
            .persons()?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        Ok(RequestPage {
            request,
            history,
            checks,
            record,
            actions,
            now: desk.clock.now(),
            names,
        })
    })
    .await?;
    Ok(private(html_response(
        StatusCode::OK,
        render_request(
            &viewer,
            &page,
            &portal.desk.service_levels,
            portal.desk.settings.four_eyes,
        ),
    )))
}

/// The fields of every review form; each action reads its own.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    csrf: Option<String>,
    #[serde(default)]
    note: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    question: String,
    #[serde(default)]
    summary: String,
    decision: Option<String>,
    stability: Option<String>,
    local_support: Option<String>,
    incumbent_consent: Option<String>,
    legal_basis: Option<String>,
}

impl ActionForm {
    fn command(&self, action: Action) -> Result<Command, PageError> {
        Ok(match action {
            Action::Approve => Command::Approve {
                note: self.note.trim().to_string(),
            },
            Action::Reject => Command::Reject {
                reason: self.reason.trim().to_string(),
            },
            Action::Ask => Command::Ask {
                question: self.question.trim().to_string(),
            },
            Action::Implement => Command::Implement { serial: None },
            Action::Verify => Command::Verify {
                note: self.note.trim().to_string(),
            },
            Action::Evaluate => {
                let met = [
                    &self.stability,
                    &self.local_support,
                    &self.incumbent_consent,
                    &self.legal_basis,
                ];
                let assessments = CRITERIA
                    .iter()
                    .zip(met)
                    .map(|((criterion, _, _), met)| Assessment {
                        criterion: *criterion,
                        met: met.as_deref() == Some("met"),
                        note: String::new(),
                    })
                    .collect();
                let approve = match self.decision.as_deref() {
                    Some("approve") => true,
                    Some("reject") => false,
                    _ => {
                        return Err(PageError::bad_request(
                            "decision: choose approve or reject. Nothing was done.",
                        ))
                    }
                };
                Command::Evaluate {
                    evaluation: Evaluation {
                        assessments,
                        approve,
                        summary: self.summary.trim().to_string(),
                    },
                }
            }
            _ => {
                return Err(PageError::not_found(
                    "The desk's pages take approve, reject, ask, evaluate, implement or verify.",
                ))
            }
        })
    }
}

/// `POST /desk/requests/{ticket}/{action}`: the session's CSRF token first, then `Desk::act`
/// (the gate and the workflow decide, as for the API); back to the request page.
pub async fn act(
    State(portal): State<Portal>,
    headers: HeaderMap,
    peer: Option<Extension<Peer>>,
    Path((ticket, action)): Path<(String, String)>,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = form.ok();
    let caller = acting(
        &portal,
        &headers,
        peer,
        form.as_ref().and_then(|f| f.csrf.as_deref()),
    )
    .await?;
    let Some(Form(form)) = form else {
        return Err(PageError::bad_request(
            "The form could not be read. Nothing was done: reload the page and send it again.",
        ));
    };
    plain_ticket(&ticket)?;
    let action = Action::from_name(&action)
        .ok_or_else(|| PageError::not_found(format!("There is no action {action:?}.")))?;
    let command = form.command(action)?;
    let desk = portal.desk.clone();
    let target = format!("/desk/requests/{ticket}");
    gated(move || desk.act(&caller, &ticket, action, command)).await?;
    Ok(Redirect::to(&target).into_response())
}

#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    by: Option<String>,
}

/// `GET /desk/turnaround`: the turnaround of the last 30 days with its breaches by ticket
/// and their causes, and the chart.
pub async fn turnaround(
    State(portal): State<Portal>,
    viewer: Viewer,
    query: Result<Query<DashboardQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(q) = query.map_err(|e| PageError::bad_request(e.body_text()))?;
    let by = match q.by.as_deref().filter(|b| !b.is_empty()) {
        None => crate::metrics::GroupBy::Week,
        Some(t) => crate::metrics::GroupBy::parse(t).ok_or_else(|| {
            PageError::bad_request("by: expected month, week, tld, kind or priority")
        })?,
    };
    let desk = portal.desk.clone();
    let caller = viewer.caller.clone();
    let (report, causes, now) = gated(move || {
        desk.require_work_queue(&caller)?;
        let breaches = desk
            .grant(
                &caller,
                crate::desk::Permission::ReadBreaches,
                crate::desk::Resource::AuditLog,
            )
            .is_ok();
        let now = desk.clock.now();
        // From the start of the minute 30 days ago, so that views within a minute share the
        // desk's memoised report.
        let since = (now - time::Duration::days(30))
            .replace_second(0)
            .and_then(|t| t.replace_nanosecond(0))
            .unwrap_or(now - time::Duration::days(30));
        let options = ReportOptions {
            since: Some(since),
            until: None,
            by,
            breaches,
        };
        let report = desk.turnaround(&options, std::time::Duration::ZERO)?;
        // The cause of each breach: its request's longest stay with the desk, its questions
        // (the cached timelines keep no stays, so each breached request is replayed).
        let mut causes = BTreeMap::new();
        for b in report.total.breaches.iter().flatten() {
            if causes.contains_key(&b.ticket) {
                continue;
            }
            let (history, _) = desk.request_history_and_checks(&b.ticket)?;
            if let Some(t) = crate::metrics::Timeline::from_events(&history) {
                let longest = t
                    .stays
                    .iter()
                    .filter(|s| s.owner == Some(crate::workflow::Owner::Desk))
                    .max_by(|a, b| a.seconds(now).total_cmp(&b.seconds(now)))
                    .map(|s| (s.state, s.seconds(now)));
                causes.insert(b.ticket.clone(), (longest, t.questions, t.priority));
            }
        }
        Ok((report, causes, now))
    })
    .await?;
    let _ = now;
    let breaches = report.total.breaches.clone().unwrap_or_default();
    let body = html! {
        p.lead { "Requests measured in the last 30 days, with every service level breached and what held the request up." }
        h2 { "Breaches of the last 30 days" }
        @if breaches.is_empty() { p.ok { "No service level was breached in the last 30 days." } } @else {
            (scroll_table("Breaches", html! {
                table.stack #breaches {
                    thead { tr { th scope="col" { "Ticket" } th scope="col" { "TLD" } th scope="col" { "Step" } th scope="col" { "Took" } th scope="col" { "Level" } th scope="col" { "Cause" } } }
                    tbody { @for b in &breaches { tr {
                        th scope="row" { a href={ "/desk/requests/" (b.ticket) } { (b.ticket) } }
                        td data-label="TLD" { "." (b.tld) }
                        td data-label="Step" { (measure_name(b.measure)) }
                        td data-label="Took" class="bad" { (duration(b.seconds)) }
                        td data-label="Level" { (duration(b.limit_secs as f64)) }
                        td data-label="Cause" {
                            @if let Some((longest, questions, priority)) = causes.get(&b.ticket) {
                                @if let Some((state, secs)) = longest { "longest desk step: " (state.as_str()) ", " (duration(*secs)) }
                                @if *questions > 0 { "; " (questions) " question(s) to the TLD" }
                                @if *priority == Priority::Emergency { "; emergency" }
                            }
                        }
                    } } }
                }
            }))
        }
        p.note { "Below: the figures of the last 30 days; the chart shows every finished request by month." }
        (super::public::turnaround_body_at(&report, true, "/desk/turnaround"))
    };
    Ok(private(html_response(
        StatusCode::OK,
        layout::page_as("Turnaround dashboard", Nav::Queue, Some(&viewer), body),
    )))
}
