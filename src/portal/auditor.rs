//! The auditor's pages (issue 15), for auditors and desk staff (`read-audit`): the event log
//! with filters and paging, links to each request's history, the signed checkpoints, the
//! export files (the bytes `rootdesk audit export` writes) and how to verify them offline.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, scroll_table, Nav};
use super::session::Viewer;
use super::staff::gated;
use super::{html_response, PageError, Portal, NO_STORE};
use crate::audit::export::ExportFormat;
use crate::audit::{Checkpoint, Event, EventQuery};
use crate::registry::Role;

/// Events per page.
pub const PAGE: u32 = 100;

/// The filters of the event log, as the form sends them (empty fields are no filter).
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub tld: String,
    #[serde(default)]
    pub request: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub actor: String,
    /// Paging: only events before this sequence number (the log is shown newest first).
    pub before: Option<u64>,
}

fn given(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl LogQuery {
    fn event_query(&self) -> Result<EventQuery, PageError> {
        let date = |field: &str, text: &str| {
            given(text)
                .map(|t| {
                    crate::metrics::parse_date(&t).ok_or_else(|| {
                        PageError::bad_request(format!(
                            "{field}: {t:?} is not a date; write YYYY-MM-DD (UTC)"
                        ))
                    })
                })
                .transpose()
        };
        let tld = given(&self.tld)
            .map(|t| {
                crate::registry::TldLabel::parse(t.trim_start_matches('.'))
                    .map(|l| l.as_str().to_string())
                    .map_err(|e| PageError::bad_request(format!("TLD: {e}")))
            })
            .transpose()?;
        Ok(EventQuery {
            since: date("from", &self.since)?,
            // The whole "until" day is included.
            until: date("until", &self.until)?.map(|d| d + time::Duration::days(1)),
            tld,
            request: given(&self.request),
            kind: given(&self.kind),
            actor: given(&self.actor),
            to_seq: self.before.map(|b| b.saturating_sub(1)),
            limit: Some(PAGE),
            newest_first: true,
            ..EventQuery::default()
        })
    }

    /// This query's address with `before` set to `seq`.
    fn older(&self, seq: u64) -> String {
        let mut pairs: Vec<(&str, String)> = [
            ("since", &self.since),
            ("until", &self.until),
            ("tld", &self.tld),
            ("request", &self.request),
            ("kind", &self.kind),
            ("actor", &self.actor),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.trim().to_string()))
        .collect();
        pairs.push(("before", seq.to_string()));
        format!(
            "/audit?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }
}

fn actor_text(e: &Event) -> String {
    let a = &e.actor;
    let mut text = format!("{} {}", a.kind.as_str(), a.id);
    if let Some(role) = &a.role {
        text.push_str(&format!(" ({role})"));
    }
    if let Some(contact) = &a.contact {
        text.push_str(&format!(" for {contact}"));
    }
    text
}

fn field(id: &str, label: &str, name: &str, value: &str, placeholder: &str) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            input type="text" id=(id) name=(name) value=(value) placeholder=(placeholder);
        }
    }
}

/// The auditor's page.
pub fn render_log(
    viewer: &Viewer,
    q: &LogQuery,
    events: &[Event],
    checkpoints: &[Checkpoint],
) -> Markup {
    let staff = viewer.role() == Role::Staff;
    let body = html! {
        p.lead { "Every event the desk recorded, newest first, each chained to the one before by its hash. Download the log to verify it offline." }
        form.filters method="get" action="/audit" aria-label="Filter the events" {
            (field("since", "From (YYYY-MM-DD)", "since", &q.since, "e.g. 2026-11-01"))
            (field("until", "Until (YYYY-MM-DD)", "until", &q.until, "e.g. 2026-11-30"))
            (field("tld", "TLD", "tld", &q.tld, "e.g. xa"))
            (field("request", "Request ticket", "request", &q.request, "e.g. RD-20261206-0001"))
            (field("kind", "Kind", "kind", &q.kind, "e.g. request-approved"))
            (field("actor", "Actor id", "actor", &q.actor, "a person's or token's id"))
            div.actions { button type="submit" { "Show" } a href="/audit" { "Clear" } }
        }
        h2 { "Events" }
        @if let Some(ticket) = given(&q.request) {
            p { "The history of request " strong { (ticket) } ": every event recorded for it, newest first."
                @if staff { " " a href={ "/desk/requests/" (ticket) } { "Open the request page" } "." } }
        }
        @if events.is_empty() { p { "No event matches these filters." } } @else {
            (scroll_table("Events", html! {
                table.stack #events {
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { "When (UTC)" } th scope="col" { "Kind" }
                        th scope="col" { "Actor" } th scope="col" { "TLD" } th scope="col" { "Request" }
                        th scope="col" { "Payload" }
                    } }
                    tbody { @for e in events { tr {
                        th scope="row" { (e.seq) }
                        td data-label="When" { (crate::registry::timestamp(e.time)) }
                        td data-label="Kind" { code.nowrap { (e.kind) } }
                        td data-label="Actor" { (actor_text(e)) @if let Some(s) = &e.source { br; span.note { "from " (s) } } }
                        td data-label="TLD" { @if let Some(t) = &e.tld { "." (t) } }
                        td data-label="Request" {
                            @if let Some(r) = &e.request {
                                a.nowrap href={ "/audit?request=" (r) } { (r) }
                                @if staff { br; a.note href={ "/desk/requests/" (r) } { "request page" } }
                            }
                        }
                        td data-label="Payload" { code.payload { (e.payload.to_string()) } }
                    } } }
                }
            }))
            @if let Some(last) = events.last().filter(|_| events.len() == PAGE as usize) {
                p.pager { a href=(q.older(last.seq)) { "Older events →" } }
            }
        }
        h2 { "Export and offline verification" }
        p {
            "The whole log with its hashes and checkpoints, exactly as "
            code { "rootdesk audit export" } " writes it: "
            a href="/audit/export.jsonl" download { "JSON Lines (.jsonl)" } " or "
            a href="/audit/export.csv" download { "CSV" } "."
        }
        p { "To verify a download on any machine, with the desk's public key from its operator ("
            code { "rootdesk audit public-key" } "):" }
        pre { code { "rootdesk audit verify rootdesk-audit.jsonl --public-key KEY" } }
        p.note { "It checks every hash, every link and every checkpoint signature and names the first bad event. "
            "README, section \"The audit trail\", subsection \"Verifying\", describes each step, so you can also verify with a program of your own." }
        h2 { "Checkpoints" }
        @if checkpoints.is_empty() { p { "No checkpoint has been signed yet." } } @else {
            p { (checkpoints.len()) " signed checkpoints; each signs the hash of an event and so every event before it." }
            (scroll_table("Checkpoints", html! {
                table.stack #checkpoints {
                    thead { tr { th scope="col" { "Up to event" } th scope="col" { "Signed (UTC)" } th scope="col" { "Key" } th scope="col" { "Event hash" } } }
                    tbody { @for c in checkpoints.iter().rev().take(50) { tr {
                        th scope="row" { (c.seq) }
                        td data-label="Signed" { (c.time) }
                        td data-label="Key" { code { (c.key_id) } }
                        td data-label="Event hash" { code.digest { (c.hash) } }
                    } } }
                }
            }))
        }
    };
    layout::page_as("Audit log", Nav::Audit, Some(viewer), body)
}

/// `GET /audit?since=&until=&tld=&request=&kind=&actor=&before=`.
pub async fn log(
    State(portal): State<Portal>,
    viewer: Viewer,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(q) = query.map_err(|e| {
        PageError::bad_request(format!(
            "{}; correct the address or clear the filters",
            e.body_text()
        ))
    })?;
    let event_query = q.event_query()?;
    let desk = portal.desk.clone();
    let caller = viewer.caller.clone();
    let (events, checkpoints) = gated(move || desk.audit_page(&caller, &event_query)).await?;
    let mut response = html_response(
        StatusCode::OK,
        render_log(&viewer, &q, &events, &checkpoints),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    Ok(response)
}

async fn export(
    portal: Portal,
    viewer: Viewer,
    format: ExportFormat,
) -> Result<Response, PageError> {
    let desk = portal.desk.clone();
    let caller = viewer.caller.clone();
    let bytes = gated(move || desk.audit_export(&caller, format)).await?;
    let (media, name) = match format {
        ExportFormat::Jsonl => ("application/jsonl", "rootdesk-audit.jsonl"),
        ExportFormat::Csv => (
            "text/csv; charset=utf-8; header=present",
            "rootdesk-audit.csv",
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, media.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, NO_STORE.to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /audit/export.jsonl`.
pub async fn export_jsonl(
    State(portal): State<Portal>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    export(portal, viewer, ExportFormat::Jsonl).await
}

/// `GET /audit/export.csv`.
pub async fn export_csv(
    State(portal): State<Portal>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    export(portal, viewer, ExportFormat::Csv).await
}
