//! The README's main command: `rootdesk serve --demo`, followed the way its printed
//! walk-through says, over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_walk_through_publishes_a_change() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
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
    let db = printed
        .iter()
        .find_map(|l| l.strip_prefix("database:"))
        .map(|d| d.trim().to_string())
        .expect("database line");
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
    if let Some(dir) = std::path::Path::new(&db).parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
