//! The portal in headless Chromium: pages load, filters work, IDN labels show, forms are
//! keyboard-usable and labelled, headings are in order, and a form whose CSRF token is taken
//! out is refused. Every page is captured at desktop and phone size.

use fantoccini::Locator;
use serde_json::Value;

use super::{Browser, PortalDesk};

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// Checks that hold on every page: landmarks, one `h1` and no skipped heading level, every
/// form control labelled, nothing wider than the window (no sideways scrolling of the page),
/// the CSP enforced (inline style and script refused) and the stylesheet applied.
pub(super) async fn check_page(b: &Browser, what: &str) {
    let script = r#"
        const problems = [];
        for (const tag of ['header', 'nav', 'main', 'footer']) {
            if (!document.querySelector(tag)) problems.push('no <' + tag + '>');
        }
        const levels = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
        if (levels.filter(l => l === 1).length !== 1) problems.push('not exactly one h1: ' + levels);
        if (levels[0] !== 1) problems.push('the first heading is not h1: ' + levels);
        for (let i = 1; i < levels.length; i++) {
            if (levels[i] > levels[i - 1] + 1) problems.push('heading level skipped: ' + levels);
        }
        for (const el of document.querySelectorAll('input,select,textarea')) {
            if (el.type === 'hidden') continue;
            const labelled = (el.id && document.querySelector('label[for="' + el.id + '"]'))
                || el.closest('label') || el.getAttribute('aria-label');
            if (!labelled) problems.push('unlabelled control ' + (el.name || el.outerHTML));
        }
        for (const el of document.querySelectorAll('[tabindex]')) {
            if (+el.getAttribute('tabindex') > 0) problems.push('positive tabindex');
        }
        if (document.documentElement.scrollWidth > window.innerWidth + 1) {
            problems.push('page wider than the window: ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
        }
        if (!document.title) problems.push('no title');
        // The CSP is in force: an inline style and an inline script put into the page do nothing.
        const style = document.createElement('style');
        style.textContent = 'body { color: rgb(1, 2, 3) !important; }';
        document.head.appendChild(style);
        if (getComputedStyle(document.body).color === 'rgb(1, 2, 3)') problems.push('inline style ran (no CSP)');
        style.remove();
        const script = document.createElement('script');
        script.textContent = 'window.__inlineRan = true;';
        document.head.appendChild(script);
        if (window.__inlineRan) problems.push('inline script ran (no CSP)');
        script.remove();
        // The stylesheet applied under the CSP (the header's colour comes only from it).
        const header = document.querySelector('header.site');
        if (header && getComputedStyle(header).backgroundColor !== 'rgb(13, 36, 64)') {
            problems.push('the stylesheet did not apply');
        }
        return problems;
    "#;
    let problems = b.client.execute(script, vec![]).await.expect("run checks");
    assert_eq!(problems, Value::Array(vec![]), "{what}");
}

/// Visits `path`, checks it, and captures it at both sizes.
pub(super) async fn visit(b: &Browser, base: &str, path: &str, name: &str) {
    b.client.goto(&format!("{base}{path}")).await.expect("goto");
    for (size, (w, h)) in [("desktop", DESKTOP), ("phone", PHONE)] {
        b.client.set_window_size(w, h).await.expect("resize");
        check_page(b, &format!("{path} at {size} size")).await;
        // The whole page (up to a limit), not only what fits in the window.
        let sizes = b
            .client
            .execute(
                "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];",
                vec![],
            )
            .await
            .expect("heights");
        let number = |i: usize| sizes.get(i).and_then(Value::as_u64).unwrap_or(0);
        let full = u32::try_from(number(0) + number(1))
            .unwrap_or(h)
            .clamp(h, 2600);
        b.client.set_window_size(w, full).await.expect("resize");
        b.shot(&format!("{name}-{size}")).await;
        b.client.set_window_size(w, h).await.expect("resize");
    }
    b.client
        .set_window_size(DESKTOP.0, DESKTOP.1)
        .await
        .expect("resize");
}

pub(super) async fn text(b: &Browser, css: &str) -> String {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

/// Home, the TLD list with its filters, an IDN TLD's page, the 404 page, the lookup form by
/// keyboard, and its refusal without a CSRF token: all on the real root zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_pages_in_chromium() {
    let Some(desk) = PortalDesk::real().await else {
        return;
    };
    let Some(b) = Browser::start().await else {
        desk.stop().await;
        return;
    };
    let base = desk.base.clone();

    // Home: links to the three public parts; the skip link is the first Tab stop.
    visit(&b, &base, "/", "home").await;
    assert_eq!(
        b.client.title().await.expect("title"),
        "Root zone change desk · Root Zone Change Desk"
    );
    for href in ["/tlds", "/changelog", "/turnaround"] {
        b.client
            .find(Locator::Css(&format!("main a[href='{href}']")))
            .await
            .unwrap_or_else(|_| panic!("home links {href}"));
    }
    let body = b.client.find(Locator::Css("body")).await.expect("body");
    body.send_keys("\u{e004}").await.expect("Tab");
    let first = b.client.active_element().await.expect("focus");
    assert_eq!(first.text().await.expect("text"), "Skip to content");

    // The lookup form, by keyboard only: type a U-label, press Enter, land on the TLD's page.
    let field = b
        .client
        .find(Locator::Id("name"))
        .await
        .expect("lookup field");
    field.send_keys("рф\u{e007}").await.expect("type and Enter");
    wait_for(&b, Locator::Css("p.labels"), "TLD page").await;
    assert!(b
        .client
        .current_url()
        .await
        .expect("url")
        .path()
        .ends_with("/tlds/xn--p1ai"));

    // The IDN TLD's page: U-label and A-label, sponsor, name servers with addresses, DS.
    visit(&b, &base, "/tlds/xn--p1ai", "tld-idn").await;
    let h1 = text(&b, "h1").await;
    assert!(h1.contains("рф") && h1.contains("xn--p1ai"), "{h1}");
    let labels = text(&b, "p.labels").await;
    assert!(
        labels.contains("рф") && labels.contains("xn--p1ai"),
        "{labels}"
    );
    assert!(text(&b, "main")
        .await
        .contains("Coordination Center for TLD RU"));
    let ns_rows = b
        .client
        .find_all(Locator::Css("#nameservers tbody tr"))
        .await
        .expect("ns");
    assert!(!ns_rows.is_empty(), "name servers listed");
    assert!(text(&b, "#nameservers").await.contains('.'));
    b.client
        .find(Locator::Css("#ds tbody tr"))
        .await
        .expect("a DS record");

    // An ASCII TLD with many name servers, for the screenshot.
    visit(&b, &base, "/tlds/com", "tld-com").await;

    // The list: all TLDs, IDNs with both labels, then filtered by type and text.
    visit(&b, &base, "/tlds", "tlds").await;
    let all = b
        .client
        .find_all(Locator::Css("#tlds tbody tr"))
        .await
        .expect("rows")
        .len();
    assert!(all >= 1438, "{all} rows");
    let idn_row = text(&b, "#tlds a[href='/tlds/xn--p1ai']").await;
    assert!(
        idn_row.contains("рф") && idn_row.contains("xn--p1ai"),
        "{idn_row}"
    );
    b.client
        .find(Locator::Id("type"))
        .await
        .expect("type")
        .select_by_value("cctld")
        .await
        .expect("select");
    let q = b.client.find(Locator::Id("q")).await.expect("q");
    q.send_keys("rf").await.expect("type");
    b.client
        .find(Locator::Css("form.filters button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    wait_for_path(&b, "/tlds?q=rf&type=cctld&status=", "filtered").await;
    let rows = b
        .client
        .find_all(Locator::Css("#tlds tbody tr"))
        .await
        .expect("rows");
    assert!(
        !rows.is_empty() && rows.len() < 20,
        "{} rows for cctld + rf",
        rows.len()
    );
    for row in &rows {
        assert!(row.text().await.expect("text").contains("country-code"));
    }
    visit(&b, &base, "/tlds?q=rf&type=cctld", "tlds-filtered").await;
    visit(&b, &base, "/tlds?q=%D1%80%D1%84", "tlds-idn-search").await;
    assert!(text(&b, "#tlds").await.contains("xn--p1ai"));

    // Unknown TLD: the portal's 404 page.
    visit(&b, &base, "/tlds/no-such-tld", "not-found").await;
    assert_eq!(text(&b, "h1").await, "Not found");

    // The lookup form with its CSRF token taken out (as a forged form would be): refused.
    b.client.goto(&format!("{base}/")).await.expect("home");
    b.client
        .execute(
            "document.querySelector('input[name=csrf]').remove()",
            vec![],
        )
        .await
        .expect("remove the token");
    let field = b
        .client
        .find(Locator::Id("name"))
        .await
        .expect("lookup field");
    field
        .send_keys("com\u{e007}")
        .await
        .expect("type and Enter");
    wait_for(&b, Locator::Css("p.error-message"), "refusal page").await;
    assert_eq!(text(&b, "h1").await, "This form was refused");
    assert!(!b
        .client
        .current_url()
        .await
        .expect("url")
        .path()
        .starts_with("/tlds"));
    check_page(&b, "the refusal page").await;
    b.shot("csrf-refused-desktop").await;

    b.close().await;
    desk.stop().await;
}

/// Waits for an element; on a timeout, captures the page and says where the browser is.
pub(super) async fn wait_for(
    b: &Browser,
    locator: Locator<'_>,
    what: &str,
) -> fantoccini::elements::Element {
    match b
        .client
        .wait()
        .at_most(std::time::Duration::from_secs(15))
        .for_element(locator)
        .await
    {
        Ok(element) => element,
        Err(e) => {
            b.shot("failure").await;
            let url = b
                .client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let h1 = text(b, "h1").await;
            panic!("{what}: {e} (at {url}, page {h1:?}; target/portal-screenshots/failure.png)");
        }
    }
}

/// Waits until the browser shows `path_and_query` (after a form or a link).
async fn wait_for_path(b: &Browser, path_and_query: &str, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let url = b.client.current_url().await.expect("url");
        let here = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        if here == path_and_query {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: at {here}, not {path_and_query}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The change log (month picker) and the turnaround page with its chart, over a simulated
/// history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changelog_and_turnaround_in_chromium() {
    let desk = PortalDesk::simulated().await;
    let Some(b) = Browser::start().await else {
        desk.stop().await;
        return;
    };
    let base = desk.base.clone();

    visit(&b, &base, "/changelog?month=2026-02", "changelog").await;
    let rows = b
        .client
        .find_all(Locator::Css("#changelog tbody tr"))
        .await
        .expect("rows");
    assert!(rows.len() > 5, "{} requests closed in 2026-02", rows.len());
    // The pager goes to the month before.
    b.client
        .find(Locator::Css("a[rel=prev]"))
        .await
        .expect("prev")
        .click()
        .await
        .expect("click");
    wait_for_path(&b, "/changelog?month=2026-01", "previous month").await;
    assert!(text(&b, "main h2").await.starts_with("January 2026"));
    // A month with nothing closed says so.
    visit(&b, &base, "/changelog?month=2020-01", "changelog-empty").await;
    b.client
        .find(Locator::Id("empty"))
        .await
        .expect("empty note");
    // A TLD's page links to its entries in the change log.
    let first = text(&b, "h1").await;
    assert_eq!(first, "Change log");
    b.client
        .goto(&format!("{base}/changelog?month=2026-03"))
        .await
        .expect("goto");
    let link = b
        .client
        .find(Locator::Css("#changelog tbody tr td a"))
        .await
        .expect("TLD link");
    link.click().await.expect("click");
    wait_for(&b, Locator::Id("h-history"), "TLD page").await;
    check_page(&b, "a simulated TLD's page").await;
    b.shot("tld-with-history-desktop").await;
    let history = b
        .client
        .find(Locator::Css("#h-history + p + ul a"))
        .await
        .expect("history link");
    history.click().await.expect("click");
    wait_for(
        &b,
        Locator::Css("#changelog tbody tr:target"),
        "the entry, highlighted",
    )
    .await;

    visit(&b, &base, "/turnaround", "turnaround").await;
    let img = b
        .client
        .find(Locator::Css("figure.chart img"))
        .await
        .expect("chart");
    assert!(img
        .attr("alt")
        .await
        .expect("alt")
        .is_some_and(|a| a.len() > 20));
    // The chart loaded as an image under the CSP (a blocked or broken image has no width).
    let loaded = b
        .client
        .execute("const i = document.querySelector('figure.chart img'); return i.complete && i.naturalWidth > 0;", vec![])
        .await
        .expect("image state");
    assert_eq!(loaded, Value::Bool(true), "the chart image loads");
    assert!(
        b.client
            .find_all(Locator::Css("#measures tbody tr"))
            .await
            .expect("rows")
            .len()
            >= 10
    );
    b.client
        .find(Locator::Id("group-by"))
        .await
        .expect("select")
        .select_by_value("kind")
        .await
        .expect("kind");
    b.client
        .find(Locator::Css("form.filters button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    wait_for_path(&b, "/turnaround?by=kind", "grouped").await;
    assert!(text(&b, "#groups").await.contains("delegation"));
    visit(&b, &base, "/turnaround?by=kind", "turnaround-by-kind").await;

    b.close().await;
    desk.stop().await;
}
