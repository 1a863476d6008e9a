//! The command line: `rootdesk tld cds`, the setting in `tld show`, and `rootdesk sweep`
//! reporting CDS findings without acting on them.

use super::{rolling, Keys};
use crate::check::server::{ip, origin, Faults, Scripted};
use crate::common::Desk;

#[tokio::test]
async fn the_setting_is_set_and_shown_and_the_sweep_reports_cds() {
    let keys = Keys::new();
    let (i1, i2) = (ip("127.83.40.1"), ip("127.83.40.2"));
    let z = rolling(
        "xa.",
        &[("ns1.nic.xa.", i1), ("ns2.nic.xa.", i2)],
        &keys,
        &keys.old,
    );
    let s1 = Scripted::start_on(i1, 53, z.clone(), Faults::default()).await;
    let s2 = Scripted::start_on(i2, 53, z, Faults::default()).await;
    if s1.is_none() || s2.is_none() {
        crate::common::skip("the CDS sweep command test needs port 53 on 127.83.40.1/2");
        return;
    }
    let ds = keys.old.ds(&origin("xa."), 2);
    let new = keys.new.ds(&origin("xa."), 2);
    let desk = Desk::new();
    let root = desk.path("root.zone");
    std::fs::write(
        &root,
        format!(
            "$ORIGIN .\n$TTL 86400\n\
             @ 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2026120100 1800 900 604800 86400\n\
             @ 518400 IN NS a.root-servers.net.\n\
             a.root-servers.net. 518400 IN A 198.41.0.4\n\
             xa. 172800 IN NS ns1.nic.xa.\nxa. 172800 IN NS ns2.nic.xa.\n\
             xa. 86400 IN DS {} {} {} {}\n\
             ns1.nic.xa. 172800 IN A 127.83.40.1\nns2.nic.xa. 172800 IN A 127.83.40.2\n",
            ds.key_tag,
            ds.algorithm,
            ds.digest_type,
            ds.digest_hex()
        ),
    )
    .expect("root zone");
    let tlds = desk.path("tlds.jsonl");
    std::fs::write(
        &tlds,
        r#"{"tld": "xa", "type": "cctld", "tag": "country-code", "delegated": true, "sponsor": "Aldoria NIC", "tech": {"handle": "xa-tech", "name": "T", "email": "tech@nic.xa.example"}}"#,
    )
    .expect("tlds");
    let profile = format!("{}/fixtures/profiles/lab.toml", env!("CARGO_MANIFEST_DIR"));
    let (root, tlds) = (
        root.to_string_lossy().to_string(),
        tlds.to_string_lossy().to_string(),
    );
    let desk = tokio::task::spawn_blocking(move || {
        desk.ok(&["init"]);
        desk.ok(&["import-zone", &root]);
        desk.ok(&["import-tlds", &tlds]);
        assert!(desk
            .ok(&["tld", "show", "xa"])
            .lines()
            .any(|l| l == "CDS          off"));
        let err = desk.fails(&["tld", "cds", "xa", "on"]);
        assert!(err.contains("with-consent"), "{err}");
        let err = desk.fails(&["tld", "cds", "zz", "notify-only"]);
        assert!(err.contains("zz"), "{err}");
        let out = desk.ok(&["tld", "cds", "xa", "notify-only"]);
        assert_eq!(out, "xa: DS automation off -> notify-only\n");
        let json: serde_json::Value =
            serde_json::from_str(&desk.ok(&["tld", "show", "xa", "--format", "json"]))
                .expect("json");
        assert_eq!(json["cds"], "notify-only");
        let table = desk.ok(&["sweep", "--profile", &profile, "--no-store"]);
        let json: serde_json::Value = serde_json::from_str(&desk.ok(&[
            "sweep",
            "--profile",
            &profile,
            "--no-store",
            "--format",
            "json",
        ]))
        .expect("json");
        (desk, table, json)
    })
    .await
    .expect("join");
    let (desk, table, json) = desk;
    assert!(
        table.contains(&format!(
            "cds xa: CDS/CDNSKEY ask for the DS set {} 13 2",
            new.key_tag
        )),
        "{table}"
    );
    assert_eq!(json["cds"][0]["outcome"], "change", "{json}");
    assert_eq!(json["cds"][0]["ds"][0]["key_tag"], new.key_tag);
    // The command line reports; it never opens a request.
    let store = rootdesk::store::Store::open(&desk.db()).expect("open");
    let submitted: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM events WHERE kind = 'request-submitted'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(submitted, 0);
    let set: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM events WHERE kind = 'tld-cds-set' AND actor_kind = 'cli'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(set, 1);
}

/// The API's TLD record carries the setting; a person's request stays a person's (no `cds`).
#[tokio::test]
async fn the_api_shows_the_setting() {
    let t = crate::daemon::TestDesk::start().await;
    let (status, xa) = t.get(&t.tokens.admin, "/v1/tlds/xa").await;
    assert!(status.is_success(), "{status} {xa}");
    assert_eq!(xa["cds"], "off", "{xa}");
    let now = time::OffsetDateTime::now_utc();
    t.desk
        .with_store(|s| {
            s.write(|tx| {
                rootdesk::store::set_tld_cds_tx(
                    tx,
                    "xa",
                    rootdesk::workflow::CdsMode::WithConsent,
                    &rootdesk::audit::Actor::system("test"),
                    now,
                )
            })?;
            Ok(())
        })
        .expect("set");
    let (_, xa) = t.get(&t.tokens.admin, "/v1/tlds/xa").await;
    assert_eq!(xa["cds"], "with-consent", "{xa}");
    t.stop().await;
}
