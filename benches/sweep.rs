//! The sweep on every delegation of the real root zone (`../shared/data/root.zone`), served
//! from loopback (issue 12): each real name server address is mapped to a loopback address of
//! its own (IPv4 and IPv6 alike, to 127.64.0.0/10), where one in-process scripted
//! authoritative server answers for every TLD that names the address. TLDs with a DS are
//! signed with fresh ECDSA P-256 keys (KSK signs DNSKEY, ZSK signs SOA and NS) and their DS
//! is rewritten. Then `rootdesk::check::sweep` over all TLDs, three times, timed; then every
//! TLD again through single `run_check` runs, to compare the verdicts.
//!
//! `cargo bench --bench sweep` (release). Name servers without glue in the root zone would be
//! resolved over the network: they are dropped from the delegation; the bench prints how many.
//! Environment: `SWEEP_THREADS` (runtime worker threads, default 2), `SWEEP_QUERIES` (queries
//! in flight, default 256), `SWEEP_TLDS` (TLD checks at once, default 128),
//! `SWEEP_SERVER_THREADS` (worker threads of the servers' own runtime, default 2),
//! `SWEEP_ROUNDS` (sweeps, default 3), `SWEEP_SINGLE=0` (skip the single-check comparison).
//! The loopback servers run on a runtime of their own (threads `srv`), the checker on
//! another (`chk`), so that each sweep's CPU time is printed for the two apart (Linux,
//! /proc/self/task).

#[allow(dead_code)]
#[path = "../tests/it/check/zone.rs"]
mod zone;

#[allow(dead_code)]
#[path = "../tests/it/check/server.rs"]
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use hickory_proto::rr::RecordType;
use rootdesk::check::{run_check, sweep, Profile, Proposal, SweepItem, SweepLimits, Verdict};
use server::{Faults, Scripted};
use zone::{now, TestKey, Zone};

fn root_zone() -> Option<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    ["../shared/data/root.zone", "../../shared/data/root.zone"]
        .iter()
        .map(|p| here.join(p))
        .find(|p| p.exists())
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("sweep bench: run with `cargo bench --bench sweep`");
        return;
    }
    let Some(path) = root_zone() else {
        println!("sweep bench: ../shared/data/root.zone not found; nothing measured");
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read root zone");
    let root = rootdesk::zonefile::parse_root_zone(&text, &path).expect("parse root zone");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env_or("SWEEP_THREADS", 2))
        .thread_name("chk")
        .enable_all()
        .build()
        .expect("runtime");
    let servers_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env_or("SWEEP_SERVER_THREADS", 2))
        .thread_name("srv")
        .enable_all()
        .build()
        .expect("servers' runtime");
    runtime.block_on(run(root, servers_rt.handle().clone()));
}

/// CPU seconds (user + system) used so far by this process's threads, by thread-name prefix
/// (`chk`, `srv`, other).
fn cpu_by_thread() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let group = match name.trim() {
            n if n.starts_with("chk") => "chk",
            n if n.starts_with("srv") => "srv",
            _ => "other",
        };
        // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|i| f.get(*i).and_then(|v| v.parse::<u64>().ok()))
            .sum();
        // USER_HZ is 100 on Linux.
        *out.entry(group.to_string()).or_insert(0.0) += ticks as f64 / 100.0;
    }
    out
}

fn cpu_delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> String {
    after
        .iter()
        .map(|(k, v)| format!("{k} {:.1} s", v - before.get(k).copied().unwrap_or(0.0)))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn run(root: rootdesk::registry::RootZone, servers_rt: tokio::runtime::Handle) {
    let setup = Instant::now();
    // Real address -> loopback address.
    let mut map: BTreeMap<IpAddr, IpAddr> = BTreeMap::new();
    let mut next: u32 = u32::from(Ipv4Addr::new(127, 64, 0, 1));
    let mut dropped = 0usize;
    let mut zones: Vec<(String, Zone, Proposal, BTreeSet<IpAddr>)> = Vec::new();
    let t = now();
    let mut signed = 0;
    for label in root.tlds.keys() {
        let Some(delegation) = root.delegation(label) else {
            continue;
        };
        let origin = format!("{}.", label.as_str());
        let mut hosts: Vec<(String, Vec<IpAddr>)> = Vec::new();
        for (host, ips) in &delegation.nameservers {
            if ips.is_empty() {
                dropped += 1;
                continue;
            }
            let mapped: Vec<IpAddr> = ips
                .iter()
                .map(|ip| {
                    *map.entry(*ip).or_insert_with(|| {
                        let a = IpAddr::V4(Ipv4Addr::from(next));
                        next += 1;
                        a
                    })
                })
                .collect();
            hosts.push((format!("{}.", host.as_str()), mapped));
        }
        let ns: Vec<(&str, &[IpAddr])> = hosts
            .iter()
            .map(|(n, a)| (n.as_str(), a.as_slice()))
            .collect();
        let mut z = Zone::new(&origin, 1, &ns);
        let mut proposal = Proposal::default();
        let mut addrs = BTreeSet::new();
        for (n, a) in &hosts {
            for ip in a {
                addrs.insert(*ip);
                // The port is set once the servers are bound.
                proposal.add(zone::name(n), Some(SocketAddr::new(*ip, 0)));
            }
        }
        if !delegation.ds.is_empty() {
            let (ksk, zsk) = (TestKey::ecdsa(true), TestKey::ecdsa(false));
            z.add_dnskey(&ksk.dnskey);
            z.add_dnskey(&zsk.dnskey);
            z.sign(RecordType::DNSKEY, &ksk, t - 3600, t + 86_400);
            z.sign(RecordType::SOA, &zsk, t - 3600, t + 86_400);
            z.sign(RecordType::NS, &zsk, t - 3600, t + 86_400);
            proposal.ds = vec![ksk.ds(&zone::name(&origin), 2)];
            signed += 1;
        }
        zones.push((label.as_str().to_string(), z, proposal, addrs));
    }
    // One server per loopback address, serving every zone that names it.
    let mut by_addr: BTreeMap<IpAddr, Vec<Zone>> = BTreeMap::new();
    for (_, z, _, addrs) in &zones {
        for a in addrs {
            by_addr.entry(*a).or_default().push(z.clone());
        }
    }
    // The servers' tasks run on their own runtime.
    let servers: BTreeMap<IpAddr, Scripted> = servers_rt
        .spawn(async move {
            let mut servers = BTreeMap::new();
            for (ip, zs) in by_addr {
                servers.insert(ip, Scripted::start_multi(ip, zs, Faults::default()).await);
            }
            servers
        })
        .await
        .expect("servers start");
    let items: Vec<SweepItem> = zones
        .iter()
        .map(|(label, _, proposal, _)| {
            let mut p = proposal.clone();
            for ns in &mut p.nameservers {
                for a in &mut ns.addresses {
                    if let Some(s) = servers.get(&a.ip()) {
                        *a = s.addr;
                    }
                }
            }
            SweepItem {
                label: label.clone(),
                zone: zone::name(&format!("{label}.")),
                proposal: p,
            }
        })
        .collect();
    println!(
        "setup: {} TLDs ({signed} signed), {} loopback servers for {} real addresses, {dropped} name servers without glue dropped, {:.1} s",
        items.len(),
        servers.len(),
        map.len(),
        setup.elapsed().as_secs_f64()
    );
    let profile = Profile::lab();
    let limits = SweepLimits {
        queries: env_or("SWEEP_QUERIES", 256),
        tlds: env_or("SWEEP_TLDS", 128),
    };
    let mut sweeps = Vec::new();
    for round in 0..env_or("SWEEP_ROUNDS", 3) {
        let cpu_before = cpu_by_thread();
        let start = Instant::now();
        let outcome = sweep(items.clone(), &profile, limits, &|_, _| {}).await;
        let wall = start.elapsed();
        println!(
            "sweep {round}: CPU time by thread group: {}",
            cpu_delta(&cpu_before, &cpu_by_thread())
        );
        let counts = outcome.counts();
        println!(
            "sweep {round}: {} TLDs in {:.2} s wall, {} queries sent ({} in the reports' logs); pass {} warn {} fail {} not-run {} (limits: {} queries in flight, {} TLDs at once)",
            outcome.reports.len(),
            wall.as_secs_f64(),
            outcome.queries_sent,
            outcome.reports.iter().map(|(_, r)| r.queries.len()).sum::<usize>(),
            counts[&Verdict::Pass],
            counts[&Verdict::Warn],
            counts[&Verdict::Fail],
            counts[&Verdict::NotRun],
            limits.queries,
            limits.tlds
        );
        if round == 0 {
            let mut findings: BTreeMap<String, usize> = BTreeMap::new();
            for (_, r) in &outcome.reports {
                for f in &r.findings {
                    *findings
                        .entry(format!("{} {}", f.check, f.severity))
                        .or_default() += 1;
                }
            }
            println!("findings in sweep 0 by check and severity: {findings:?}");
            if let Some((tld, r)) = outcome
                .reports
                .iter()
                .find(|(_, r)| r.verdict == Verdict::Fail)
            {
                println!("first failing TLD, {tld}:\n{}", r.to_text());
            }
        }
        sweeps.push(outcome);
    }
    if env_or("SWEEP_SINGLE", 1) == 0 {
        return;
    }
    // The same TLDs through single checks (16 at once, each with its own prober).
    let start = Instant::now();
    let single: Vec<(String, Verdict, String)> = stream::iter(items.iter())
        .map(|item| {
            let profile = &profile;
            async move {
                let r = run_check(&item.zone, &item.proposal, profile).await;
                (item.label.clone(), r.verdict, r.to_text())
            }
        })
        .buffered(16)
        .collect()
        .await;
    println!(
        "single checks, 16 at a time: {:.2} s wall",
        start.elapsed().as_secs_f64()
    );
    let Some(last) = sweeps.last() else { return };
    let mut differ = 0;
    for ((label, verdict, text), (l2, r)) in single.iter().zip(&last.reports) {
        assert_eq!(label, l2);
        if *verdict != r.verdict {
            differ += 1;
            if differ <= 3 {
                println!(
                    "DIFFERENT {label}: single {verdict}, sweep {}\n{text}\n{}",
                    r.verdict,
                    r.to_text()
                );
            }
        }
    }
    println!(
        "verdicts differing between the sweep and single checks: {differ} of {}",
        single.len()
    );
    drop(servers);
}
