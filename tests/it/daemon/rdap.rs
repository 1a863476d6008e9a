//! RDAP over the real daemon, read with ICANN's RDAP client (`icann-rdap-client`) and judged
//! by its conformance checks (`icann-rdap-common`): the demo registry with redacted and with
//! public contacts, every TLD of the real root zone, and the error objects of bad paths.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use icann_rdap_client::prelude::{create_client, rdap_url_request, ClientConfig};
use icann_rdap_common::check::process::{do_check_processing, get_summaries};
use icann_rdap_common::check::{CheckClass, ALL_CHECK_CLASSES, ERROR_CHECK_CLASSES};
use icann_rdap_common::response::RdapResponse;
use reqwest::StatusCode;
use rootdesk::api::Server;
use rootdesk::audit::Actor;
use rootdesk::config::RdapSettings;
use rootdesk::desk::Desk;
use rootdesk::store::Store;
use serde_json::Value;

use super::{demo_database, http, options, settings};
use crate::common::shared_data;

/// The daemon over `store` with these RDAP settings.
async fn serve(store: Store, rdap: RdapSettings) -> (Server, String) {
    let desk = Arc::new(Desk::new(store, settings(BTreeMap::new())).with_rdap(rdap));
    let server = Server::start(desk, options()).await.expect("start daemon");
    let base = format!("http://{}", server.addr);
    (server, base)
}

fn rdap_client() -> icann_rdap_client::http::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = ClientConfig::builder().https_only(false).build();
    create_client(&config).expect("RDAP client")
}

/// Fetches `url` with ICANN's client and returns the answer's conformance findings of the
/// given classes ("structure: check" lines), with the answer.
async fn fetch_checked(
    client: &icann_rdap_client::http::Client,
    url: &str,
    classes: &[CheckClass],
) -> (Vec<String>, RdapResponse) {
    let response = rdap_url_request(url, client)
        .await
        .unwrap_or_else(|e| panic!("{url}: the RDAP client failed: {e}"));
    let checks = do_check_processing(&response.rdap, Some(&response.http_data), None, false);
    let findings = get_summaries(&checks, Some(classes))
        .iter()
        .map(|s| {
            let (structure, item) = s.summarize();
            format!("{structure}: {item}")
        })
        .collect();
    (findings, response.rdap)
}

/// GET with a plain client: status, content type and body.
async fn get(url: &str) -> (StatusCode, String, Value) {
    let response = http().get(url).send().await.expect("HTTP");
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, value)
}

const PERSONAL: [&str; 6] = [
    "Ana Alves",
    "admin@nic.xa.example",
    "+999 100 0001",
    "Tomas Tavares",
    "tech@nic.xa.example",
    "+999 100 0002",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdap_domain_with_redacted_contacts_passes_the_icann_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, base) = serve(demo_database(dir.path()), RdapSettings::default()).await;
    let client = rdap_client();

    let url = format!("{base}/rdap/domain/xa");
    let all_warnings: Vec<CheckClass> = vec![
        CheckClass::Std95Warning,
        CheckClass::Std95Error,
        CheckClass::Cidr0Error,
        CheckClass::GtldProfileError,
    ];
    let (findings, rdap) = fetch_checked(&client, &url, &all_warnings).await;
    assert!(findings.is_empty(), "{url}: {findings:#?}");
    assert!(matches!(rdap, RdapResponse::Domain(_)), "{rdap:?}");

    let (status, content_type, xa) = get(&url).await;
    assert_eq!(status, StatusCode::OK);
    // The checks are not silent by nature: the same object broken in two ways (a status RDAP
    // does not define, a DS without its digest) draws findings.
    let mut broken = xa.clone();
    broken["status"] = serde_json::json!(["fine"]);
    broken["secureDNS"]["dsData"][0]
        .as_object_mut()
        .expect("dsData")
        .remove("digest");
    let broken = RdapResponse::try_from(broken).expect("still RDAP");
    let checks = do_check_processing(&broken, None, None, false);
    let found = get_summaries(&checks, Some(ALL_CHECK_CLASSES));
    eprintln!("findings on a broken object: {found:#?}");
    assert!(
        !get_summaries(&checks, Some(&all_warnings)).is_empty(),
        "{found:#?}"
    );
    assert_eq!(content_type, "application/rdap+json");
    assert_eq!(xa["objectClassName"], "domain");
    assert_eq!(xa["ldhName"], "xa");
    assert_eq!(xa["status"][0], "active");
    assert!(xa.get("unicodeName").is_none(), "{xa}");
    let ns = xa["nameservers"].as_array().expect("nameservers");
    assert!(
        ns.iter().any(|n| n["ldhName"] == "ns1.nic.xa"
            && n["objectClassName"] == "nameserver"
            && n["ipAddresses"]["v4"]
                .as_array()
                .is_some_and(|a| !a.is_empty())),
        "{xa}"
    );
    assert_eq!(xa["secureDNS"]["delegationSigned"], true, "{xa}");
    let ds = &xa["secureDNS"]["dsData"][0];
    assert!(ds["keyTag"].is_u64() && ds["algorithm"].is_u64() && ds["digestType"].is_u64());
    assert!(ds["digest"].as_str().is_some_and(|d| d.len() >= 40), "{ds}");
    let roles: Vec<&str> = xa["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .filter_map(|e| e["roles"][0].as_str())
        .collect();
    assert_eq!(roles, ["registrant", "administrative", "technical"]);
    let actions: Vec<&str> = xa["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["eventAction"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "registration",
            "last changed",
            "last update of RDAP database"
        ]
    );
    assert_eq!(xa["events"][0]["eventDate"], "1993-04-01T00:00:00Z");
    assert_eq!(xa["links"][0]["rel"], "self");
    assert_eq!(xa["links"][0]["href"], url.as_str());
    assert!(xa["notices"][0]["title"].is_string());
    // Personal fields are gone, each removal listed; the organisations stay.
    assert_eq!(
        xa["rdapConformance"],
        serde_json::json!(["rdap_level_0", "redacted"])
    );
    let text = xa.to_string();
    for personal in PERSONAL {
        assert!(!text.contains(personal), "{personal} is in {text}");
    }
    assert!(
        text.contains("Aldoria Network Information Centre"),
        "{text}"
    );
    let redacted: Vec<&str> = xa["redacted"]
        .as_array()
        .expect("redacted")
        .iter()
        .filter_map(|r| r["name"]["description"].as_str())
        .collect();
    for field in [
        "Administrative Contact Name",
        "Administrative Contact Email",
        "Administrative Contact Phone",
        "Technical Contact Name",
        "Technical Contact Email",
    ] {
        assert!(redacted.contains(&field), "{field} not in {redacted:?}");
    }

    // Any case, a trailing dot: the same object.
    for alias in ["XA", "xa.", "Xa."] {
        let (status, _, other) = get(&format!("{base}/rdap/domain/{alias}")).await;
        assert_eq!(status, StatusCode::OK, "{alias}");
        assert_eq!(other["ldhName"], "xa", "{alias}");
    }

    // Help, and error objects that ICANN's client reads as such.
    let (findings, help) =
        fetch_checked(&client, &format!("{base}/rdap/help"), &all_warnings).await;
    assert!(findings.is_empty(), "help: {findings:#?}");
    assert!(matches!(help, RdapResponse::Help(_)), "{help:?}");
    let (findings, missing) = fetch_checked(
        &client,
        &format!("{base}/rdap/domain/zz"),
        ERROR_CHECK_CLASSES,
    )
    .await;
    assert!(findings.is_empty(), "404: {findings:#?}");
    assert!(
        matches!(missing, RdapResponse::ErrorResponse(_)),
        "{missing:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdap_bad_paths_are_error_objects_never_500() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, base) = serve(demo_database(dir.path()), RdapSettings::default()).await;
    let cases = [
        // (path after /rdap/, status)
        ("domain/zz", 404),
        ("domain/example.xa", 404),
        ("domain/abc1", 404),
        ("domain/xn--p1ai", 404),
        ("domain/", 400),
        ("domain", 400),
        ("domain/.", 400),
        ("domain/xa..", 400),
        ("domain/xn--", 400),
        ("domain/xn--zz-", 400),
        ("domain/xn--a", 400),
        ("domain/a%00b", 400),
        ("domain/x%0Aa", 400),
        ("domain/x%20a", 400),
        ("domain/%FF%FE", 400),
        ("domain/%E2%80%AExa", 400),
        ("domain/%F0%9F%98%80", 400),
        ("domain/-xa", 400),
        ("domain/a_b", 400),
        ("nameserver/ns1.nic.xa", 404),
        ("entity/xa-admin", 404),
        ("autnum/1", 404),
    ];
    let long = format!("domain/{}", "a".repeat(64));
    for (path, expected) in cases.iter().copied().chain([(long.as_str(), 400)]) {
        let url = format!("{base}/rdap/{path}");
        let (status, content_type, body) = get(&url).await;
        assert_eq!(status.as_u16(), expected, "{path}: {body}");
        assert_eq!(content_type, "application/rdap+json", "{path}");
        assert_eq!(body["errorCode"], expected, "{path}: {body}");
        assert!(body["title"].is_string(), "{path}: {body}");
        assert!(
            body["description"][0]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{path}: {body}"
        );
        let parsed = RdapResponse::try_from(body.clone()).expect("an RDAP response");
        assert!(
            matches!(parsed, RdapResponse::ErrorResponse(_)),
            "{path}: {parsed:?}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdap_public_contacts_when_configured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rdap = RdapSettings {
        public_contacts: true,
        base_url: "https://rdap.desk.example/".into(),
    };
    let (server, base) = serve(demo_database(dir.path()), rdap).await;
    let client = rdap_client();
    let url = format!("{base}/rdap/domain/xa");
    let warnings = [
        CheckClass::Std95Warning,
        CheckClass::Std95Error,
        CheckClass::Cidr0Error,
        CheckClass::GtldProfileError,
    ];
    let (findings, _) = fetch_checked(&client, &url, &warnings).await;
    assert!(findings.is_empty(), "{findings:#?}");
    let (_, _, xa) = get(&url).await;
    let text = xa.to_string();
    for personal in PERSONAL {
        assert!(text.contains(personal), "{personal} is not in {text}");
    }
    assert!(xa.get("redacted").is_none(), "{xa}");
    assert_eq!(xa["rdapConformance"], serde_json::json!(["rdap_level_0"]));
    assert_eq!(
        xa["links"][0]["href"],
        "https://rdap.desk.example/rdap/domain/xa"
    );
    server.shutdown().await;
}

/// Every TLD of the real root zone (with IANA's Root Zone Database records) answers, and
/// ICANN's conformance checks find no error in any answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdap_answers_every_tld_of_the_real_root_zone() {
    let (Some(root), Some(tlds)) = (shared_data("root.zone"), shared_data("tlds.jsonl")) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::create(&dir.path().join("rootdesk.db")).expect("create");
    let now = time::OffsetDateTime::now_utc();
    let zone = rootdesk::zonefile::read_root_zone(&root).expect("real root zone");
    let labels: Vec<String> = zone.tlds.keys().map(|l| l.as_str().to_string()).collect();
    assert_eq!(labels.len(), 1438);
    store
        .import_zone(&zone, "test", &Actor::system("test"), now)
        .expect("import zone");
    let text = std::fs::read_to_string(&tlds).expect("read tlds");
    let records = rootdesk::registry::parse_tld_lines(&text).expect("parse tlds");
    store
        .import_tlds(&records, &Actor::system("test"), now)
        .expect("import tlds");
    let (server, base) = serve(store, RdapSettings::default()).await;
    let client = Arc::new(rdap_client());

    let results: Vec<(String, Vec<String>, usize, Option<String>)> =
        futures_util::stream::iter(labels.clone())
            .map(|label| {
                let (client, base) = (client.clone(), base.clone());
                async move {
                    let url = format!("{base}/rdap/domain/{label}");
                    let (findings, rdap) = fetch_checked(&client, &url, ERROR_CHECK_CLASSES).await;
                    let (ns, unicode) = match &rdap {
                        RdapResponse::Domain(d) => {
                            (d.nameservers().len(), d.unicode_name().map(String::from))
                        }
                        other => panic!("{label}: not a domain object: {other:?}"),
                    };
                    (label, findings, ns, unicode)
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
    let failing: Vec<_> = results
        .iter()
        .filter(|(_, findings, _, _)| !findings.is_empty())
        .collect();
    assert!(
        failing.is_empty(),
        "{} of {} TLDs have conformance errors, e.g. {:#?}",
        failing.len(),
        results.len(),
        failing.iter().take(3).collect::<Vec<_>>()
    );
    assert_eq!(results.len(), 1438);
    let by_label: BTreeMap<&str, (usize, Option<&String>)> = results
        .iter()
        .map(|(l, _, ns, u)| (l.as_str(), (*ns, u.as_ref())))
        .collect();
    assert!(by_label["com"].0 == 13, "{:?}", by_label["com"]);
    assert_eq!(by_label["xn--p1ai"].1.map(String::as_str), Some("рф"));
    let idns = results
        .iter()
        .filter(|(l, ..)| l.starts_with("xn--"))
        .count();
    let with_unicode = results.iter().filter(|(_, _, _, u)| u.is_some()).count();
    assert_eq!(idns, with_unicode, "every IDN has its unicodeName");

    // The U-label finds the same object.
    let (status, _, rf) = get(&format!("{base}/rdap/domain/рф")).await;
    assert_eq!(status, StatusCode::OK, "{rf}");
    assert_eq!(rf["ldhName"], "xn--p1ai");
    assert_eq!(rf["unicodeName"], "рф");
    server.shutdown().await;
}
