//! Secrets at rest (issue 10, item 5): a local user who can read the database files finds no
//! usable confirmation link, the files are private to the desk's user, and the daemon refuses
//! to start on a database or signing key that others may read.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use super::smtp::Relay;
use super::*;
use crate::daemon::healthy;

/// Every `/confirm/<secret>` in `bytes`, as paths.
fn link_paths(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for (i, _) in text.match_indices("/confirm/") {
        let rest = &text[i + "/confirm/".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 {
            out.push(format!("/confirm/{}", &rest[..end]));
        }
    }
    out
}

/// The raw bytes of the database and its WAL, as a local reader sees them (old page
/// versions included).
fn raw_files(t: &TestDesk) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["rootdesk.db", "rootdesk.db-wal"] {
        if let Ok(b) = std::fs::read(t.dir.path().join(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_of_the_database_finds_no_usable_link() {
    // No relay: the messages wait in the outbox, where the attack found 143 live links.
    let t = TestDesk::start_with(smtp(9)).await;
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let waiting: Vec<_> = outbox(&t)
        .into_iter()
        .filter(|n| n.kind == "confirm")
        .collect();
    assert_eq!(waiting.len(), 2, "{waiting:#?}");

    // The attacker reads the outbox through SQLite (read-only) and the raw files.
    let conn = rusqlite::Connection::open_with_flags(
        t.dir.path().join("rootdesk.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open read-only");
    let bodies: Vec<String> = conn
        .prepare("SELECT body FROM outbox")
        .expect("select")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("bodies");
    let mut candidates: Vec<String> = bodies
        .iter()
        .flat_map(|b| link_paths(b.as_bytes()))
        .collect();
    candidates.extend(link_paths(&raw_files(&t)));
    candidates.sort();
    candidates.dedup();
    for path in &candidates {
        let (status, page) = open(&t, path).await;
        assert_ne!(
            status,
            StatusCode::OK,
            "{path} read from the database opens the consent form: {page}"
        );
        let (status, page) = answer(&t, path, "confirm", "xa-admin", "").await;
        assert_ne!(status, StatusCode::OK, "{path} confirms: {page}");
    }
    assert_eq!(
        t.wait_for(&ticket, "contact-confirmation").await["consents"]["xa-admin"],
        false
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_is_minted_when_sent_and_works_once_delivered() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t.submit(healthy()).await;
    let mail = relay.wait_for_mail(ADMIN, "your consent is needed").await;
    let link = link_of(&mail);
    wait_delivered(&t).await;
    // The secret that went out is nowhere in the files, before or after delivery.
    let raw = String::from_utf8_lossy(&raw_files(&t)).into_owned();
    let secret = link.trim_start_matches("/confirm/");
    assert!(!raw.contains(secret), "the secret is at rest");
    let (status, page) = answer(&t, &link, "confirm", "xa-admin", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        t.wait_for(&ticket, "contact-confirmation").await["consents"]["xa-admin"],
        true
    );
    t.stop().await;
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_wal_and_shm_are_private() {
    let t = TestDesk::start().await;
    // A write, so that the WAL and the shared-memory index exist while the daemon runs.
    t.submit(healthy()).await;
    for name in ["rootdesk.db", "rootdesk.db-wal", "rootdesk.db-shm"] {
        let path = t.dir.path().join(name);
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    t.stop().await;
}

#[test]
fn a_backup_is_private_too() {
    let desk = crate::common::Desk::new();
    desk.ok(&["init"]);
    assert_eq!(mode(&desk.db()), 0o600);
    let copy = desk.path("copy.db");
    desk.ok(&["backup", copy.to_str().expect("path")]);
    assert_eq!(mode(&copy), 0o600);
}

/// Starts `rootdesk serve` and returns its standard error once it exits, or `None` when it
/// came up (then it is stopped).
fn serve(desk: &crate::common::Desk, extra: &[&str]) -> Option<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .arg("--db")
        .arg(desk.db())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("ROOTDESK_LOG", "warn")
        .env_remove("ROOTDESK_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let stdout = child.stdout.take().expect("stdout");
    let first = BufReader::new(stdout).lines().next();
    if let Some(Ok(line)) = first {
        assert!(line.starts_with("rootdesk serving"), "{line}");
        // Stop the daemon we started, by its id.
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
        return None;
    }
    let out = child.wait_with_output().expect("serve exits");
    assert!(!out.status.success());
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn serve_refuses_a_database_others_may_read() {
    let desk = crate::common::Desk::new();
    desk.ok(&["init"]);
    let before = desk.dump();
    std::fs::set_permissions(desk.db(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = serve(&desk, &[]).expect("refused");
    assert!(
        err.contains(&desk.db().display().to_string())
            && err.contains("chmod 600")
            && err.contains("--allow-readable-files"),
        "{err}"
    );
    assert_eq!(mode(&desk.db()), 0o644, "left as the operator set it");
    assert_eq!(desk.dump(), before);
    // Told otherwise, it starts.
    assert_eq!(serve(&desk, &["--allow-readable-files"]), None);
}

#[test]
fn serve_refuses_a_signing_key_others_may_read() {
    let desk = crate::common::Desk::new();
    desk.ok(&["init"]);
    let key = desk.path("rootdesk-audit.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let err = serve(&desk, &[]).expect("refused");
    assert!(
        err.contains(&key.display().to_string()) && err.contains("chmod 600"),
        "{err}"
    );
    assert_eq!(serve(&desk, &["--allow-readable-files"]), None);
}
