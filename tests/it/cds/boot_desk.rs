//! RFC 9615 bootstrapping end to end through the desk: an unsigned TLD (no DS in the root
//! zone the desk imports) whose out-of-bailiwick name servers vouch for its CDS/CDNSKEY in
//! their own signed zones; the real desk on a SQLite file, configured with `[cds]
//! trust_anchor` (a file of the lab root's DS) and `resolvers` (the lab resolver), opens a
//! DS request from its scheduled sweep that goes through hold, checks, review and
//! implementation to a published DS set. The lab's zones are boot.rs's, the desk desk.rs's.

use rootdesk::config::CdsSettings;
use rootdesk::registry::DsRecord;
use rootdesk::store;
use rootdesk::workflow::{CdsMode, Party, State};

use super::boot::{anchor, lab_for, resolver};
use super::desk::{desk_lab, Lab};
use crate::check::server::{ip, origin};

const NS1: &str = "127.0.0.81";
const NS2: &str = "127.0.0.82";
const RESOLVER: &str = "127.0.0.83";

/// The desk with xa unsigned in its root zone, delegated to ns1.example. and ns2.example.
/// (glue at NS1 and NS2, where both serve xa's signed zone with CDS/CDNSKEY for its KSK),
/// DS automation notify-only; bootstrapping configured as the daemon reads it from `[cds]`
/// when `bootstrapping`, else left off.
async fn unsigned_xa(bootstrapping: bool) -> Lab {
    let boot = lab_for("xa.", [ip(NS1), ip(NS2)]);
    let dir = tempfile::tempdir().expect("tempdir");
    let lab_resolver = resolver(&boot, ip(RESOLVER)).await;
    let mut cds = CdsSettings::default();
    if bootstrapping {
        let path = dir.path().join("root.anchor");
        std::fs::write(&path, format!("; the lab root's KSK\n{}", anchor(&boot)))
            .expect("write anchor");
        cds.trust_anchor = path.display().to_string();
        cds.resolvers = vec![lab_resolver.addr.to_string()];
    }
    let xa = format!(
        "xa. 172800 IN NS ns1.example.\n\
         xa. 172800 IN NS ns2.example.\n\
         ns1.example. 172800 IN A {NS1}\n\
         ns2.example. 172800 IN A {NS2}\n"
    );
    let servers = vec![(ip(NS1), boot.tld.clone()), (ip(NS2), boot.tld.clone())];
    let mut lab = desk_lab(dir, boot.keys, &xa, CdsMode::NotifyOnly, servers, cds).await;
    lab.servers.push(lab_resolver);
    lab
}

fn ksk_ds(lab: &Lab) -> DsRecord {
    lab.keys.old.ds(&origin("xa."), 2)
}

#[tokio::test]
async fn an_unsigned_tld_vouched_for_by_its_name_servers_gets_its_first_ds_set() {
    let lab = unsigned_xa(true).await;
    assert!(lab.published_ds().is_empty(), "xa starts unsigned");
    lab.sweep().await;
    let requests = lab.requests();
    assert_eq!(requests.len(), 1, "one request opened: {requests:?}");
    let r = requests[0].clone();
    assert_eq!(r.submitter, Party::CdsScanner);
    assert_eq!(r.cds, Some(CdsMode::NotifyOnly));
    let delegation = r
        .proposal()
        .delegation()
        .expect("a DS-only delegation request");
    assert_eq!(
        delegation.ds.iter().cloned().collect::<Vec<_>>(),
        vec![ksk_ds(&lab)]
    );
    assert_eq!(delegation.nameservers.len(), 2, "the NS set is kept");
    assert_eq!(lab.count_events(store::CDS_PROBLEM_EVENT), 0);
    // The technical check (now with the DS: the chain must validate) passes; the hold starts.
    lab.run_checks().await;
    assert_eq!(lab.request(&r.ticket).state, State::ContactConfirmation);
    lab.desk.clock.advance(time::Duration::days(3));
    let released = lab.desk.sweep().expect("reminders");
    assert!(released.iter().any(|(t, _)| *t == r.ticket), "{released:?}");
    assert_eq!(lab.request(&r.ticket).state, State::ManualReview);
    lab.approve_and_implement(&r.ticket, "RFC 9615 bootstrap")
        .await;
    assert_eq!(lab.published_ds(), vec![ksk_ds(&lab)]);
    // Signed now, the same CDS asks for nothing more.
    lab.sweep().await;
    assert_eq!(lab.requests().len(), 1);
    assert_eq!(lab.count_events(store::CDS_PROBLEM_EVENT), 0);
}

#[tokio::test]
async fn without_bootstrapping_configured_the_desk_only_reports_an_unsigned_tld() {
    let lab = unsigned_xa(false).await;
    lab.sweep().await;
    assert!(lab.requests().is_empty(), "{:?}", lab.requests());
    assert_eq!(lab.count_events(store::CDS_PROBLEM_EVENT), 1);
    let reports: Vec<_> = lab
        .outbox()
        .into_iter()
        .filter(|n| n.kind == "cds-problem")
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].recipient, "tech@nic.xa.example");
    assert!(
        reports[0].body.contains("cds-unsigned"),
        "{}",
        reports[0].body
    );
    assert!(lab.published_ds().is_empty());
}

#[test]
fn the_daemon_refuses_to_start_with_a_trust_anchor_it_cannot_read() {
    let desk = crate::common::Desk::new();
    desk.ok(&["init"]);
    let config = desk.path("rootdesk.toml");
    let missing = desk.path("no-such.anchor");
    std::fs::write(
        &config,
        format!(
            "[cds]\ntrust_anchor = {:?}\nresolvers = [\"{RESOLVER}:53\"]\n",
            missing.display().to_string()
        ),
    )
    .expect("config");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .arg("--config")
        .arg(&config)
        .arg("--db")
        .arg(desk.db())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ROOTDESK_LOG", "warn")
        .env_remove("ROOTDESK_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start serve");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            // Stop the daemon we started, by its id.
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve started despite an unreadable [cds] trust_anchor");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("serve exits");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the trust anchor file") && err.contains("no-such.anchor"),
        "{err}"
    );
}
