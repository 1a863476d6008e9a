//! Each kind of request from submission to its end, and the failure paths, over HTTP.

use reqwest::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegation_change_is_published() {
    let t = TestDesk::start().await;
    let (status, created) = t
        .post(
            &t.tokens.admin,
            "/v1/requests",
            json!({ "tld": "xa", "proposal": healthy() }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let ticket = created["ticket"].as_str().expect("ticket");
    assert!(
        ticket.starts_with("RD-") && ticket.ends_with("-0001"),
        "{ticket}"
    );
    assert_eq!(created["state"], "technical-check");

    let asked = t.wait_for(ticket, "contact-confirmation").await;
    assert_eq!(asked["owner"], "tld");
    assert_eq!(asked["checks"][0]["verdict"], "pass", "{asked}");
    let (_, checks) = t
        .get(&t.tokens.admin, &format!("/v1/requests/{ticket}/checks"))
        .await;
    assert_eq!(checks["checks"][0]["report"]["verdict"], "pass", "{checks}");

    t.ok(
        &t.tokens.admin,
        &format!("/v1/requests/{ticket}/confirm"),
        json!({}),
    )
    .await;
    let reviewed = t
        .ok(
            &t.tokens.tech,
            &format!("/v1/requests/{ticket}/confirm"),
            json!({}),
        )
        .await;
    assert_eq!(reviewed["state"], "manual-review");
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/approve"),
        json!({ "note": "fine" }),
    )
    .await;
    t.wait_for(ticket, "implementation").await;
    let done = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/implement"),
            json!({}),
        )
        .await;
    assert_eq!(done["state"], "completed");
    let serial = done["serial"].as_u64().expect("serial");

    let (_, zone) = t.call(reqwest::Method::GET, None, "/v1/zone", None).await;
    let zone = zone.as_str().expect("zone text").to_string();
    assert!(zone.contains(&format!(" {serial} ")), "{zone}");
    assert!(
        zone.contains("ns1.nic.xa. 172800 IN A 127.0.0.21"),
        "{zone}"
    );
    assert!(
        !zone.contains("198.51.100.1"),
        "the old glue of ns2.nic.xa stayed: {zone}"
    );
    let (_, tld) = t
        .call(reqwest::Method::GET, None, "/v1/tlds/xa", None)
        .await;
    assert_eq!(
        tld["delegation"]["nameservers"][1]["addresses"][0], NS2,
        "{tld}"
    );

    let store = rootdesk::store::Store::open(&t.dir.path().join("rootdesk.db")).expect("open");
    let report = rootdesk::store::verify_store(&store, &[]).expect("verify");
    assert!(report.ok(), "{report:?}");
    let kinds: Vec<String> = store
        .events(&rootdesk::audit::EventQuery {
            request: Some(ticket.into()),
            ..Default::default()
        })
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in [
        "request-submitted",
        "request-check-finished",
        "request-confirmed",
        "request-approved",
        "zone-published",
        "request-implemented",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }

    // The serial the request made carries a ZONEMD that ldns verifies, and the diff from the
    // serial before names the request's ticket for every change.
    if let Some(verify) = crate::common::tool("ldns-verify-zone") {
        let file = t.dir.path().join("published.zone");
        std::fs::write(&file, &zone).expect("write");
        let out = std::process::Command::new(verify)
            .arg("-Z")
            .arg(&file)
            .output()
            .expect("run ldns-verify-zone");
        assert!(
            out.status.success(),
            "ldns-verify-zone -Z: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let publications = store.publications().expect("publications");
    let before = publications
        .iter()
        .rev()
        .find(|p| u64::from(p.serial) < serial)
        .expect("an earlier publication")
        .serial;
    let (status, diff) = t
        .call(
            reqwest::Method::GET,
            None,
            &format!("/v1/zone/diff?from={before}&to={serial}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    let tlds = diff["tlds"].as_array().expect("tlds");
    assert_eq!(tlds.len(), 1, "{diff}");
    assert_eq!(tlds[0]["tld"], "xa", "{diff}");
    let removed = tlds[0]["removed"].as_array().expect("removed");
    assert!(
        removed.iter().any(|c| c["type"] == "A"
            && c["owner"] == "ns2.nic.xa."
            && c["data"] == "198.51.100.1"),
        "{diff}"
    );
    let added = tlds[0]["added"].as_array().expect("added");
    assert!(!added.is_empty(), "{diff}");
    for c in added.iter().chain(removed) {
        assert_eq!(c["ticket"], ticket, "{diff}");
        assert_eq!(c["serial"], serial, "{diff}");
    }
    let (status, old_zone) = t
        .call(
            reqwest::Method::GET,
            None,
            &format!("/v1/zone?serial={before}"),
            None,
        )
        .await;
    let old_zone = old_zone.as_str().expect("zone text");
    assert_eq!(status, StatusCode::OK, "{old_zone}");
    assert!(
        old_zone.contains(&format!(" IN ZONEMD {before} 1 1 "))
            && old_zone.contains("198.51.100.1"),
        "{old_zone}"
    );
    let (status, _) = t
        .call(reqwest::Method::GET, None, "/v1/zone?serial=1", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = t
        .call(
            reqwest::Method::GET,
            None,
            "/v1/zone/diff?from=x&to=1",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, err) = t
        .call(
            reqwest::Method::GET,
            None,
            &format!("/v1/zone/diff?from={before}&to=1"),
            None,
        )
        .await;
    assert!(status.is_client_error(), "{status} {err}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_check_waits_for_an_amendment() {
    let t = TestDesk::start().await;
    let ticket = t.submit(broken()).await;
    let failed = t.wait_for(&ticket, "awaiting-fix").await;
    assert_eq!(failed["checks"][0]["verdict"], "fail");
    let summary = failed["history"]
        .as_array()
        .expect("history")
        .iter()
        .find_map(|h| h["event"]["summary"].as_str())
        .expect("summary")
        .to_string();
    assert!(
        summary.contains("reachable-udp") && summary.contains("ns3.nic.xa"),
        "{summary}"
    );
    let amended = t
        .ok(
            &t.tokens.tech,
            &format!("/v1/requests/{ticket}/amend"),
            json!({ "proposal": healthy() }),
        )
        .await;
    assert_eq!(amended["state"], "technical-check");
    let passed = t.wait_for(&ticket, "contact-confirmation").await;
    assert_eq!(passed["revisions"].as_array().map(Vec::len), Some(2));
    assert_eq!(passed["checks"][1]["verdict"], "pass");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decline_reject_question_and_withdrawal() {
    let t = TestDesk::start().await;
    // A contact declines.
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    let declined = t
        .ok(
            &t.tokens.tech,
            &format!("/v1/requests/{ticket}/decline"),
            json!({ "reason": "not agreed" }),
        )
        .await;
    assert_eq!(declined["state"], "declined");

    // Staff ask, the TLD answers, staff reject.
    let ticket = t.submit(healthy()).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    for token in [&t.tokens.admin, &t.tokens.tech] {
        t.ok(token, &format!("/v1/requests/{ticket}/confirm"), json!({}))
            .await;
    }
    let asked = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/ask"),
            json!({ "question": "Who runs ns2?" }),
        )
        .await;
    assert_eq!(asked["state"], "awaiting-info");
    assert_eq!(asked["owner"], "tld");
    let answered = t
        .ok(
            &t.tokens.admin,
            &format!("/v1/requests/{ticket}/answer"),
            json!({ "answer": "Our NOC" }),
        )
        .await;
    assert_eq!(answered["state"], "manual-review");
    let rejected = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/reject"),
            json!({ "reason": "policy" }),
        )
        .await;
    assert_eq!(rejected["state"], "rejected");

    // The submitter withdraws; nothing more can happen.
    let ticket = t.submit(healthy()).await;
    let withdrawn = t
        .ok(
            &t.tokens.admin,
            &format!("/v1/requests/{ticket}/withdraw"),
            json!({ "reason": "later" }),
        )
        .await;
    assert_eq!(withdrawn["state"], "withdrawn");
    let (status, body) = t
        .post(
            &t.tokens.admin,
            &format!("/v1/requests/{ticket}/confirm"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "request-state");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_open_delegation_request_and_idempotent_retries() {
    let t = TestDesk::start().await;
    let body = json!({ "tld": "xa", "proposal": healthy() });
    let first = t
        .http
        .post(format!("{}/v1/requests", t.base))
        .bearer_auth(&t.tokens.admin)
        .header("Idempotency-Key", "k-1")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    let again = t
        .http
        .post(format!("{}/v1/requests", t.base))
        .bearer_auth(&t.tokens.admin)
        .header("Idempotency-Key", "k-1")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.expect("json");
    assert_eq!(first["ticket"], again["ticket"]);
    // The same key with another body: 422 naming the first ticket, and nothing new.
    let other = json!({ "tld": "xa", "priority": "emergency", "emergency_reason": "outage", "proposal": healthy() });
    let reused = t
        .http
        .post(format!("{}/v1/requests", t.base))
        .bearer_auth(&t.tokens.admin)
        .header("Idempotency-Key", "k-1")
        .json(&other)
        .send()
        .await
        .expect("send");
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let reused: Value = reused.json().await.expect("json");
    assert_eq!(reused["error"], "idempotency-key-reused", "{reused}");
    assert!(
        reused["message"]
            .as_str()
            .unwrap_or("")
            .contains(first["ticket"].as_str().unwrap_or("?")),
        "{reused}"
    );
    let (status, conflict) = t.post(&t.tokens.tech, "/v1/requests", body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    assert!(
        conflict["message"]
            .as_str()
            .unwrap_or("")
            .contains(first["ticket"].as_str().unwrap_or("?")),
        "{conflict}"
    );
    let (_, list) = t.get(&t.tokens.admin, "/v1/requests?open=true").await;
    assert_eq!(list["requests"].as_array().map(Vec::len), Some(1), "{list}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_left_with_the_tld_are_reminded_then_expire() {
    let t = TestDesk::start().await;
    let ticket = t.submit(broken()).await;
    t.wait_for(&ticket, "awaiting-fix").await;
    t.desk.clock.advance(time::Duration::days(8));
    let acted = t.desk.sweep().expect("sweep");
    assert!(
        matches!(acted.as_slice(), [(tk, rootdesk::workflow::Event::Reminded { after_days: 7 })] if *tk == ticket),
        "{acted:?}"
    );
    assert!(t.desk.sweep().expect("sweep").is_empty(), "reminded twice");
    t.desk.clock.advance(time::Duration::days(23));
    t.desk.sweep().expect("sweep");
    let (_, expired) = t
        .get(&t.tokens.admin, &format!("/v1/requests/{ticket}"))
        .await;
    assert_eq!(expired["state"], "expired", "{expired}");
    t.stop().await;
}

/// Issues a token on the daemon's database.
fn issue(t: &TestDesk, role: Role, subject: &str) -> Result<String, String> {
    t.desk
        .with_store(|s| {
            let now = time::OffsetDateTime::now_utc();
            Ok(s.issue_token(role, subject, None, &Actor::system("test"), now)?)
        })
        .map(|(_, secret)| secret)
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emergency_contacts_and_sponsor_changes() {
    let t = TestDesk::start().await;
    let (status, body) = t
        .post(
            &t.tokens.admin,
            "/v1/requests",
            json!({ "tld": "xa", "priority": "emergency", "proposal": healthy() }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "emergency_reason");
    let urgent = t
        .ok(
            &t.tokens.admin,
            "/v1/requests",
            json!({ "tld": "xa", "priority": "emergency", "emergency_reason": "ns2 compromised", "proposal": healthy() }),
        )
        .await;
    assert_eq!(urgent["priority"], "emergency");

    // A contacts change needs the new contact's consent too, and skips the checks.
    let proposal = json!({ "kind": "contacts", "tech": { "handle": "xa-noc", "name": "XA NOC", "email": "noc@nic.xa.example" } });
    let ticket = t.submit(proposal).await;
    let (_, request) = t
        .get(&t.tokens.admin, &format!("/v1/requests/{ticket}"))
        .await;
    assert_eq!(request["state"], "contact-confirmation");
    assert_eq!(
        request["pending_consents"],
        json!(["xa-admin", "xa-noc", "xa-tech"])
    );
    for token in [&t.tokens.admin, &t.tokens.tech] {
        t.ok(token, &format!("/v1/requests/{ticket}/confirm"), json!({}))
            .await;
    }
    // A newly named contact is not in the registry before the change, so it holds no token
    // (it confirms through its e-mailed link, see the notify tests); register it to use the API.
    let noc = issue(&t, Role::Contact, "xa-noc");
    assert!(noc.is_err(), "{noc:?}");
    t.desk
        .with_store(|s| {
            s.write(|tx| {
                tx.execute(
                    "INSERT INTO contacts (handle, email) VALUES ('xa-noc', 'noc@nic.xa.example')",
                    [],
                )?;
                Ok::<_, rootdesk::store::StoreError>(())
            })?;
            Ok(())
        })
        .expect("register the new contact's handle");
    let noc = issue(&t, Role::Contact, "xa-noc").expect("token");
    let confirmed = t
        .ok(&noc, &format!("/v1/requests/{ticket}/confirm"), json!({}))
        .await;
    assert_eq!(confirmed["state"], "manual-review");
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/approve"),
        json!({}),
    )
    .await;
    let done = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/implement"),
            json!({}),
        )
        .await;
    assert_eq!(done["state"], "completed");
    let (_, tld) = t
        .call(reqwest::Method::GET, None, "/v1/tlds/xa", None)
        .await;
    assert_eq!(tld["tech"]["handle"], "xa-noc", "{tld}");

    // A sponsor change.
    let ticket = t
        .submit(json!({ "kind": "sponsor", "sponsor": "Aldoria NIC Foundation" }))
        .await;
    for token in [&t.tokens.admin, &noc] {
        t.ok(token, &format!("/v1/requests/{ticket}/confirm"), json!({}))
            .await;
    }
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/approve"),
        json!({}),
    )
    .await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/implement"),
        json!({}),
    )
    .await;
    let (_, tld) = t
        .call(reqwest::Method::GET, None, "/v1/tlds/xa", None)
        .await;
    assert_eq!(tld["sponsor"], "Aldoria NIC Foundation");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_with_evidence_and_evaluation() {
    let t = TestDesk::start().await;
    let letter = b"The Ministry supports the transfer of .xa to the Aldoria Internet Society.";
    let uploaded = t
        .http
        .post(format!("{}/v1/documents", t.base))
        .bearer_auth(&t.tokens.admin)
        .header("Content-Type", "text/plain")
        .body(letter.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let sha256 = uploaded.json::<Value>().await.expect("json")["sha256"]
        .as_str()
        .expect("sha")
        .to_string();
    use sha2::Digest;
    assert_eq!(
        sha256,
        data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(letter))
    );
    // The new manager's contacts are the current ones here, so that the test holds their tokens.
    let proposal = json!({
        "kind": "transfer",
        "sponsor": "Aldoria Internet Society",
        "admin": { "handle": "xa-admin", "email": "admin@nic.xa.example" },
        "tech": { "handle": "xa-tech", "email": "tech@nic.xa.example" },
        "delegation": healthy()["delegation"],
        "evidence": [{ "kind": "government-support", "name": "letter.txt", "sha256": sha256, "size": letter.len() }]
    });
    let (status, refused) = t
        .post(&t.tokens.admin, "/v1/requests", json!({ "tld": "xa", "proposal": { "kind": "transfer", "sponsor": "X", "admin": { "handle": "xa-admin" }, "tech": { "handle": "xa-tech" }, "evidence": [{ "kind": "other", "name": "n", "sha256": "00".repeat(32), "size": 1 }] } }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("uploaded"),
        "{refused}"
    );
    let ticket = t.submit(proposal).await;
    t.wait_for(&ticket, "contact-confirmation").await;
    for token in [&t.tokens.admin, &t.tokens.tech] {
        t.ok(token, &format!("/v1/requests/{ticket}/confirm"), json!({}))
            .await;
    }
    let evaluating = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(evaluating["state"], "delegation-evaluation");
    let evaluation = json!({ "evaluation": {
        "assessments": [
            { "criterion": "stability", "met": true, "note": "same operator" },
            { "criterion": "local-support", "met": true, "note": "ministry letter" },
            { "criterion": "incumbent-consent", "met": true, "note": "both contacts consented" },
            { "criterion": "legal-basis", "met": true, "note": "decree 12/2026" }
        ],
        "approve": true,
        "summary": "meets the criteria"
    }});
    let evaluated = t
        .ok(
            &t.tokens.staff,
            &format!("/v1/requests/{ticket}/evaluate"),
            evaluation,
        )
        .await;
    assert_eq!(evaluated["state"], "supplemental-check");
    t.wait_for(&ticket, "implementation").await;
    t.ok(
        &t.tokens.staff,
        &format!("/v1/requests/{ticket}/implement"),
        json!({}),
    )
    .await;
    let (_, tld) = t
        .call(reqwest::Method::GET, None, "/v1/tlds/xa", None)
        .await;
    assert_eq!(tld["sponsor"], "Aldoria Internet Society");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_check_and_the_cli_client() {
    let t = TestDesk::start().await;
    let (status, report) = t
        .post(
            &t.tokens.other,
            "/v1/check",
            json!({ "zone": "xa", "delegation": healthy()["delegation"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["verdict"], "pass", "{report}");
    let (status, _) = t
        .call(
            reqwest::Method::POST,
            None,
            "/v1/check",
            Some(&json!({ "zone": "xa", "delegation": healthy()["delegation"] })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The command-line client against the same daemon.
    let base = t.base.clone();
    let admin = t.tokens.admin.clone();
    let run = move |args: Vec<String>| {
        let base = base.clone();
        let admin = admin.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
                    .args(["request", "--server", &base, "--token", &admin])
                    .args(&args)
                    .env_remove("ROOTDESK_CONFIG")
                    .output()
                    .expect("run rootdesk")
            })
            .await
            .expect("join")
        }
    };
    let out = run(vec![
        "submit".into(),
        "--tld".into(),
        "xa".into(),
        "--ns".into(),
        format!("ns1.nic.xa/{NS1}"),
        "--ns".into(),
        format!("ns2.nic.xa/{NS2}"),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let ticket = text.split_whitespace().next().expect("ticket").to_string();
    assert!(ticket.starts_with("RD-"), "{text}");
    t.wait_for(&ticket, "contact-confirmation").await;
    let out = run(vec!["confirm".into(), ticket.clone()]).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("xa-admin confirmed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(vec![
        "show".into(),
        ticket.clone(),
        "--format".into(),
        "json".into(),
    ])
    .await;
    let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["state"], "contact-confirmation");
    let out = run(vec!["approve".into(), ticket.clone()]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403 Forbidden auth-forbidden"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(vec!["list".into()]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains(&ticket));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_a_configured_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = demo_database(dir.path());
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
    let desk = Arc::new(Desk::new(store, settings(BTreeMap::new())));
    let mut opts = options();
    opts.tls = Some((cert_path, key_path));
    let server = Server::start(desk, opts).await.expect("start");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("root"),
        )
        .resolve("localhost", server.addr)
        .build()
        .expect("client");
    let url = format!("https://localhost:{}/healthz", server.addr.port());
    let health: Value = client
        .get(&url)
        .send()
        .await
        .expect("HTTPS")
        .json()
        .await
        .expect("JSON");
    assert_eq!(health["status"], "ok");
    // Plain HTTP on the TLS port gets no answer.
    let plain = http()
        .get(format!("http://{}/healthz", server.addr))
        .send()
        .await;
    assert!(
        plain.is_err()
            || !plain
                .as_ref()
                .map(|r| r.status().is_success())
                .unwrap_or(false)
    );
    server.shutdown().await;
}

/// dns.ndo.xc serves both xb and xc: readdressing it needs xb's contacts too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readdressing_a_shared_host_asks_every_tld_that_uses_it() {
    let t = TestDesk::start().await;
    let proposal = delegation(&[
        ("dns.ndo.xc", "203.0.113.54"),
        ("ns.mincom.xc", "203.0.113.80"),
    ]);
    let created = t
        .ok(
            &t.tokens.staff,
            "/v1/requests",
            json!({ "tld": "xc", "proposal": proposal }),
        )
        .await;
    let asked: Vec<&str> = created["consents"]
        .as_object()
        .expect("consents")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(asked, ["ndo-noc", "xb-admin", "xc-admin"], "{created}");
    // xb's admin, asked, may now read the request; an unchanged address asks no one else.
    let (status, _) = t
        .get(
            &t.tokens.other,
            &format!("/v1/requests/{}", created["ticket"].as_str().unwrap_or("")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    t.ok(
        &t.tokens.staff,
        &format!(
            "/v1/requests/{}/withdraw",
            created["ticket"].as_str().unwrap_or("")
        ),
        json!({}),
    )
    .await;
    t.stop().await;
}

/// Issue 10 item 2: xb's contact may not plant glue under .xa without .xa's consent, and glue
/// under a TLD nobody at the desk can consent for is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glue_under_another_tld_asks_that_tld() {
    let t = TestDesk::start().await;
    let proposal = delegation(&[("a.ns.xb", "192.0.2.20"), ("evil.nic.xa", "192.0.2.66")]);
    let created = t
        .ok(
            &t.tokens.other,
            "/v1/requests",
            json!({ "tld": "xb", "proposal": proposal }),
        )
        .await;
    let asked: Vec<&str> = created["consents"]
        .as_object()
        .expect("consents")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        asked,
        ["ndo-noc", "xa-admin", "xa-tech", "xb-admin"],
        "{created}"
    );
    let proposal = delegation(&[("a.ns.xb", "192.0.2.20"), ("evil.nic.zz", "192.0.2.67")]);
    let (status, body) = t
        .post(
            &t.tokens.other,
            "/v1/requests",
            json!({ "tld": "xb", "proposal": proposal }),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(body.to_string().contains("evil.nic.zz"), "{body}");
    t.stop().await;
}
