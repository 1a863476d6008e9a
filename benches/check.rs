//! Wall-clock benchmark of `rootdesk::check::run_check` on loopback servers:
//! 1. a healthy signed delegation of 4 dual-stack name servers (127.0.0.x and ::1, each
//!    address its own server on its own port),
//! 2. the same with one name server silent (both its addresses),
//! 3. a signed zone with 13 name servers.
//!
//! `cargo bench --bench check` (release). Prints min / median / max over the runs.

#[allow(dead_code)]
#[path = "../tests/it/check/zone.rs"]
mod zone;

#[allow(dead_code)]
#[path = "../tests/it/check/server.rs"]
mod server;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use rootdesk::check::{run_check, Profile, Proposal, Verdict};
use server::{Faults, Scripted};
use zone::{now, TestKey, Zone};

const RUNS: usize = 20;

/// Starts the servers of `hosts` (name, addresses; silent ones marked) for a signed `bench.`.
async fn setup(hosts: &[(String, Vec<IpAddr>)], silent: Option<&str>) -> (Vec<Scripted>, Proposal) {
    let ns: Vec<(&str, &[IpAddr])> = hosts
        .iter()
        .map(|(n, a)| (n.as_str(), a.as_slice()))
        .collect();
    let mut z = Zone::new("bench.", 1, &ns);
    let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
    let t = now();
    z.add_dnskey(&ksk.dnskey);
    z.add_dnskey(&zsk.dnskey);
    z.sign(RecordType::DNSKEY, &ksk, t - 3600, t + 86_400);
    z.sign(RecordType::SOA, &zsk, t - 3600, t + 86_400);
    z.sign(RecordType::NS, &zsk, t - 3600, t + 86_400);
    let mut servers = Vec::new();
    let mut proposal = Proposal::default();
    for (name, addrs) in hosts {
        for ip in addrs {
            let faults = Faults {
                silent: silent == Some(name.as_str()),
                ..Faults::default()
            };
            let s = Scripted::start(*ip, z.clone(), faults).await;
            proposal.add_arg(&format!("{name}/{}", s.addr)).expect("ns");
            servers.push(s);
        }
    }
    proposal.ds = vec![ksk.ds(&zone::name("bench."), 2)];
    (servers, proposal)
}

async fn measure(
    label: &str,
    hosts: &[(String, Vec<IpAddr>)],
    silent: Option<&str>,
    profile: &Profile,
    want: Verdict,
) {
    let (_servers, proposal) = setup(hosts, silent).await;
    let zone = zone::name("bench.");
    let mut times = Vec::new();
    let mut queries = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let report = run_check(&zone, &proposal, profile).await;
        times.push(start.elapsed());
        queries = report.queries.len();
        assert_eq!(report.verdict, want, "{label}: {}", report.to_text());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: {queries} queries; wall min {:.1} ms, median {:.1} ms, max {:.1} ms ({RUNS} runs; verdict {want})",
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );
}

fn main() {
    // `cargo test --benches` runs benches with --bench absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("check bench: run with `cargo bench --bench check`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let profile = Profile::lab();
    runtime.block_on(async {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let four: Vec<(String, Vec<IpAddr>)> = (1..=4)
            .map(|i| {
                (
                    format!("ns{i}.bench."),
                    vec![ip(&format!("127.0.0.{i}")), ip("::1")],
                )
            })
            .collect();
        measure(
            "4 NS dual-stack signed, healthy",
            &four,
            None,
            &profile,
            Verdict::Pass,
        )
        .await;
        measure(
            &format!(
                "4 NS dual-stack signed, ns4 silent (timeout {} ms)",
                profile.query.timeout_ms
            ),
            &four,
            Some("ns4.bench."),
            &profile,
            Verdict::Fail,
        )
        .await;
        // One-letter names, so that the referral with its A glue still fits 512 octets.
        let thirteen: Vec<(String, Vec<IpAddr>)> = ('a'..='m')
            .zip(1..)
            .map(|(c, i)| (format!("{c}.bench."), vec![ip(&format!("127.0.0.{i}"))]))
            .collect();
        measure(
            "13 NS signed, healthy",
            &thirteen,
            None,
            &profile,
            Verdict::Pass,
        )
        .await;
    });
}
