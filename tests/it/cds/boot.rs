//! RFC 9615 authenticated bootstrapping for an unsigned TLD, served for real: a lab root
//! zone and trust anchor, the name servers' parent zone `example.` and a signal zone
//! `_signal.ns1.example.` below it, all signed and served by an in-process lab resolver on
//! loopback; the TLD's own servers serve its CDS/CDNSKEY. The lab ([`lab_for`], [`resolver`],
//! [`anchor`]) is shared with the desk's end-to-end test (boot_desk.rs).

use hickory_proto::dnssec::rdata::sig::SigInput;
use hickory_proto::dnssec::rdata::{DNSSECRData, DS, RRSIG};
use hickory_proto::dnssec::{DigestType, TBS};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};
use rootdesk::check::cds::{now32, scan, CdsOutcome, CdsProblem, CdsScan, CdsTarget};
use rootdesk::check::dsboot::Bootstrap;
use rootdesk::check::Prober;

use super::{add_cdnskey, add_cds, before, sign, Keys};
use crate::check::server::{ip, origin, Faults, Scripted};
use crate::check::zone::{now, TestKey, Zone};

/// Signs the `rtype` RRset at `owner` in `z` with `key` as zone `signer`.
fn sign_at(z: &mut Zone, owner: &Name, rtype: RecordType, key: &TestKey, signer: &Name) {
    let covered: Vec<Record> = z
        .records
        .iter()
        .filter(|r| r.name == *owner && r.record_type() == rtype)
        .cloned()
        .collect();
    let t = now();
    let input = SigInput {
        type_covered: rtype,
        algorithm: key.signing.algorithm(),
        num_labels: owner.num_labels(),
        original_ttl: 3600,
        sig_expiration: SerialNumber::new(t + 86_400 * 14),
        sig_inception: SerialNumber::new(t - 3600),
        key_tag: key.tag,
        signer_name: signer.clone(),
    };
    let tbs = TBS::from_input(owner, DNSClass::IN, &input, covered.iter()).expect("tbs");
    let sig = key.signing.sign(&tbs).expect("sign");
    z.records.push(Record::from_rdata(
        owner.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))),
    ));
}

/// A signed zone with one key signing its DNSKEY RRset.
fn signed(origin_text: &str, key: &TestKey) -> Zone {
    let mut z = Zone::new(origin_text, 1, &[]);
    z.add_dnskey(&key.dnskey);
    sign(&mut z, RecordType::DNSKEY, key);
    z
}

/// The DS of `child` for `key`, signed by the parent, added to `z` (the lab resolver answers
/// a name from the deepest zone holding it, so the DS goes with the child's records).
fn add_ds(z: &mut Zone, child: &Name, key: &TestKey, parent: &Name, parent_key: &TestKey) {
    let ds = key.ds(child, 2);
    z.records.push(Record::from_rdata(
        child.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::DS(DS::new(
            ds.key_tag,
            key.signing.algorithm(),
            DigestType::SHA256,
            ds.digest,
        ))),
    ));
    sign_at(z, child, RecordType::DS, parent_key, parent);
}

/// Copies the TLD's apex CDS and CDNSKEY to `_dsboot.<tld>._signal.<ns>` in `z`, signed by
/// `key` as `signer`.
fn add_signal(z: &mut Zone, tld: &Zone, ns: &str, key: &TestKey, signer: &Name) {
    let owner = origin(&format!("_dsboot.{}_signal.{ns}", tld.origin.to_ascii()));
    for r in tld.records.iter().filter(|r| {
        r.name == tld.origin && matches!(r.record_type(), RecordType::CDS | RecordType::CDNSKEY)
    }) {
        let mut r = r.clone();
        r.name = owner.clone();
        z.records.push(r);
    }
    sign_at(z, &owner, RecordType::CDS, key, signer);
    sign_at(z, &owner, RecordType::CDNSKEY, key, signer);
}

/// The lab: keys, zones and the TLD.
pub(super) struct Lab {
    /// The TLD's keys: `old` is its KSK, which its CDS/CDNSKEY name.
    pub(super) keys: Keys,
    root_key: TestKey,
    example_key: TestKey,
    /// The unsigned TLD's zone (signed, with CDS/CDNSKEY at the apex), as its servers serve it.
    pub(super) tld: Zone,
    root: Zone,
    example: Zone,
    signal: Zone,
}

/// [`lab_for`] the TLD `test.` with its name servers at 127.0.0.1 and .2.
fn lab() -> Lab {
    lab_for("test.", [ip("127.0.0.1"), ip("127.0.0.2")])
}

/// The unsigned TLD `tld` (`"xa."`) delegated to ns1.example. and ns2.example. (out of
/// bailiwick) at `addresses`, with fresh keys; ns1's signal in its own zone
/// `_signal.ns1.example.`, ns2's in `example.`.
pub(super) fn lab_for(tld_origin: &str, addresses: [std::net::IpAddr; 2]) -> Lab {
    let keys = Keys::new();
    let (root_key, example_key, signal_key) = (
        TestKey::ecdsa(true),
        TestKey::ecdsa(true),
        TestKey::ecdsa(true),
    );
    let mut tld = before(
        tld_origin,
        &[
            ("ns1.example.", addresses[0]),
            ("ns2.example.", addresses[1]),
        ],
        &keys,
    );
    add_cds(&mut tld, &keys.old);
    add_cdnskey(&mut tld, &keys.old);
    sign(&mut tld, RecordType::CDS, &keys.old);
    sign(&mut tld, RecordType::CDNSKEY, &keys.old);
    let root = signed(".", &root_key);
    let mut example = signed("example.", &example_key);
    add_ds(
        &mut example,
        &origin("example."),
        &example_key,
        &Name::root(),
        &root_key,
    );
    let mut signal = signed("_signal.ns1.example.", &signal_key);
    add_ds(
        &mut signal,
        &origin("_signal.ns1.example."),
        &signal_key,
        &origin("example."),
        &example_key,
    );
    add_signal(
        &mut signal,
        &tld,
        "ns1.example.",
        &signal_key,
        &origin("_signal.ns1.example."),
    );
    add_signal(
        &mut example,
        &tld,
        "ns2.example.",
        &example_key,
        &origin("example."),
    );
    Lab {
        keys,
        root_key,
        example_key,
        tld,
        root,
        example,
        signal,
    }
}

/// The lab resolver at `address`: the signed root, `example.` and `_signal.ns1.example.`.
pub(super) async fn resolver(lab: &Lab, address: std::net::IpAddr) -> Scripted {
    Scripted::start_multi(
        address,
        vec![lab.root.clone(), lab.example.clone(), lab.signal.clone()],
        Faults::default(),
    )
    .await
}

/// The lab root's trust anchor as a `[cds] trust_anchor` file holds it (`. IN DS ...`).
pub(super) fn anchor(lab: &Lab) -> String {
    format!(". IN DS {}\n", lab.root_key.ds(&Name::root(), 2))
}

/// Serves the lab and scans `test.` as an unsigned TLD with name servers `ns` (at
/// 127.0.0.1 and .2), bootstrapping from the lab's root key when `boot` is set.
async fn run(lab: &Lab, ns: [&str; 2], boot: bool) -> CdsScan {
    let resolver = resolver(lab, ip("127.0.0.3")).await;
    let mut servers = Vec::new();
    let mut targets = Vec::new();
    for (name, address) in ns.iter().zip(["127.0.0.1", "127.0.0.2"]) {
        let s = Scripted::start(ip(address), lab.tld.clone(), Faults::default()).await;
        targets.push(CdsTarget {
            ns: origin(name),
            address: s.addr,
        });
        servers.push(s);
    }
    let anchor = rootdesk::check::dsboot::parse_anchors(&anchor(lab)).expect("anchor");
    let bootstrap = Bootstrap {
        anchors: anchor,
        resolvers: vec![resolver.addr],
    };
    let profile = crate::check::profile();
    let prober = Prober::new(16, profile.query.timeout(), 0, profile.query.budget())
        .allowing(profile.query.allowed_blocks().expect("blocks"));
    scan(
        &origin("test."),
        &targets,
        &[],
        boot.then_some(&bootstrap),
        &prober,
        now32(),
    )
    .await
}

const OUT: [&str; 2] = ["ns1.example.", "ns2.example."];

#[track_caller]
fn assert_problem(scan: &CdsScan, want: CdsProblem) -> String {
    match &scan.outcome {
        CdsOutcome::Problem { problem, message } if *problem == want => message.clone(),
        other => panic!("expected {want}, got {other:?}"),
    }
}

#[tokio::test]
async fn every_name_server_vouching_bootstraps_the_ds_set() {
    let lab = lab();
    let result = run(&lab, OUT, true).await;
    assert_eq!(
        result.outcome,
        CdsOutcome::Change {
            ds: vec![lab.keys.old.ds(&origin("test."), 2)]
        },
        "{}",
        result.summary()
    );
}

#[tokio::test]
async fn one_name_server_without_the_signal_is_no_bootstrap() {
    let mut lab = lab();
    let owner = origin("_dsboot.test._signal.ns2.example.");
    lab.example.records.retain(|r| r.name != owner);
    let message = assert_problem(&run(&lab, OUT, true).await, CdsProblem::BootstrapNoSignal);
    assert!(message.contains("ns2.example."), "{message}");
}

#[tokio::test]
async fn a_signal_that_does_not_validate_is_not_acted_on() {
    let mut lab = lab();
    // ns1's signal re-signed by a key that is not in its zone's DNSKEY RRset (a forgery).
    let owner = origin("_dsboot.test._signal.ns1.example.");
    lab.signal
        .records
        .retain(|r| !(r.name == owner && r.record_type() == RecordType::RRSIG));
    let forger = TestKey::ecdsa(true);
    let signer = origin("_signal.ns1.example.");
    sign_at(&mut lab.signal, &owner, RecordType::CDS, &forger, &signer);
    sign_at(
        &mut lab.signal,
        &owner,
        RecordType::CDNSKEY,
        &forger,
        &signer,
    );
    let message = assert_problem(&run(&lab, OUT, true).await, CdsProblem::BootstrapInvalid);
    assert!(
        message.contains("ns1.example.") && message.contains("no RRSIG by a validated key"),
        "{message}"
    );

    // A chain that does not lead to the trust anchor: example.'s DS signed by a stranger root.
    let mut lab2 = self::lab();
    lab2.example.records.retain(|r| {
        !(r.name == origin("example.")
            && matches!(r.record_type(), RecordType::DS | RecordType::RRSIG))
    });
    let stranger = TestKey::ecdsa(true);
    add_ds(
        &mut lab2.example,
        &origin("example."),
        &lab2.example_key,
        &Name::root(),
        &stranger,
    );
    sign(&mut lab2.example, RecordType::DNSKEY, &lab2.example_key);
    let message = assert_problem(&run(&lab2, OUT, true).await, CdsProblem::BootstrapInvalid);
    assert!(message.contains("DS RRset of example."), "{message}");
}

#[tokio::test]
async fn a_signal_for_other_keys_than_the_apex_is_a_mismatch() {
    let mut lab = lab();
    let owner = origin("_dsboot.test._signal.ns2.example.");
    lab.example.records.retain(|r| r.name != owner);
    let mut other = lab.tld.clone();
    other.remove(&origin("test."), RecordType::CDS);
    other.remove(&origin("test."), RecordType::CDNSKEY);
    add_cds(&mut other, &lab.keys.new);
    add_cdnskey(&mut other, &lab.keys.new);
    add_signal(
        &mut lab.example,
        &other,
        "ns2.example.",
        &lab.example_key,
        &origin("example."),
    );
    assert_problem(&run(&lab, OUT, true).await, CdsProblem::BootstrapMismatch);
}

#[tokio::test]
async fn an_in_bailiwick_name_server_cannot_bootstrap() {
    let lab = lab();
    let message = assert_problem(
        &run(&lab, ["ns1.example.", "ns2.test."], true).await,
        CdsProblem::BootstrapInBailiwick,
    );
    assert!(message.contains("ns2.test."), "{message}");
}

#[tokio::test]
async fn without_bootstrapping_an_unsigned_tld_is_only_reported() {
    let lab = lab();
    assert_problem(&run(&lab, OUT, false).await, CdsProblem::Unsigned);
}
