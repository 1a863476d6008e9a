//! The public pages beside the TLD pages: home (`/`), the monthly change log (`/changelog`,
//! the data of `GET /v1/changelog`) and the turnaround statistics (`/turnaround`, the public
//! part of `GET /v1/metrics/turnaround`, with the chart of `rootdesk metrics chart`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, Nav};
use super::tlds::lookup_form;
use super::{form_token, html_response, read, with_token_headers, Https, PageError, Portal};
use crate::changelog::{Changelog, Month};
use crate::metrics::{GroupBy, Measure, Report, ReportOptions};
use crate::registry::{TldLabel, TldStatus};

/// `GET /`.
pub async fn home(
    State(portal): State<Portal>,
    headers: HeaderMap,
    https: Option<Extension<Https>>,
) -> Result<Response, PageError> {
    let (token, cookie) = form_token(&portal, &headers, https)?;
    let desk = portal.desk.clone();
    let (serial, total, delegated) = read(move || {
        let (serial, tlds) = desk.serial_and_tlds()?;
        let delegated = tlds
            .iter()
            .filter(|t| t.status == TldStatus::Active)
            .count();
        Ok((serial, tlds.len(), delegated))
    })
    .await?;
    let body = html! {
        p.lead {
            "This desk keeps the DNS root zone's delegations: TLD managers ask for changes to "
            "their name servers, DNSSEC and contacts; the desk checks them, asks for consent, "
            "and publishes them. Everything here is public."
        }
        (lookup_form(&token))
        ul.cards {
            li {
                h2 { a href="/tlds" { "Top-level domains" } }
                p { (layout::count(total)) " TLDs, " (layout::count(delegated)) " delegated: sponsors, name servers, DNSSEC and dates of each." }
            }
            li {
                h2 { a href="/changelog" { "Change log" } }
                p { "Every change request that was closed, month by month: what changed and when." }
            }
            li {
                h2 { a href="/turnaround" { "Turnaround" } }
                p { "How long requests take at the desk and with the TLDs, against the published service levels." }
            }
        }
        p.muted {
            @if let Some(serial) = serial { "Root zone serial now published: " (serial) "." }
            @else { "No root zone has been published yet." }
        }
    };
    let response = html_response(
        StatusCode::OK,
        layout::page("Root zone change desk", Nav::Home, body),
    );
    Ok(with_token_headers(response, cookie))
}

#[derive(Debug, Deserialize)]
pub struct ChangelogQuery {
    month: Option<String>,
    tld: Option<String>,
}

/// The body of the change log page of `log`, filtered to one TLD's A-label when `tld` is set.
pub fn changelog_body(log: &Changelog, month: Month, tld: Option<&str>) -> Markup {
    let prev = previous(month);
    let next = month.next();
    let entries: Vec<_> = log
        .requests
        .iter()
        .filter(|e| tld.is_none_or(|t| e.tld == t))
        .collect();
    let tld_query = tld.map(|t| format!("&tld={t}")).unwrap_or_default();
    html! {
        p {
            "Every change request that reached a final state in the month: completed, withdrawn, "
            "rejected, declined or expired. Also as "
            a href={ "/v1/changelog?month=" (log.month) "&format=csv" } { "CSV" } " and "
            a href={ "/v1/changelog?month=" (log.month) } { "JSON" } "."
        }
        form.filters method="get" action="/changelog" aria-label="Choose the month" {
            div.field {
                label for="month" { "Month" }
                input #month type="month" name="month" value=(log.month) placeholder="YYYY-MM" required;
            }
            div.field {
                label for="tld" { "Only this TLD (optional)" }
                input #tld type="text" name="tld" value=(tld.unwrap_or("")) autocomplete="off" spellcheck="false";
            }
            div.actions { button type="submit" { "Show" } }
        }
        nav.pager aria-label="Months" {
            a rel="prev" href={ "/changelog?month=" (prev.prefix()) (tld_query) } { "← " (month_name(prev)) }
            a rel="next" href={ "/changelog?month=" (next.prefix()) (tld_query) } { (month_name(next)) " →" }
        }
        h2 { (month_name(month)) @if let Some(t) = tld { ", ." (t) } }
        @if entries.is_empty() {
            p #empty { "No request was closed in this month." }
        } @else {
            p { (layout::count(entries.len())) @if entries.len() == 1 { " request." } @else { " requests." } }
            (layout::scroll_table("Change log", html! {
                table #changelog .stack {
                    thead { tr {
                        th scope="col" { "Ticket" } th scope="col" { "TLD" } th scope="col" { "Kind" }
                        th scope="col" { "What changed" } th scope="col" { "Outcome" }
                        th scope="col" { "Submitted" } th scope="col" { "Closed" } th scope="col" { "Serial" }
                    } }
                    tbody {
                        @for e in &entries {
                            tr id=(e.ticket) {
                                th.nowrap scope="row" { (e.ticket) }
                                td data-label="TLD" {
                                    a href={ "/tlds/" (e.tld) } { "." (e.u_label) }
                                    @if e.u_label != e.tld { " " span.alabel { "(." (e.tld) ")" } }
                                }
                                td data-label="Kind" { (e.kind) }
                                td data-label="What changed" { (e.summary) }
                                td data-label="Outcome" { (e.status) }
                                td.nowrap data-label="Submitted" { (e.submitted) }
                                td.nowrap data-label="Closed" { (e.closed) }
                                td data-label="Serial" { @if let Some(s) = e.serial { (s) } }
                            }
                        }
                    }
                }
            }))
        }
    }
}

/// `February 2026`.
fn month_name(month: Month) -> String {
    format!("{} {}", month.month, month.year)
}

fn previous(month: Month) -> Month {
    match month.month {
        time::Month::January => Month {
            year: month.year - 1,
            month: time::Month::December,
        },
        m => Month {
            year: month.year,
            month: m.previous(),
        },
    }
}

/// `GET /changelog?month=YYYY-MM&tld=LABEL`; the current month by default.
pub async fn changelog(
    State(portal): State<Portal>,
    query: Result<Query<ChangelogQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(q) = query.map_err(|e| PageError::bad_request(e.body_text()))?;
    let month = match q.month.as_deref().filter(|m| !m.is_empty()) {
        Some(text) => Month::parse(text).map_err(PageError::bad_request)?,
        None => {
            let now = portal.desk.clock.now();
            Month {
                year: now.year(),
                month: now.month(),
            }
        }
    };
    let tld = match q.tld.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => match TldLabel::parse(text.trim_start_matches('.')) {
            Ok(label) => Some(label.as_str().to_string()),
            Err(_) => {
                return Err(PageError::bad_request(format!(
                    "“{text}” is not a TLD label."
                )))
            }
        },
    };
    let desk = portal.desk.clone();
    let log = read(move || desk.changelog(month)).await?;
    let body = changelog_body(&log, month, tld.as_deref());
    Ok(html_response(
        StatusCode::OK,
        layout::page("Change log", Nav::Changelog, body),
    ))
}

#[derive(Debug, Deserialize)]
pub struct TurnaroundQuery {
    by: Option<String>,
}

pub(crate) fn measure_name(m: Measure) -> &'static str {
    match m {
        Measure::Acknowledge => "Acknowledgement of a request",
        Measure::FirstCheck => "First technical check",
        Measure::Recheck => "Check of an amendment",
        Measure::ContactsAsked => "Asking the contacts for consent",
        Measure::StaffReview => "Review by desk staff",
        Measure::SupplementalCheck => "Supplemental check",
        Measure::Publication => "Publication after release",
        Measure::CompletionNotice => "Completion notice delivered",
        Measure::EmergencyDesk => "Emergency requests, desk time",
        Measure::DeskTime => "Time with the desk, per request",
        Measure::TldTime => "Time with the TLD, per request",
        Measure::EndToEnd => "Submission to close, per request",
        Measure::AwaitingInfo => "Waiting for answers to questions",
        Measure::Questions => "Questions asked, per request",
    }
}

fn value(m: Measure, v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if m.is_count() => format!("{v:.1}"),
        Some(v) => duration(v),
    }
}

/// A duration for readers: `45 s`, `12 min`, `3.5 h`, `2.1 days`.
pub(crate) fn duration(secs: f64) -> String {
    let short = |v: f64, unit: &str| {
        if (v - v.round()).abs() < 0.05 {
            format!("{:.0} {unit}", v.round())
        } else {
            format!("{v:.1} {unit}")
        }
    };
    if secs < 60.0 {
        short(secs, "s")
    } else if secs < 3600.0 {
        short(secs / 60.0, "min")
    } else if secs < 86_400.0 {
        short(secs / 3600.0, "h")
    } else {
        let days = secs / 86_400.0;
        short(
            days,
            if (days - 1.0).abs() < 0.05 {
                "day"
            } else {
                "days"
            },
        )
    }
}

const GROUPINGS: [(GroupBy, &str); 4] = [
    (GroupBy::Month, "month"),
    (GroupBy::Week, "week"),
    (GroupBy::Kind, "kind of request"),
    (GroupBy::Priority, "priority"),
];

/// The body of the turnaround page.
pub fn turnaround_body(report: &Report, chart: bool) -> Markup {
    turnaround_body_at(report, chart, "/turnaround")
}

/// The body of a turnaround page whose grouping form goes to `page` (the public page, or the
/// staff's dashboard).
pub fn turnaround_body_at(report: &Report, chart: bool, page: &str) -> Markup {
    let median = |g: &crate::metrics::GroupReport, m: Measure| {
        value(
            m,
            g.measures
                .iter()
                .find(|s| s.measure == m)
                .and_then(|s| s.median),
        )
    };
    html! {
        p {
            "How long the steps of a change request take, measured from the desk's event log. "
            "Times with the TLD (answering, consenting) are kept apart from the desk's own. "
            "Also as " a href="/v1/metrics/turnaround" { "JSON" } "."
        }
        @if chart {
            figure.chart {
                img src="/turnaround/chart.svg" width="1100" height="650"
                    alt="Chart: desk time and TLD time per month (median and 90th percentile, hours, logarithmic scale) against the service-level lines. The same figures are in the tables below.";
                figcaption {
                    "Desk time and TLD time of the requests finished each month. "
                    a href="/turnaround/chart.svg" { "Open the chart full size" } "."
                }
            }
        } @else {
            p.muted #no-chart { "No request has finished yet, so there is no chart." }
        }
        h2 { "All requests" }
        (layout::scroll_table("Turnaround by step", html! {
            table #measures .stack {
                thead { tr {
                    th scope="col" { "Step" } th scope="col" { "Count" } th scope="col" { "Median" }
                    th scope="col" { "90th percentile" } th scope="col" { "Longest" }
                    th scope="col" { "Service level" } th scope="col" { "Share within the level" }
                } }
                tbody {
                    @for s in &report.total.measures {
                        tr {
                            th scope="row" { (measure_name(s.measure)) }
                            td data-label="Count" { (s.count) }
                            td data-label="Median" { (value(s.measure, s.median)) }
                            td data-label="90th percentile" { (value(s.measure, s.p90)) }
                            td data-label="Longest" { (value(s.measure, s.max)) }
                            td data-label="Service level" {
                                @if let (Some(limit), Some(target)) = (s.limit_secs, s.target_percent) {
                                    (target) "% within " (duration(limit as f64))
                                } @else { "–" }
                            }
                            td data-label="Within the level" {
                                @if let Some(w) = s.within_percent {
                                    (format!("{w:.1}%"))
                                    @match s.target_met {
                                        Some(true) => { " " span.ok { "met" } },
                                        Some(false) => { " " span.bad { "missed" } },
                                        None => {},
                                    }
                                } @else { "–" }
                            }
                        }
                    }
                }
            }
        }))
        p { (report.total.breach_count) " service-level breaches in all." }
        h2 #by { "By " (GROUPINGS.iter().find(|(g, _)| *g == report.by).map(|(_, n)| *n).unwrap_or("month")) }
        form.filters method="get" action=(page) aria-label="Group the figures" {
            div.field {
                label for="group-by" { "Group by" }
                select #group-by name="by" {
                    @for (g, name) in GROUPINGS {
                        option value=(g.as_str()) selected[g == report.by] { (name) }
                    }
                }
            }
            div.actions { button type="submit" { "Show" } }
        }
        @if report.groups.is_empty() {
            p.muted { "Nothing measured yet." }
        } @else {
            (layout::scroll_table("Turnaround by group", html! {
                table #groups .stack {
                    thead { tr {
                        th scope="col" { "Group" } th scope="col" { "Requests" } th scope="col" { "Breaches" }
                        th scope="col" { "Median desk time" } th scope="col" { "Median TLD time" } th scope="col" { "Median submission to close" }
                    } }
                    tbody {
                        @for g in &report.groups {
                            tr {
                                th scope="row" { (g.group) }
                                td data-label="Requests" { (g.requests) }
                                td data-label="Breaches" { (g.breach_count) }
                                td data-label="Median desk time" { (median(g, Measure::DeskTime)) }
                                td data-label="Median TLD time" { (median(g, Measure::TldTime)) }
                                td data-label="Median to close" { (median(g, Measure::EndToEnd)) }
                            }
                        }
                    }
                }
            }))
        }
    }
}

/// `GET /turnaround?by=month|week|kind|priority`: aggregates only, never tickets.
/// How old the public turnaround figures may be: views within a minute share one report,
/// so that they do not each read the history.
const PUBLIC_DELAY: std::time::Duration = std::time::Duration::from_secs(60);

pub async fn turnaround(
    State(portal): State<Portal>,
    query: Result<Query<TurnaroundQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(q) = query.map_err(|e| PageError::bad_request(e.body_text()))?;
    let by = match q.by.as_deref().filter(|b| !b.is_empty()) {
        None => GroupBy::Month,
        Some(text) => GroupBy::parse(text)
            .filter(|g| GROUPINGS.iter().any(|(k, _)| k == g))
            .ok_or_else(|| PageError::bad_request("by: expected month, week, kind or priority"))?,
    };
    let desk = portal.desk.clone();
    let report = read(move || {
        let options = ReportOptions {
            since: None,
            until: None,
            by,
            // The public never sees breaches by ticket.
            breaches: false,
        };
        desk.turnaround(&options, PUBLIC_DELAY)
    })
    .await?;
    let chart = report
        .total
        .measures
        .iter()
        .any(|s| matches!(s.measure, Measure::DeskTime | Measure::TldTime) && s.count > 0);
    Ok(html_response(
        StatusCode::OK,
        layout::page(
            "Turnaround",
            Nav::Turnaround,
            turnaround_body(&report, chart),
        ),
    ))
}

/// `GET /turnaround/chart.svg`: the chart of `rootdesk metrics chart`, as an image.
pub async fn chart(State(portal): State<Portal>) -> Result<Response, PageError> {
    let desk = portal.desk.clone();
    let svg = read(move || desk.turnaround_chart(PUBLIC_DELAY)).await?;
    match &*svg {
        Ok(svg) => Ok((
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            svg.clone(),
        )
            .into_response()),
        Err(reason) => Err(PageError::not_found(reason.clone())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_plainly() {
        for (secs, text) in [
            (0.0, "0 s"),
            (45.0, "45 s"),
            (60.0, "1 min"),
            (3000.0, "50 min"),
            (5400.0, "1.5 h"),
            (86_400.0, "1 day"),
            (432_000.0, "5 days"),
            (190_000.0, "2.2 days"),
        ] {
            assert_eq!(super::duration(secs), text);
        }
    }
}
