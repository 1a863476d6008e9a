//! Load on the running daemon over loopback: request status reads and durable submissions.
//!
//! `cargo bench --bench load` starts the daemon in-process (temporary database, port 0) and
//! drives it with concurrent HTTP clients for a fixed time, then prints throughput and
//! latency percentiles. Every submission is committed with synchronous=FULL before it is
//! answered.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{bench_database, bench_labels, percentile, start_daemon};

use rootdesk::store::Store;
use serde_json::json;

const CLIENTS: usize = 32;
const RUN: Duration = Duration::from_secs(5);

async fn drive<F, Fut>(name: &str, clients: usize, make: F)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make = Arc::new(make);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            let mut n = 0u64;
            while start.elapsed() < RUN {
                let t = Instant::now();
                if make(client, n).await {
                    latencies.push(t.elapsed());
                } else {
                    failures += 1;
                }
                n += 1;
            }
            (latencies, failures)
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await.expect("client task");
        all.extend(l);
        failures += f;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    println!(
        "{name:<28} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} ok, {failures} failed, {clients} clients, {elapsed:.1} s)",
        all.len() as f64 / elapsed,
        percentile(&all, 50.0).as_secs_f64() * 1000.0,
        percentile(&all, 99.0).as_secs_f64() * 1000.0,
        all.len(),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        // A TLD holds one open request of a kind: one generated TLD per submission.
        const TLDS: usize = 60_000;
        let db = dir.path().join("bench.db");
        let (admin, bench_admin) = bench_database(&db, TLDS);
        let store = Store::open(&db).expect("open");
        let server = start_daemon(store).await;
        let base = format!("http://{}", server.addr);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build().expect("client");

        // One request to read: a sponsor change waiting for consent.
        let body = json!({ "tld": "xa", "proposal": { "kind": "sponsor", "sponsor": "Bench" } });
        let created: serde_json::Value = http
            .post(format!("{base}/v1/requests"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .expect("submit")
            .json()
            .await
            .expect("json");
        let ticket = created["ticket"].as_str().expect("ticket").to_string();

        println!("rootdesk load benchmark: {CLIENTS} concurrent clients, {} s each, loopback", RUN.as_secs());
        {
            let (http, base, admin) = (http.clone(), base.clone(), admin.clone());
            let url = format!("{base}/v1/requests/{ticket}");
            drive("GET /v1/requests/{ticket}", CLIENTS, move |_, _| {
                let (http, url, admin) = (http.clone(), url.clone(), admin.clone());
                async move {
                    matches!(http.get(&url).bearer_auth(&admin).send().await, Ok(r) if r.status().is_success())
                }
            })
            .await;
        }
        {
            let (http, base) = (http.clone(), base.clone());
            let labels = Arc::new(bench_labels(TLDS));
            let next = Arc::new(AtomicUsize::new(0));
            drive("POST /v1/requests (durable)", CLIENTS, move |_, _| {
                let (http, base, admin) = (http.clone(), base.clone(), bench_admin.clone());
                let label = labels[next.fetch_add(1, Ordering::Relaxed) % TLDS].clone();
                let body = json!({ "tld": label, "proposal": { "kind": "sponsor", "sponsor": "Bench" } });
                async move {
                    matches!(http.post(format!("{base}/v1/requests")).bearer_auth(&admin).json(&body).send().await,
                        Ok(r) if r.status().as_u16() == 201)
                }
            })
            .await;
        }
        server.shutdown().await;
    });
}
