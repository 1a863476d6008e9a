//! DNSSEC checks against zones signed in the test.

use hickory_proto::rr::RecordType;
use rootdesk::check::{run_check, CheckId, Proposal, Severity, Verdict};
use rootdesk::registry::DsRecord;

use super::server::{ip, origin, Faults, Hickory};
use super::zone::{foreign_dnskey, now, TestKey, Zone};
use super::{assert_findings, assert_has, profile, test_zone, two_servers};

use CheckId::*;
use Severity::{Error, Warning};

/// A zone signed with a KSK (signs DNSKEY) and a ZSK (signs SOA and NS).
fn signed(ksk: &TestKey, zsk: &TestKey) -> Zone {
    let mut z = test_zone(1);
    let t = now();
    z.add_dnskey(&ksk.dnskey);
    z.add_dnskey(&zsk.dnskey);
    z.sign(RecordType::DNSKEY, ksk, t - 3600, t + 86_400 * 14);
    z.sign(RecordType::SOA, zsk, t - 3600, t + 86_400 * 14);
    z.sign(RecordType::NS, zsk, t - 3600, t + 86_400 * 14);
    z
}

async fn check(z: Zone, ds: Vec<DsRecord>) -> rootdesk::check::Report {
    let (_s, mut proposal) = two_servers(z.clone(), z, Faults::default()).await;
    proposal.ds = ds;
    run_check(&origin("test."), &proposal, &profile()).await
}

#[tokio::test]
async fn good_signatures_pass() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ed25519(false));
    let report = check(signed(&ksk, &zsk), vec![ksk.ds(&origin("test."), 2)]).await;
    assert_findings(&report, &[]);
    assert_eq!(report.verdict, Verdict::Pass);
    assert!(report.queries.iter().any(|q| q.qtype == "DNSKEY"));
}

#[tokio::test]
async fn hickory_signed_zone_passes_and_a_foreign_key_fails() {
    let key = TestKey::ecdsa(true);
    let signer = hickory_proto::dnssec::DnssecSigner::new(
        key.dnskey.clone(),
        key.signing,
        origin("test."),
        std::time::Duration::from_secs(86_400 * 7),
    );
    let zone = test_zone(5);
    let server = Hickory::start(ip("127.0.0.1"), &zone, Some(signer)).await;
    let other_key = TestKey::ecdsa(true);
    let signer2 = hickory_proto::dnssec::DnssecSigner::new(
        key.dnskey.clone(),
        other_key.signing,
        origin("test."),
        std::time::Duration::from_secs(86_400 * 7),
    );
    // hickory-server publishes the DNSKEY of the key it signs with: a different key than the
    // DS points to.
    let broken = Hickory::start(ip("127.0.0.2"), &zone, Some(signer2)).await;
    let mut proposal = Proposal::default();
    proposal
        .add_arg(&format!("ns1.test/{}", server.addr))
        .expect("ns1");
    proposal
        .add_arg(&format!("ns2.test/{}", broken.addr))
        .expect("ns2");
    proposal.ds = vec![TestKey::ds_of(
        &key.dnskey,
        key.tag,
        13,
        &origin("test."),
        2,
    )];
    let report = run_check(&origin("test."), &proposal, &profile()).await;
    assert_findings(&report, &[(DsMatch, Error), (DnssecValid, Error)]);
    for f in &report.findings {
        assert_eq!(
            f.nameserver.as_deref(),
            Some("ns2.test."),
            "{}",
            report.to_text()
        );
    }
    server.stop().await;
    broken.stop().await;
}

#[tokio::test]
async fn ds_matching_no_key_fails() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let stranger = TestKey::ecdsa(true);
    let report = check(signed(&ksk, &zsk), vec![stranger.ds(&origin("test."), 2)]).await;
    assert_findings(&report, &[(DsMatch, Error), (DnssecValid, Error)]);
    assert!(assert_has(&report, DsMatch, Error)[0].contains("matches no DNSKEY"));
}

#[tokio::test]
async fn ds_with_wrong_digest_fails() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let mut ds = ksk.ds(&origin("test."), 2);
    ds.digest[0] ^= 0xff;
    let report = check(signed(&ksk, &zsk), vec![ds]).await;
    assert_findings(&report, &[(DsMatch, Error), (DnssecValid, Error)]);
    assert!(assert_has(&report, DsMatch, Error)[0].contains("has digest"));
}

#[tokio::test]
async fn expired_signature_fails() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let mut z = test_zone(1);
    let t = now();
    z.add_dnskey(&ksk.dnskey);
    z.add_dnskey(&zsk.dnskey);
    z.sign(RecordType::DNSKEY, &ksk, t - 86_400 * 30, t - 86_400);
    z.sign(RecordType::SOA, &zsk, t - 3600, t + 86_400);
    let report = check(z, vec![ksk.ds(&origin("test."), 2)]).await;
    assert_findings(&report, &[(DnssecValid, Error)]);
    assert!(assert_has(&report, DnssecValid, Error)[0].contains("expired"));
}

#[tokio::test]
async fn signature_not_yet_valid_fails() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let mut z = test_zone(1);
    let t = now();
    z.add_dnskey(&ksk.dnskey);
    z.add_dnskey(&zsk.dnskey);
    z.sign(RecordType::DNSKEY, &ksk, t - 3600, t + 86_400);
    z.sign(RecordType::SOA, &zsk, t + 86_400, t + 86_400 * 2);
    let report = check(z, vec![ksk.ds(&origin("test."), 2)]).await;
    assert_findings(&report, &[(DnssecValid, Error)]);
    assert!(assert_has(&report, DnssecValid, Error)[0].contains("SOA"));
}

#[tokio::test]
async fn unsigned_dnskey_fails() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let mut z = test_zone(1);
    let t = now();
    z.add_dnskey(&ksk.dnskey);
    z.add_dnskey(&zsk.dnskey);
    z.sign(RecordType::SOA, &zsk, t - 3600, t + 86_400);
    let report = check(z, vec![ksk.ds(&origin("test."), 2)]).await;
    assert_findings(&report, &[(DnssecValid, Error)]);
    assert!(assert_has(&report, DnssecValid, Error)[0].contains("no RRSIG"));
}

#[tokio::test]
async fn dnskey_signed_only_by_a_key_without_ds_fails() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let mut z = test_zone(1);
    let t = now();
    z.add_dnskey(&ksk.dnskey);
    z.add_dnskey(&zsk.dnskey);
    z.sign(RecordType::DNSKEY, &zsk, t - 3600, t + 86_400);
    z.sign(RecordType::SOA, &zsk, t - 3600, t + 86_400);
    let report = check(z, vec![ksk.ds(&origin("test."), 2)]).await;
    assert_findings(&report, &[(DnssecValid, Error)]);
    assert!(assert_has(&report, DnssecValid, Error)[0].contains(&format!("by key {}", ksk.tag)));
}

#[tokio::test]
async fn unsigned_soa_fails() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let mut z = signed(&ksk, &zsk);
    z.records.retain(|r| {
        !matches!(&r.data, hickory_proto::rr::RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(s)) if s.input().type_covered == RecordType::SOA)
    });
    let report = check(z, vec![ksk.ds(&origin("test."), 2)]).await;
    assert_findings(&report, &[(DnssecValid, Error)]);
    assert!(assert_has(&report, DnssecValid, Error)[0].contains("SOA"));
}

#[tokio::test]
async fn ds_for_an_unsigned_zone_fails() {
    let ksk = TestKey::ecdsa(true);
    let report = check(test_zone(1), vec![ksk.ds(&origin("test."), 2)]).await;
    assert_findings(&report, &[(DsMatch, Error), (DnssecValid, Error)]);
}

#[tokio::test]
async fn sha1_digest_rules() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let zone = origin("test.");
    // SHA-1 next to SHA-256 for the same key: a warning.
    let report = check(signed(&ksk, &zsk), vec![ksk.ds(&zone, 2), ksk.ds(&zone, 1)]).await;
    assert_findings(&report, &[(DsDigest, Warning)]);
    assert_eq!(report.verdict, Verdict::Warn);
    // SHA-1 alone: an error, though it matches the key.
    let report = check(signed(&ksk, &zsk), vec![ksk.ds(&zone, 1)]).await;
    assert_findings(&report, &[(DsDigest, Error)]);
    // SHA-384 is fine.
    let report = check(signed(&ksk, &zsk), vec![ksk.ds(&zone, 4)]).await;
    assert_findings(&report, &[]);
}

#[tokio::test]
async fn gost_and_unknown_digest_types_are_errors() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let zone = origin("test.");
    let gost = DsRecord::new(ksk.tag, 13, 3, vec![7; 32]).expect("ds");
    let report = check(signed(&ksk, &zsk), vec![ksk.ds(&zone, 2), gost]).await;
    assert_findings(&report, &[(DsDigest, Error)]);
    let odd = DsRecord::new(ksk.tag, 13, 9, vec![7; 20]).expect("ds");
    let report = check(signed(&ksk, &zsk), vec![ksk.ds(&zone, 2), odd]).await;
    assert_findings(&report, &[(DsDigest, Error)]);
}

#[tokio::test]
async fn deprecated_and_forbidden_algorithms() {
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let zone = origin("test.");
    // An extra RSASHA512 (10) key: not recommended, a warning.
    let mut z = test_zone(1);
    z.add_dnskey(&foreign_dnskey(10));
    let z = {
        let mut s = signed(&ksk, &zsk);
        s.records.extend(
            z.records
                .into_iter()
                .filter(|r| r.record_type() == RecordType::DNSKEY),
        );
        // Re-sign DNSKEY over the larger set.
        s.records.retain(|r| {
            !matches!(&r.data, hickory_proto::rr::RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(x)) if x.input().type_covered == RecordType::DNSKEY)
        });
        let t = now();
        s.sign(RecordType::DNSKEY, &ksk, t - 3600, t + 86_400);
        s
    };
    let report = check(z.clone(), vec![ksk.ds(&zone, 2)]).await;
    assert_findings(&report, &[(DnskeyAlgorithm, Warning)]);
    assert!(assert_has(&report, DnskeyAlgorithm, Warning)[0].contains("algorithm 10"));
    // An RSAMD5 (1) key: must not be used, an error.
    let mut z1 = z;
    z1.add_dnskey(&foreign_dnskey(1));
    z1.records.retain(|r| {
        !matches!(&r.data, hickory_proto::rr::RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(x)) if x.input().type_covered == RecordType::DNSKEY)
    });
    let t = now();
    z1.sign(RecordType::DNSKEY, &ksk, t - 3600, t + 86_400);
    let report = check(z1, vec![ksk.ds(&zone, 2)]).await;
    let outcomes = super::outcomes(&report);
    assert!(
        outcomes.contains(&(DnskeyAlgorithm, Error)),
        "{}",
        report.to_text()
    );
    assert!(
        outcomes.contains(&(DnskeyAlgorithm, Warning)),
        "{}",
        report.to_text()
    );
    assert_eq!(outcomes.len(), 2, "{}", report.to_text());
}

/// nsec3-params (Zonemaster DNSSEC03, RFC 9276): extra iterations and a salt are warnings
/// naming the values; RFC 9276's own parameters (0 iterations, no salt) pass.
#[tokio::test]
async fn nsec3_iterations_and_salt_are_warnings() {
    use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC3PARAM};
    use hickory_proto::dnssec::Nsec3HashAlgorithm;
    use hickory_proto::rr::{RData, Record};
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let with = |iterations: u16, salt: Vec<u8>| {
        let mut z = signed(&ksk, &zsk);
        let param = NSEC3PARAM::new(Nsec3HashAlgorithm::SHA1, false, iterations, salt);
        z.records.push(Record::from_rdata(
            origin("test."),
            0,
            RData::DNSSEC(DNSSECRData::NSEC3PARAM(param)),
        ));
        z
    };
    let ds = vec![ksk.ds(&origin("test."), 2)];
    let report = check(with(10, vec![0xab, 0xcd]), ds.clone()).await;
    assert_eq!(report.verdict, Verdict::Warn, "{}", report.to_text());
    let problems: Vec<&str> = report
        .findings_of(Nsec3Params)
        .map(|f| f.message.as_str())
        .collect();
    // Two servers, two problems each.
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems
        .iter()
        .any(|m| m.contains("10 additional iterations")));
    assert!(problems.iter().any(|m| m.contains("salt of 2 octets")));
    assert!(report
        .findings_of(Nsec3Params)
        .all(|f| f.severity == Warning));
    assert!(report.queries.iter().any(|q| q.qtype == "NSEC3PARAM"));

    let report = check(with(0, Vec::new()), ds.clone()).await;
    assert_findings(&report, &[]);
    assert_eq!(report.verdict, Verdict::Pass);
    // A zone with NSEC (no NSEC3PARAM) has nothing to judge.
    let report = check(signed(&ksk, &zsk), ds).await;
    assert_eq!(
        report.checks[&Nsec3Params],
        rootdesk::check::CheckStatus::Pass
    );
}
