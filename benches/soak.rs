//! Soak: the real daemon process under mixed load on loopback for ten minutes (issue 10),
//! watching its descriptors and memory.
//!
//! `cargo bench --bench soak` creates a database (the demo registry and 16 generated TLDs),
//! starts `rootdesk serve` as a child process, and drives it with 16 HTTP clients: status
//! reads, durable submissions each withdrawn again, the zone, `/metrics` and `/healthz`;
//! beside them a peer keeps opening idle connections that it abandons. Every 30 s it prints
//! the daemon's open descriptors, resident memory and threads (from `/proc`), and the
//! requests answered since the last line. `SOAK_SECS` shortens the run; `SOAK_WRAPPER` runs
//! the daemon under a profiler (`SOAK_WRAPPER=heaptrack`), whose own process is then skipped
//! when measuring.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{bench_database, bench_labels, percentile};
use serde_json::json;

const CLIENTS: usize = 16;
const SAMPLE: Duration = Duration::from_secs(30);

/// (open descriptors, resident KiB, threads) of a process.
fn footprint(pid: u32) -> (usize, u64, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (fds, field("VmRSS:"), field("Threads:"))
}

/// The `rootdesk` process at or under `root` (a profiler's wrapper runs it as a descendant).
fn daemon_pid(root: u32) -> u32 {
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "rootdesk" {
            return pid;
        }
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        queue.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    root
}

fn main() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let run = Duration::from_secs(secs);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("soak.db");
    let (xa_admin, bench_admin) = bench_database(&db, CLIENTS);
    let config = dir.path().join("rootdesk.toml");
    std::fs::write(
        &config,
        format!(
            "db = \"{}\"\n[server]\nlisten = \"127.0.0.1:0\"\n",
            db.display()
        ),
    )
    .expect("config");
    let wrapper = std::env::var("SOAK_WRAPPER").ok().filter(|w| !w.is_empty());
    let mut command = match &wrapper {
        Some(w) => {
            let mut c = Command::new(w);
            c.arg(env!("CARGO_BIN_EXE_rootdesk"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_rootdesk")),
    };
    let mut child = command
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("ROOTDESK_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start rootdesk serve");
    let mut banner = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    // A profiler may print its own lines first.
    while !banner.contains("http://") {
        banner.clear();
        if out.read_line(&mut banner).expect("banner") == 0 {
            panic!("the daemon ended before printing its address");
        }
    }
    let pid = daemon_pid(child.id());
    let base = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {banner:?}"))
        .to_string();
    let addr: std::net::SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .expect("the daemon's address");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let answered = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies = runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .expect("client");
        let body = json!({ "tld": "xa", "proposal": { "kind": "sponsor", "sponsor": "Soak" } });
        let created: serde_json::Value = http
            .post(format!("{base}/v1/requests"))
            .bearer_auth(&xa_admin)
            .json(&body)
            .send()
            .await
            .expect("submit")
            .json()
            .await
            .expect("json");
        let read_ticket = created["ticket"].as_str().expect("ticket").to_string();
        let start = Instant::now();
        let labels = bench_labels(CLIENTS);
        let mut tasks = Vec::new();
        for (client, label) in labels.into_iter().enumerate() {
            let (http, base, read_ticket) = (http.clone(), base.clone(), read_ticket.clone());
            let (xa_admin, bench_admin) = (xa_admin.clone(), bench_admin.clone());
            let (answered, failed) = (answered.clone(), failed.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0u64;
                while start.elapsed() < run {
                    let t = Instant::now();
                    let ok = match (n + client as u64) % 10 {
                        0..=4 => http
                            .get(format!("{base}/v1/requests/{read_ticket}"))
                            .bearer_auth(&xa_admin)
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success()),
                        5 => {
                            // A durable submission, withdrawn at once: the TLD is free again.
                            let body = json!({ "tld": label, "proposal": { "kind": "sponsor", "sponsor": format!("Soak {n}") } });
                            let created = http
                                .post(format!("{base}/v1/requests"))
                                .bearer_auth(&bench_admin)
                                .json(&body)
                                .send()
                                .await;
                            let ticket = match created {
                                Ok(r) if r.status().as_u16() == 201 => r
                                    .json::<serde_json::Value>()
                                    .await
                                    .ok()
                                    .and_then(|v| v["ticket"].as_str().map(String::from)),
                                _ => None,
                            };
                            match ticket {
                                Some(ticket) => http
                                    .post(format!("{base}/v1/requests/{ticket}/withdraw"))
                                    .bearer_auth(&bench_admin)
                                    .json(&json!({}))
                                    .send()
                                    .await
                                    .is_ok_and(|r| r.status().is_success()),
                                None => false,
                            }
                        }
                        6 => http
                            .get(format!("{base}/v1/zone"))
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success()),
                        7 => http
                            .get(format!("{base}/metrics"))
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success()),
                        8 => http
                            .get(format!("{base}/v1/requests?tld={label}"))
                            .bearer_auth(&bench_admin)
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success()),
                        _ => http
                            .get(format!("{base}/healthz"))
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success()),
                    };
                    if ok {
                        answered.fetch_add(1, Ordering::Relaxed);
                        latencies.push(t.elapsed());
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                }
                latencies
            }));
        }
        // A peer that opens idle connections and abandons them.
        let idle = tokio::spawn({
            async move {
                while start.elapsed() < run {
                    let mut held = Vec::new();
                    // From another source address: the clients' own address has its bound.
                    for _ in 0..16 {
                        let Ok(socket) = tokio::net::TcpSocket::new_v4() else {
                            continue;
                        };
                        let from = std::net::SocketAddr::from(([127, 0, 0, 2], 0));
                        if socket.bind(from).is_ok() {
                            if let Ok(s) = socket.connect(addr).await {
                                held.push(s);
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    drop(held);
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        });
        println!(
            "rootdesk soak: {CLIENTS} clients + an idle-connection peer, {secs} s, daemon pid {pid}, loopback"
        );
        println!(
            "{:>6}  {:>5}  {:>9}  {:>7}  {:>10}  {:>7}",
            "t (s)", "fds", "RSS (KiB)", "threads", "answered", "failed"
        );
        let (fds, rss, threads) = footprint(pid);
        println!("{:>6}  {fds:>5}  {rss:>9}  {threads:>7}  {:>10}  {:>7}", 0, 0, 0);
        let mut last = 0;
        while start.elapsed() < run {
            tokio::time::sleep(SAMPLE.min(run.saturating_sub(start.elapsed()))).await;
            let (fds, rss, threads) = footprint(pid);
            let now = answered.load(Ordering::Relaxed);
            println!(
                "{:>6}  {fds:>5}  {rss:>9}  {threads:>7}  {:>10}  {:>7}",
                start.elapsed().as_secs(),
                now - last,
                failed.load(Ordering::Relaxed)
            );
            last = now;
        }
        let _ = idle.await;
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("client"));
        }
        all.sort();
        all
    });
    // Quiet again: what the daemon holds once the load is gone.
    std::thread::sleep(Duration::from_secs(5));
    let (fds, rss, threads) = footprint(pid);
    println!("after the load, idle 5 s: {fds} fds, {rss} KiB RSS, {threads} threads");
    println!(
        "answered {} ({:.0}/s), failed {}, p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        latencies.len() as f64 / secs.max(1) as f64,
        failed.load(Ordering::Relaxed),
        percentile(&latencies, 50.0).as_secs_f64() * 1000.0,
        percentile(&latencies, 99.0).as_secs_f64() * 1000.0,
    );
    // Our own child, by its PID; under a profiler, the daemon is asked to stop so that the
    // profiler writes its data.
    if wrapper.is_some() && pid != child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        for _ in 0..300 {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
