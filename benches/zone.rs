//! Import and export of the real root zone (`../shared/data/root.zone`).
//!
//! `cargo bench --bench zone`. Import = parse the master file + write a first publication to a
//! fresh database (one transaction, synchronous=FULL); export = read the current publication +
//! render the master file.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rootdesk::audit::Actor;
use rootdesk::store::Store;
use rootdesk::zonefile;

fn root_zone() -> Option<std::path::PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/root.zone");
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
    group.bench_function("export", |b| {
        b.iter(|| {
            let zone = store.zone(None).expect("read").expect("published");
            zonefile::render_root_zone(&zone).expect("digest")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
