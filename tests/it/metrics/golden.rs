//! Golden files of the output formats: the report as table and CSV and the per-request
//! breakdown, over hand-made requests whose every figure is known.
//!
//! `METRICS_BLESS=1 cargo test --test it metrics::golden` rewrites `fixtures/metrics/`.

use rootdesk::cli::metrics::request_view;
use rootdesk::cli::Format;
use rootdesk::metrics::{GroupBy, Report, ReportOptions, ServiceLevels};
use rootdesk::workflow::{CheckPhase, Command, Priority, Verdict};

use super::timelines::{admin, delegation_proposal, staff, tech, Script};
use crate::common::repo_file;

fn golden(name: &str, actual: &str) {
    let path = repo_file(&format!("fixtures/metrics/{name}"));
    if std::env::var_os("METRICS_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("folder")).expect("mkdir");
        std::fs::write(&path, actual).expect("bless");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (METRICS_BLESS=1 writes it)", path.display()));
    assert!(
        expected == actual,
        "{name} changed:\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

#[test]
fn report_and_request_outputs() {
    let mut fast = Script::submit(delegation_proposal("192.0.2.1"), Priority::Normal);
    fast.check(10 * 60, CheckPhase::Initial, Verdict::Pass)
        .after(2 * 3600, admin(), Command::Confirm)
        .after(3 * 3600, tech(), Command::Confirm)
        .after(86_400, staff(), Command::Approve { note: "ok".into() })
        .check(5 * 60, CheckPhase::Supplemental, Verdict::Pass)
        .after(6 * 3600, staff(), Command::Implement { serial: None });
    let mut slow = Script::submit(delegation_proposal("192.0.2.3"), Priority::Normal);
    slow.check(55 * 60, CheckPhase::Initial, Verdict::Pass)
        .after(40 * 86_400, admin(), Command::Confirm)
        .after(3600, tech(), Command::Confirm)
        .after(
            6 * 86_400,
            staff(),
            Command::Reject {
                reason: "no".into(),
            },
        );
    let mut second = slow.timeline();
    second.ticket = "RD-20260302-0002".into();
    let timelines = vec![fast.timeline(), second];
    let report = Report::build(
        &timelines,
        &ServiceLevels::default(),
        &ReportOptions {
            since: None,
            until: None,
            by: GroupBy::Month,
            breaches: true,
        },
    );
    golden("report-by-month.txt", &report.to_table(20));
    golden("report-by-month.csv", &report.to_csv().expect("csv"));
    let end = timelines[0].ended_at.expect("finished");
    golden(
        "request.txt",
        &request_view(&timelines[0], Format::Table, end).expect("view"),
    );
    golden(
        "request.csv",
        &request_view(&timelines[0], Format::Csv, end).expect("view"),
    );
}
