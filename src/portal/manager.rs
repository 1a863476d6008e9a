//! A TLD manager's pages (`/my`): their TLDs, one TLD's delegation, authority and open
//! requests, the change form with its pre-check, and one request with what it waits for and
//! the person's own actions on it.
//!
//! Every page asks the desk's gate as the API does: a TLD page is shown only when
//! `Desk::tld_authority` grants the person the TLD (as `GET /v1/tlds/{tld}/authority`), a
//! request page only when `Desk::read` does (as `GET /v1/requests/{ticket}`), and each form
//! goes through `Desk::dry_run`, `Desk::submit`, or `Desk::authorize` then `Desk::act`, as
//! `POST /v1/check`, `POST /v1/requests` and `POST /v1/requests/{ticket}/{action}`. A page of
//! a TLD or request the person may not see answers as one that does not exist, so it tells
//! nothing about it. Forms carry the session's CSRF token ([`session::acting`]), checked
//! before the form's content is looked at.

use std::collections::BTreeMap;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};
use time::OffsetDateTime;

use super::layout::{self, Nav};
use super::session::{self, Viewer};
use super::{html_response, read, tlds, PageError, Portal};
use crate::check::{Finding, Report, Severity, Verdict};
use crate::desk::dry_runs::DryRunError;
use crate::desk::{Action, Caller, DeskError, Submission};
use crate::http::Peer;
use crate::registry::{Delegation, DsRecord, NameServer, Role, TldLabel, TldRecord};
use crate::store::{RequestFilter, RequestSummary};
use crate::workflow::{
    Authority, ChangeClass, Command, Event, Owner, Party, Priority, Proposal, Recorded, Request,
    State as WfState, WorkflowError,
};

/// The most rows of each kind the change form takes: the API's list bound (`api::MAX_ITEMS`,
/// compared in a test; the portal does not import the API).
const MAX_ROWS: usize = 32;

// ---------------------------------------------------------------------------------------
// Small helpers

fn only_managers(viewer: &Viewer) -> Result<(), PageError> {
    match viewer.role() {
        Role::Manager => Ok(()),
        _ => Err(PageError::forbidden(
            "The pages under /my are for TLD managers. Desk staff work from /desk, auditors \
             from /audit.",
        )),
    }
}

/// The answer for a TLD the person may not see: the same whether it exists or not.
fn not_your_tld(raw: &str) -> PageError {
    PageError::not_found(format!(
        "You have no TLD “{raw}” at this desk. Your TLDs are listed under My TLDs (/my)."
    ))
}

/// The answer for a request the person may not see: the same whether it exists or not.
fn not_your_request(ticket: &str) -> PageError {
    PageError::not_found(format!(
        "There is no request {ticket} that you may see. Your TLDs' requests are listed under \
         My TLDs (/my)."
    ))
}

/// A desk error of a read on someone's behalf: refusals and unknowns read as `missing`.
fn hide(e: DeskError, missing: PageError) -> PageError {
    match e {
        DeskError::Forbidden(_) | DeskError::NotFound(_) => missing,
        other => other.into(),
    }
}

/// The TLD's label as shown: `.рф (.xn--p1ai)` for IDNs.
fn tld_title(label: &TldLabel) -> String {
    let unicode = label.unicode();
    if unicode != label.as_str() {
        format!(".{unicode} (.{})", label.as_str())
    } else {
        format!(".{}", label.as_str())
    }
}

fn tld_title_str(tld: &str) -> String {
    TldLabel::parse(tld)
        .map(|l| tld_title(&l))
        .unwrap_or_else(|_| format!(".{tld}"))
}

fn when(t: OffsetDateTime) -> String {
    crate::store::timestamp(t)
        .get(..16)
        .map(|s| s.replace('T', " ") + " UTC")
        .unwrap_or_default()
}

/// A duration in the largest sensible unit: `3 days`, `5 hours`, `12 minutes`.
fn span(d: time::Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if d.whole_days() >= 1 {
        plural(d.whole_days(), "day")
    } else if d.whole_hours() >= 1 {
        plural(d.whole_hours(), "hour")
    } else {
        plural(d.whole_minutes().max(0), "minute")
    }
}

fn state_words(state: WfState) -> &'static str {
    match state {
        WfState::PreReview => "received: the desk checks it is complete",
        WfState::TechnicalCheck => "the technical check of the name servers is running",
        WfState::AwaitingFix => {
            "the technical check failed: the TLD must fix the name servers and amend the request"
        }
        WfState::ContactConfirmation => "waiting for the TLD's approvals",
        WfState::ManualReview => "waiting for the desk: manual review by the desk's staff",
        WfState::AwaitingInfo => "the desk asked a question: the TLD must answer",
        WfState::DelegationEvaluation => {
            "the desk evaluates the delegation (redelegation or new TLD)"
        }
        WfState::SupplementalCheck => "a last technical check runs before implementation",
        WfState::Implementation => "approved: the desk implements it in the root zone",
        WfState::Completed => "completed: published in the root zone",
        WfState::Rejected => "rejected by the desk",
        WfState::Declined => "declined by the TLD",
        WfState::Withdrawn => "withdrawn",
        WfState::Expired => "expired: the TLD did not act in time",
    }
}

fn state_name(state: WfState) -> &'static str {
    state.as_str()
}

/// A party in words; persons by name where the TLD's authority names them.
fn party(p: &Party, names: &BTreeMap<String, String>) -> String {
    match p {
        Party::Person(id) => names.get(id).cloned().unwrap_or_else(|| id.clone()),
        Party::Staff(_) => "the desk's staff".into(),
        Party::Contact(handle) => format!("contact {handle}"),
        Party::System => "the desk (automatic)".into(),
        Party::CdsScanner => "the desk's CDS scanner".into(),
    }
}

fn class_name(class: ChangeClass) -> &'static str {
    match class {
        ChangeClass::Delegation => "name servers and glue (with DS)",
        ChangeClass::Ds => "DS records alone (key rollover)",
        ChangeClass::Contacts => "contacts",
        ChangeClass::Sponsor => "sponsoring organisation",
        ChangeClass::Transfer => "transfer to a new manager",
        ChangeClass::Authority => "the authority itself (persons, groups, rules)",
    }
}

fn verdict_markup(v: Verdict) -> Markup {
    let (class, text) = match v {
        Verdict::Pass => ("ok", "passed"),
        Verdict::Warn => ("warn", "passed with warnings"),
        Verdict::Fail => ("bad", "failed"),
        Verdict::NotRun => ("bad", "could not be run"),
    };
    html! { span class=(class) { (text) } }
}

fn severity_text(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        _ => "note",
    }
}

// ---------------------------------------------------------------------------------------
// Shared pieces of markup

fn delegation_tables(d: &Delegation, id: &str) -> Markup {
    html! {
        @if d.nameservers.is_empty() {
            p.muted { "No name servers." }
        } @else {
            (layout::scroll_table("Name servers", html! {
                table.stack id={ (id) "-ns" } {
                    thead { tr { th scope="col" { "Name server" } th scope="col" { "Addresses (glue)" } } }
                    tbody {
                        @for (host, addresses) in &d.nameservers {
                            tr {
                                th scope="row" { code { (host.as_str()) } }
                                td data-label="Addresses" {
                                    @if addresses.is_empty() { span.muted { "none (not needed outside the TLD)" } }
                                    @for a in addresses { code { (a) } br; }
                                }
                            }
                        }
                    }
                }
            }))
        }
        @if d.ds.is_empty() {
            p.muted { "No DS records: the delegation is not signed." }
        } @else {
            (layout::scroll_table("DS records", html! {
                table.stack id={ (id) "-ds" } {
                    thead { tr { th scope="col" { "Key tag" } th scope="col" { "Algorithm" } th scope="col" { "Digest type" } th scope="col" { "Digest" } } }
                    tbody {
                        @for ds in &d.ds { (ds_row(ds)) }
                    }
                }
            }))
        }
    }
}

fn ds_row(ds: &DsRecord) -> Markup {
    html! {
        tr {
            td data-label="Key tag" { (ds.key_tag) }
            td data-label="Algorithm" { (ds.algorithm) @if let Some(n) = tlds::algorithm_name(ds.algorithm) { " " span.muted { "(" (n) ")" } } }
            td data-label="Digest type" { (ds.digest_type) @if let Some(n) = tlds::digest_name(ds.digest_type) { " " span.muted { "(" (n) ")" } } }
            td data-label="Digest" { code.digest { (ds.digest_hex()) } }
        }
    }
}

/// What a proposal changes against the published delegation, one line per change.
fn diff_markup(published: &Delegation, proposed: &Delegation) -> Markup {
    let diff = published.diff(proposed);
    let glue = |ip: &std::net::IpAddr| if ip.is_ipv4() { "A" } else { "AAAA" };
    html! {
        @if !published.ds.is_empty() && proposed.ds.is_empty() {
            p.error-box.unsigned { strong { "This removes every DS record:" } " the TLD would no longer be signed (DNSSEC validation of it ends). Keep the DS rows unless that is what you mean." }
        }
        @if diff.is_empty() {
            p.muted { "No difference: this is what is published now." }
        } @else {
            ul.diff {
                @for n in &diff.removed_ns { li.del { span.sign { "removed" } " name server " code { (n.as_str()) } } }
                @for n in &diff.added_ns { li.add { span.sign { "added" } " name server " code { (n.as_str()) } } }
                @for (n, ip) in &diff.removed_glue { li.del { span.sign { "removed" } " glue " (glue(ip)) " " code { (n.as_str()) " " (ip) } } }
                @for (n, ip) in &diff.added_glue { li.add { span.sign { "added" } " glue " (glue(ip)) " " code { (n.as_str()) " " (ip) } } }
                @for d in &diff.removed_ds { li.del { span.sign { "removed" } " DS " code { (d.key_tag) " " (d.algorithm) " " (d.digest_type) " " (d.digest_hex()) } } }
                @for d in &diff.added_ds { li.add { span.sign { "added" } " DS " code { (d.key_tag) " " (d.algorithm) " " (d.digest_type) " " (d.digest_hex()) } } }
            }
        }
    }
}

/// A check report made readable: the verdict, then the findings of each server under its
/// name (servers without findings say so), then what concerns the delegation as a whole.
fn report_markup(report: &Report, servers: &[String], heading: u8) -> Markup {
    let mut by_server: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    let mut general: Vec<&Finding> = Vec::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Off)
    {
        match &f.nameserver {
            Some(ns) => by_server
                .entry(ns.trim_end_matches('.').to_ascii_lowercase())
                .or_default()
                .push(f),
            None => general.push(f),
        }
    }
    let mut names: Vec<String> = servers
        .iter()
        .map(|s| s.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    for n in by_server.keys() {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let finding = |f: &Finding| {
        html! {
            li class=(severity_text(f.severity)) {
                strong { (severity_text(f.severity)) } " "
                (f.message)
                @if let Some(a) = f.address { " " span.muted { "(" (a.ip()) ")" } }
                " " span.muted.check-id { "[" (f.check.as_str()) "]" }
            }
        }
    };
    html! {
        p.verdict { "Result: " (verdict_markup(report.verdict)) ". "
            span.muted { (report.queries.len()) " queries in " (report.elapsed_ms) " ms, started " (report.started.get(..19).unwrap_or(&report.started).replace('T', " ")) " UTC." } }
        div.servers {
            @for name in &names {
                @let found = by_server.get(name).map(Vec::as_slice).unwrap_or(&[]);
                section.server aria-label={ "Name server " (name) } {
                    @if heading == 3 { h3 { code { (name) } } } @else { h4 { code { (name) } } }
                    @if found.is_empty() {
                        p.ok { "No problem found." }
                    } @else {
                        ul.findings { @for f in found { (finding(f)) } }
                    }
                }
            }
            @if !general.is_empty() || !report.not_run.is_empty() {
                section.server aria-label="The delegation as a whole" {
                    @if heading == 3 { h3 { "The delegation as a whole" } } @else { h4 { "The delegation as a whole" } }
                    ul.findings {
                        @for f in &general { (finding(f)) }
                        @for (check, why) in &report.not_run {
                            li.error { strong { "not run" } " " (why) " " span.muted.check-id { "[" (check.as_str()) "]" } }
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// /my

/// `GET /my`: the TLDs the person acts for, and their open requests.
pub async fn my_tlds(State(portal): State<Portal>, viewer: Viewer) -> Result<Response, PageError> {
    only_managers(&viewer)?;
    let desk = portal.desk.clone();
    let caller = viewer.caller.clone();
    let (me, rows, open) = read(move || {
        let me = desk.me(&caller)?;
        let mut rows = Vec::new();
        for t in &me.tlds {
            let in_force = match desk.tld_authority(&caller, &t.tld) {
                Ok(a) => a.is_some(),
                Err(DeskError::Forbidden(_)) => false,
                Err(e) => return Err(e),
            };
            let record = TldLabel::parse(&t.tld)
                .ok()
                .map(|l| desk.tld_with_cds(&l))
                .transpose()?
                .flatten()
                .map(|(r, _)| r);
            rows.push((t.tld.clone(), t.groups.clone(), in_force, record));
        }
        let open = desk.list(
            &caller,
            RequestFilter {
                open_only: true,
                limit: 200,
                ..Default::default()
            },
        )?;
        Ok((me, rows, open))
    })
    .await?;
    let body = html! {
        p.lead { "Hello " (me.person.name) ". These are the top-level domains you are authorised to act for, and their open change requests." }
        section aria-labelledby="h-tlds" {
            h2 #h-tlds { "Your TLDs" }
            @if rows.is_empty() {
                p { "You are not authorised for any TLD yet. A TLD's authorised persons add you through an authority change, approved under its policy." }
            } @else {
                (layout::scroll_table("Your TLDs", html! {
                    table #my-tlds .stack {
                        thead { tr { th scope="col" { "TLD" } th scope="col" { "Your groups" } th scope="col" { "Sponsoring organisation" } th scope="col" { "Open requests" } } }
                        tbody {
                            @for (tld, groups, in_force, record) in &rows {
                                @let n = open.iter().filter(|r| &r.tld == tld).count();
                                tr {
                                    th scope="row" {
                                        @if *in_force {
                                            a href={ "/my/tlds/" (tld) } { (tld_title_str(tld)) }
                                        } @else {
                                            (tld_title_str(tld)) br;
                                            span.muted { "invited: you act once its authority is in force (its contacts act until then)" }
                                        }
                                    }
                                    td data-label="Your groups" { (groups.join(", ")) }
                                    td data-label="Sponsor" { @if let Some(s) = record.as_ref().and_then(|r| r.sponsor.as_ref()) { (s) } @else { span.muted { "not on file" } } }
                                    td data-label="Open requests" { (n) }
                                }
                            }
                        }
                    }
                }))
            }
        }
        section aria-labelledby="h-open" {
            h2 #h-open { "Open requests" }
            (requests_table(&open, portal.desk.clock.now()))
        }
    };
    Ok(page_response(StatusCode::OK, "My TLDs", &viewer, body))
}

fn page_response(status: StatusCode, title: &str, viewer: &Viewer, body: Markup) -> Response {
    let mut response = html_response(
        status,
        layout::page_as(title, Nav::Mine, Some(viewer), body),
    );
    // Personal data and a CSRF token: never stored by a cache.
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static(super::NO_STORE),
    );
    response
}

fn requests_table(open: &[RequestSummary], now: OffsetDateTime) -> Markup {
    html! {
        @if open.is_empty() {
            p.muted { "No open requests." }
        } @else {
            (layout::scroll_table("Open requests", html! {
                table.requests .stack {
                    thead { tr { th scope="col" { "Ticket" } th scope="col" { "TLD" } th scope="col" { "Kind" } th scope="col" { "State" } th scope="col" { "Who acts now" } th scope="col" { "Since" } } }
                    tbody {
                        @for r in open {
                            @let since = time::OffsetDateTime::parse(&r.state_since, &time::format_description::well_known::Rfc3339).ok();
                            tr {
                                th scope="row" { a href={ "/my/requests/" (r.ticket) } { (r.ticket) } }
                                td data-label="TLD" { (tld_title_str(&r.tld)) }
                                td data-label="Kind" { (r.kind) }
                                td data-label="State" { (r.state) }
                                td data-label="Who acts now" {
                                    @match r.owner.as_deref() {
                                        Some("tld") => strong { "your TLD" },
                                        Some("desk") => "the desk",
                                        _ => "nobody (closed)",
                                    }
                                }
                                td data-label="Since" {
                                    @if let Some(s) = since { (when(s)) br; span.muted { (span(now - s)) } } @else { (r.state_since) }
                                }
                            }
                        }
                    }
                }
            }))
        }
    }
}

// ---------------------------------------------------------------------------------------
// /my/tlds/{label}

/// What the TLD pages read, for a person the gate grants the TLD.
struct TldView {
    record: TldRecord,
    authority: Authority,
    names: BTreeMap<String, String>,
}

/// The TLD `raw` names, if the caller is one of its authorised persons; otherwise the same
/// "no such TLD" whether it exists or not.
async fn tld_for(portal: &Portal, caller: &Caller, raw: &str) -> Result<TldView, PageError> {
    let label = TldLabel::parse(raw).map_err(|_| not_your_tld(raw))?;
    let desk = portal.desk.clone();
    let caller = caller.clone();
    let missing = not_your_tld(raw);
    let found = tokio::task::spawn_blocking(move || {
        // The gate of `GET /v1/tlds/{tld}/authority`: staff, auditors, and its own persons.
        let authority = desk.tld_authority(&caller, label.as_str())?;
        let Some(authority) = authority else {
            return Err(DeskError::Forbidden("no authority in force".into()));
        };
        let names = desk.authority_names(&caller, label.as_str(), &authority)?;
        let (record, _) = desk
            .tld_with_cds(&label)?
            .ok_or_else(|| DeskError::NotFound(label.as_str().to_string()))?;
        Ok(TldView {
            record,
            authority,
            names,
        })
    })
    .await
    .map_err(PageError::internal)?;
    found.map_err(|e| hide(e, missing))
}

fn authority_markup(view: &TldView) -> Markup {
    let a = &view.authority;
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, gs) in &a.members {
        for g in gs {
            groups
                .entry(g.as_str())
                .or_default()
                .push(view.names.get(id).map(String::as_str).unwrap_or(id));
        }
    }
    html! {
        section aria-labelledby="h-authority" {
            h2 #h-authority { "Who may act: authority and policy" }
            (layout::scroll_table("Authorised persons", html! {
                table #members .stack {
                    thead { tr { th scope="col" { "Group" } th scope="col" { "Authorised persons" } } }
                    tbody {
                        @for (g, people) in &groups {
                            tr { th scope="row" { (g) } td data-label="Persons" { (people.join(", ")) } }
                        }
                    }
                }
            }))
            (layout::scroll_table("Approval rules", html! {
                table #rules .stack {
                    thead { tr { th scope="col" { "Change of" } th scope="col" { "Who may submit" } th scope="col" { "Approvals needed" } } }
                    tbody {
                        @for class in ChangeClass::ALL {
                            @let rule = a.policy.rule(class);
                            tr {
                                th scope="row" { (class_name(class)) }
                                td data-label="Submit" { @if rule.submit.is_empty() { "any authorised person" } @else { "members of " (rule.submit.iter().cloned().collect::<Vec<_>>().join(", ")) } }
                                td data-label="Approvals" { (rule.describe()) }
                            }
                        }
                    }
                }
            }))
            h3 { "Special handling" }
            @if let Some(s) = &a.special_handling {
                p { "Every change is verified out of band by the desk's staff before it is implemented, as follows:" }
                blockquote.special { (s) }
            } @else {
                p.muted { "None: changes are implemented after review without an out-of-band verification." }
            }
        }
    }
}

/// `GET /my/tlds/{label}`: the published delegation, public contacts, authority and policy,
/// open requests.
pub async fn tld_page(
    State(portal): State<Portal>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    only_managers(&viewer)?;
    let view = tld_for(&portal, &viewer.caller, &raw).await?;
    let label = view.record.label.clone();
    if label.as_str() != raw {
        return Ok(Redirect::permanent(&format!("/my/tlds/{}", label.as_str())).into_response());
    }
    let desk = portal.desk.clone();
    let caller = viewer.caller.clone();
    let tld = label.as_str().to_string();
    let open = read(move || {
        desk.list(
            &caller,
            RequestFilter {
                tlds: Some(vec![tld]),
                open_only: true,
                limit: 200,
                ..Default::default()
            },
        )
    })
    .await?;
    let r = &view.record;
    let body = html! {
        @if tlds::is_idn(r) {
            p.labels { "U-label: " strong.ulabel { (r.unicode) } " · A-label (in the DNS): " code.alabel { (r.label.as_str()) } }
        }
        p.actions-row {
            a.button href={ "/my/tlds/" (label.as_str()) "/change" } { "Change name servers or DS records" }
            " "
            a href={ "/tlds/" (label.as_str()) } { "Public page of this TLD" }
        }
        section aria-labelledby="h-open" {
            h2 #h-open { "Open requests" }
            (requests_table(&open, portal.desk.clock.now()))
        }
        section aria-labelledby="h-published" {
            h2 #h-published { "Published delegation" }
            (delegation_tables(&r.delegation, "published"))
        }
        (authority_markup(&view))
        (tlds::contact_markup("Administrative contact", r.admin.as_ref(), portal.desk.rdap.public_contacts))
        (tlds::contact_markup("Technical contact", r.tech.as_ref(), portal.desk.rdap.public_contacts))
    };
    Ok(page_response(
        StatusCode::OK,
        &tld_title(&label),
        &viewer,
        body,
    ))
}

// ---------------------------------------------------------------------------------------
// The change form (new request and amendment)

/// The change form as typed: kept as text, so that a refused form is shown again as it was.
#[derive(Debug, Clone, Default)]
struct ChangeForm {
    csrf: Option<String>,
    op: String,
    ns: Vec<(String, String)>,
    ds: Vec<[String; 4]>,
}

impl ChangeForm {
    fn from_delegation(d: &Delegation) -> ChangeForm {
        ChangeForm {
            ns: d
                .nameservers
                .iter()
                .map(|(h, a)| {
                    (
                        h.as_str().to_string(),
                        a.iter()
                            .map(|ip| ip.to_string())
                            .collect::<Vec<_>>()
                            .join(" "),
                    )
                })
                .collect(),
            ds: d
                .ds
                .iter()
                .map(|d| {
                    [
                        d.key_tag.to_string(),
                        d.algorithm.to_string(),
                        d.digest_type.to_string(),
                        d.digest_hex(),
                    ]
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Reads `ns{i}_host`, `ns{i}_addrs`, `ds{i}_tag|alg|type|digest`, `csrf` and `op`.
    fn from_pairs(pairs: Vec<(String, String)>) -> ChangeForm {
        let mut form = ChangeForm::default();
        let mut ns: BTreeMap<usize, (String, String)> = BTreeMap::new();
        let mut ds: BTreeMap<usize, [String; 4]> = BTreeMap::new();
        for (key, value) in pairs {
            match key.as_str() {
                "csrf" => form.csrf = Some(value),
                "op" => form.op = value,
                _ => {
                    let Some((row, field)) = key.split_once('_') else {
                        continue;
                    };
                    let index = |prefix: &str| {
                        row.strip_prefix(prefix)
                            .and_then(|n| n.parse::<usize>().ok())
                            .filter(|n| *n < MAX_ROWS)
                    };
                    if let Some(i) = index("ns") {
                        let e = ns.entry(i).or_default();
                        match field {
                            "host" => e.0 = value,
                            "addrs" => e.1 = value,
                            _ => {}
                        }
                    } else if let Some(i) = index("ds") {
                        let e = ds.entry(i).or_default();
                        let slot = match field {
                            "tag" => 0,
                            "alg" => 1,
                            "type" => 2,
                            "digest" => 3,
                            _ => continue,
                        };
                        e[slot] = value;
                    }
                }
            }
        }
        form.ns = ns
            .into_values()
            .filter(|(h, a)| !h.trim().is_empty() || !a.trim().is_empty())
            .collect();
        form.ds = ds
            .into_values()
            .filter(|r| r.iter().any(|v| !v.trim().is_empty()))
            .collect();
        form
    }

    /// The delegation the form describes, or what is wrong with it, row by row.
    fn delegation(&self) -> Result<Delegation, Vec<String>> {
        let mut problems = Vec::new();
        let mut nameservers = Vec::new();
        for (i, (host, addrs)) in self.ns.iter().enumerate() {
            let addresses: Vec<&str> = addrs
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|a| !a.is_empty())
                .collect();
            let value = serde_json::json!({ "name": host.trim(), "addresses": addresses });
            match serde_json::from_value::<NameServer>(value) {
                Ok(ns) => nameservers.push(ns),
                Err(e) => problems.push(format!(
                    "Name server {} ({}): {e}",
                    i + 1,
                    if host.trim().is_empty() {
                        "no host name"
                    } else {
                        host.trim()
                    }
                )),
            }
        }
        let mut ds = Vec::new();
        for (i, [tag, alg, kind, digest]) in self.ds.iter().enumerate() {
            let number = |what: &str, text: &str| -> Result<u64, String> {
                text.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("DS record {}: the {what} must be a number", i + 1))
            };
            let parsed = (|| {
                let value = serde_json::json!({
                    "key_tag": number("key tag", tag)?,
                    "algorithm": number("algorithm", alg)?,
                    "digest_type": number("digest type", kind)?,
                    "digest": digest.split_whitespace().collect::<String>(),
                });
                serde_json::from_value::<DsRecord>(value)
                    .map_err(|e| format!("DS record {}: {e}", i + 1))
            })();
            match parsed {
                Ok(d) => ds.push(d),
                Err(e) => problems.push(e),
            }
        }
        if self.ns.is_empty() {
            problems.push("Give at least one name server.".into());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        serde_json::from_value::<Delegation>(
            serde_json::json!({ "nameservers": nameservers, "ds": ds }),
        )
        .map_err(|e| vec![e.to_string()])
    }
}

/// What the change page shows under the form.
enum Outcome {
    None,
    Problems(Vec<String>),
    Checked {
        report: Box<Report>,
        proposed: Delegation,
    },
    Busy(u64),
}

fn change_form_markup(
    viewer: &Viewer,
    action: &str,
    form: &ChangeForm,
    published: &Delegation,
    outcome: &Outcome,
    submit_label: &str,
) -> Markup {
    let ns_rows = (form.ns.len() + 2).clamp(3, MAX_ROWS);
    let ds_rows = (form.ds.len() + 1).clamp(1, MAX_ROWS);
    let empty = (String::new(), String::new());
    let empty_ds: [String; 4] = Default::default();
    html! {
        @match outcome {
            Outcome::None => {},
            Outcome::Problems(problems) => {
                div.error-box role="alert" #problems {
                    p { strong { "Nothing was checked or submitted: the form has mistakes." } " Correct them and try again:" }
                    ul { @for p in problems { li { (p) } } }
                }
            },
            Outcome::Busy(secs) => {
                div.error-box role="alert" {
                    p { "Too many checks are running right now (yours, or everyone's together). Try again in about " (secs) " seconds; nothing was submitted." }
                }
            },
            Outcome::Checked { report, proposed } => {
                section.precheck aria-labelledby="h-precheck" #precheck {
                    h2 #h-precheck { "Pre-check of your proposal" }
                    p.note { "This is a dry run of the desk's technical checks. Nothing has been submitted yet." }
                    @if report.verdict == Verdict::Fail || report.verdict == Verdict::NotRun {
                        p.error-box { strong { "The proposal would fail the desk's check." } " A request submitted like this waits for a fix. Correct the servers named below and check again." }
                    }
                    (report_markup(report, &proposed.nameservers.keys().map(|h| h.as_str().to_string()).collect::<Vec<_>>(), 3))
                    h3 { "What changes against the published delegation" }
                    (diff_markup(published, proposed))
                }
            },
        }
        form.change method="post" action=(action) {
            input type="hidden" name="csrf" value=(viewer.csrf);
            fieldset {
                legend { "Name servers" }
                p.hint { "One server a row: its host name, and its IPv4 and IPv6 addresses separated by spaces (glue; needed only for hosts under the TLD itself). Leave a row empty to drop it. Check to get more empty rows." }
                @for i in 0..ns_rows {
                    @let (host, addrs) = form.ns.get(i).unwrap_or(&empty);
                    div.row {
                        div.field {
                            label for={ "ns" (i) "_host" } { "Host " (i + 1) }
                            input id={ "ns" (i) "_host" } name={ "ns" (i) "_host" } type="text" value=(host) spellcheck="false" autocomplete="off" placeholder="ns1.nic.example";
                        }
                        div.field.wide {
                            label for={ "ns" (i) "_addrs" } { "Addresses of host " (i + 1) }
                            input id={ "ns" (i) "_addrs" } name={ "ns" (i) "_addrs" } type="text" value=(addrs) spellcheck="false" autocomplete="off" placeholder="192.0.2.1 2001:db8::1";
                        }
                    }
                }
            }
            fieldset {
                legend { "DS records (DNSSEC)" }
                p.hint { "Key tag, algorithm number, digest type number and the digest in hex, as your signer gives them. Leave all rows empty for an unsigned delegation." }
                @for i in 0..ds_rows {
                    @let row = form.ds.get(i).unwrap_or(&empty_ds);
                    div.row {
                        @for (slot, (field, label, class)) in [("tag", "Key tag", "narrow"), ("alg", "Algorithm", "narrow"), ("type", "Digest type", "narrow"), ("digest", "Digest", "wide")].into_iter().enumerate() {
                            div class={ "field " (class) } {
                                label for={ "ds" (i) "_" (field) } { (label) " " (i + 1) }
                                input id={ "ds" (i) "_" (field) } name={ "ds" (i) "_" (field) } type="text" value=(row[slot]) spellcheck="false" autocomplete="off";
                            }
                        }
                    }
                }
            }
            div.actions {
                button type="submit" name="op" value="check" { "Check (nothing is submitted)" }
                button.primary type="submit" name="op" value="submit" { (submit_label) }
            }
        }
        section aria-labelledby="h-now" {
            h2 #h-now { "Published now" }
            (delegation_tables(published, "now"))
        }
    }
}

/// `GET /my/tlds/{label}/change`: the form, filled with the published delegation.
pub async fn change_form(
    State(portal): State<Portal>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    only_managers(&viewer)?;
    let view = tld_for(&portal, &viewer.caller, &raw).await?;
    let label = view.record.label.clone();
    let published = &view.record.delegation;
    let form = ChangeForm::from_delegation(published);
    let action = format!("/my/tlds/{}/change", label.as_str());
    let body = html! {
        p { "Propose new name servers or DS records for " strong { (tld_title(&label)) } ". "
            "Check first: the desk runs its technical checks on your proposal and shows what each server answered, before anything is submitted." }
        (change_form_markup(&viewer, &action, &form, published, &Outcome::None, "Submit the change request"))
    };
    Ok(page_response(
        StatusCode::OK,
        &format!("Change {}", tld_title(&label)),
        &viewer,
        body,
    ))
}

/// Runs the desk's dry run for the form's delegation.
async fn precheck(
    portal: &Portal,
    caller: &Caller,
    tld: &TldLabel,
    proposed: Delegation,
) -> Result<Outcome, PageError> {
    let zone = tld.to_name();
    match portal.desk.dry_run(caller, &zone, &proposed).await {
        Ok(report) => Ok(Outcome::Checked {
            report: Box::new(report),
            proposed,
        }),
        Err(DryRunError::Busy { retry_after_secs }) => Ok(Outcome::Busy(retry_after_secs)),
        Err(DryRunError::Desk(DeskError::Forbidden(m))) => Err(PageError::forbidden(m)),
        Err(DryRunError::Desk(e)) => Err(e.into()),
    }
}

/// The workflow's refusal of a form's content, in words for the form's box.
fn refusal_lines(e: &DeskError) -> Option<Vec<String>> {
    match e {
        DeskError::Workflow(WorkflowError::Invalid { message, .. }) => Some(vec![message.clone()]),
        DeskError::Workflow(other) => Some(vec![other.to_string()]),
        DeskError::Forbidden(m) => Some(vec![format!("Not allowed: {m}")]),
        DeskError::IdempotencyMismatch(_) => Some(vec![e.to_string()]),
        _ => None,
    }
}

/// `POST /my/tlds/{label}/change`: `op=check` runs the pre-check, `op=submit` submits (as `POST
/// /v1/requests`) and goes to the new request's page.
pub async fn change_post(
    State(portal): State<Portal>,
    headers: HeaderMap,
    peer: Option<Extension<Peer>>,
    Path(raw): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let form = ChangeForm::from_pairs(form.map(|Form(f)| f).unwrap_or_default());
    // The session and its CSRF token first; then the gate on the TLD; then the content.
    let viewer = session::acting_viewer(&portal, &headers, peer, form.csrf.as_deref()).await?;
    let caller = viewer.caller.clone();
    only_managers(&viewer)?;
    let view = tld_for(&portal, &caller, &raw).await?;
    let label = view.record.label.clone();
    let target = ChangeTarget {
        action: format!("/my/tlds/{}/change", label.as_str()),
        title: format!("Change {}", tld_title(&label)),
        button: "Submit the change request",
        published: view.record.delegation.clone(),
        label: label.clone(),
    };
    let desk = portal.desk.clone();
    change_flow(&portal, &viewer, &form, target, move |delegation| {
        let submission = Submission {
            tld: label.as_str().to_string(),
            priority: Priority::Normal,
            emergency_reason: None,
            proposal: Proposal::Delegation { delegation },
        };
        desk.submit(&caller, submission, None)
            .map(|(request, _)| request.ticket)
    })
    .await
}

/// Where a change form posts, and what it shows around the form.
struct ChangeTarget {
    label: TldLabel,
    published: Delegation,
    action: String,
    title: String,
    button: &'static str,
}

/// A change form's POST once the caller may send it: the form again with its problems or the
/// pre-check's findings, or `send` (a submission or an amendment, through the desk) and then
/// the request's page. A refusal of the desk is shown on the form, which keeps what was typed.
async fn change_flow(
    portal: &Portal,
    viewer: &Viewer,
    form: &ChangeForm,
    target: ChangeTarget,
    send: impl FnOnce(Delegation) -> Result<String, DeskError> + Send + 'static,
) -> Result<Response, PageError> {
    let again = |outcome: Outcome, status: StatusCode| {
        let body = change_form_markup(
            viewer,
            &target.action,
            form,
            &target.published,
            &outcome,
            target.button,
        );
        page_response(status, &target.title, viewer, body)
    };
    let proposed = match form.delegation() {
        Ok(d) => d,
        Err(problems) => {
            return Ok(again(
                Outcome::Problems(problems),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    };
    if form.op != "submit" {
        let outcome = precheck(portal, &viewer.caller, &target.label, proposed).await?;
        return Ok(again(outcome, StatusCode::OK));
    }
    let sent = tokio::task::spawn_blocking(move || send(proposed))
        .await
        .map_err(PageError::internal)?;
    match sent {
        Ok(ticket) => Ok(Redirect::to(&format!("/my/requests/{ticket}")).into_response()),
        Err(e) => match refusal_lines(&e) {
            Some(lines) => Ok(again(
                Outcome::Problems(lines),
                StatusCode::UNPROCESSABLE_ENTITY,
            )),
            None => Err(e.into()),
        },
    }
}

// ---------------------------------------------------------------------------------------
// /my/requests/{ticket}

/// A request the caller may read (`Desk::read`, the gate of `GET /v1/requests/{ticket}`),
/// its history and checks, the published delegation and the names of the TLD's persons.
struct RequestPage {
    request: Request,
    history: Vec<Recorded>,
    checks: Vec<(crate::store::CheckJob, Option<serde_json::Value>)>,
    published: Option<Delegation>,
    names: BTreeMap<String, String>,
    allowed: Vec<Action>,
}

async fn request_for(
    portal: &Portal,
    caller: &Caller,
    ticket: &str,
) -> Result<RequestPage, PageError> {
    let desk = portal.desk.clone();
    let caller = caller.clone();
    let t = ticket.to_string();
    let found = tokio::task::spawn_blocking(move || {
        let request = desk.read(&caller, &t)?;
        let (history, _) = desk.request_history_and_checks(&t)?;
        let checks = desk.checks_of(&t)?;
        let label =
            TldLabel::parse(&request.tld).map_err(|e| DeskError::NotFound(e.to_string()))?;
        let published = desk.tld_with_cds(&label)?.map(|(r, _)| r.delegation);
        let names = match desk.tld_authority(&caller, &request.tld) {
            Ok(Some(a)) => desk.authority_names(&caller, &request.tld, &a)?,
            _ => BTreeMap::new(),
        };
        let allowed = desk.allowed_actions(&caller, &request)?;
        Ok(RequestPage {
            request,
            history,
            checks,
            published,
            names,
            allowed,
        })
    })
    .await
    .map_err(PageError::internal)?;
    found.map_err(|e| hide(e, not_your_request(ticket)))
}

/// Whether the workflow takes `event` in the request's state (its transition table), so a
/// page offers only buttons that can work; the desk decides again when one is pressed.
fn state_allows(event: &str, state: WfState) -> bool {
    crate::workflow::table::rule(event).is_some_and(|r| r.from.contains(&state))
}

fn event_text(e: &Event, names: &BTreeMap<String, String>) -> Markup {
    html! {
        @match e {
            Event::Submitted { .. } => { "Submitted (revision 1)." }
            Event::Accepted => { "Accepted: the request is complete." }
            Event::CheckFinished { phase, revision, verdict, summary, .. } => {
                (match phase { crate::workflow::CheckPhase::Initial => "Technical check", crate::workflow::CheckPhase::Supplemental => "Supplemental check" })
                " of revision " (revision) ": " (verdict_markup(match verdict { crate::workflow::Verdict::Pass => Verdict::Pass, crate::workflow::Verdict::Warn => Verdict::Warn, crate::workflow::Verdict::Fail => Verdict::Fail })) "."
                @if !summary.is_empty() { " " span.muted { "See the full report below." } }
            },
            Event::Amended { revision, .. } => { "Amended: revision " (revision) ". Every approval is asked again." }
            Event::Confirmed { contact, revision } => { "Contact " (contact) " confirmed revision " (revision) "." }
            Event::Declined { contact, reason } => { (party(&Party::Person(contact.clone()), names)) " declined: “" (reason) "”" }
            Event::Consented { person, revision } => { (names.get(person).cloned().unwrap_or_else(|| person.clone())) " approved revision " (revision) "." }
            Event::Verified { revision, note } => { "The desk verified revision " (revision) " out of band: “" (note) "”" }
            Event::QuestionAsked { question } => { "The desk asked: “" (question) "”" }
            Event::Answered { answer } => { "Answered: “" (answer) "”" }
            Event::Approved { note } => { "Approved by the desk" @if !note.is_empty() { ": “" (note) "”" } "." }
            Event::Rejected { reason } => { "Rejected by the desk: “" (reason) "”" }
            Event::Evaluated { .. } => { "The desk recorded its evaluation." }
            Event::Implemented { serial } => { "Implemented" @if let Some(s) = serial { " in root zone serial " (s) } "." }
            Event::Withdrawn { reason } => { "Withdrawn: “" (reason) "”" }
            Event::Reminded { after_days } => { "Reminder sent after " (after_days) " days waiting on the TLD." }
            Event::Expired { after_days } => { "Expired after " (after_days) " days waiting on the TLD." }
            Event::HoldEnded { after_days } => { "The hold ended after " (after_days) " days." }
        }
    }
}

/// `GET /my/requests/{ticket}`.
pub async fn request_page(
    State(portal): State<Portal>,
    viewer: Viewer,
    Path(ticket): Path<String>,
) -> Result<Response, PageError> {
    let page = request_for(&portal, &viewer.caller, &ticket).await?;
    let body = request_body(&portal, &viewer, &page);
    Ok(page_response(
        StatusCode::OK,
        &format!("Request {}", page.request.ticket),
        &viewer,
        body,
    ))
}

fn request_body(portal: &Portal, viewer: &Viewer, page: &RequestPage) -> Markup {
    let r = &page.request;
    let now = portal.desk.clock.now();
    let me = viewer.person().to_string();
    let latest = r.revisions.last();
    let proposed = latest.and_then(|rev| rev.proposal.delegation());
    let may = |a: Action| page.allowed.contains(&a);
    let member = r
        .approval
        .as_ref()
        .is_some_and(|a| a.members.contains_key(&me));
    // Whether the person's approval would count, by the workflow's own reckoning (the policy
    // may not count the submitter's).
    let with_me: std::collections::BTreeSet<String> =
        r.approvals.iter().cloned().chain([me.clone()]).collect();
    let would_count = r.missing_approvals(&with_me) != r.missing_approvals(&r.approvals);
    let in_approval = may(Action::Confirm)
        && member
        && !r.approvals.contains(&me)
        && state_allows("consented", r.state);
    let can_approve = in_approval && would_count;
    let can_decline = may(Action::Decline) && member && state_allows("declined", r.state);
    let can_answer = may(Action::Answer) && state_allows("answered", r.state);
    let can_amend = may(Action::Amend) && state_allows("amended", r.state) && proposed.is_some();
    let can_withdraw = may(Action::Withdraw) && state_allows("withdrawn", r.state);
    let name_of = |id: &str| {
        page.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };
    let question = page.history.iter().rev().find_map(|rec| match &rec.event {
        Event::QuestionAsked { question } => Some(question.clone()),
        _ => None,
    });
    let tld = tld_title_str(&r.tld);
    html! {
        dl.facts {
            dt { "TLD" } dd { a href={ "/my/tlds/" (r.tld) } { (tld) } }
            dt { "Kind" } dd { (r.kind.as_str()) @if r.priority == Priority::Emergency { " " strong.bad { "(emergency)" } } }
            dt { "State" } dd { strong { (state_name(r.state)) } ": " (state_words(r.state)) }
            dt { "Submitted" } dd { (when(r.submitted_at)) " by " (party(&r.submitter, &page.names)) }
            dt { "Revision" } dd { (latest.map(|x| x.number).unwrap_or(1)) }
        }
        section.waiting aria-labelledby="h-waiting" {
            h2 #h-waiting { "Who must act now" }
            @match r.owner {
                Some(Owner::Tld) => {
                    p { strong { "Your TLD." } " Waiting since " (when(r.state_since)) " (" (span(now - r.state_since)) ")." }
                    @let details = r.pending_consent_details();
                    @if !details.is_empty() {
                        ul { @for d in &details { li { (d) } } }
                    }
                    @if r.state == WfState::AwaitingFix { p { "The technical check failed: amend the request with working name servers (below), or withdraw it." } }
                    @if r.state == WfState::AwaitingInfo { p { "The desk asked a question; answer it below." } }
                    p.note { "A request that waits on the TLD for " (portal.desk.settings.expire_days) " days expires (on "
                        (when(r.state_since + time::Duration::days(i64::from(portal.desk.settings.expire_days)))) "); the desk sends reminders before." }
                },
                Some(Owner::Desk) => {
                    p { strong { "The desk" } " (" (state_words(r.state)) "), since " (when(r.state_since)) " (" (span(now - r.state_since)) "). Nothing is needed from you now." }
                },
                None => { p { "Nobody: the request is closed (" (state_name(r.state)) ")." } },
            }
        }
        section aria-labelledby="h-proposal" {
            h2 #h-proposal { "The proposal" }
            @match (&proposed, &page.published) {
                (Some(p), Some(published)) => {
                    h3 { "What changes against the published delegation" }
                    (diff_markup(published, p))
                    h3 { "Proposed delegation" }
                    (delegation_tables(p, "proposed"))
                },
                _ => {
                    @if let Some(rev) = latest {
                        pre.proposal { (serde_json::to_string_pretty(&rev.proposal).unwrap_or_default()) }
                    }
                },
            }
        }
        @if let Some(approval) = &r.approval {
            section aria-labelledby="h-approvals" {
                h2 #h-approvals { "Approvals under the TLD's policy" }
                p { "Rule for " (class_name(approval.class)) ": " strong { (approval.rule.describe()) } "." }
                (layout::scroll_table("Approvals", html! {
                    table #approvals .stack {
                        thead { tr { th scope="col" { "Person" } th scope="col" { "Groups" } th scope="col" { "This revision" } } }
                        tbody {
                            @for (id, groups) in &approval.members {
                                tr {
                                    th scope="row" { (name_of(id)) @if *id == me { " " span.muted { "(you)" } } }
                                    td data-label="Groups" { (groups.iter().cloned().collect::<Vec<_>>().join(", ")) }
                                    td data-label="This revision" {
                                        @if r.approvals.contains(id) { span.ok { "approved" } }
                                        @else if !approval.rule.submitter_counts && r.submitter == Party::Person(id.clone()) { span.muted { "submitted it (the policy does not count the submitter)" } }
                                        @else { span.muted { "not yet" } }
                                    }
                                }
                            }
                        }
                    }
                }))
                @match r.missing_approvals(&r.approvals) {
                    Some(m) => p { "Still missing: " strong { (m) } "." },
                    None => p.ok { "The policy's approvals are complete." },
                }
                @if approval.special_handling { p.note { "This TLD has special handling: the desk's staff verify the change out of band before implementing it." } }
            }
        }
        @if can_approve || can_decline || can_answer || can_amend || can_withdraw {
            section.act aria-labelledby="h-act" {
                h2 #h-act { "What you can do" }
                @if in_approval && !would_count {
                    p.note { "Your own approval does not count for this request under the TLD's policy: another authorised person must approve it." }
                }
                @if can_approve {
                    form.inline method="post" action={ "/my/requests/" (r.ticket) "/confirm" } {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        p { "Approve revision " (latest.map(|x| x.number).unwrap_or(1)) " as shown under The proposal above, as yourself." }
                        button.primary type="submit" { "Approve this change" }
                    }
                }
                @if can_answer {
                    form method="post" action={ "/my/requests/" (r.ticket) "/answer" } {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        @if let Some(q) = &question { p { "The desk asked: " q { (q) } } }
                        div.field {
                            label for="answer" { "Your answer" }
                            textarea #answer name="answer" rows="4" required {}
                        }
                        div.actions { button type="submit" { "Send the answer" } }
                    }
                }
                @if can_amend {
                    p { a.button href={ "/my/requests/" (r.ticket) "/amend" } { "Amend: propose a new revision" } }
                }
                @if can_decline {
                    form method="post" action={ "/my/requests/" (r.ticket) "/decline" } {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        div.field {
                            label for="decline-reason" { "Reason for declining (this ends the request)" }
                            input #decline-reason type="text" name="reason" required;
                        }
                        div.actions { button.danger type="submit" { "Decline" } }
                    }
                }
                @if can_withdraw {
                    form method="post" action={ "/my/requests/" (r.ticket) "/withdraw" } {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        div.field {
                            label for="withdraw-reason" { "Reason for withdrawing" }
                            input #withdraw-reason type="text" name="reason" required;
                        }
                        div.actions { button.danger type="submit" { "Withdraw the request" } }
                    }
                }
            }
        }
        section aria-labelledby="h-checks" {
            h2 #h-checks { "Technical checks" }
            @if page.checks.is_empty() { p.muted { "No check has run yet." } }
            @for (job, report) in page.checks.iter().rev() {
                article.check-run aria-labelledby={ "check-" (job.id) } {
                    h3 id={ "check-" (job.id) } {
                        (match job.phase { crate::workflow::CheckPhase::Initial => "Check", crate::workflow::CheckPhase::Supplemental => "Supplemental check" })
                        " of revision " (job.revision) ", " (job.created_at.get(..16).unwrap_or(&job.created_at).replace('T', " ")) " UTC"
                    }
                    @match report.as_ref().map(|v| serde_json::from_value::<Report>(v.clone())) {
                        None => p.muted { "Running…" },
                        Some(Ok(report)) => {
                            @let servers: Vec<String> = r.revisions.iter().find(|x| x.number == job.revision)
                                .and_then(|x| x.proposal.delegation())
                                .map(|d| d.nameservers.keys().map(|h| h.as_str().to_string()).collect())
                                .unwrap_or_default();
                            (report_markup(&report, &servers, 4))
                        },
                        Some(Err(_)) => p.muted { "This report was stored by an older version of the desk and cannot be shown here; the API has it (GET /v1/requests/" (r.ticket) "/checks)." },
                    }
                }
            }
        }
        section aria-labelledby="h-timeline" {
            h2 #h-timeline { "Timeline" }
            ol.timeline {
                @for rec in &page.history {
                    li {
                        time datetime=(crate::store::timestamp(rec.time)) { (when(rec.time)) }
                        " · " span.by { (party(&rec.by, &page.names)) } " · "
                        (event_text(&rec.event, &page.names))
                    }
                }
            }
        }
    }
}

/// `GET /my/requests/{ticket}/amend`: the change form with the latest revision.
pub async fn amend_form(
    State(portal): State<Portal>,
    viewer: Viewer,
    Path(ticket): Path<String>,
) -> Result<Response, PageError> {
    let page = request_for(&portal, &viewer.caller, &ticket).await?;
    let r = &page.request;
    let Some(current) = r.revisions.last().and_then(|x| x.proposal.delegation()) else {
        return Err(PageError::bad_request(
            "This page amends name server and DS requests only; amend other kinds through the API.",
        ));
    };
    let published = page.published.clone().unwrap_or_default();
    let form = ChangeForm::from_delegation(current);
    let action = format!("/my/requests/{}/amend", r.ticket);
    let body = html! {
        p { "A new revision of " a href={ "/my/requests/" (r.ticket) } { (r.ticket) } " for " (tld_title_str(&r.tld)) ". Every approval is asked again." }
        (change_form_markup(&viewer, &action, &form, &published, &Outcome::None, "Submit the new revision"))
    };
    Ok(page_response(
        StatusCode::OK,
        &format!("Amend {}", r.ticket),
        &viewer,
        body,
    ))
}

/// `POST /my/requests/{ticket}/amend`: check, or amend as `POST .../amend`.
pub async fn amend_post(
    State(portal): State<Portal>,
    headers: HeaderMap,
    peer: Option<Extension<Peer>>,
    Path(ticket): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let form = ChangeForm::from_pairs(form.map(|Form(f)| f).unwrap_or_default());
    let viewer = session::acting_viewer(&portal, &headers, peer, form.csrf.as_deref()).await?;
    let caller = viewer.caller.clone();
    // The gate of the action itself, before the form's content is read.
    gate(&portal, &caller, &ticket, Action::Amend).await?;
    let page = request_for(&portal, &caller, &ticket).await?;
    let target = ChangeTarget {
        label: TldLabel::parse(&page.request.tld).map_err(PageError::internal)?,
        published: page.published.clone().unwrap_or_default(),
        action: format!("/my/requests/{ticket}/amend"),
        title: format!("Amend {ticket}"),
        button: "Submit the new revision",
    };
    let desk = portal.desk.clone();
    change_flow(&portal, &viewer, &form, target, move |delegation| {
        let command = Command::Amend {
            proposal: Box::new(Proposal::Delegation { delegation }),
        };
        desk.act(&caller, &ticket, Action::Amend, command)
            .map(|_| ticket)
    })
    .await
}

/// The permission gate for `action` on `ticket` (`Desk::authorize`, as the API asks it before
/// it reads a body); a refusal reads as a request that does not exist.
async fn gate(
    portal: &Portal,
    caller: &Caller,
    ticket: &str,
    action: Action,
) -> Result<(), PageError> {
    let desk = portal.desk.clone();
    let (who, t) = (caller.clone(), ticket.to_string());
    tokio::task::spawn_blocking(move || desk.authorize(&who, &t, action).map(|_| ()))
        .await
        .map_err(PageError::internal)?
        .map_err(|e| hide(e, not_your_request(ticket)))
}

/// `POST /my/requests/{ticket}/{action}`: `confirm` (approve), `decline`, `answer`,
/// `withdraw`, as `POST /v1/requests/{ticket}/{action}`; then back to the request's page.
pub async fn act(
    State(portal): State<Portal>,
    headers: HeaderMap,
    peer: Option<Extension<Peer>>,
    Path((ticket, action)): Path<(String, String)>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let fields: BTreeMap<String, String> = form
        .map(|Form(f)| f)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let caller = session::acting(
        &portal,
        &headers,
        peer,
        fields.get("csrf").map(String::as_str),
    )
    .await?;
    let action = match action.as_str() {
        "confirm" => Action::Confirm,
        "decline" => Action::Decline,
        "answer" => Action::Answer,
        "withdraw" => Action::Withdraw,
        _ => {
            return Err(PageError::not_found(
                "No such action here: approve (confirm), decline, answer or withdraw.",
            ))
        }
    };
    // The gate before the form's text is read, as the API does before the body.
    gate(&portal, &caller, &ticket, action).await?;
    let text = |name: &str| {
        fields
            .get(name)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let command = match action {
        Action::Confirm => Command::Confirm,
        Action::Decline => Command::Decline {
            reason: text("reason"),
        },
        Action::Answer => Command::Answer {
            answer: text("answer"),
        },
        _ => Command::Withdraw {
            reason: text("reason"),
        },
    };
    let desk = portal.desk.clone();
    let (who, t) = (caller.clone(), ticket.clone());
    let done = tokio::task::spawn_blocking(move || desk.act(&who, &t, action, command))
        .await
        .map_err(PageError::internal)?;
    match done {
        Ok(_) => Ok(Redirect::to(&format!("/my/requests/{ticket}")).into_response()),
        Err(e) => match refusal_lines(&e) {
            Some(lines) => Err(PageError {
                status: StatusCode::CONFLICT,
                title: "Not done",
                message: format!(
                    "{} Nothing was changed. Go back to the request (/my/requests/{ticket}).",
                    lines.join(" ")
                ),
            }),
            None => Err(e.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_form_reads_rows_and_names_the_bad_one() {
        let pairs = vec![
            ("csrf".into(), "t".into()),
            ("op".into(), "check".into()),
            ("ns0_host".into(), "ns1.nic.xa".into()),
            ("ns0_addrs".into(), "127.0.0.21, ::1".into()),
            ("ns1_host".into(), "".into()),
            ("ns1_addrs".into(), "".into()),
            ("ns2_host".into(), "bad host!".into()),
            ("ns99_host".into(), "beyond.the.bound".into()),
            ("ds0_tag".into(), "".into()),
        ];
        let form = ChangeForm::from_pairs(pairs);
        assert_eq!(form.csrf.as_deref(), Some("t"));
        assert_eq!(form.ns.len(), 2, "{form:?}");
        assert!(form.ds.is_empty());
        let problems = form.delegation().expect_err("a bad host");
        assert!(
            problems[0].starts_with("Name server 2 (bad host!)"),
            "{problems:?}"
        );
        let good = ChangeForm::from_pairs(vec![
            ("ns0_host".into(), "ns1.nic.xa".into()),
            ("ns0_addrs".into(), "127.0.0.21 ::1".into()),
        ]);
        let d = good.delegation().expect("valid");
        assert_eq!(d.nameservers.values().next().map(|a| a.len()), Some(2));
        let ds = ChangeForm::from_pairs(vec![
            ("ns0_host".into(), "a.example".into()),
            ("ds0_tag".into(), "x".into()),
        ]);
        assert_eq!(
            ds.delegation().expect_err("bad tag"),
            vec!["DS record 1: the key tag must be a number".to_string()]
        );
    }

    #[test]
    fn the_forms_bound_is_the_apis() {
        assert_eq!(MAX_ROWS, crate::api::MAX_ITEMS);
    }

    #[test]
    fn spans_read_as_words() {
        assert_eq!(span(time::Duration::minutes(1)), "1 minute");
        assert_eq!(span(time::Duration::hours(5)), "5 hours");
        assert_eq!(span(time::Duration::days(3)), "3 days");
    }

    #[test]
    fn every_class_has_words() {
        let named: BTreeSet<&str> = ChangeClass::ALL.into_iter().map(class_name).collect();
        assert_eq!(named.len(), ChangeClass::ALL.len());
    }
}
