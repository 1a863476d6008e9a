//! The public TLD pages: the list with its filters (`/tlds`), one page per TLD in the manner
//! of IANA's root zone database (`/tlds/{label}`), and the "go to a TLD" form (`/lookup`).
//!
//! Contacts follow RDAP's rule (`[rdap] public_contacts`, src/api/rdap.rs): the organisation
//! and the role are public; a contact's name, e-mail, phone and postal address only when the
//! desk's settings publish them.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, Nav};
use super::{csrf, html_response, read, PageError, Portal};
use crate::registry::{Contact, TldLabel, TldRecord, TldStatus, TldType};
use crate::store::{RequestSummary, TldDates};

/// The list's filters, from the query string (`?q=…&type=…&status=…`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TldFilter {
    /// Text found in the A-label, the U-label or the sponsor's name (any case).
    #[serde(default)]
    pub q: String,
    /// `cctld`, `gtld`, `infrastructure`, or empty for all.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// `active`, `undelegated`, `retired`, or empty for all.
    #[serde(default)]
    pub status: String,
}

fn type_name(kind: TldType) -> &'static str {
    match kind {
        TldType::Cctld => "country-code",
        TldType::Gtld => "generic",
        TldType::Infrastructure => "infrastructure",
    }
}

fn status_name(status: TldStatus) -> &'static str {
    match status {
        TldStatus::Active => "delegated",
        TldStatus::Undelegated => "not delegated",
        TldStatus::Retired => "retired",
    }
}

pub(super) fn is_idn(record: &TldRecord) -> bool {
    record.unicode != record.label.as_str()
}

impl TldFilter {
    fn matches(&self, record: &TldRecord, needle: &str) -> bool {
        if !self.kind.is_empty() && record.kind.as_str() != self.kind {
            return false;
        }
        if !self.status.is_empty() && record.status.as_str() != self.status {
            return false;
        }
        if needle.is_empty() {
            return true;
        }
        record.label.as_str().contains(needle)
            || record.unicode.to_lowercase().contains(needle)
            || record
                .sponsor
                .as_deref()
                .is_some_and(|s| s.to_lowercase().contains(needle))
    }
}

/// The TLD label as a page shows it: `.U-label` and, for an IDN, the A-label beside it.
fn label_markup(record: &TldRecord) -> Markup {
    html! {
        span.ulabel { "." (record.unicode) }
        @if is_idn(record) {
            " " span.alabel { "(." (record.label.as_str()) ")" }
        }
    }
}

/// The body of the TLD list for `records` under `filter`: the part the bench measures.
pub fn list_body(records: &[TldRecord], filter: &TldFilter) -> Markup {
    let needle = filter.q.trim().trim_start_matches('.').to_lowercase();
    let shown: Vec<&TldRecord> = records
        .iter()
        .filter(|r| filter.matches(r, &needle))
        .collect();
    let delegated = records
        .iter()
        .filter(|r| r.status == TldStatus::Active)
        .count();
    let kinds = [TldType::Gtld, TldType::Cctld, TldType::Infrastructure];
    let statuses = [
        TldStatus::Active,
        TldStatus::Undelegated,
        TldStatus::Retired,
    ];
    html! {
        p {
            "The root zone database holds " (layout::count(records.len())) " top-level domains, "
            (layout::count(delegated)) " of them delegated in the root zone. "
            "Internationalised (IDN) TLDs are shown in their own script with the A-label "
            "used in the DNS beside it."
        }
        form.filters method="get" action="/tlds" role="search" aria-label="Filter the TLDs" {
            div.field {
                label for="q" { "Name or sponsor contains" }
                input #q type="search" name="q" value=(filter.q) autocomplete="off";
            }
            div.field {
                label for="type" { "Type" }
                select #type name="type" {
                    option value="" selected[filter.kind.is_empty()] { "All types" }
                    @for k in kinds {
                        option value=(k.as_str()) selected[filter.kind == k.as_str()] { (type_name(k)) }
                    }
                }
            }
            div.field {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="" selected[filter.status.is_empty()] { "Any status" }
                    @for s in statuses {
                        option value=(s.as_str()) selected[filter.status == s.as_str()] { (status_name(s)) }
                    }
                }
            }
            div.actions {
                button type="submit" { "Filter" }
                @if !filter.q.is_empty() || !filter.kind.is_empty() || !filter.status.is_empty() {
                    " " a href="/tlds" { "Show all" }
                }
            }
        }
        p #count { (layout::count(shown.len())) " of " (layout::count(records.len())) " TLDs shown." }
        @if shown.is_empty() {
            p { "No TLD matches these filters." }
        } @else {
            (layout::scroll_table("TLDs", html! {
                table #tlds {
                    caption.visually-hidden { "Top-level domains" }
                    thead { tr { th scope="col" { "TLD" } th scope="col" { "Type" } th scope="col" { "Sponsoring organisation" } th scope="col" { "Status" } } }
                    tbody {
                        @for r in &shown {
                            tr {
                                th scope="row" {
                                    a href={ "/tlds/" (r.label.as_str()) } { (label_markup(r)) }
                                }
                                td.type { (type_name(r.kind)) }
                                td.sponsor { @if let Some(s) = &r.sponsor { (s) } @else { span.muted { "Not assigned" } } }
                                td.status { (status_name(r.status)) }
                            }
                        }
                    }
                }
            }))
        }
    }
}

/// The whole TLD list page, as served (the bench renders this).
pub fn render_list(records: &[TldRecord], filter: &TldFilter) -> String {
    layout::page("Top-level domains", Nav::Tlds, list_body(records, filter)).into_string()
}

/// `GET /tlds`.
pub async fn list(
    State(portal): State<Portal>,
    query: Result<Query<TldFilter>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(filter) = query.map_err(|e| PageError::bad_request(e.body_text()))?;
    let desk = portal.desk.clone();
    let records = read(move || desk.tld_rows()).await?;
    Ok(html_response(
        StatusCode::OK,
        maud::PreEscaped(render_list(&records, &filter)),
    ))
}

/// One contact as the public sees it: RDAP's rule.
pub(super) fn contact_markup(title: &str, contact: Option<&Contact>, public: bool) -> Markup {
    html! {
        section.contact aria-labelledby={ "h-" (title.to_lowercase().replace(' ', "-")) } {
            h2 id={ "h-" (title.to_lowercase().replace(' ', "-")) } { (title) }
            @match contact {
                None => p.muted { "None on record." },
                Some(c) => {
                    dl {
                        dt { "Organisation" }
                        dd { @if let Some(o) = &c.organisation { (o) } @else { span.muted { "Not given" } } }
                        @if public {
                            @if let Some(n) = &c.name { dt { "Name" } dd { (n) } }
                            @if let Some(e) = &c.email { dt { "E-mail" } dd { (e) } }
                            @if let Some(p) = &c.phone { dt { "Phone" } dd { (p) } }
                            @if let Some(a) = &c.address { dt { "Postal address" } dd { (a) } }
                        }
                    }
                    @if !public && (c.name.is_some() || c.email.is_some() || c.phone.is_some() || c.address.is_some()) {
                        p.note { "Personal details of contacts (name, e-mail, phone, postal address) are not published, as in RDAP." }
                    }
                }
            }
        }
    }
}

/// The mnemonic of a DNSSEC algorithm number (IANA's registry), for readers.
pub(super) fn algorithm_name(number: u8) -> Option<&'static str> {
    Some(match number {
        5 => "RSASHA1",
        7 => "RSASHA1-NSEC3-SHA1",
        8 => "RSASHA256",
        10 => "RSASHA512",
        13 => "ECDSAP256SHA256",
        14 => "ECDSAP384SHA384",
        15 => "ED25519",
        16 => "ED448",
        _ => return None,
    })
}

/// The name of a DS digest type (IANA's registry).
pub(super) fn digest_name(number: u8) -> Option<&'static str> {
    Some(match number {
        1 => "SHA-1",
        2 => "SHA-256",
        3 => "GOST R 34.11-94",
        4 => "SHA-384",
        _ => return None,
    })
}

/// The date part (`YYYY-MM-DD`) of a stored date or RFC 3339 time.
fn day(text: &str) -> &str {
    text.get(..10).unwrap_or(text)
}

/// The body of one TLD's page.
pub fn tld_body(
    record: &TldRecord,
    dates: &TldDates,
    history: &[RequestSummary],
    public_contacts: bool,
) -> Markup {
    let created = record
        .created
        .as_deref()
        .or(dates.first_published.as_deref())
        .map(day);
    // The later of the record's own date and the desk's last change of the delegation.
    let updated = [record.updated.as_deref(), dates.last_changed.as_deref()]
        .into_iter()
        .flatten()
        .map(day)
        .max();
    let d = &record.delegation;
    html! {
        @if is_idn(record) {
            p.labels {
                "U-label: " strong.ulabel { (record.unicode) } " · A-label (in the DNS): " code.alabel { (record.label.as_str()) }
            }
        }
        dl.facts {
            dt { "Type" } dd { (type_name(record.kind)) " top-level domain" }
            dt { "Status" } dd { (status_name(record.status)) }
            @if let Some(c) = &record.country { dt { "Country or territory" } dd { (c) } }
            dt { "Registered" } dd { @if let Some(c) = created { (c) } @else { span.muted { "Unknown" } } }
            dt { "Record last updated" } dd { @if let Some(u) = updated { (u) } @else { span.muted { "Unknown" } } }
        }
        section aria-labelledby="h-sponsor" {
            h2 #h-sponsor { "Sponsoring organisation" }
            p { @if let Some(s) = &record.sponsor { (s) } @else { span.muted { "Not assigned" } } }
        }
        (contact_markup("Administrative contact", record.admin.as_ref(), public_contacts))
        (contact_markup("Technical contact", record.tech.as_ref(), public_contacts))
        section aria-labelledby="h-ns" {
            h2 #h-ns { "Name servers" }
            @if d.nameservers.is_empty() {
                p.muted {
                    @if record.status == TldStatus::Active { "The published root zone holds no name servers for this TLD." }
                    @else { "This TLD is not delegated: the root zone has no name servers for it." }
                }
            } @else {
                (layout::scroll_table("Name servers", html! {
                    table #nameservers .stack {
                        thead { tr { th scope="col" { "Host name" } th scope="col" { "IP addresses (glue)" } } }
                        tbody {
                            @for (host, addresses) in &d.nameservers {
                                tr {
                                    th scope="row" { code { (host.as_str()) } }
                                    td data-label="Addresses" {
                                        @if addresses.is_empty() { span.muted { "none in the root zone" } }
                                        @for a in addresses { code { (a) } br; }
                                    }
                                }
                            }
                        }
                    }
                }))
            }
        }
        section aria-labelledby="h-ds" {
            h2 #h-ds { "DNSSEC: DS records" }
            @if d.ds.is_empty() {
                p.muted { "None: the delegation is not signed." }
            } @else {
                (layout::scroll_table("DS records", html! {
                    table #ds .stack {
                        thead { tr { th scope="col" { "Key tag" } th scope="col" { "Algorithm" } th scope="col" { "Digest type" } th scope="col" { "Digest" } } }
                        tbody {
                            @for ds in &d.ds {
                                tr {
                                    td data-label="Key tag" { (ds.key_tag) }
                                    td data-label="Algorithm" { (ds.algorithm) @if let Some(n) = algorithm_name(ds.algorithm) { " " span.muted { "(" (n) ")" } } }
                                    td data-label="Digest type" { (ds.digest_type) @if let Some(n) = digest_name(ds.digest_type) { " " span.muted { "(" (n) ")" } } }
                                    td data-label="Digest" { code.digest { (ds.digest_hex()) } }
                                }
                            }
                        }
                    }
                }))
            }
        }
        section aria-labelledby="h-history" {
            h2 #h-history { "Change history" }
            @if history.is_empty() {
                p.muted { "No change request for this TLD has been closed at this desk." }
            } @else {
                p { "Requests for this TLD that reached a final state, newest first, in the public change log:" }
                ul {
                    @for r in history {
                        li {
                            a href={ "/changelog?month=" (r.state_since.get(..7).unwrap_or("")) "&tld=" (r.tld) "#" (r.ticket) } {
                                (r.ticket)
                            }
                            ": " (r.kind) ", " (r.state) " on " (day(&r.state_since))
                        }
                    }
                }
            }
            p { "Machine-readable: " a href={ "/rdap/domain/" (record.label.as_str()) } { "RDAP" } "." }
        }
    }
}

/// `GET /tlds/{label}`: the A-label or the U-label in any case; anything but the canonical
/// A-label is redirected to it.
pub async fn show(
    State(portal): State<Portal>,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    let unknown = || {
        PageError::not_found(format!(
            "“{raw}” is not a top-level domain of the root zone."
        ))
    };
    // The API's own reading of a TLD label (A-label or U-label, any case).
    let Ok(label) = TldLabel::parse(&raw) else {
        return Err(unknown());
    };
    if label.as_str() != raw {
        return Ok(Redirect::permanent(&format!("/tlds/{}", label.as_str())).into_response());
    }
    let desk = portal.desk.clone();
    let key = label.clone();
    let found = read(move || desk.tld_page(&key)).await?;
    let Some((record, dates, history)) = found else {
        return Err(unknown());
    };
    let title = if is_idn(&record) {
        format!(".{} (.{})", record.unicode, record.label.as_str())
    } else {
        format!(".{}", record.label.as_str())
    };
    let body = tld_body(&record, &dates, &history, portal.desk.rdap.public_contacts);
    Ok(html_response(
        StatusCode::OK,
        layout::page(&title, Nav::Tlds, body),
    ))
}

/// The "go to a TLD" form of the home page.
pub fn lookup_form(token: &str) -> Markup {
    html! {
        form.lookup method="post" action="/lookup" {
            input type="hidden" name=(csrf::FIELD) value=(token);
            div.field {
                label for="name" { "Go to a TLD or domain name" }
                input #name type="text" name="name" required autocomplete="off" spellcheck="false"
                    placeholder="рф, xn--p1ai, example.org";
            }
            div.actions { button type="submit" { "Go" } }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LookupForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
}

/// `POST /lookup`: the TLD of a name typed in any form, then its page (303); refused without
/// a valid CSRF token (403).
pub async fn lookup(
    State(portal): State<Portal>,
    headers: HeaderMap,
    form: Result<Form<LookupForm>, FormRejection>,
) -> Result<Response, PageError> {
    // The token is checked before anything the form asks is looked at.
    let token = form.as_ref().ok().and_then(|Form(f)| f.csrf.clone());
    if let Err(refusal) = csrf::check_anonymous(&portal.csrf, &headers, token.as_deref()) {
        return Ok(super::csrf_refused(refusal));
    }
    let Form(form) = form.map_err(|e| PageError::bad_request(e.body_text()))?;
    let name = form.name.trim().trim_end_matches('.');
    let tld = name.rsplit('.').next().unwrap_or(name);
    let Ok(label) = TldLabel::parse(tld) else {
        return Err(PageError::not_found(format!(
            "“{}” does not name a top-level domain.",
            form.name.trim()
        )));
    };
    let desk = portal.desk.clone();
    let key: TldLabel = label.clone();
    let exists = read(move || desk.tld_exists(&key)).await?;
    if !exists {
        return Err(PageError::not_found(format!(
            "“{}” is not a top-level domain of the root zone.",
            label.unicode()
        )));
    }
    Ok(Redirect::to(&format!("/tlds/{}", label.as_str())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: &str, sponsor: &str) -> TldRecord {
        let label = TldLabel::parse(label).expect("label");
        TldRecord {
            unicode: label.unicode(),
            label,
            kind: TldType::Gtld,
            tag: None,
            country: None,
            status: TldStatus::Active,
            sponsor: Some(sponsor.into()),
            admin: None,
            tech: None,
            created: None,
            updated: None,
            delegation: Default::default(),
        }
    }

    #[test]
    fn what_a_registry_wrote_is_escaped() {
        let attack = r#"<script>alert(1)</script>" onmouseover="x"#;
        let html = render_list(&[record("xa", attack)], &TldFilter::default());
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&quot;x"));
        // A filter value is escaped in the form it is shown in again.
        let filter = TldFilter {
            q: r#""><b>"#.into(),
            ..Default::default()
        };
        assert!(!render_list(&[], &filter).contains("<b>"));
    }

    #[test]
    fn idns_show_both_labels_and_filters_match_either() {
        let records = [
            record("xn--p1ai", "Coordination Center"),
            record("com", "VeriSign"),
        ];
        let both = render_list(&records, &TldFilter::default());
        assert!(both.contains(".рф") && both.contains("(.xn--p1ai)"));
        for q in ["рф", "P1AI", ".xn--p1ai", "coordination"] {
            let filter = TldFilter {
                q: q.into(),
                ..Default::default()
            };
            let html = render_list(&records, &filter);
            assert!(html.contains("1 of 2 TLDs shown"), "{q}");
            assert!(
                html.contains("/tlds/xn--p1ai") && !html.contains("/tlds/com"),
                "{q}"
            );
        }
        let cc = TldFilter {
            kind: "cctld".into(),
            ..Default::default()
        };
        assert!(render_list(&records, &cc).contains("No TLD matches"));
    }
}
