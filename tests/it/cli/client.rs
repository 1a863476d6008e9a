//! `rootdesk request ...`, the built binary, against the real daemon: every subcommand, in the
//! flows a TLD contact and the desk's staff go through.

use std::process::Output;

use serde_json::{json, Value};

use crate::daemon::{TestDesk, NS1, NS2};

/// Runs `rootdesk request --server BASE --token TOKEN ARGS...`.
async fn request(t: &TestDesk, token: &str, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"));
    command
        .args(["request", "--server", &t.base, "--token", token])
        .args(args)
        .env_remove("ROOTDESK_CONFIG")
        .env_remove("ROOTDESK_SERVER")
        .env_remove("ROOTDESK_TOKEN");
    tokio::task::spawn_blocking(move || command.output().expect("run rootdesk"))
        .await
        .expect("join")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs and insists on success; returns standard output.
async fn ok(t: &TestDesk, token: &str, args: &[&str]) -> String {
    let out = request(t, token, args).await;
    assert!(
        out.status.success(),
        "request {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        stdout(&out)
    );
    stdout(&out)
}

/// Runs and insists on failure; returns standard error.
async fn fails(t: &TestDesk, token: &str, args: &[&str]) -> String {
    let out = request(t, token, args).await;
    assert!(
        !out.status.success(),
        "request {args:?} succeeded: {}",
        stdout(&out)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn json_of(t: &TestDesk, token: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str(&ok(t, token, &all).await).expect("JSON output")
}

fn ticket_of(text: &str) -> String {
    let ticket = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(ticket.starts_with("RD-"), "no ticket in {text}");
    ticket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegation_change_through_every_step() {
    let t = TestDesk::start().await;
    let (admin, tech, staff) = (&t.tokens.admin, &t.tokens.tech, &t.tokens.staff);
    let ns1 = format!("ns1.nic.xa/{NS1}");
    let ns2 = format!("ns2.nic.xa/{NS2}");
    let submit = [
        "submit",
        "--tld",
        "xa",
        "--ns",
        &ns1,
        "--ns",
        &ns2,
        "--emergency",
        "ns0 was lost in a fire",
        "--idempotency-key",
        "fire-1",
    ];
    let ticket = ticket_of(&ok(&t, admin, &submit).await);
    // A retry with the same key is the same request.
    assert_eq!(ticket_of(&ok(&t, admin, &submit).await), ticket);
    t.wait_for(&ticket, "contact-confirmation").await;

    let shown = ok(&t, admin, &["show", &ticket]).await;
    for expected in [
        "contact-confirmation (waiting on the TLD since",
        "must act   xa-admin",
        "must act   xa-tech",
        "emergency  ns0 was lost in a fire",
        "submitted  ",
        "by contact xa-admin",
        "proposal   revision 1",
        &format!("ns1.nic.xa                       {NS1}"),
        "DS         none (unsigned)",
        "check      initial of revision 1: pass",
        "history\n",
    ] {
        assert!(shown.contains(expected), "no {expected:?} in:\n{shown}");
    }
    let checks = ok(&t, admin, &["checks", &ticket]).await;
    assert!(checks.contains("initial check of revision 1"), "{checks}");
    assert!(checks.contains("xa.: PASS"), "{checks}");
    assert!(checks.contains("ok       "), "{checks}");
    let checks_json = json_of(&t, admin, &["checks", &ticket]).await;
    assert_eq!(checks_json["checks"][0]["report"]["verdict"], "pass");

    // Lists: several states, an owner, CSV; an unknown state is refused before any call.
    let csv = ok(
        &t,
        staff,
        &[
            "list",
            "--state",
            "contact-confirmation",
            "--state",
            "awaiting-fix",
            "--owner",
            "tld",
            "--format",
            "csv",
        ],
    )
    .await;
    assert!(
        csv.starts_with("ticket,tld,kind,priority,state,owner,age,in_state,rev\n"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            "{ticket},xa,delegation,emergency,contact-confirmation,tld,"
        )),
        "{csv}"
    );
    let desk_owned = ok(&t, staff, &["list", "--owner", "desk"]).await;
    assert!(!desk_owned.contains(&ticket), "{desk_owned}");
    let table = ok(&t, staff, &["list", "--open"]).await;
    assert!(table.starts_with("TICKET "), "{table}");
    assert!(
        table.contains(" OWNER ") && table.contains(" AGE "),
        "{table}"
    );
    let err = fails(&t, staff, &["list", "--state", "bogus"]).await;
    assert!(
        err.contains("--state bogus: not a state; one of pre-review"),
        "{err}"
    );
    let err = fails(&t, staff, &["show", &ticket, "--format", "csv"]).await;
    assert!(err.contains("--format csv is for lists"), "{err}");

    // A new revision restarts the checks and the consents.
    let amended = ok(&t, admin, &["amend", &ticket, "--ns", &ns2, "--ns", &ns1]).await;
    assert!(amended.contains("proposal   revision 2"), "{amended}");
    t.wait_for(&ticket, "contact-confirmation").await;

    let confirmed = ok(&t, admin, &["confirm", &ticket]).await;
    assert!(confirmed.contains("xa-admin confirmed"), "{confirmed}");
    // Staff cannot confirm for a contact; the desk's refusal reaches the user with its label.
    let err = fails(&t, staff, &["confirm", &ticket]).await;
    assert!(err.contains("403 Forbidden"), "{err}");
    ok(&t, tech, &["confirm", &ticket]).await;
    t.wait_for(&ticket, "manual-review").await;

    let asked = ok(
        &t,
        staff,
        &["ask", &ticket, "--question", "Is ns0 coming back?"],
    )
    .await;
    assert!(asked.contains("awaiting-info"), "{asked}");
    assert!(
        asked.contains("must act   contact xa-admin: answer"),
        "{asked}"
    );
    ok(
        &t,
        admin,
        &["answer", &ticket, "--answer", "No, it is gone."],
    )
    .await;
    let approved = ok(
        &t,
        staff,
        &["approve", &ticket, "--note", "checked by phone"],
    )
    .await;
    for expected in [
        "staff staff-1 asked: Is ns0 coming back?",
        "contact xa-admin answered: No, it is gone.",
        "staff staff-1 approved: checked by phone",
    ] {
        assert!(
            approved.contains(expected),
            "no {expected:?} in:\n{approved}"
        );
    }
    t.wait_for(&ticket, "implementation").await;
    let done = ok(&t, staff, &["implement", &ticket]).await;
    assert!(done.contains("state      completed (closed"), "{done}");
    assert!(done.contains("published  serial "), "{done}");
    let json = json_of(&t, admin, &["show", &ticket]).await;
    assert_eq!(json["state"], "completed");
    assert_eq!(json["revisions"].as_array().map(Vec::len), Some(2));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_declined_sponsor_withdrawn_and_rejected() {
    let t = TestDesk::start().await;
    let (admin, tech, staff) = (&t.tokens.admin, &t.tokens.tech, &t.tokens.staff);
    let dir = tempfile::tempdir().expect("tempdir");

    // A contacts change from a JSON file, declined by the other contact.
    let contacts = dir.path().join("contacts.json");
    std::fs::write(
        &contacts,
        json!({ "tld": "xa", "proposal": { "kind": "contacts",
            "tech": { "handle": "xa-tech", "name": "New Tech Person", "email": "tech@nic.xa.example" } } })
        .to_string(),
    )
    .expect("write");
    let file = contacts.to_string_lossy().to_string();
    let ticket = ticket_of(&ok(&t, admin, &["submit", "--file", &file]).await);
    t.wait_for(&ticket, "contact-confirmation").await;
    let declined = ok(
        &t,
        tech,
        &["decline", &ticket, "--reason", "I did not ask for this"],
    )
    .await;
    assert!(
        declined.contains("state      declined (closed"),
        "{declined}"
    );
    assert!(
        declined.contains("contact xa-tech declined: I did not ask for this"),
        "{declined}"
    );

    // A sponsor change from a TOML file, withdrawn by its submitter.
    let sponsor = dir.path().join("sponsor.toml");
    std::fs::write(
        &sponsor,
        "tld = \"xa\"\n[proposal]\nkind = \"sponsor\"\nsponsor = \"Aldoria Domain Registry\"\n",
    )
    .expect("write");
    let file = sponsor.to_string_lossy().to_string();
    let ticket = ticket_of(&ok(&t, admin, &["submit", "--file", &file]).await);
    let shown = ok(&t, admin, &["show", &ticket]).await;
    assert!(
        shown.contains("sponsor    Aldoria Domain Registry"),
        "{shown}"
    );
    let withdrawn = ok(&t, admin, &["withdraw", &ticket, "--reason", "wrong name"]).await;
    assert!(
        withdrawn.contains("contact xa-admin withdrew: wrong name"),
        "{withdrawn}"
    );

    // The same change again, consented, then rejected by the desk.
    let ticket = ticket_of(&ok(&t, admin, &["submit", "--file", &file]).await);
    t.wait_for(&ticket, "contact-confirmation").await;
    ok(&t, admin, &["confirm", &ticket]).await;
    ok(&t, tech, &["confirm", &ticket]).await;
    t.wait_for(&ticket, "manual-review").await;
    let rejected = ok(
        &t,
        staff,
        &["reject", &ticket, "--reason", "the registry says otherwise"],
    )
    .await;
    assert!(
        rejected.contains("state      rejected (closed"),
        "{rejected}"
    );
    let list = json_of(&t, staff, &["list", "--tld", "xa", "--state", "rejected"]).await;
    assert_eq!(list["requests"][0]["ticket"], ticket.as_str(), "{list}");
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_with_an_uploaded_letter_and_an_evaluation() {
    let t = TestDesk::start().await;
    let (admin, tech, staff) = (&t.tokens.admin, &t.tokens.tech, &t.tokens.staff);
    let dir = tempfile::tempdir().expect("tempdir");
    let letter = dir.path().join("letter.txt");
    let text = b"The Ministry supports the transfer of .xa.";
    std::fs::write(&letter, text).expect("write");
    let stored = ok(
        &t,
        admin,
        &[
            "upload",
            &letter.to_string_lossy(),
            "--media-type",
            "text/plain",
        ],
    )
    .await;
    use sha2::Digest;
    let sha256 = data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(text));
    assert_eq!(stored, format!("stored document {sha256}\n"));

    let transfer = dir.path().join("transfer.json");
    std::fs::write(
        &transfer,
        json!({ "tld": "xa", "proposal": {
            "kind": "transfer",
            "sponsor": "Aldoria Internet Society",
            "admin": { "handle": "xa-admin", "email": "admin@nic.xa.example" },
            "tech": { "handle": "xa-tech", "email": "tech@nic.xa.example" },
            "evidence": [{ "kind": "government-support", "name": "letter.txt", "sha256": sha256, "size": text.len() }]
        } })
        .to_string(),
    )
    .expect("write");
    let ticket = ticket_of(
        &ok(
            &t,
            admin,
            &["submit", "--file", &transfer.to_string_lossy()],
        )
        .await,
    );
    t.wait_for(&ticket, "contact-confirmation").await;
    let shown = ok(&t, admin, &["show", &ticket]).await;
    assert!(
        shown.contains(&format!(
            "evidence   government-support \"letter.txt\" ({} bytes, sha256 {sha256})",
            text.len()
        )),
        "{shown}"
    );
    ok(&t, admin, &["confirm", &ticket]).await;
    ok(&t, tech, &["confirm", &ticket]).await;
    t.wait_for(&ticket, "manual-review").await;
    let evaluating = ok(&t, staff, &["approve", &ticket]).await;
    assert!(
        evaluating.contains("must act   the desk: evaluate"),
        "{evaluating}"
    );
    let evaluation = dir.path().join("evaluation.json");
    std::fs::write(
        &evaluation,
        json!({
            "assessments": [
                { "criterion": "stability", "met": true, "note": "same operator" },
                { "criterion": "local-support", "met": true, "note": "ministry letter" },
                { "criterion": "incumbent-consent", "met": true, "note": "both contacts consented" },
                { "criterion": "legal-basis", "met": true, "note": "none needed" }
            ],
            "approve": true,
            "summary": "meets the criteria"
        })
        .to_string(),
    )
    .expect("write");
    let evaluated = ok(
        &t,
        staff,
        &["evaluate", &ticket, &evaluation.to_string_lossy()],
    )
    .await;
    assert!(
        evaluated.contains("evaluation approve: meets the criteria"),
        "{evaluated}"
    );
    t.wait_for(&ticket, "implementation").await;
    let done = ok(&t, staff, &["implement", &ticket]).await;
    assert!(done.contains("completed"), "{done}");
    // A malformed evaluation file is the user's mistake, named with the file.
    std::fs::write(&evaluation, "{\"approve\": 1}").expect("write");
    let err = fails(
        &t,
        staff,
        &["evaluate", &ticket, &evaluation.to_string_lossy()],
    )
    .await;
    assert!(err.contains("evaluation.json"), "{err}");
    t.stop().await;
}
