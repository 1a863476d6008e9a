//! The CDS scanner against real in-process name servers: what a TLD's CDS/CDNSKEY records
//! come to.

use hickory_proto::rr::RecordType;
use rootdesk::check::cds::{now32, scan, CdsOutcome, CdsProblem, CdsScan, CdsTarget};
use rootdesk::check::Prober;
use rootdesk::registry::DsRecord;

use super::{add_cdnskey, add_cds, add_delete, before, rolling, sign, Keys};
use crate::check::server::{ip, origin, Faults, Scripted};
use crate::check::zone::{TestKey, Zone};

const NS: [(&str, &str); 2] = [("ns1.test.", "127.0.0.1"), ("ns2.test.", "127.0.0.2")];

fn ns() -> Vec<(&'static str, std::net::IpAddr)> {
    NS.iter().map(|(n, a)| (*n, ip(a))).collect()
}

/// Serves `zones[i]` at the i-th name server and scans them with `published` as the DS set.
async fn scan_of(zones: Vec<Zone>, published: Vec<DsRecord>) -> (CdsScan, Vec<Scripted>) {
    let mut servers = Vec::new();
    let mut targets = Vec::new();
    for ((name, address), zone) in NS.iter().zip(zones) {
        let s = Scripted::start(ip(address), zone, Faults::default()).await;
        targets.push(CdsTarget {
            ns: origin(name),
            address: s.addr,
        });
        servers.push(s);
    }
    let profile = crate::check::profile();
    let prober = Prober::new(
        16,
        profile.query.timeout(),
        profile.query.retries,
        profile.query.budget(),
    )
    .allowing(profile.query.allowed_blocks().expect("blocks"));
    let result = scan(
        &origin("test."),
        &targets,
        &published,
        None,
        &prober,
        now32(),
    )
    .await;
    // Every question went over TCP.
    assert!(prober
        .take_log()
        .iter()
        .all(|q| q.transport == rootdesk::check::Transport::Tcp));
    (result, servers)
}

fn old_ds(keys: &Keys) -> Vec<DsRecord> {
    vec![keys.old.ds(&origin("test."), 2)]
}

#[track_caller]
fn assert_problem(scan: &CdsScan, want: CdsProblem) -> String {
    match &scan.outcome {
        CdsOutcome::Problem { problem, message } if *problem == want => message.clone(),
        other => panic!("expected {want}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_ksk_rollover_published_on_every_server_asks_for_the_new_ds() {
    let keys = Keys::new();
    let z = rolling("test.", &ns(), &keys, &keys.old);
    let (result, _s) = scan_of(vec![z.clone(), z], old_ds(&keys)).await;
    assert_eq!(
        result.outcome,
        CdsOutcome::Change {
            ds: vec![keys.new.ds(&origin("test."), 2)]
        },
        "{}",
        result.summary()
    );
    assert_eq!(result.servers, 2);
}

#[tokio::test]
async fn one_server_lagging_is_inconsistent() {
    let keys = Keys::new();
    let new = rolling("test.", &ns(), &keys, &keys.old);
    let old = before("test.", &ns(), &keys);
    let (result, _s) = scan_of(vec![new, old], old_ds(&keys)).await;
    let message = assert_problem(&result, CdsProblem::Inconsistent);
    assert!(message.contains("ns2.test."), "{message}");
}

#[tokio::test]
async fn a_server_that_does_not_answer_makes_it_inconsistent() {
    let keys = Keys::new();
    let z = rolling("test.", &ns(), &keys, &keys.old);
    let good = Scripted::start(ip("127.0.0.1"), z.clone(), Faults::default()).await;
    let dead = Scripted::start(
        ip("127.0.0.2"),
        z,
        Faults {
            no_tcp: true,
            ..Faults::default()
        },
    )
    .await;
    let targets = vec![
        CdsTarget {
            ns: origin("ns1.test."),
            address: good.addr,
        },
        CdsTarget {
            ns: origin("ns2.test."),
            address: dead.addr,
        },
    ];
    let profile = crate::check::profile();
    let prober = Prober::new(16, profile.query.timeout(), 0, profile.query.budget())
        .allowing(profile.query.allowed_blocks().expect("blocks"));
    let result = scan(
        &origin("test."),
        &targets,
        &old_ds(&keys),
        None,
        &prober,
        now32(),
    )
    .await;
    let message = assert_problem(&result, CdsProblem::Inconsistent);
    assert!(message.contains("TCP"), "{message}");
}

#[tokio::test]
async fn cds_signed_by_a_key_without_ds_is_not_trusted() {
    let keys = Keys::new();
    // Signed by the new KSK only: no published DS points to it.
    let z = rolling("test.", &ns(), &keys, &keys.new);
    let (result, _s) = scan_of(vec![z.clone(), z], old_ds(&keys)).await;
    let message = assert_problem(&result, CdsProblem::NotTrusted);
    assert!(message.contains("CDS"), "{message}");
}

#[tokio::test]
async fn cds_and_cdnskey_disagreeing_is_not_acted_on() {
    let keys = Keys::new();
    let other = TestKey::ecdsa(true);
    let mut z = before("test.", &ns(), &keys);
    add_cds(&mut z, &keys.old);
    add_cdnskey(&mut z, &other);
    sign(&mut z, RecordType::CDS, &keys.old);
    sign(&mut z, RecordType::CDNSKEY, &keys.old);
    let (result, _s) = scan_of(vec![z.clone(), z], old_ds(&keys)).await;
    assert_problem(&result, CdsProblem::Disagree);
}

#[tokio::test]
async fn the_delete_signal_asks_to_remove_the_ds_set() {
    let keys = Keys::new();
    let mut z = before("test.", &ns(), &keys);
    add_delete(&mut z);
    sign(&mut z, RecordType::CDS, &keys.old);
    sign(&mut z, RecordType::CDNSKEY, &keys.old);
    let (result, _s) = scan_of(vec![z.clone(), z], old_ds(&keys)).await;
    assert_eq!(result.outcome, CdsOutcome::Delete, "{}", result.summary());
}

#[tokio::test]
async fn a_ds_set_that_would_not_validate_the_dnskey_rrset_is_refused() {
    let keys = Keys::new();
    // CDS for a key that is in no DNSKEY RRset: the new DS set would break the chain.
    let stranger = TestKey::ecdsa(true);
    let mut z = before("test.", &ns(), &keys);
    add_cds(&mut z, &stranger);
    sign(&mut z, RecordType::CDS, &keys.old);
    let (result, _s) = scan_of(vec![z.clone(), z], old_ds(&keys)).await;
    assert_problem(&result, CdsProblem::WouldBreak);
}

#[tokio::test]
async fn steady_state_and_no_cds_change_nothing() {
    let keys = Keys::new();
    let mut z = before("test.", &ns(), &keys);
    add_cds(&mut z, &keys.old);
    add_cdnskey(&mut z, &keys.old);
    sign(&mut z, RecordType::CDS, &keys.old);
    sign(&mut z, RecordType::CDNSKEY, &keys.old);
    let (result, _s) = scan_of(vec![z.clone(), z], old_ds(&keys)).await;
    assert_eq!(
        result.outcome,
        CdsOutcome::Unchanged,
        "{}",
        result.summary()
    );
    let plain = before("test.", &ns(), &keys);
    let (result, _s) = scan_of(vec![plain.clone(), plain], old_ds(&keys)).await;
    assert_eq!(result.outcome, CdsOutcome::None);
}

#[tokio::test]
async fn cdnskey_alone_yields_sha256_ds() {
    let keys = Keys::new();
    let mut z = rolling("test.", &ns(), &keys, &keys.old);
    z.remove(&origin("test."), RecordType::CDS);
    z.records.retain(|r| {
        !matches!(&r.data, hickory_proto::rr::RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(s)) if s.input().type_covered == RecordType::CDS)
    });
    let (result, _s) = scan_of(vec![z.clone(), z], old_ds(&keys)).await;
    assert_eq!(
        result.outcome,
        CdsOutcome::Change {
            ds: vec![keys.new.ds(&origin("test."), 2)]
        }
    );
}

#[tokio::test]
async fn an_unsigned_tld_cannot_bootstrap_without_rfc_9615() {
    let keys = Keys::new();
    let z = rolling("test.", &ns(), &keys, &keys.old);
    let (result, _s) = scan_of(vec![z.clone(), z], Vec::new()).await;
    assert_problem(&result, CdsProblem::Unsigned);
}
