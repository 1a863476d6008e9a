//! The README's main command: `rootdesk serve --demo`, followed the way its printed
//! walk-through says, over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_walk_through_publishes_a_change() {
    // The demo keeps its database where --db says, and its links point where it serves.
    let dir = tempfile::tempdir().expect("temporary directory");
    let wanted_db = dir.path().join("demo.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--db"])
        .arg(&wanted_db)
        .env("ROOTDESK_LOG", "warn")
        .env_remove("ROOTDESK_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the demo");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("a line");
        let done = line.starts_with("Stop with Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    let text = printed.join("\n");
    let db = printed
        .iter()
        .find_map(|l| l.strip_prefix("database:"))
        .map(|d| d.trim().to_string())
        .expect("database line");
    assert_eq!(db, wanted_db.display().to_string(), "{text}");
    assert!(wanted_db.exists(), "the demo database is at --db");
    // The lab servers are where the README says: 127.0.0.11 and 127.0.0.12.
    let lab = printed
        .iter()
        .find_map(|l| l.strip_prefix("lab servers:"))
        .unwrap_or_else(|| panic!("no lab servers line in\n{text}"));
    assert!(
        lab.contains("127.0.0.11:") && lab.contains("127.0.0.12:"),
        "{lab}"
    );
    let export = printed
        .iter()
        .find(|l| l.starts_with("export RD="))
        .unwrap_or_else(|| panic!("no export line in\n{text}"));
    let var = |name: &str| -> String {
        export
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing in {export}"))
            .to_string()
    };
    let (rd, admin, tech, staff, auditor) = (
        var("RD"),
        var("ADMIN"),
        var("TECH"),
        var("STAFF"),
        var("AUDITOR"),
    );
    let ticket = text
        .split_whitespace()
        .find(|w| w.starts_with("$RD/v1/requests/RD-"))
        .and_then(|w| w.strip_prefix("$RD/v1/requests/"))
        .map(|w| w.split('/').next().unwrap_or(w).to_string())
        .expect("ticket in the walk-through");

    let http = http();
    // The portal's login page, at the address the demo prints.
    let login = text
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with("/login"))
        .unwrap_or_else(|| panic!("no portal login address in\n{text}"));
    let page = http.get(login).send().await.expect("the login page");
    assert_eq!(page.status(), reqwest::StatusCode::OK, "{login}");
    assert!(page
        .text()
        .await
        .expect("html")
        .contains("type=\"password\""));
    let post = |token: &str, path: &str, body: Value| {
        http.post(format!("{rd}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    // Step 1, as printed.
    let body: Value = serde_json::from_str(
        text.split("-d '")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("the submission body"),
    )
    .expect("the printed body is JSON");
    let created = post(&admin, "/v1/requests", body).await.expect("submit");
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("json");
    assert_eq!(created["ticket"], ticket.as_str());
    // Step 2: the check passes against the lab servers.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r: Value = http
            .get(format!("{rd}/v1/requests/{ticket}"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if r["state"] == "contact-confirmation" {
            assert_eq!(r["checks"][0]["verdict"], "pass", "{r}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{r}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The confirmation links mailed to the contacts point at the port the demo serves on.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let bodies: Vec<String> = {
            let conn = rusqlite::Connection::open(&wanted_db).expect("open the demo database");
            let mut stmt = conn
                .prepare("SELECT body FROM outbox WHERE kind = 'confirm'")
                .expect("outbox");
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .expect("query")
                .collect::<Result<Vec<_>, _>>()
                .expect("rows");
            rows
        };
        if !bodies.is_empty() {
            for body in &bodies {
                assert!(body.contains(&format!("{rd}/confirm/")), "{rd}: {body}");
            }
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no confirmation message in the outbox"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Steps 3 and 4.
    for token in [&admin, &tech] {
        let r = post(token, &format!("/v1/requests/{ticket}/confirm"), json!({}))
            .await
            .expect("confirm");
        assert!(r.status().is_success());
    }
    let r = post(&staff, &format!("/v1/requests/{ticket}/approve"), json!({}))
        .await
        .expect("approve");
    assert!(r.status().is_success());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let done: Value = loop {
        let r = post(
            &staff,
            &format!("/v1/requests/{ticket}/implement"),
            json!({}),
        )
        .await
        .expect("implement");
        if r.status().is_success() {
            break r.json().await.expect("json");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never implementable"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(done["state"], "completed");
    // Step 5 and 6.
    let zone = http
        .get(format!("{rd}/v1/zone"))
        .send()
        .await
        .expect("zone")
        .text()
        .await
        .expect("text");
    assert!(
        zone.contains("ns2.nic.xa. 172800 IN A 127.0.0.12"),
        "{zone}"
    );
    let audit: Value = http
        .get(format!("{rd}/v1/audit?request={ticket}"))
        .bearer_auth(&auditor)
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    assert!(
        audit["events"].as_array().map(Vec::len).unwrap_or(0) >= 8,
        "{audit}"
    );
    let verified = Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .args(["--db", &db, "audit", "verify"])
        .output()
        .expect("verify");
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_demo_refuses_a_database_that_exists() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("kept.db");
    std::fs::write(&db, b"precious").expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .env("ROOTDESK_LOG", "warn")
        .env_remove("ROOTDESK_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the demo");
    // A demo that ignored --db would serve on: stop it rather than wait forever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
    }
    let status = status.unwrap_or_else(|| panic!("the demo served on an existing --db: {err}"));
    assert!(!status.success());
    assert!(err.contains("kept.db") && err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(&db).expect("read"), b"precious");
}
