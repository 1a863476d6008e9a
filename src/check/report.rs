//! The report of one check run: verdict, findings and every query made.
//!
//! The report is stored with the request it judged (DESIGN §2, "check run"), so it carries
//! the raw per-query outcomes as well as the findings: a verdict can be explained, or
//! recomputed, long after the servers changed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::probe::{QueryRecord, Transport};
use super::profile::{CheckId, Severity};

super::names::named_enum! {
    /// The overall result.
    pub enum Verdict {
        Pass = "pass",
        Warn = "warn",
        Fail = "fail",
        /// The delegation could not be judged: no server answered, or the desk itself failed
        /// (a local error). Never `pass` or `warn`; it blocks a request as `fail` does.
        NotRun = "not-run",
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub check: CheckId,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nameserver: Option<String>,
    /// `192.0.2.53` on port 53, `127.0.0.1:5300` on other ports.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::probe::address_text::option"
    )]
    pub address: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
}

super::names::named_enum! {
    /// What each check came to: `pass`, `warning`, `error`, `off` when the profile disabled
    /// it, or `not-run` when it could not be evaluated (the report's `not_run` says why).
    pub enum CheckStatus {
        Pass = "pass",
        Warning = "warning",
        Error = "error",
        Off = "off",
        NotRun = "not-run",
    }
}

/// The complete report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The zone checked, absolute (`test.`).
    pub zone: String,
    pub verdict: Verdict,
    /// Per-check outcome, in table order.
    pub checks: BTreeMap<CheckId, CheckStatus>,
    /// Why each `not-run` check could not be evaluated.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_run: BTreeMap<CheckId, String>,
    pub findings: Vec<Finding>,
    pub queries: Vec<QueryRecord>,
    /// RFC 3339 UTC time the check started.
    pub started: String,
    pub elapsed_ms: u64,
}

impl Report {
    /// `fail` if any error, `not-run` if some check could not be evaluated, `warn` if any
    /// warning, else `pass`.
    pub fn verdict_of(findings: &[Finding], checks: &BTreeMap<CheckId, CheckStatus>) -> Verdict {
        if findings.iter().any(|f| f.severity == Severity::Error) {
            Verdict::Fail
        } else if checks.values().any(|s| *s == CheckStatus::NotRun) {
            Verdict::NotRun
        } else if findings.iter().any(|f| f.severity == Severity::Warning) {
            Verdict::Warn
        } else {
            Verdict::Pass
        }
    }

    /// One line per problem (at most 20), for audit events and messages.
    pub fn summary(&self) -> String {
        let problems: Vec<String> = self
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Off)
            .take(20)
            .map(|f| format!("{} {}: {}", f.severity, f.check.as_str(), f.message))
            .chain(
                self.not_run
                    .iter()
                    .map(|(id, why)| format!("not-run {}: {why}", id.as_str())),
            )
            .take(20)
            .collect();
        if problems.is_empty() {
            format!("{}: no problems", self.verdict)
        } else {
            format!("{}: {}", self.verdict, problems.join("; "))
        }
    }

    /// The findings of one check.
    pub fn findings_of(&self, check: CheckId) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.check == check)
    }

    /// A readable rendering for terminals: the verdict, then the findings grouped by check,
    /// each naming the server, address and transport concerned.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} ({} errors, {} warnings; {} queries in {} ms)",
            self.zone,
            self.verdict.to_string().to_uppercase(),
            self.findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count(),
            self.findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .count(),
            self.queries.len(),
            self.elapsed_ms
        );
        for (check, status) in &self.checks {
            let label = match status {
                CheckStatus::Pass => "ok",
                CheckStatus::Warning => "WARNING",
                CheckStatus::Error => "ERROR",
                CheckStatus::Off => "off",
                CheckStatus::NotRun => "not-run",
            };
            let _ = writeln!(out, "  {label:<7} {check}");
            if let Some(why) = self.not_run.get(check) {
                let _ = writeln!(out, "          - not run: {why}");
            }
            for f in self.findings_of(*check) {
                let mut place = Vec::new();
                if let Some(ns) = &f.nameserver {
                    place.push(ns.clone());
                }
                if let Some(a) = f.address {
                    place.push(super::probe::address_text::format(&a));
                }
                if let Some(t) = f.transport {
                    place.push(t.to_string());
                }
                let sev = if f.severity == Severity::Error {
                    "error"
                } else {
                    "warning"
                };
                if place.is_empty() {
                    let _ = writeln!(out, "          - {sev}: {}", f.message);
                } else {
                    let _ = writeln!(
                        out,
                        "          - {sev}: [{}] {}",
                        place.join(" "),
                        f.message
                    );
                }
            }
        }
        out
    }
}
