//! The desk staff's and auditor's pages in headless Chromium (issue 15): a staff person logs
//! in, opens the queue and a request in manual review, approves and implements it; the public
//! pages then show it; an auditor downloads the export from `/audit` and it verifies.

use fantoccini::Locator;
use rootdesk::audit::export::verify_file;

use super::browser::{text, visit, wait_for};
use super::desk_http::{people, three_requests};
use super::journey::click;
use super::Browser;
use crate::daemon::TestDesk;
use crate::people::Enrolled;

/// Logs `person` in through the portal's login page (password and the current TOTP code), and
/// returns the session the browser was given.
pub async fn browser_login(b: &Browser, t: &TestDesk, person: &Enrolled) -> String {
    super::journey::login_at(b, t, person).await;
    b.client
        .get_named_cookie("rootdesk_session")
        .await
        .expect("the browser's session")
        .value()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_review_and_audit_export_in_chromium() {
    let t = TestDesk::start().await;
    crate::people::fix_clock(&t);
    let Some(b) = Browser::start().await else {
        t.stop().await;
        return;
    };
    let (staff, auditor, _) = people(&t).await;
    let (_, delegation, emergency) = three_requests(&t).await;
    let base = t.base.clone();

    // Staff: the queue, emergencies on top, then the request waiting in manual review.
    browser_login(&b, &t, &staff).await;
    visit(&b, &base, "/desk", "desk-queue").await;
    let first = text(&b, "#queue tbody tr:first-child th").await;
    assert_eq!(first, emergency, "the emergency is on top");
    visit(&b, &base, "/desk?sort=age", "desk-queue-by-age").await;
    staff_approves_and_implements(&b, &base, &delegation).await;
    public_pages_show_it(&b, &base, &delegation).await;
    auditor_export_verifies(&b, &t, &auditor, &delegation).await;
    b.close().await;
    t.stop().await;
}

/// Staff open the request from the queue, approve it with a note, wait for the supplemental
/// check and implement it.
pub async fn staff_approves_and_implements(b: &Browser, base: &str, delegation: &str) {
    click(b, &format!("#queue a[href='/desk/requests/{delegation}']")).await;
    wait_for(b, Locator::Css("#diff"), "the request page").await;
    visit(
        b,
        base,
        &format!("/desk/requests/{delegation}"),
        "desk-request-review",
    )
    .await;
    assert!(text(b, "main").await.contains("manual-review"));
    let note = b
        .client
        .find(Locator::Id("approve-note"))
        .await
        .expect("the approve form");
    note.send_keys("Name servers checked with the TLD's operator")
        .await
        .expect("type");
    super::journey::submit_form(b, "form[action$='/approve'] button").await;
    // Approved: the supplemental check runs, then the implement form appears.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        b.client
            .goto(&format!("{base}/desk/requests/{delegation}"))
            .await
            .expect("reload");
        if b.client
            .find(Locator::Css("form[action$='/implement'] button"))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never ready to implement: {}",
            text(b, "main").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    visit(
        b,
        base,
        &format!("/desk/requests/{delegation}"),
        "desk-request-implementation",
    )
    .await;
    super::journey::submit_form(b, "form[action$='/implement'] button").await;
    wait_for(b, Locator::Css("#timeline"), "back on the request").await;
    let main = text(b, "main").await;
    assert!(main.contains("completed"), "{main}");
    assert!(main.contains("published in serial"), "{main}");
    visit(
        b,
        base,
        &format!("/desk/requests/{delegation}"),
        "desk-request-completed",
    )
    .await;
    visit(b, base, "/desk/turnaround", "desk-turnaround").await;
}

/// The public TLD page shows the new name servers (127.0.0.21 and .22) and the change log
/// lists the request.
pub async fn public_pages_show_it(b: &Browser, base: &str, delegation: &str) {
    // The public pages: the TLD's new name servers, the change log's entry.
    visit(b, base, "/tlds/xa", "desk-public-tld").await;
    let ns = text(b, "#nameservers").await;
    assert!(
        ns.contains("127.0.0.21") && ns.contains("127.0.0.22"),
        "{ns}"
    );
    visit(b, base, "/changelog", "desk-public-changelog").await;
    assert!(text(b, "main").await.contains(delegation));
}

/// Staff see the audit page; the auditor logs in, opens the request's history and downloads
/// the JSONL export, which verifies with the library and with `rootdesk audit verify`.
pub async fn auditor_export_verifies(
    b: &Browser,
    t: &TestDesk,
    auditor: &Enrolled,
    delegation: &str,
) {
    let base = t.base.as_str();
    // Staff's audit page; then the auditor's, with the download link.
    visit(b, base, "/audit", "audit-log-staff").await;
    let session = browser_login(b, t, auditor).await;
    visit(b, base, "/audit", "audit-log").await;
    visit(
        b,
        base,
        &format!("/audit?request={delegation}"),
        "audit-request-history",
    )
    .await;
    assert!(text(b, "#events").await.contains("request-implemented"));
    let href = b
        .client
        .find(Locator::Css("a[href='/audit/export.jsonl']"))
        .await
        .expect("the export link")
        .attr("href")
        .await
        .expect("href")
        .expect("an address");
    // Chromium's own session cookie fetches the file (headless downloads are not observable).
    let cookie = b
        .client
        .get_named_cookie("rootdesk_session")
        .await
        .expect("the browser's session");
    assert_eq!(cookie.value(), session);
    // A checkpoint signed by the desk's key, so that the file proves itself.
    let key = ed25519_dalek::SigningKey::from_bytes(&[15; 32]);
    let now = t.desk.clock.now();
    t.desk
        .with_store(|s| {
            rootdesk::store::sign_checkpoint(s, &key, now)
                .map_err(|e| rootdesk::desk::DeskError::Forbidden(e.to_string()))
        })
        .expect("checkpoint");
    let response = reqwest::Client::new()
        .get(format!("{base}{href}"))
        .header("Cookie", format!("rootdesk_session={}", cookie.value()))
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let bytes = response.bytes().await.expect("file");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rootdesk-audit.jsonl");
    std::fs::write(&file, &bytes).expect("save");
    let report = verify_file(&file, &[key.verifying_key()]).expect("verify");
    assert!(
        report.first_problem().is_none(),
        "{:?}",
        report.first_problem()
    );
    assert!(report.checkpoints_valid >= 1);
    assert!(!report.has_unsigned_tail());
    // And with the command the page names.
    let public = data_encoding::HEXLOWER.encode(key.verifying_key().as_bytes());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootdesk"))
        .args([
            "audit",
            "verify",
            file.to_str().expect("path"),
            "--public-key",
            &public,
        ])
        .output()
        .expect("run rootdesk audit verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
