//! Bounded property runs on API bodies (issue 10, "Fuzzing"): JSON built from the API's own
//! field names and hostile values, and raw bytes, posted to the real daemon by a real HTTP
//! client. Every answer is a 2xx or a 4xx with a JSON error saying what was wrong, never a
//! 5xx; a refused body leaves the database as it was.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::TestDesk;

/// One daemon for every case: cases are many and each is one HTTP exchange.
struct Shared {
    runtime: tokio::runtime::Runtime,
    desk: TestDesk,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let desk = runtime.block_on(TestDesk::start());
        Shared { runtime, desk }
    })
}

const KEYS: &[&str] = &[
    "tld",
    "proposal",
    "kind",
    "delegation",
    "nameservers",
    "name",
    "addresses",
    "ds",
    "key_tag",
    "algorithm",
    "digest_type",
    "digest",
    "priority",
    "emergency_reason",
    "admin",
    "tech",
    "handle",
    "email",
    "organisation",
    "sponsor",
    "evidence",
    "sha256",
    "reason",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "xa",
            "XA",
            "ｘａ",
            "xn--",
            "xn--zz",
            "delegation",
            "contacts",
            "sponsor",
            "transfer",
            "emergency",
            "normal",
            "ns1.nic.xa",
            "127.0.0.21",
            "::1",
            "0.0.0.0",
            "ns1.nic.xa.",
            "",
            "a..b",
            "\u{202e}evil",
        ])
        .prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                let mut map = Map::new();
                for (k, v) in pairs {
                    map.insert(k.to_string(), v);
                }
                Value::Object(map)
            }),
        ]
    })
}

/// Events other than refusals (which are audited on purpose) and the requests on file.
fn footprint(t: &TestDesk) -> (usize, usize) {
    t.desk
        .read_store(|s| {
            let events = s
                .events(&rootdesk::audit::EventQuery::default())?
                .into_iter()
                .filter(|e| e.kind != "access-refused")
                .count();
            let requests = s.requests(&Default::default())?.len();
            Ok((events, requests))
        })
        .expect("footprint")
}

/// Posts `body` to `path` as the xa admin contact; checks the answer's shape, and that a
/// refusal wrote nothing.
fn post(path: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
    let s = shared();
    let t = &s.desk;
    let before = footprint(t);
    let (status, text) = s.runtime.block_on(async {
        let response = t
            .http
            .post(format!("{}{path}", t.base))
            .bearer_auth(&t.tokens.admin)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("an answer");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    });
    prop_assert!(!status.is_server_error(), "{status}: {text}");
    if status.is_client_error() {
        let error: Value = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{status}: not JSON ({e}): {text}")))?;
        prop_assert!(
            error["error"].as_str().is_some_and(|m| !m.is_empty())
                && error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{status}: no error label and message: {text}"
        );
        prop_assert_eq!(
            footprint(t),
            before,
            "a refused body changed the database: {}",
            text
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn json_submissions_get_a_clear_answer(body in json()) {
        post("/v1/requests", serde_json::to_vec(&body).expect("JSON"))?;
    }

    #[test]
    fn submissions_shaped_like_the_api_get_a_clear_answer(proposal in json(), tld in leaf()) {
        let body = serde_json::json!({ "tld": tld, "proposal": proposal });
        post("/v1/requests", serde_json::to_vec(&body).expect("JSON"))?;
    }

    #[test]
    fn raw_bytes_get_a_clear_answer(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        post("/v1/requests", bytes)?;
    }

    #[test]
    fn dry_run_checks_get_a_clear_answer(body in json()) {
        post("/v1/check", serde_json::to_vec(&body).expect("JSON"))?;
    }
}
