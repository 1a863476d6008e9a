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

fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    series: &BTreeMap<String, Vec<f64>>,
    buckets: &[f64],
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (labels, values) in series {
        let sep = if labels.is_empty() { "" } else { "," };
        for le in buckets {
            let n = values.iter().filter(|v| **v <= *le).count();
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            values.len()
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", values.iter().sum::<f64>());
        let _ = writeln!(out, "{name}_count{braces} {}", values.len());
    }
}

/// Renders the metrics of all requests and finished checks.
pub fn render_prometheus(
    timelines: &[Timeline],
    checks: &[CheckDuration],
    levels: &ServiceLevels,
) -> String {
    let mut out = String::new();
    let mut by_state: BTreeMap<(State, String), u64> = BTreeMap::new();
    let mut submitted: BTreeMap<String, u64> = BTreeMap::new();
    let mut desk: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut tld: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut measured: BTreeMap<Measure, (u64, u64)> = BTreeMap::new();
    for t in timelines {
        let kind = enum_text(&t.kind);
        *by_state.entry((t.state, kind.clone())).or_default() += 1;
        *submitted.entry(kind.clone()).or_default() += 1;
        let labels = format!("kind=\"{kind}\"");
        for m in &t.measurements {
            match m.measure {
                Measure::DeskTime => desk.entry(labels.clone()).or_default().push(m.value),
                Measure::TldTime => tld.entry(labels.clone()).or_default().push(m.value),
                _ => {}
            }
            if let Some(level) = levels.of(m.measure) {
                let e = measured.entry(m.measure).or_default();
                e.0 += 1;
                if m.value > level.limit_secs as f64 {
                    e.1 += 1;
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP rootdesk_requests Requests by current state and kind."
    );
    let _ = writeln!(out, "# TYPE rootdesk_requests gauge");
    for ((state, kind), n) in &by_state {
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
    for (kind, n) in &submitted {
        let _ = writeln!(
            out,
            "rootdesk_requests_submitted_total{{kind=\"{kind}\"}} {n}"
        );
    }
    histogram(
        &mut out,
        "rootdesk_desk_time_seconds",
        "Time finished requests spent in desk-owned states.",
        &desk,
        &TIME_BUCKETS,
    );
    histogram(
        &mut out,
        "rootdesk_tld_time_seconds",
        "Time finished requests spent waiting on the TLD (the desk's clock stopped).",
        &tld,
        &TIME_BUCKETS,
    );
    let mut by_phase: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (phase, secs) in checks {
        by_phase
            .entry(format!("phase=\"{}\"", enum_text(phase)))
            .or_default()
            .push(*secs);
    }
    histogram(
        &mut out,
        "rootdesk_check_duration_seconds",
        "Technical checks from queueing to result.",
        &by_phase,
        &CHECK_BUCKETS,
    );
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
