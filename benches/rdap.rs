//! RDAP `domain` lookups on the running daemon over loopback (target: >= 5,000/s with p99 <
//! 10 ms on 2 cores).
//!
//! `cargo bench --bench rdap` starts the daemon in-process on a temporary database holding
//! the real root zone and IANA's TLD records (`../shared/data`, or the folder
//! `SHARED_DATA_DIR` names; the demo registry when neither exists), then drives
//! `GET /rdap/domain/{tld}` over every TLD in turn from concurrent HTTP clients for a fixed
//! time, and prints throughput and latency percentiles. Client and daemon share the runtime's
//! two worker threads, so the figure includes the client's own cost.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rootdesk::audit::Actor;
use rootdesk::store::Store;

use common::{percentile, start_daemon};

const CLIENTS: usize = 16;
const RUN: Duration = Duration::from_secs(10);

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SHARED_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    (dir.join("root.zone").exists() && dir.join("tlds.jsonl").exists()).then_some(dir)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::create(&dir.path().join("bench.db")).expect("create");
        let now = time::OffsetDateTime::now_utc();
        let actor = Actor::system("bench");
        let (data, what) = match data_dir() {
            Some(d) => (d, "real root zone"),
            None => (
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo"),
                "demo registry (../shared/data missing)",
            ),
        };
        let zone = rootdesk::zonefile::read_root_zone(&data.join("root.zone")).expect("zone");
        store.import_zone(&zone, "bench", &actor, now).expect("import");
        let text = std::fs::read_to_string(data.join("tlds.jsonl")).expect("tlds");
        let records = rootdesk::registry::parse_tld_lines(&text).expect("parse");
        store.import_tlds(&records, &actor, now).expect("import");
        let labels: Arc<Vec<String>> =
            Arc::new(zone.tlds.keys().map(|l| l.as_str().to_string()).collect());
        let server = start_daemon(store).await;
        let base = format!("http://{}", server.addr);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .expect("client");

        // Warm up: every TLD once.
        for label in labels.iter() {
            let r = http.get(format!("{base}/rdap/domain/{label}")).send().await.expect("GET");
            assert!(r.status().is_success(), "{label}: {}", r.status());
            r.bytes().await.expect("body");
        }

        println!(
            "rootdesk RDAP benchmark: {} TLDs ({what}), {CLIENTS} concurrent clients, {} s, 2 worker threads, loopback",
            labels.len(),
            RUN.as_secs()
        );
        let start = Instant::now();
        let mut tasks = Vec::new();
        for client in 0..CLIENTS {
            let (http, base, labels) = (http.clone(), base.clone(), labels.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0u64;
                let mut i = client * 89;
                while start.elapsed() < RUN {
                    let url = format!("{base}/rdap/domain/{}", labels[i % labels.len()]);
                    i += 1;
                    let t = Instant::now();
                    let ok = match http.get(&url).send().await {
                        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                        _ => false,
                    };
                    if ok {
                        latencies.push(t.elapsed());
                    } else {
                        failures += 1;
                    }
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
            "GET /rdap/domain/{{tld}}  {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  ({} ok, {failures} failed, {elapsed:.1} s)",
            all.len() as f64 / elapsed,
            percentile(&all, 50.0).as_secs_f64() * 1000.0,
            percentile(&all, 99.0).as_secs_f64() * 1000.0,
            all.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
            all.len(),
        );
        server.shutdown().await;
    });
}
