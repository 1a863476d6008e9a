//! `/metrics` in the Prometheus text exposition format, rendered from plain counts: requests
//! by state and kind, histograms of desk time, TLD time and check duration, and service-level
//! measurements and breaches.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Measure, ServiceLevels, Timeline};
use crate::workflow::{CheckPhase, State};

/// A finished check: its phase and seconds from queueing to result.
pub type CheckDuration = (CheckPhase, f64);

const TIME_BUCKETS: [f64; 11] = [
    60.0,
    600.0,
    3600.0,
    21_600.0,
    43_200.0,
    86_400.0,
    172_800.0,
    432_000.0,
    864_000.0,
    1_728_000.0,
    2_592_000.0,
];
const CHECK_BUCKETS: [f64; 10] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3000.0, 3600.0,
];

fn enum_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// A sum of non-negative seconds in fixed point (units of 2^-64 s): adding and taking away a
/// value leaves no rounding behind, so a total kept up to date as requests change is the
/// very number a fresh count gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ExactSum(i128);

const SCALE: f64 = 18_446_744_073_709_551_616.0; // 2^64

impl ExactSum {
    fn add(&mut self, value: f64, sign: i64) {
        self.0 += i128::from(sign) * (value * SCALE) as i128;
    }

    fn value(self) -> f64 {
        self.0 as f64 / SCALE
    }
}

/// One histogram series: counts per bucket bound, count and sum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Hist {
    buckets: Vec<i64>,
    count: i64,
    sum: ExactSum,
}

impl Hist {
    fn add(&mut self, bounds: &[f64], value: f64, sign: i64) {
        self.buckets.resize(bounds.len(), 0);
        for (n, le) in self.buckets.iter_mut().zip(bounds) {
            if value <= *le {
                *n += sign;
            }
        }
        self.count += sign;
        self.sum.add(value, sign);
    }
}

fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    series: &BTreeMap<String, Hist>,
    buckets: &[f64],
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    // A series whose last value was taken away is gone, as in a fresh count.
    for (labels, hist) in series.iter().filter(|(_, h)| h.count > 0) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (le, n) in buckets.iter().zip(&hist.buckets) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            hist.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", hist.sum.value());
        let _ = writeln!(out, "{name}_count{braces} {}", hist.count);
    }
}

/// The counts behind `/metrics`, kept up to date one request at a time: the daemon adds a
/// request's timeline, takes the old one away when it changes, and adds each check as it
/// finishes, so that a scrape costs the same however long the history is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregates {
    by_state: BTreeMap<(State, String), i64>,
    submitted: BTreeMap<String, i64>,
    desk: BTreeMap<String, Hist>,
    tld: BTreeMap<String, Hist>,
    /// Per measure with a service level: measured, and over the limit.
    measured: BTreeMap<Measure, (i64, i64)>,
    checks: BTreeMap<String, Hist>,
}

impl Aggregates {
    /// Counts a timeline in (`sign` 1) or takes it away again (`sign` -1).
    pub fn timeline(&mut self, t: &Timeline, levels: &ServiceLevels, sign: i64) {
        let kind = enum_text(&t.kind);
        *self.by_state.entry((t.state, kind.clone())).or_default() += sign;
        *self.submitted.entry(kind.clone()).or_default() += sign;
        let labels = format!("kind=\"{kind}\"");
        for m in &t.measurements {
            match m.measure {
                Measure::DeskTime => {
                    self.desk
                        .entry(labels.clone())
                        .or_default()
                        .add(&TIME_BUCKETS, m.value, sign)
                }
                Measure::TldTime => {
                    self.tld
                        .entry(labels.clone())
                        .or_default()
                        .add(&TIME_BUCKETS, m.value, sign)
                }
                _ => {}
            }
            if let Some(level) = levels.of(m.measure) {
                let e = self.measured.entry(m.measure).or_default();
                e.0 += sign;
                if m.value > level.limit_secs as f64 {
                    e.1 += sign;
                }
            }
        }
    }

    /// Takes every timeline away, keeping the checks.
    pub fn clear_timelines(&mut self) {
        self.by_state.clear();
        self.submitted.clear();
        self.desk.clear();
        self.tld.clear();
        self.measured.clear();
    }

    /// Counts a finished check in.
    pub fn check(&mut self, phase: CheckPhase, secs: f64) {
        self.checks
            .entry(format!("phase=\"{}\"", enum_text(&phase)))
            .or_default()
            .add(&CHECK_BUCKETS, secs, 1);
    }

    /// The Prometheus text of these counts.
    pub fn render(&self, levels: &ServiceLevels) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP rootdesk_requests Requests by current state and kind."
        );
        let _ = writeln!(out, "# TYPE rootdesk_requests gauge");
        for ((state, kind), n) in self.by_state.iter().filter(|(_, n)| **n > 0) {
            let _ = writeln!(
                out,
                "rootdesk_requests{{state=\"{state}\",kind=\"{kind}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP rootdesk_requests_submitted_total Requests submitted, by kind."
        );
        let _ = writeln!(out, "# TYPE rootdesk_requests_submitted_total counter");
        for (kind, n) in self.submitted.iter().filter(|(_, n)| **n > 0) {
            let _ = writeln!(
                out,
                "rootdesk_requests_submitted_total{{kind=\"{kind}\"}} {n}"
            );
        }
        histogram(
            &mut out,
            "rootdesk_desk_time_seconds",
            "Time finished requests spent in desk-owned states.",
            &self.desk,
            &TIME_BUCKETS,
        );
        histogram(
            &mut out,
            "rootdesk_tld_time_seconds",
            "Time finished requests spent waiting on the TLD (the desk's clock stopped).",
            &self.tld,
            &TIME_BUCKETS,
        );
        histogram(
            &mut out,
            "rootdesk_check_duration_seconds",
            "Technical checks from queueing to result.",
            &self.checks,
            &CHECK_BUCKETS,
        );
        let measured: Vec<_> = self.measured.iter().filter(|(_, (n, _))| *n > 0).collect();
        let _ = writeln!(out, "# HELP rootdesk_service_level_measurements_total Intervals measured against a service level.");
        let _ = writeln!(
            out,
            "# TYPE rootdesk_service_level_measurements_total counter"
        );
        for (measure, (n, _)) in &measured {
            let _ = writeln!(
                out,
                "rootdesk_service_level_measurements_total{{level=\"{}\"}} {n}",
                measure.as_str()
            );
        }
        let _ = writeln!(
            out,
            "# HELP rootdesk_service_level_breaches_total Intervals over their service level."
        );
        let _ = writeln!(out, "# TYPE rootdesk_service_level_breaches_total counter");
        for (measure, (_, b)) in &measured {
            let _ = writeln!(
                out,
                "rootdesk_service_level_breaches_total{{level=\"{}\"}} {b}",
                measure.as_str()
            );
        }
        let _ = writeln!(
            out,
            "# HELP rootdesk_service_level_limit_seconds Configured limit of each service level."
        );
        let _ = writeln!(out, "# TYPE rootdesk_service_level_limit_seconds gauge");
        for measure in Measure::ALL {
            if let Some(level) = levels.of(measure) {
                let _ = writeln!(
                    out,
                    "rootdesk_service_level_limit_seconds{{level=\"{}\"}} {}",
                    measure.as_str(),
                    level.limit_secs
                );
            }
        }
        out
    }
}

/// Renders the metrics of all requests and finished checks.
pub fn render_prometheus(
    timelines: &[Timeline],
    checks: &[CheckDuration],
    levels: &ServiceLevels,
) -> String {
    let mut agg = Aggregates::default();
    for t in timelines {
        agg.timeline(t, levels, 1);
    }
    for (phase, secs) in checks {
        agg.check(*phase, *secs);
    }
    agg.render(levels)
}

/// The sweep's gauges: TLDs by verdict in the newest sweep, its start (Unix seconds),
/// duration and queries sent. Nothing before the first sweep.
pub fn render_sweep(
    last: Option<&crate::store::SweepSummary>,
    counts: &BTreeMap<String, i64>,
) -> String {
    let mut out = String::new();
    let Some(last) = last else {
        return out;
    };
    let _ = writeln!(
        out,
        "# HELP rootdesk_sweep_tlds TLDs by verdict in the newest sweep."
    );
    let _ = writeln!(out, "# TYPE rootdesk_sweep_tlds gauge");
    for verdict in ["pass", "warn", "fail", "not-run"] {
        let n = counts.get(verdict).copied().unwrap_or(0);
        let _ = writeln!(out, "rootdesk_sweep_tlds{{verdict=\"{verdict}\"}} {n}");
    }
    let start = time::OffsetDateTime::parse(
        &last.started,
        &time::format_description::well_known::Rfc3339,
    )
    .map(|t| t.unix_timestamp())
    .unwrap_or(0);
    for (name, help, value) in [
        (
            "rootdesk_sweep_last_start_seconds",
            "Start of the newest sweep, Unix time.",
            start as f64,
        ),
        (
            "rootdesk_sweep_last_duration_seconds",
            "Wall time of the newest sweep.",
            last.elapsed_ms as f64 / 1000.0,
        ),
        (
            "rootdesk_sweep_last_queries",
            "Queries the newest sweep sent.",
            last.queries as f64,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {value}");
    }
    out
}
