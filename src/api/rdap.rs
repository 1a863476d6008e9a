//! RDAP (RFC 9082/9083) for TLD objects, as IANA serves them at rdap.iana.org: public, no
//! token, `application/rdap+json`.
//!
//! `GET /rdap/domain/{tld}` takes the A-label or the U-label in any case; the answer names the
//! TLD by its A-label (`ldhName`) and, for an IDN, by its U-label (`unicodeName`). Contacts
//! are jCards; their personal fields (name, e-mail, phone, postal address) are removed and
//! listed in a `redacted` array (RFC 9537) unless `[rdap] public_contacts` is set. Every
//! failure is an RFC 9083 error object: 400 for a malformed label, 404 for a name that is not
//! a TLD of this desk; nothing the path holds can cause a 500.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{blocking, AppState};
use crate::config::RdapSettings;
use crate::registry::{Contact, TldLabel, TldRecord, TldStatus};
use crate::store::TldDates;

/// The media type of every RDAP answer (RFC 7480 §4.2).
pub const RDAP_MEDIA_TYPE: &str = "application/rdap+json";

/// An RDAP error object (RFC 9083 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdapError {
    pub status: StatusCode,
    pub description: String,
}

impl RdapError {
    pub fn bad_request(description: impl Into<String>) -> RdapError {
        RdapError {
            status: StatusCode::BAD_REQUEST,
            description: description.into(),
        }
    }

    pub fn not_found(description: impl Into<String>) -> RdapError {
        RdapError {
            status: StatusCode::NOT_FOUND,
            description: description.into(),
        }
    }

    /// The error object as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "rdapConformance": ["rdap_level_0"],
            "errorCode": self.status.as_u16(),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "description": [self.description],
        })
    }
}

impl IntoResponse for RdapError {
    fn into_response(self) -> Response {
        rdap_response(self.status, &self.to_json())
    }
}

fn rdap_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(RDAP_MEDIA_TYPE),
    );
    // RFC 7480 §5.6: RDAP answers are for any web page to read.
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// What a domain path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainQuery {
    /// A TLD label (A-label, lower case).
    Tld(TldLabel),
    /// A well-formed name that cannot be a TLD of this desk (several labels, digits, ...).
    NotTld(String),
}

/// Reads the `{tld}` of `/rdap/domain/{tld}`: an A-label or U-label in any case, with or
/// without the trailing dot. Malformed input (empty, control or space characters, an A-label
/// that does not decode, a U-label that is not valid IDNA2008) is a 400.
pub fn parse_domain(raw: &str) -> Result<DomainQuery, RdapError> {
    if raw.is_empty() {
        return Err(RdapError::bad_request("the domain name is empty"));
    }
    if let Some(c) = raw
        .chars()
        .find(|c| super::is_forbidden_char(*c) || c.is_whitespace())
    {
        return Err(RdapError::bad_request(format!(
            "the domain name holds the character U+{:04X}; write the name without spaces or \
             control characters",
            c as u32
        )));
    }
    let name = raw.strip_suffix('.').unwrap_or(raw);
    if name.is_empty() {
        return Err(RdapError::bad_request(
            "the root is not a domain this service describes; name a TLD",
        ));
    }
    if name.split('.').any(str::is_empty) {
        return Err(RdapError::bad_request(format!(
            "{raw:?} has an empty label"
        )));
    }
    let ascii = idna::domain_to_ascii_strict(name).map_err(|_| {
        RdapError::bad_request(format!(
            "{raw:?} is not a valid domain name: a label is not valid IDNA2008 (or an xn-- \
             A-label does not decode to one)"
        ))
    })?;
    for label in ascii.split('.') {
        if label.len() > 63 {
            return Err(RdapError::bad_request(format!(
                "{raw:?}: a label is at most 63 octets"
            )));
        }
        if label.starts_with("xn--") && !idna2008_letters_digits(&idna::domain_to_unicode(label).0)
        {
            return Err(RdapError::bad_request(format!(
                "{raw:?}: the label {label:?} holds a character IDNA2008 does not allow in a \
                 label (symbols, punctuation and emoji are not letters or digits)"
            )));
        }
        if label.starts_with("xn--") {
            // The A-label must decode, and encode back to itself (no mapping hides in it).
            let (unicode, result) = idna::domain_to_unicode(label);
            let round_trip = idna::domain_to_ascii_strict(&unicode).ok();
            if result.is_err() || unicode == label || round_trip.as_deref() != Some(label) {
                return Err(RdapError::bad_request(format!(
                    "{raw:?}: the A-label {label:?} does not decode to a valid U-label"
                )));
            }
        }
    }
    if ascii.contains('.') {
        return Ok(DomainQuery::NotTld(ascii));
    }
    match TldLabel::parse(&ascii) {
        Ok(label) => Ok(DomainQuery::Tld(label)),
        Err(_) => Ok(DomainQuery::NotTld(ascii)),
    }
}

/// RFC 5892's LetterDigits rule on a U-label: every character a letter, a mark, a decimal
/// digit or the hyphen. The idna crate implements UTS 46, which also lets symbols such as
/// emoji through; IDNA2008 disallows them.
pub fn idna2008_letters_digits(u_label: &str) -> bool {
    use icu_properties::props::{GeneralCategory as G, GeneralCategoryGroup};
    let categories = icu_properties::CodePointMapData::<G>::new();
    let allowed = GeneralCategoryGroup::Letter
        .union(GeneralCategoryGroup::Mark)
        .union(GeneralCategoryGroup::DecimalNumber);
    u_label
        .chars()
        .all(|c| c == '-' || c.is_ascii_alphanumeric() || allowed.contains(categories.get(c)))
}

/// The service's base URL: the setting, or `http://` and the request's Host header.
fn base_url(settings: &RdapSettings, headers: &HeaderMap) -> String {
    if !settings.base_url.is_empty() {
        return settings.base_url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn link(value: &str, rel: &str, href: &str) -> Value {
    json!({ "value": value, "rel": rel, "href": href, "type": RDAP_MEDIA_TYPE })
}

/// The terms of use every answer carries.
fn terms_notice(base: &str) -> Value {
    let help = format!("{base}/rdap/help");
    json!({
        "title": "Terms of Use",
        "description": [
            "This service describes the top-level domains of the DNS root zone as the root \
             zone change desk holds them: delegation (name servers, glue, DS), the sponsoring \
             organisation and the contacts.",
            "The data is public and is provided for the operation of the DNS. Contacts' personal \
             data may be redacted (RFC 9537).",
        ],
        "links": [link(&help, "help", &help)],
    })
}

/// A date `YYYY-MM-DD` as the RFC 3339 time of its start, or a stored RFC 3339 time as is.
fn event_date(text: &str) -> Option<String> {
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if time::Date::parse(text, &date_format).is_ok() {
        return Some(format!("{text}T00:00:00Z"));
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|_| text.to_string())
}

/// What the `redacted` array lists for one removed or emptied field.
struct Redaction {
    name: String,
    path: String,
    /// `emptyValue` (the field stays, its value empty: `postPath`) or `removal` (`prePath`).
    empty_value: bool,
}

impl Redaction {
    fn to_json(&self) -> Value {
        let path_key = if self.empty_value {
            "postPath"
        } else {
            "prePath"
        };
        json!({
            "name": { "description": self.name },
            path_key: self.path,
            "pathLang": "jsonpath",
            "method": if self.empty_value { "emptyValue" } else { "removal" },
            "reason": { "description": "Server policy: personal data of contacts is not published" },
        })
    }
}

/// A contact as an RDAP entity with a jCard, redacting its personal fields unless `public`.
fn contact_entity(
    contact: &Contact,
    role: &str,
    title: &str,
    public: bool,
    redactions: &mut Vec<Redaction>,
) -> Value {
    let at = format!("$.entities[?(@.roles[0]=='{role}')].vcardArray[1]");
    let mut card = vec![json!(["version", {}, "text", "4.0"])];
    let organisation = contact.organisation.clone().unwrap_or_default();
    match (&contact.name, public) {
        (Some(name), true) => card.push(json!(["fn", {}, "text", name])),
        (Some(_), false) => {
            card.push(json!(["fn", {}, "text", ""]));
            redactions.push(Redaction {
                name: format!("{title} Name"),
                path: format!("{at}[?(@[0]=='fn')][3]"),
                empty_value: true,
            });
        }
        (None, _) => card.push(json!(["fn", {}, "text", organisation])),
    }
    if contact.name.is_none() {
        card.push(json!(["kind", {}, "text", "org"]));
    } else {
        card.push(json!(["kind", {}, "text", "individual"]));
    }
    if !organisation.is_empty() {
        card.push(json!(["org", {}, "text", organisation]));
    }
    let personal = [
        ("email", "Email", contact.email.as_ref()),
        ("tel", "Phone", contact.phone.as_ref()),
        ("adr", "Address", contact.address.as_ref()),
    ];
    for (property, what, value) in personal {
        let Some(value) = value else { continue };
        if !public {
            redactions.push(Redaction {
                name: format!("{title} {what}"),
                path: format!("{at}[?(@[0]=='{property}')]"),
                empty_value: false,
            });
            continue;
        }
        card.push(match property {
            "tel" => json!(["tel", { "type": ["voice"] }, "text", value]),
            "adr" => json!(["adr", { "label": value }, "text", ["", "", "", "", "", "", ""]]),
            _ => json!([property, {}, "text", value]),
        });
    }
    json!({
        "objectClassName": "entity",
        "handle": contact.handle,
        "roles": [role],
        "vcardArray": ["vcard", card],
    })
}

/// The RDAP domain object of one TLD (RFC 9083 §5.3), as IANA serves TLDs.
pub fn domain_object(
    record: &TldRecord,
    dates: &TldDates,
    settings: &RdapSettings,
    base: &str,
    now: time::OffsetDateTime,
) -> Value {
    let label = record.label.as_str();
    let self_url = format!("{base}/rdap/domain/{label}");
    let mut object = serde_json::Map::new();
    object.insert("objectClassName".into(), json!("domain"));
    object.insert("handle".into(), json!(label));
    object.insert("ldhName".into(), json!(label));
    if record.unicode != label {
        object.insert("unicodeName".into(), json!(record.unicode));
    }
    object.insert(
        "status".into(),
        json!([match record.status {
            TldStatus::Active => "active",
            TldStatus::Undelegated | TldStatus::Retired => "inactive",
        }]),
    );

    let nameservers: Vec<Value> = record
        .delegation
        .nameservers
        .iter()
        .map(|(host, addresses)| {
            let name = host.as_str();
            let mut ns = serde_json::Map::new();
            ns.insert("objectClassName".into(), json!("nameserver"));
            ns.insert("ldhName".into(), json!(name));
            if name.split('.').any(|l| l.starts_with("xn--")) {
                let (unicode, result) = idna::domain_to_unicode(name);
                if result.is_ok() && unicode != name {
                    ns.insert("unicodeName".into(), json!(unicode));
                }
            }
            let v4: Vec<String> = addresses
                .iter()
                .filter(|a| a.is_ipv4())
                .map(|a| a.to_string())
                .collect();
            let v6: Vec<String> = addresses
                .iter()
                .filter(|a| a.is_ipv6())
                .map(|a| a.to_string())
                .collect();
            if !v4.is_empty() || !v6.is_empty() {
                let mut ips = serde_json::Map::new();
                if !v4.is_empty() {
                    ips.insert("v4".into(), json!(v4));
                }
                if !v6.is_empty() {
                    ips.insert("v6".into(), json!(v6));
                }
                ns.insert("ipAddresses".into(), Value::Object(ips));
            }
            Value::Object(ns)
        })
        .collect();
    if !nameservers.is_empty() {
        object.insert("nameservers".into(), json!(nameservers));
    }

    let ds: Vec<Value> = record
        .delegation
        .ds
        .iter()
        .map(|d| {
            json!({
                "keyTag": d.key_tag,
                "algorithm": d.algorithm,
                "digestType": d.digest_type,
                "digest": d.digest_hex(),
            })
        })
        .collect();
    let mut secure = serde_json::Map::new();
    secure.insert("delegationSigned".into(), json!(!ds.is_empty()));
    if !ds.is_empty() {
        secure.insert("dsData".into(), json!(ds));
    }
    object.insert("secureDNS".into(), Value::Object(secure));

    let mut redactions = Vec::new();
    let mut entities = Vec::new();
    if let Some(sponsor) = &record.sponsor {
        entities.push(json!({
            "objectClassName": "entity",
            "roles": ["registrant"],
            "vcardArray": ["vcard", [
                ["version", {}, "text", "4.0"],
                ["fn", {}, "text", sponsor],
                ["kind", {}, "text", "org"],
                ["org", {}, "text", sponsor],
            ]],
        }));
    }
    let public = settings.public_contacts;
    if let Some(admin) = &record.admin {
        entities.push(contact_entity(
            admin,
            "administrative",
            "Administrative Contact",
            public,
            &mut redactions,
        ));
    }
    if let Some(tech) = &record.tech {
        entities.push(contact_entity(
            tech,
            "technical",
            "Technical Contact",
            public,
            &mut redactions,
        ));
    }
    if !entities.is_empty() {
        object.insert("entities".into(), json!(entities));
    }

    let mut events = Vec::new();
    let registration = record
        .created
        .as_deref()
        .and_then(event_date)
        .or_else(|| dates.first_published.as_deref().and_then(event_date));
    if let Some(date) = registration {
        events.push(json!({ "eventAction": "registration", "eventDate": date }));
    }
    // The later of the record's own date and the desk's last change of the delegation.
    let changed = [
        record.updated.as_deref().and_then(event_date),
        dates.last_changed.as_deref().and_then(event_date),
    ]
    .into_iter()
    .flatten()
    .max_by_key(|d| {
        time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339).ok()
    });
    if let Some(date) = changed {
        events.push(json!({ "eventAction": "last changed", "eventDate": date }));
    }
    if let Ok(now) = now.format(&time::format_description::well_known::Rfc3339) {
        events.push(json!({ "eventAction": "last update of RDAP database", "eventDate": now }));
    }
    object.insert("events".into(), json!(events));
    object.insert("links".into(), json!([link(&self_url, "self", &self_url)]));
    object.insert("notices".into(), json!([terms_notice(base)]));

    let mut conformance = vec![json!("rdap_level_0")];
    if !redactions.is_empty() {
        conformance.push(json!("redacted"));
        object.insert(
            "redacted".into(),
            json!(redactions
                .iter()
                .map(Redaction::to_json)
                .collect::<Vec<_>>()),
        );
    }
    object.insert("rdapConformance".into(), json!(conformance));
    Value::Object(object)
}

/// `GET /rdap/domain/{tld}`.
pub async fn domain(
    State(desk): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let raw = match path {
        Ok(Path(raw)) => raw,
        Err(_) => {
            return RdapError::bad_request(
                "the domain name is not valid UTF-8 after percent-decoding",
            )
            .into_response()
        }
    };
    let label = match parse_domain(&raw) {
        Ok(DomainQuery::Tld(label)) => label,
        Ok(DomainQuery::NotTld(name)) => {
            return RdapError::not_found(format!(
            "{name} is not a top-level domain of the root zone; this service describes TLDs only"
        ))
            .into_response()
        }
        Err(e) => return e.into_response(),
    };
    let base = base_url(&desk.rdap, &headers);
    let found = {
        let desk = desk.clone();
        let label = label.clone();
        blocking(move || desk.rdap_domain(&label)).await
    };
    match found {
        Ok(Some((record, dates))) => {
            let now = desk.clock.now();
            let object = domain_object(&record, &dates, &desk.rdap, &base, now);
            rdap_response(StatusCode::OK, &object)
        }
        Ok(None) => RdapError::not_found(format!(
            "{} is not a top-level domain of the root zone",
            label.as_str()
        ))
        .into_response(),
        Err(e) => {
            // Logged by ApiError; the client gets an RDAP error object, not the API's shape.
            rdap_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({
                    "rdapConformance": ["rdap_level_0"],
                    "errorCode": 500,
                    "title": "Internal Server Error",
                    "description": [e.message],
                }),
            )
        }
    }
}

/// `GET /rdap/help` (RFC 9082 §3.1.6).
pub async fn help(State(desk): State<AppState>, headers: HeaderMap) -> Response {
    let base = base_url(&desk.rdap, &headers);
    let self_url = format!("{base}/rdap/help");
    let redaction = if desk.rdap.public_contacts {
        "Contacts are shown in full."
    } else {
        "Contacts' names, e-mail addresses, phone numbers and postal addresses are redacted \
         (RFC 9537); each answer lists what it left out in its `redacted` array."
    };
    let body = json!({
        "rdapConformance": ["rdap_level_0"],
        "notices": [
            {
                "title": "About this service",
                "description": [
                    "RDAP (RFC 9082, RFC 9083) for the top-level domains of the DNS root zone.",
                    "Look up a TLD by its A-label or U-label: /rdap/domain/{tld}, e.g. \
                     /rdap/domain/de, /rdap/domain/xn--p1ai or /rdap/domain/рф.",
                    redaction,
                ],
                "links": [link(&self_url, "self", &self_url)],
            },
            terms_notice(&base),
        ],
    });
    rdap_response(StatusCode::OK, &body)
}

/// `/rdap/domain/` without a name.
pub async fn empty_domain() -> Response {
    RdapError::bad_request("the domain name is empty: /rdap/domain/{tld}").into_response()
}

/// Any other `/rdap` path: an RDAP 404, never the API's error shape.
pub async fn unknown() -> Response {
    RdapError::not_found("this RDAP service answers /rdap/domain/{tld} and /rdap/help only")
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tld(text: &str) -> Option<String> {
        match parse_domain(text) {
            Ok(DomainQuery::Tld(l)) => Some(l.as_str().to_string()),
            _ => None,
        }
    }

    #[test]
    fn labels_in_any_form_name_the_tld() {
        assert_eq!(tld("de").as_deref(), Some("de"));
        assert_eq!(tld("DE.").as_deref(), Some("de"));
        assert_eq!(tld("XN--P1AI").as_deref(), Some("xn--p1ai"));
        assert_eq!(tld("рф").as_deref(), Some("xn--p1ai"));
        assert_eq!(tld("РФ").as_deref(), Some("xn--p1ai"));
    }

    #[test]
    fn malformed_labels_are_400() {
        for bad in [
            "",
            ".",
            "..",
            "de..",
            "a\u{0}b",
            "d e",
            "de\n",
            "xn--",
            "xn--zz-",
            "xn--a",
            "-de",
            "a_b",
            "\u{202e}de",
            "xn--p1ai-",
            "😀",
        ] {
            let e = parse_domain(bad).expect_err(bad);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad:?}");
        }
        assert_eq!(
            parse_domain(&"a".repeat(64)).map_err(|e| e.status),
            Err(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn names_that_are_not_tlds_are_404() {
        for name in ["example.de", "abc1", "www.xn--p1ai"] {
            assert!(
                matches!(parse_domain(name), Ok(DomainQuery::NotTld(_))),
                "{name}"
            );
        }
    }
}
