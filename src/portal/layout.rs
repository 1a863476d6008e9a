//! The page frame every portal page shares: landmarks (header, nav, main, footer), a skip
//! link, one stylesheet from the daemon, no script. Escaping is maud's alone.

use maud::{html, Markup, DOCTYPE};

use super::session::Viewer;
use crate::registry::Role;

/// Which entry of the main navigation a page belongs to (marked `aria-current`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Tlds,
    Changelog,
    Turnaround,
    /// A manager's TLDs and requests (`/my`).
    Mine,
    /// The desk staff's queue and request pages (`/desk`).
    Queue,
    /// The auditor's event log and exports (`/audit`).
    Audit,
    /// The login page.
    Login,
    None,
}

const NAV: [(Nav, &str, &str); 4] = [
    (Nav::Home, "/", "Home"),
    (Nav::Tlds, "/tlds", "TLDs"),
    (Nav::Changelog, "/changelog", "Change log"),
    (Nav::Turnaround, "/turnaround", "Turnaround"),
];

/// The stylesheet's address; its version changes with its content, so it can be cached long.
pub fn stylesheet_href() -> &'static str {
    concat!("/assets/portal.css?v=", env!("CARGO_PKG_VERSION"))
}

/// The logged-in person's own entries: where their work is.
fn personal_nav(role: Role) -> &'static [(Nav, &'static str, &'static str)] {
    match role {
        Role::Manager | Role::Contact => &[(Nav::Mine, "/my", "My TLDs")],
        Role::Staff => &[
            (Nav::Queue, "/desk", "Queue"),
            (Nav::Audit, "/audit", "Audit"),
        ],
        Role::Auditor => &[(Nav::Audit, "/audit", "Audit")],
    }
}

/// A whole public page: `title` is the page's `<h1>` and the start of its `<title>`.
pub fn page(title: &str, nav: Nav, content: Markup) -> Markup {
    page_as(title, nav, None, content)
}

/// A whole page for a visitor who may be logged in: the navigation then leads to their own
/// pages and offers to log out (a form with the session's CSRF token), else to log in.
pub fn page_as(title: &str, nav: Nav, viewer: Option<&Viewer>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Root Zone Change Desk" }
                link rel="stylesheet" href=(stylesheet_href());
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    div.bar {
                        a.brand href="/" { "Root Zone Change Desk" }
                        nav aria-label="Main" {
                            ul {
                                @for (entry, href, label) in NAV {
                                    li {
                                        a href=(href) aria-current=[(entry == nav).then_some("page")] { (label) }
                                    }
                                }
                                @if let Some(viewer) = viewer {
                                    @for (entry, href, label) in personal_nav(viewer.role()) {
                                        li {
                                            a href=(href) aria-current=[(*entry == nav).then_some("page")] { (label) }
                                        }
                                    }
                                } @else {
                                    li {
                                        a href="/login" aria-current=[(nav == Nav::Login).then_some("page")] { "Log in" }
                                    }
                                }
                            }
                        }
                        @if let Some(viewer) = viewer {
                            form.logout method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                span.who { "Logged in as " (if viewer.name.is_empty() { viewer.person() } else { &viewer.name }) }
                                " "
                                button type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    (content)
                }
                footer.site {
                    p {
                        "Public data of the DNS root zone and its change desk. "
                        "For programs: the JSON API under " code { "/v1" } " and RDAP under "
                        a href="/rdap/help" { code { "/rdap" } } "."
                    }
                }
            }
        }
    }
}

/// A table that may be wider than a phone: it scrolls inside a labelled, focusable region
/// (so a keyboard can scroll it too).
pub fn scroll_table(label: &str, table: Markup) -> Markup {
    html! {
        div.scroll role="region" aria-label=(label) tabindex="0" { (table) }
    }
}

/// A count with thousands separators (`1,438`), as English text writes it.
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_get_thousands_separators() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1438, "1,438"),
            (1234567, "1,234,567"),
        ] {
            assert_eq!(super::count(n), text);
        }
    }
}
