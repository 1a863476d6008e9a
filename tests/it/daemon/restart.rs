//! The real daemon process killed with a check in flight: on restart the check resumes and
//! no request or event is lost.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use super::*;

struct Daemon {
    child: Child,
    base: String,
}

impl Daemon {
    fn start(config: &std::path::Path) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rootdesk"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("ROOTDESK_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rootdesk serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the banner");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        Daemon { child, base }
    }

    /// SIGKILL: no shutdown, no draining.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(base: &str, token: &str, path: &str) -> Value {
    http()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_daemon_resumes_its_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = demo_database(dir.path());
    let now = time::OffsetDateTime::now_utc();
    let (_, admin) = store
        .issue_token(Role::Contact, "xa-admin", None, &Actor::system("test"), now)
        .expect("token");
    drop(store);
    let (lab, mut ports) = xa_lab().await;
    // DEAD must swallow queries (a closed port fails at once: the UDP probe sees the ICMP
    // port-unreachable): a UDP socket and a TCP listener that never answer, kept open for the
    // rest of the test process.
    let silent_udp = std::net::UdpSocket::bind((DEAD, 0)).expect("silent UDP socket");
    let silent_port = silent_udp.local_addr().expect("addr").port();
    let silent_tcp = std::net::TcpListener::bind((DEAD, silent_port)).expect("silent TCP listener");
    ports.insert(DEAD.parse().expect("ip"), silent_port);
    // The silent server counts the queries it swallows: proof that a check was really in
    // flight when the daemon died, and really ran again after the restart.
    let swallowed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let swallowed = swallowed.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while silent_udp.recv_from(&mut buf).is_ok() {
                swallowed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    std::mem::forget(silent_tcp);
    let queries = || swallowed.load(std::sync::atomic::Ordering::SeqCst);

    // A dead server costs the check a 3-second timeout: long enough to kill it mid-way.
    let lab_profile = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/profiles/lab.toml"),
    )
    .expect("lab profile");
    let profile = lab_profile
        .replace("timeout_ms = 1000", "timeout_ms = 3000")
        .replace("retries = 1", "retries = 0");
    assert_ne!(profile, lab_profile, "the lab profile's timeouts moved");
    std::fs::write(dir.path().join("slow.toml"), profile).expect("write profile");
    let port_lines: String = ports
        .iter()
        .map(|(ip, port)| format!("\"{ip}\" = {port}\n"))
        .collect();
    let config = dir.path().join("rootdesk.toml");
    std::fs::write(
        &config,
        format!(
            "db = \"{db}\"\n[check]\nprofile = \"{profile}\"\n[check.ports]\n{port_lines}[server]\nlisten = \"127.0.0.1:0\"\ncheck_poll_ms = 50\n",
            db = dir.path().join("rootdesk.db").display(),
            profile = dir.path().join("slow.toml").display(),
        ),
    )
    .expect("write config");

    let daemon = Daemon::start(&config);
    let submitted: Value = http()
        .post(format!("{}/v1/requests", daemon.base))
        .bearer_auth(&admin)
        .json(&json!({ "tld": "xa", "proposal": broken() }))
        .send()
        .await
        .expect("submit")
        .json()
        .await
        .expect("JSON");
    let ticket = submitted["ticket"].as_str().expect("ticket").to_string();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while queries() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the check never queried the dead server"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    daemon.kill();
    let before_restart = queries();

    {
        let store = Store::open(&dir.path().join("rootdesk.db")).expect("open");
        let pending = store.pending_checks().expect("jobs");
        assert_eq!(pending.len(), 1, "the check was not in flight: {pending:?}");
        assert_eq!(
            store
                .request(&ticket)
                .expect("read")
                .expect("request")
                .state
                .as_str(),
            "technical-check"
        );
    }

    let daemon = Daemon::start(&config);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let request = loop {
        let request = get(&daemon.base, &admin, &format!("/v1/requests/{ticket}")).await;
        if request["state"] == "awaiting-fix" {
            break request;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the check never resumed: {request}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        queries() > before_restart,
        "the restarted daemon finished the check without probing again"
    );
    let events: Vec<&str> = request["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["event"]["event"].as_str())
        .collect();
    assert_eq!(events, ["submitted", "accepted", "check-finished"]);
    drop(daemon);

    let store = Store::open(&dir.path().join("rootdesk.db")).expect("open");
    assert!(store.pending_checks().expect("jobs").is_empty());
    let report = rootdesk::store::verify_store(&store, &[]).expect("verify");
    assert!(report.ok(), "{report:?}");
    for s in lab {
        s.stop().await;
    }
}

/// SIGKILL while a message is with the relay (its data sent, no answer yet): the row stays
/// claimed, and the next daemon sends it again with the same Message-ID and records the doubt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_daemon_sends_again_what_it_was_handing_to_the_relay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = demo_database(dir.path());
    let now = time::OffsetDateTime::now_utc();
    let (_, admin) = store
        .issue_token(Role::Contact, "xa-admin", None, &Actor::system("test"), now)
        .expect("token");
    drop(store);
    let (lab, ports) = xa_lab().await;
    let relay = crate::notify::smtp::Relay::start().await;
    relay.hold(true);
    let port_lines: String = ports
        .iter()
        .map(|(ip, port)| format!("\"{ip}\" = {port}\n"))
        .collect();
    let config = dir.path().join("rootdesk.toml");
    std::fs::write(
        &config,
        format!(
            "db = \"{db}\"\n[check]\nprofile = \"{profile}\"\n[check.ports]\n{port_lines}\
             [server]\nlisten = \"127.0.0.1:0\"\ncheck_poll_ms = 50\n\
             [smtp]\nrelay = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             base_url = \"https://desk.example\"\npoll_ms = 30\nretry_initial_ms = 100\n\
             retry_max_ms = 400\ntimeout_ms = 120000\n",
            db = dir.path().join("rootdesk.db").display(),
            profile = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/profiles/lab.toml")
                .display(),
            port = relay.port,
        ),
    )
    .expect("write config");

    let daemon = Daemon::start(&config);
    let submitted: Value = http()
        .post(format!("{}/v1/requests", daemon.base))
        .bearer_auth(&admin)
        .json(&json!({ "tld": "xa", "proposal": healthy() }))
        .send()
        .await
        .expect("submit")
        .json()
        .await
        .expect("JSON");
    let ticket = submitted["ticket"].as_str().expect("ticket").to_string();
    let held = relay.wait_for_held().await;
    let held_id = held.header("Message-ID").expect("a Message-ID");
    daemon.kill();

    let in_flight: Vec<i64> = {
        let store = Store::open(&dir.path().join("rootdesk.db")).expect("open");
        store
            .outbox(false, 10_000)
            .expect("outbox")
            .into_iter()
            .filter(|n| n.sending_at.is_some() && n.delivered_at.is_none())
            .map(|n| n.id)
            .collect()
    };
    assert_eq!(
        in_flight.len(),
        1,
        "one message was with the relay when the daemon died"
    );

    relay.hold(false);
    let daemon = Daemon::start(&config);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let resent = relay
            .mails()
            .iter()
            .any(|m| m.header("Message-ID").as_deref() == Some(held_id.as_str()));
        if resent {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the interrupted message {held_id} was never sent again: {:#?}",
            relay.mails()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(daemon);

    let store = Store::open(&dir.path().join("rootdesk.db")).expect("open");
    let doubt = store
        .events(&rootdesk::audit::EventQuery {
            kind: Some("notification-in-doubt".into()),
            ..Default::default()
        })
        .expect("events");
    assert_eq!(doubt.len(), 1, "{doubt:#?}");
    assert_eq!(doubt[0].payload["outbox"], in_flight[0]);
    assert_eq!(doubt[0].request.as_deref(), Some(ticket.as_str()));
    let report = rootdesk::store::verify_store(&store, &[]).expect("verify");
    assert!(report.ok(), "{report:?}");
    for s in lab {
        s.stop().await;
    }
}
