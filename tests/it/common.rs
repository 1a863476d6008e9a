//! Helpers shared by the integration tests: run the real binary on a temporary database.

use std::path::{Path, PathBuf};
use std::process::Output;

/// A temporary directory holding one rootdesk database.
pub struct Desk {
    pub dir: tempfile::TempDir,
}

impl Desk {
    pub fn new() -> Desk {
        Desk {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("rootdesk.db")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `rootdesk --db DB ARGS...` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
            .arg("--db")
            .arg(self.db())
            .args(args)
            .env_remove("ROOTDESK_CONFIG")
            .output()
            .expect("run rootdesk")
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rootdesk {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs a command that must fail; returns its standard error.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "rootdesk {args:?} should have failed but printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).expect("UTF-8 output")
    }

    /// Every row of every table, to prove that a refused command changed nothing.
    pub fn dump(&self) -> String {
        let conn = rusqlite::Connection::open(self.db()).expect("open database");
        let mut tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .expect("list tables")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("names");
        tables.sort();
        let mut out = String::new();
        for table in tables {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY 1, 2, 3"))
                .expect("select");
            let columns = stmt.column_count();
            let mut rows = stmt.query([]).expect("rows");
            while let Some(row) = rows.next().expect("row") {
                out.push_str(&table);
                for i in 0..columns {
                    let value: rusqlite::types::Value = row.get(i).expect("value");
                    out.push_str(&format!(" {value:?}"));
                }
                out.push('\n');
            }
        }
        out
    }
}

/// A file of the repository.
pub fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A file of `../shared/data` (or of the folder `SHARED_DATA_DIR` names, for a work tree
/// that is not beside `shared/`), or `None` (with a visible skip) where it is missing.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("SHARED_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let path = dir.join(name);
    if path.exists() {
        Some(path)
    } else {
        skip(&format!(
            "{} is missing; this test needs ../shared/data beside the repository",
            path.display()
        ));
        None
    }
}

/// Whether this run is CI's (`CI` set to anything but empty, `0` or `false`).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A test that cannot run here because a prerequisite is missing. Under CI that is a failure
/// (CI installs every prerequisite); elsewhere the skip is printed and counted in
/// `target/test-skips.txt`, which `.ci/run` reports apart from the passes.
#[track_caller]
pub fn skip(reason: &str) {
    let place = std::panic::Location::caller();
    if under_ci() {
        panic!("prerequisite missing under CI ({place}): {reason}");
    }
    eprintln!("SKIPPED ({place}): {reason}");
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-skips.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        use std::io::Write;
        let _ = writeln!(f, "{place}: {reason}");
    }
}
