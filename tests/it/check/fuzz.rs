//! Bounded property runs (issue 10, "Fuzzing"): the root zone parser and the check's argument
//! parser answer every input with a value or an error, never a panic. Cases are few, so CI
//! stays fast; proptest saves a failing input in a regressions file, which is committed and
//! replayed first from then on.

use std::path::Path;

use proptest::prelude::*;
use rootdesk::check::Proposal;

fn demo_zone() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/root.zone");
    std::fs::read_to_string(path).expect("demo root zone")
}

/// Zone-file-like lines: owner, TTL, class, type, data, from pieces the parser knows.
fn zone_line() -> impl Strategy<Value = String> {
    let owner = prop::sample::select(vec![
        ".",
        "xa.",
        "ns1.nic.xa.",
        "@",
        "",
        "*.",
        "\\065.",
        "a..b.",
    ]);
    let ttl = prop::sample::select(vec!["", "86400", "0", "-1", "4294967296", "1w"]);
    let class = prop::sample::select(vec!["", "IN", "CH", "in"]);
    let rtype = prop::sample::select(vec![
        "NS",
        "A",
        "AAAA",
        "DS",
        "SOA",
        "DNSKEY",
        "TXT",
        "TYPE65534",
        "$INCLUDE",
        "$ORIGIN",
        "$TTL",
    ]);
    let data = "[ -~]{0,40}";
    (owner, ttl, class, rtype, data).prop_map(|(o, t, c, r, d)| format!("{o} {t} {c} {r} {d}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn zone_parser_never_panics_on_zone_like_lines(lines in prop::collection::vec(zone_line(), 0..12)) {
        let text = lines.join("\n");
        let _ = rootdesk::zonefile::parse_root_zone(&text, Path::new("fuzz.zone"));
    }

    #[test]
    fn zone_parser_never_panics_on_a_damaged_real_zone(cut in 0usize..4096, junk in "[\\x00-\\x7f]{0,16}") {
        let text = demo_zone();
        let at = cut.min(text.len());
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let damaged = format!("{}{junk}{}", &text[..at], &text[at..]);
        let _ = rootdesk::zonefile::parse_root_zone(&damaged, Path::new("fuzz.zone"));
    }

    #[test]
    fn proposal_arguments_never_panic(arg in "\\PC{0,60}") {
        let mut proposal = Proposal::default();
        let _ = proposal.add_arg(&arg);
    }
}
