//! Secrets at rest (issue 10, item 5): a local user who can read the database files finds no
//! confirmation link that works, before or after delivery, and the files are not readable by
//! others in the first place.

use std::os::unix::fs::PermissionsExt;

use super::smtp::Relay;
use super::*;
use crate::daemon::healthy;

/// Every `/confirm/...` path in a text.
fn confirm_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("/confirm/") {
        let tail = &rest[i..];
        let end = tail[1..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
            .map_or(tail.len(), |e| e + 1);
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// What a local reader of the database files sees: every byte of the file, its WAL and SHM.
fn raw_database(t: &TestDesk) -> String {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = t.dir.path().join(format!("rootdesk.db{suffix}"));
        if let Ok(b) = std::fs::read(&path) {
            bytes.extend(b);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_hold_no_usable_link() {
    // No relay: the confirmation requests wait in the outbox, as they did for the attacker.
    let t = TestDesk::start().await;
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let rows = outbox(&t);
    let queued: Vec<_> = rows.iter().filter(|n| n.kind == "confirm").collect();
    assert!(queued.len() >= 2, "{rows:#?}");
    for n in queued {
        let paths = confirm_paths(&n.body);
        assert_eq!(
            paths.len(),
            1,
            "one link placeholder per message: {}",
            n.body
        );
        for path in paths {
            let (status, page) = open(&t, &path).await;
            assert_ne!(
                status,
                StatusCode::OK,
                "a link read from the outbox works: {path}\n{page}"
            );
        }
    }
    // Nor anywhere else in the files: every path-looking string is tried.
    for path in confirm_paths(&raw_database(&t)) {
        let (status, _) = open(&t, &path).await;
        assert_ne!(status, StatusCode::OK, "{path} from the raw database works");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_secrets_are_not_in_the_database_files() {
    let relay = Relay::start().await;
    let t = TestDesk::start_with(smtp(relay.port)).await;
    let ticket = t.submit(healthy()).await;
    let (admin_link, tech_link) = contact_links(&relay, 0).await;
    wait_delivered(&t).await;
    let raw = raw_database(&t);
    for link in [&admin_link, &tech_link] {
        let secret = link.trim_start_matches("/confirm/");
        assert!(secret.len() >= 20, "{link}");
        assert!(
            !raw.contains(secret),
            "the secret of {link} is in the database files"
        );
    }
    // The mailed links work.
    let (status, page) = answer(&t, &admin_link, "confirm", "xa-admin", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, page) = answer(&t, &tech_link, "confirm", "xa-tech", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    t.wait_for(&ticket, "manual-review").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_files_are_private_to_the_owner() {
    let t = TestDesk::start().await;
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let mut seen = 0;
    for suffix in ["", "-wal", "-shm"] {
        let path = t.dir.path().join(format!("rootdesk.db{suffix}"));
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        seen += 1;
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", path.display());
    }
    assert!(seen >= 2, "the database and its WAL exist");
}

/// Starts `rootdesk serve` on a database; returns its exit output, or the first line it
/// printed when it is still serving after a while (then it is stopped, by its PID).
fn serve_outcome(desk: &crate::common::Desk, env: &[(&str, &str)]) -> Result<String, String> {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .arg("--db")
        .arg(desk.db())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("ROOTDESK_CONFIG")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start rootdesk serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap_or_default();
    if line.starts_with("rootdesk serving") {
        let _ = child.kill();
        let _ = child.wait();
        return Ok(line);
    }
    let out = child.wait_with_output().expect("wait");
    assert!(!out.status.success(), "serve ended without serving: {line}");
    Err(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_daemon_refuses_a_database_or_key_others_can_read() {
    use std::fs::Permissions;
    let desk = crate::common::Desk::new();
    desk.ok(&["init"]);
    let db_mode = std::fs::metadata(desk.db())
        .expect("db")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(db_mode, 0o600, "init creates the database private");
    assert!(
        serve_outcome(&desk, &[]).is_ok(),
        "a private database is served"
    );

    std::fs::set_permissions(desk.db(), Permissions::from_mode(0o644)).expect("chmod");
    let err = serve_outcome(&desk, &[]).expect_err("served a world-readable database");
    assert!(
        err.contains("refusing to serve") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(err.contains("rootdesk.db (mode 644)"), "{err}");
    let allowed = serve_outcome(&desk, &[("ROOTDESK_SERVER__ALLOW_READABLE_FILES", "true")]);
    assert!(allowed.is_ok(), "told otherwise, it serves: {allowed:?}");

    std::fs::set_permissions(desk.db(), Permissions::from_mode(0o600)).expect("chmod");
    for suffix in ["-wal", "-shm"] {
        let path = desk.path(&format!("rootdesk.db{suffix}"));
        if path.exists() {
            std::fs::set_permissions(&path, Permissions::from_mode(0o600)).expect("chmod");
        }
    }
    let key = std::fs::read_dir(desk.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "key"))
        .expect("init writes a signing key");
    std::fs::set_permissions(&key, Permissions::from_mode(0o640)).expect("chmod key");
    let err = serve_outcome(&desk, &[]).expect_err("served with a readable signing key");
    assert!(
        err.contains("refusing to serve") && err.contains("readable by others"),
        "{err}"
    );
}
