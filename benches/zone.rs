//! Import and export of the real root zone (`../shared/data/root.zone`).
//!
//! `cargo bench --bench zone`. Import = parse the master file + write a first publication to a
//! fresh database (one transaction, synchronous=FULL); export = read the current publication +
//! render the master file with its ZONEMD digest (RFC 8976, SHA-384).

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rootdesk::audit::Actor;
use rootdesk::store::Store;
use rootdesk::zonefile;

fn root_zone() -> Option<std::path::PathBuf> {
    // SHARED_DATA_DIR points elsewhere (a git worktree keeps the data two levels up).
    let path = std::env::var_os("SHARED_DATA_DIR")
        .map(|d| Path::new(&d).join("root.zone"))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/root.zone"));
    if path.exists() {
        Some(path)
    } else {
        eprintln!("SKIPPED: {} is missing", path.display());
        None
    }
}

fn bench(c: &mut Criterion) {
    let Some(path) = root_zone() else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read root zone");
    let now = time::OffsetDateTime::now_utc();
    let mut group = c.benchmark_group("root-zone");
    group.sample_size(20);
    group.bench_function("parse", |b| {
        b.iter(|| zonefile::parse_root_zone(&text, &path).expect("parses"))
    });
    group.bench_function("import", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = Store::create(&dir.path().join("b.db")).expect("create");
                (dir, store)
            },
            |(dir, mut store)| {
                let zone = zonefile::parse_root_zone(&text, &path).expect("parses");
                store
                    .import_zone(&zone, "bench", &Actor::system("bench"), now)
                    .expect("import");
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::create(&dir.path().join("b.db")).expect("create");
    let zone = zonefile::parse_root_zone(&text, &path).expect("parses");
    store
        .import_zone(&zone, "bench", &Actor::system("bench"), now)
        .expect("import");
    group.bench_function("reimport-unchanged", |b| {
        b.iter(|| {
            let zone = zonefile::parse_root_zone(&text, &path).expect("parses");
            store
                .import_zone(&zone, "bench", &Actor::system("bench"), now)
                .expect("import")
        })
    });
    // The export as `rootdesk export-zone` makes it: read the publication and its recorded
    // digest, render every record, compute the ZONEMD (SHA-384) and compare it.
    group.bench_function("export-with-zonemd", |b| {
        b.iter(|| {
            let zone = store.zone(None).expect("read").expect("published");
            let recorded = store.recorded_digest(zone.soa.serial).expect("digest");
            zonefile::export_root_zone(&zone, recorded.as_deref()).expect("export")
        })
    });
    let records = zonefile::zone_records(&zone);
    group.bench_function("zonemd-digest", |b| {
        b.iter(|| zonefile::zonemd_digest(&records).expect("digest"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
