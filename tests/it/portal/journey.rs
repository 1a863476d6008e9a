//! A change request's journey through the portal in Chromium, as its people live it.
//!
//! The manager's half ([`manager_journey`]): Ana, xa's admin, logs in with her password and
//! TOTP code, opens the change form, pre-checks a broken delegation and sees the dead server
//! named, fixes it, checks again and submits; she logs out; Tom, xa's other authorised person,
//! logs in from the link to the request and approves it; the request then waits for the desk
//! (manual review). Every page is checked (landmarks, headings, labels, width, CSP) and
//! captured to `target/portal-screenshots/journey-*`.
//!
//! To continue the journey (staff approve and implement, the public page, the change log, the
//! auditor's export): start from [`ManagerDesk::start`] and [`manager_journey`], which returns
//! the ticket in `manual-review`; `ManagerDesk` holds a staff person (`staff`) and an auditor
//! (`auditor`), enrolled, and [`login`] logs any of them in through the page.

use fantoccini::Locator;

use super::browser::{capture, check_page, text, visit, wait_for, wait_for_path};
use super::managers::ManagerDesk;
use super::Browser;
use crate::daemon::TestDesk;
use crate::daemon::{DEAD, NS1, NS2};
use crate::people::{code_at, Enrolled};

/// Types `value` into the field with id `id`, replacing what it held.
async fn fill(b: &Browser, id: &str, value: &str) {
    let field = b
        .client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("field {id}: {e}"));
    field.clear().await.expect("clear");
    if !value.is_empty() {
        field.send_keys(value).await.expect("type");
    }
}

pub(super) async fn click(b: &Browser, css: &str) {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Clicks a form's button and waits until the browser has left the page it was on (so that
/// what is looked for next is on the new page, not the old one).
pub(super) async fn submit_form(b: &Browser, css: &str) {
    let old = b.client.find(Locator::Css("html")).await.expect("page");
    click(b, css).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while old.text().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "{css}: the page did not change"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Logs `p` in on the portal's login page with the next TOTP step's code, and waits for the
/// page the login leads to.
pub async fn login_at(b: &Browser, t: &TestDesk, p: &Enrolled) {
    // The login page sends a logged-in person to their own pages: log out there first, with
    // the header's button.
    b.client
        .goto(&format!("{}/login", t.base))
        .await
        .expect("the login page");
    if path(b).await != "/login" {
        submit_form(b, "form.logout button").await;
        b.client
            .goto(&format!("{}/login", t.base))
            .await
            .expect("the login page");
    }
    wait_for(b, Locator::Id("email"), "the login form").await;
    fill(b, "email", &p.email).await;
    fill(b, "password", &p.password).await;
    t.desk.clock.advance(time::Duration::seconds(30));
    fill(b, "code", &code_at(&p.totp, t.desk.clock.now())).await;
    submit_form(b, "form.login button[type='submit']").await;
    let url = b.client.current_url().await.expect("url");
    assert_ne!(
        url.path(),
        "/login",
        "the login was refused: {}",
        text(b, "main").await
    );
}

/// Logs `p` in on the login page the browser shows, with the current TOTP code.
pub async fn login(b: &Browser, d: &ManagerDesk, p: &Enrolled) {
    wait_for(b, Locator::Id("email"), "the login form").await;
    fill(b, "email", &p.email).await;
    fill(b, "password", &p.password).await;
    fill(b, "code", &d.code(p)).await;
    submit_form(b, "form.login button[type='submit']").await;
}

/// The path of the page the browser shows.
async fn path(b: &Browser) -> String {
    b.client
        .current_url()
        .await
        .expect("url")
        .path()
        .to_string()
}

/// The manager's half of the journey; returns the ticket, waiting for the desk's review.
pub async fn manager_journey(b: &Browser, d: &ManagerDesk) -> String {
    let base = d.t.base.clone();

    // Not logged in: /my sends the browser to the login page, which returns there.
    b.client.goto(&format!("{base}/my")).await.expect("goto");
    wait_for_path(b, "/login?next=%2Fmy", "to the login page").await;
    capture(b, "/login", "journey-01-login").await;
    login(b, d, &d.ana).await;
    wait_for_path(b, "/my", "back to /my after the login").await;
    capture(b, "/my", "journey-02-my-tlds").await;
    assert!(text(b, "#my-tlds").await.contains(".xa"));

    // xa's page: delegation, authority, policy.
    click(b, "#my-tlds a[href='/my/tlds/xa']").await;
    wait_for_path(b, "/my/tlds/xa", "xa's page").await;
    capture(b, "/my/tlds/xa", "journey-03-tld").await;
    let main = text(b, "main").await;
    for expected in [
        "ns1.nic.xa",
        "Ana Alves",
        "Tom Tanaka",
        "not counting the submitter",
    ] {
        assert!(main.contains(expected), "{expected} on xa's page");
    }

    // The change form, filled with what is published; propose a broken delegation.
    click(b, "a[href='/my/tlds/xa/change']").await;
    wait_for_path(b, "/my/tlds/xa/change", "the change form").await;
    capture(b, "/my/tlds/xa/change", "journey-04-change-form").await;
    fill(b, "ns0_addrs", NS1).await;
    fill(b, "ns1_host", "ns3.nic.xa").await;
    fill(b, "ns1_addrs", DEAD).await;
    // The lab's zone is unsigned: no DS.
    for field in ["ds0_tag", "ds0_alg", "ds0_type", "ds0_digest"] {
        fill(b, field, "").await;
    }
    submit_form(b, "button[value='check']").await;
    wait_for(b, Locator::Id("precheck"), "the pre-check's result").await;
    let dead = text(b, "section[aria-label='Name server ns3.nic.xa']").await;
    assert!(
        dead.contains("error"),
        "the dead server is named with errors: {dead}"
    );
    assert!(text(b, ".verdict").await.contains("failed"));
    assert!(
        text(b, "ul.diff").await.contains("ns2.nic.xa"),
        "the diff names the removed server"
    );
    capture(
        b,
        "/my/tlds/xa/change (broken)",
        "journey-05-precheck-broken",
    )
    .await;

    // Fixed: the second server on the address that answers; checked again, then submitted.
    fill(b, "ns1_host", "ns2.nic.xa").await;
    fill(b, "ns1_addrs", NS2).await;
    submit_form(b, "button[value='check']").await;
    wait_for(b, Locator::Id("precheck"), "the second pre-check").await;
    let verdict = text(b, ".verdict").await;
    assert!(verdict.contains("passed"), "{verdict}");
    capture(b, "/my/tlds/xa/change (fixed)", "journey-06-precheck-fixed").await;
    submit_form(b, "button[value='submit']").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !path(b).await.starts_with("/my/requests/") {
        assert!(
            std::time::Instant::now() < deadline,
            "no request page after submitting"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ticket = path(b)
        .await
        .trim_start_matches("/my/requests/")
        .to_string();
    // The check runs in the background; then the request waits for Tom's approval.
    d.t.wait_for(&ticket, "contact-confirmation").await;
    visit(
        b,
        &base,
        &format!("/my/requests/{ticket}"),
        "journey-07-request-submitted",
    )
    .await;
    let waiting = text(b, "section.waiting").await;
    assert!(waiting.contains("Your TLD"), "{waiting}");
    assert!(waiting.contains("1 more approval"), "{waiting}");
    // Ana cannot approve her own submission under this policy: no button for her.
    assert!(b
        .client
        .find(Locator::Css("form[action$='/confirm']"))
        .await
        .is_err());

    // Ana logs out.
    submit_form(b, "header form.logout button").await;
    wait_for_path(b, "/logout", "the logout page").await;
    capture(b, "/logout", "journey-08-logged-out").await;

    // Tom follows the link to the request (as the desk's mail gives it), logs in, approves.
    b.client
        .goto(&format!("{base}/my/requests/{ticket}"))
        .await
        .expect("goto");
    wait_for(b, Locator::Id("email"), "the login page").await;
    login(b, d, &d.tom).await;
    wait_for_path(b, &format!("/my/requests/{ticket}"), "back to the request").await;
    capture(
        b,
        "/my/requests (to approve)",
        "journey-09-request-to-approve",
    )
    .await;
    assert!(text(b, "#approvals").await.contains("Tom Tanaka"));
    submit_form(b, "form[action$='/confirm'] button").await;
    d.t.wait_for(&ticket, "manual-review").await;
    visit(
        b,
        &base,
        &format!("/my/requests/{ticket}"),
        "journey-10-request-manual-review",
    )
    .await;
    let facts = text(b, "dl.facts").await;
    assert!(
        facts.contains("manual-review") && facts.contains("waiting for the desk"),
        "{facts}"
    );
    assert!(text(b, "section.waiting")
        .await
        .contains("Nothing is needed from you now"));
    assert!(text(b, "#approvals").await.contains("approved"));
    let timeline = text(b, "ol.timeline").await;
    assert!(
        timeline.contains("Tom Tanaka approved revision 1"),
        "{timeline}"
    );
    assert!(text(b, "#h-checks").await.contains("Technical checks"));
    check_page(b, "the request in review").await;
    ticket
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_submits_and_the_other_person_approves_in_chromium() {
    let d = ManagerDesk::start().await;
    let Some(b) = Browser::start().await else {
        d.stop().await;
        return;
    };
    let ticket = manager_journey(&b, &d).await;
    let (_, value) =
        d.t.get(&d.t.tokens.staff, &format!("/v1/requests/{ticket}"))
            .await;
    assert_eq!(value["state"], "manual-review", "{value}");
    assert_eq!(value["approvals"], serde_json::json!([d.tom.id]), "{value}");
    b.close().await;
    d.stop().await;
}

/// The three journeys of issue 15 end to end, on one desk: the manager's (above), then desk
/// staff approve and implement through the portal, the public pages show the change, and an
/// auditor downloads the export, which verifies. Every person logs in on the login page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_journeys_end_to_end_in_chromium() {
    let d = ManagerDesk::start().await;
    let Some(b) = Browser::start().await else {
        d.stop().await;
        return;
    };
    let ticket = manager_journey(&b, &d).await;
    let base = d.t.base.clone();

    login_at(&b, &d.t, &d.staff).await;
    assert_eq!(path(&b).await, "/desk", "staff land on the queue");
    capture(&b, "/desk", "journey-11-queue").await;
    assert!(text(&b, "#queue").await.contains(&ticket));
    super::desk::staff_approves_and_implements(&b, &base, &ticket).await;
    super::desk::public_pages_show_it(&b, &base, &ticket).await;
    super::desk::auditor_export_verifies(&b, &d.t, &d.auditor, &ticket).await;

    let (_, value) =
        d.t.get(&d.t.tokens.staff, &format!("/v1/requests/{ticket}"))
            .await;
    assert_eq!(value["state"], "completed", "{value}");
    b.close().await;
    d.stop().await;
}
