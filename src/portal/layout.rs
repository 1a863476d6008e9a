//! The page frame every portal page shares: landmarks (header, nav, main, footer), a skip
//! link, one stylesheet from the daemon, no script. Escaping is maud's alone.

use maud::{html, Markup, DOCTYPE};

/// Which entry of the main navigation a page belongs to (marked `aria-current`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Tlds,
    Changelog,
    Turnaround,
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

/// A whole page: `title` is the page's `<h1>` and the start of its `<title>`.
pub fn page(title: &str, nav: Nav, content: Markup) -> Markup {
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
