//! Guarantees that had no test of their own (issue 10, "tests that can pass without
//! testing"): `$INCLUDE` refused, a backup taken while a writer is busy, checkpoints signed by
//! the daemon's timer, a graceful stop on SIGTERM with a request in flight.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rootdesk::audit::{Actor, NewEvent};
use rootdesk::desk::Desk as DeskCore;
use rootdesk::store::Store;

use crate::common::{repo_file, Desk};

#[test]
fn include_directives_are_refused_and_change_nothing() {
    let desk = Desk::new();
    desk.ok(&["init"]);
    let secret = desk.path("secret.zone");
    std::fs::write(&secret, "xz. 172800 IN NS a.ns.xz.\n").expect("write");
    let zone = std::fs::read_to_string(repo_file("fixtures/demo/root.zone")).expect("read");
    let bad = format!("{zone}$INCLUDE {}\n", secret.display());
    let path = desk.path("bad.zone");
    std::fs::write(&path, &bad).expect("write");
    let before = desk.dump();
    let err = desk.fails(&["import-zone", path.to_str().expect("path")]);
    let line = bad.lines().count();
    assert!(err.contains(&format!("bad.zone:{line}:")), "{err}");
    assert!(err.contains("$INCLUDE is not supported"), "{err}");
    assert_eq!(before, desk.dump(), "a refused import changed the database");
}

#[test]
fn backup_while_a_writer_is_busy() {
    let desk = Desk::new();
    desk.ok(&["init"]);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (desk.db(), stop.clone());
        std::thread::spawn(move || {
            let mut store = Store::open(&db).expect("open");
            let mut written = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<NewEvent> = (0..20)
                    .map(|i| {
                        NewEvent::new(Actor::cli(), "zone-imported", serde_json::json!({"i": i}))
                    })
                    .collect();
                store
                    .append_events(&batch)
                    .expect("append while backing up");
                written += 20;
            }
            written
        })
    };
    // Let the writer get going, then back up twice while it writes.
    std::thread::sleep(Duration::from_millis(100));
    for name in ["one.db", "two.db"] {
        let copy = desk.path(name);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
            .arg("--db")
            .arg(desk.db())
            .args(["backup", copy.to_str().expect("path")])
            .env_remove("ROOTDESK_CONFIG")
            .spawn()
            .expect("start backup");
        // SQLite's backup restarts when another connection writes; it must still finish.
        let mut status = None;
        for _ in 0..600 {
            if let Some(s) = child.try_wait().expect("wait") {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            stop.store(true, Ordering::Relaxed);
            panic!("backup never finished while a writer was busy");
        };
        assert!(status.success(), "backup failed");
        // The copy is a consistent database whose log verifies.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
            .args(["--db", copy.to_str().expect("path"), "audit", "verify"])
            .env_remove("ROOTDESK_CONFIG")
            .output()
            .expect("verify copy");
        assert!(
            out.status.success(),
            "the copy does not verify: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer");
    assert!(written > 0);
    let desk_log = desk.ok(&["audit", "verify"]);
    assert!(desk_log.contains("checked events"), "{desk_log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_signs_checkpoints_on_its_timer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::daemon::demo_database(dir.path());
    let key = rootdesk::audit::checkpoint::create_signing_key(&dir.path().join("audit.key"))
        .expect("key");
    let public = key.verifying_key();
    let desk = Arc::new(DeskCore::new(
        store,
        crate::daemon::settings(BTreeMap::new()),
    ));
    let mut options = crate::daemon::options();
    options.checkpoints = Some((Duration::from_millis(100), key));
    let server = rootdesk::api::Server::start(desk.clone(), options)
        .await
        .expect("start daemon");
    let newest = |d: &DeskCore| {
        d.read_store(|s| {
            let last = s
                .events(&Default::default())?
                .last()
                .map(|e| e.seq)
                .unwrap_or(0);
            let signed = s.checkpoints(1, None)?.last().map(|c| c.seq);
            Ok((last, signed))
        })
        .expect("read")
    };
    // Nobody asks for a checkpoint: the timer signs the newest event, and again after more.
    for round in 0..2 {
        if round == 1 {
            desk.with_store(|s| {
                Ok(s.append_events(&[NewEvent::new(
                    Actor::cli(),
                    "zone-imported",
                    serde_json::json!({}),
                )])?)
            })
            .expect("append");
        }
        let mut covered = false;
        for _ in 0..200 {
            let (last, signed) = newest(&desk);
            if signed == Some(last) {
                covered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            covered,
            "round {round}: no checkpoint of the newest event: {:?}",
            newest(&desk)
        );
    }
    // Signed with the daemon's key.
    let checkpoints = desk
        .read_store(|s| Ok(s.checkpoints(1, None)?))
        .expect("checkpoints");
    assert!(checkpoints.len() >= 2, "{checkpoints:?}");
    let key_id = rootdesk::audit::checkpoint::key_id(&public);
    assert!(
        checkpoints.iter().all(|c| c.key_id == key_id),
        "{checkpoints:?}"
    );
    server.shutdown().await;
}

/// `rootdesk serve` on a fresh database with a staff token; returns (child, address, token).
fn serve(desk: &Desk) -> (std::process::Child, String, String) {
    desk.ok(&["init"]);
    let out = desk.ok(&["token", "issue", "--role", "staff", "--subject", "ops"]);
    let token = out
        .split_whitespace()
        .find(|w| w.starts_with("rd_"))
        .unwrap_or_else(|| panic!("no token in {out}"))
        .to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .arg("--db")
        .arg(desk.db())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("ROOTDESK_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start rootdesk serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr, token)
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    let desk = Desk::new();
    let (mut child, addr, token) = serve(&desk);
    // An upload: its handler waits for the whole body, so the request is truly in flight.
    let body = b"evidence sent while the desk is told to stop";
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "POST /v1/documents HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .expect("send head");
    stream.write_all(&body[..5]).expect("send part");
    // The daemon must have read the head before the signal, or the connection is still idle
    // and is rightly closed; on a loaded machine that takes a while, so wait generously.
    std::thread::sleep(Duration::from_millis(1500));
    // SIGTERM to our own child, by its PID.
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(killed.success(), "kill -TERM");
    std::thread::sleep(Duration::from_millis(200));
    stream
        .write_all(&body[5..])
        .expect("send the rest after SIGTERM");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "in-flight request cut off: {response}"
    );
    // New connections are refused once it has stopped, and it exits cleanly.
    let status = child.wait().expect("wait");
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "still listening"
    );
}
