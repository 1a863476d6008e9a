//! Reports: measurements grouped by period, TLD, kind or priority, with count, median, p90,
//! p99, maximum and the share within each service level, and the breaches by ticket.

use std::fmt::Write as _;

use serde::Serialize;
use time::OffsetDateTime;

use super::{Measure, ServiceLevels, Timeline};

/// How a report groups measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum GroupBy {
    /// Calendar month of the end of each interval (UTC).
    Month,
    /// ISO week of the end of each interval.
    Week,
    Tld,
    Kind,
    Priority,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<GroupBy> {
        Some(match text {
            "month" => GroupBy::Month,
            "week" => GroupBy::Week,
            "tld" => GroupBy::Tld,
            "kind" => GroupBy::Kind,
            "priority" => GroupBy::Priority,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Month => "month",
            GroupBy::Week => "week",
            GroupBy::Tld => "tld",
            GroupBy::Kind => "kind",
            GroupBy::Priority => "priority",
        }
    }
}

/// What a report covers.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Intervals that ended at or after this.
    pub since: Option<OffsetDateTime>,
    /// Intervals that ended before this.
    pub until: Option<OffsetDateTime>,
    pub by: GroupBy,
    /// Whether to list breaches by ticket (staff and auditors).
    pub breaches: bool,
}

/// Statistics of one measure in one group. Seconds, except for [`Measure::Questions`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeasureStats {
    pub measure: Measure,
    pub count: usize,
    pub median: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub sum: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_percent: Option<u32>,
    /// Share of measurements within the limit, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_percent: Option<f64>,
    /// Whether the share meets the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_met: Option<bool>,
}

/// One measurement over its service level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    pub ticket: String,
    pub tld: String,
    pub measure: Measure,
    pub seconds: f64,
    pub limit_secs: u64,
    #[serde(with = "crate::store::time_format")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    pub group: String,
    /// Requests with at least one measurement in the group.
    pub requests: usize,
    pub measures: Vec<MeasureStats>,
    /// Breach count per measure.
    pub breach_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaches: Option<Vec<Breach>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub by: GroupBy,
    #[serde(with = "crate::store::time_format::option")]
    pub since: Option<OffsetDateTime>,
    #[serde(with = "crate::store::time_format::option")]
    pub until: Option<OffsetDateTime>,
    pub groups: Vec<GroupReport>,
    pub total: GroupReport,
}

/// A report bound: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_date(text: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(date) = time::Date::parse(text, &format) {
        return Some(date.midnight().assume_utc());
    }
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// The nearest-rank percentile `p` (0 < p <= 100) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // The smallest rank k with k / n >= p / 100, compared as k * 100 >= p * n.
    let target = p * sorted.len() as f64;
    let mut rank = (target / 100.0).ceil().max(1.0) as usize;
    while rank > 1 && (rank - 1) as f64 * 100.0 >= target {
        rank -= 1;
    }
    while rank < sorted.len() && (rank as f64) * 100.0 < target {
        rank += 1;
    }
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Values of one group under construction.
#[derive(Default)]
struct Acc {
    requests: usize,
    /// The last timeline counted, so that a request counts once per group.
    last: Option<usize>,
    values: [Vec<f64>; Measure::ALL.len()],
    breaches: Vec<Breach>,
    breach_count: usize,
}

/// A group's key without allocating: a number for periods, a name otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key<'a> {
    Period(i32),
    Name(&'a str),
}

fn group_key(by: GroupBy, t: &Timeline, at: OffsetDateTime) -> Key<'_> {
    match by {
        GroupBy::Month => Key::Period(at.year() * 100 + i32::from(u8::from(at.month()))),
        GroupBy::Week => {
            let (year, week, _) = at.to_iso_week_date();
            Key::Period(year * 100 + i32::from(week))
        }
        GroupBy::Tld => Key::Name(&t.tld),
        GroupBy::Kind => Key::Name(t.kind.as_str()),
        GroupBy::Priority => Key::Name(match t.priority {
            crate::workflow::Priority::Normal => "normal",
            crate::workflow::Priority::Emergency => "emergency",
        }),
    }
}

fn key_text(by: GroupBy, key: Key<'_>) -> String {
    match (by, key) {
        (GroupBy::Week, Key::Period(p)) => format!("{:04}-W{:02}", p / 100, p % 100),
        (_, Key::Period(p)) => format!("{:04}-{:02}", p / 100, p % 100),
        (_, Key::Name(n)) => n.to_string(),
    }
}

/// The k-th smallest value (0-based) of `values`, reordering them.
fn select(values: &mut [f64], k: usize) -> f64 {
    *values.select_nth_unstable_by(k, f64::total_cmp).1
}

/// The nearest-rank percentile without sorting: selection in linear time.
fn percentile_select(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    // The rank is the one `percentile` would use on the sorted values.
    let n = values.len();
    let target = p * n as f64;
    let mut rank = (target / 100.0).ceil().max(1.0) as usize;
    while rank > 1 && (rank - 1) as f64 * 100.0 >= target {
        rank -= 1;
    }
    while rank < n && (rank as f64) * 100.0 < target {
        rank += 1;
    }
    Some(select(values, rank.clamp(1, n) - 1))
}

impl Acc {
    fn add(
        &mut self,
        index: usize,
        t: &Timeline,
        m: &super::Measurement,
        levels: &ServiceLevels,
        list: bool,
    ) {
        if self.last != Some(index) {
            self.last = Some(index);
            self.requests += 1;
        }
        self.values[m.measure as usize].push(m.value);
        if let Some(level) = levels.of(m.measure) {
            if m.value > level.limit_secs as f64 {
                self.breach_count += 1;
                if list {
                    self.breaches.push(Breach {
                        ticket: t.ticket.clone(),
                        tld: t.tld.clone(),
                        measure: m.measure,
                        seconds: m.value,
                        limit_secs: level.limit_secs,
                        at: m.at,
                    });
                }
            }
        }
    }

    fn finish(mut self, group: String, levels: &ServiceLevels, list: bool) -> GroupReport {
        let measures = Measure::ALL
            .iter()
            .map(|&measure| {
                let values = &mut self.values[measure as usize];
                let level = levels.of(measure);
                let within = level.filter(|_| !values.is_empty()).map(|l| {
                    let ok = values.iter().filter(|v| **v <= l.limit_secs as f64).count();
                    100.0 * ok as f64 / values.len() as f64
                });
                let max = values.iter().copied().max_by(f64::total_cmp);
                MeasureStats {
                    measure,
                    count: values.len(),
                    median: percentile_select(values, 50.0),
                    p90: percentile_select(values, 90.0),
                    p99: percentile_select(values, 99.0),
                    max,
                    sum: values.iter().sum::<f64>() + 0.0,
                    limit_secs: level.map(|l| l.limit_secs),
                    target_percent: level.map(|l| l.target_percent),
                    within_percent: within,
                    target_met: within
                        .zip(level)
                        .map(|(w, l)| w >= f64::from(l.target_percent)),
                }
            })
            .collect();
        self.breaches
            .sort_by(|a, b| (a.at, &a.ticket).cmp(&(b.at, &b.ticket)));
        GroupReport {
            group,
            requests: self.requests,
            measures,
            breach_count: self.breach_count,
            breaches: list.then_some(self.breaches),
        }
    }
}

impl Report {
    /// Builds a report over the timelines' measurements.
    pub fn build(
        timelines: &[Timeline],
        levels: &ServiceLevels,
        options: &ReportOptions,
    ) -> Report {
        let mut groups: std::collections::HashMap<Key<'_>, Acc> = Default::default();
        let mut total = Acc::default();
        let inside = |m: &&super::Measurement| {
            !(options.since.is_some_and(|s| m.at < s) || options.until.is_some_and(|u| m.at >= u))
        };
        // Grouped by an attribute of the request: one lookup per request, not per interval.
        let by_request = matches!(options.by, GroupBy::Tld | GroupBy::Kind | GroupBy::Priority);
        for (index, t) in timelines.iter().enumerate() {
            if by_request {
                let mut measurements = t.measurements.iter().filter(inside).peekable();
                if measurements.peek().is_none() {
                    continue;
                }
                let acc = groups
                    .entry(group_key(options.by, t, t.submitted_at))
                    .or_default();
                for m in measurements {
                    acc.add(index, t, m, levels, false);
                    total.add(index, t, m, levels, options.breaches);
                }
                continue;
            }
            for m in t.measurements.iter().filter(inside) {
                groups
                    .entry(group_key(options.by, t, m.at))
                    .or_default()
                    .add(index, t, m, levels, false);
                total.add(index, t, m, levels, options.breaches);
            }
        }
        let mut groups: Vec<(Key<'_>, Acc)> = groups.into_iter().collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        Report {
            by: options.by,
            since: options.since,
            until: options.until,
            groups: groups
                .into_iter()
                .map(|(key, acc)| acc.finish(key_text(options.by, key), levels, false))
                .collect(),
            total: total.finish("all".into(), levels, options.breaches),
        }
    }

    /// A plain-text table per group, then the breaches.
    pub fn to_table(&self, max_breaches: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Turnaround by {}{}{} (durations: s, m, h, d; 'within' is the share inside the service level)",
            self.by.as_str(),
            self.since
                .map(|s| format!(" since {}", s.date()))
                .unwrap_or_default(),
            self.until
                .map(|u| format!(" until {}", u.date()))
                .unwrap_or_default()
        );
        for group in self.groups.iter().chain(std::iter::once(&self.total)) {
            let _ = writeln!(
                out,
                "\n== {} ({} requests, {} breaches)",
                group.group, group.requests, group.breach_count
            );
            let _ = writeln!(
                out,
                "{:<20} {:>7} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>8}",
                "interval", "count", "median", "p90", "p99", "max", "sum", "limit", "within"
            );
            for m in &group.measures {
                if m.count == 0 && m.limit_secs.is_none() {
                    continue;
                }
                let f = |v: Option<f64>| v.map_or("-".to_string(), |v| fmt_value(m.measure, v));
                let within = match (m.within_percent, m.target_percent, m.target_met) {
                    (Some(w), Some(t), Some(met)) => {
                        format!("{w:.1}%{}", if met { "" } else { "!" }) + &format!("/{t}")
                    }
                    _ => "-".into(),
                };
                let _ = writeln!(
                    out,
                    "{:<20} {:>7} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>8}",
                    m.measure.as_str(),
                    m.count,
                    f(m.median),
                    f(m.p90),
                    f(m.p99),
                    f(m.max),
                    fmt_value(m.measure, m.sum),
                    m.limit_secs.map_or("-".into(), |l| human(l as f64)),
                    within
                );
            }
        }
        if let Some(breaches) = &self.total.breaches {
            let _ = writeln!(out, "\nBreaches ({}):", breaches.len());
            for b in breaches.iter().take(max_breaches) {
                let _ = writeln!(
                    out,
                    "  {} {:<8} {:<20} {:>9} > {:>6}  at {}",
                    b.ticket,
                    b.tld,
                    b.measure.as_str(),
                    human(b.seconds),
                    human(b.limit_secs as f64),
                    b.at.date()
                );
            }
            if breaches.len() > max_breaches {
                let _ = writeln!(
                    out,
                    "  ... and {} more (--format json or csv lists them all)",
                    breaches.len() - max_breaches
                );
            }
        }
        out
    }

    /// One CSV row per group and measure; breaches follow as rows of group `breach`.
    pub fn to_csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "group",
            "interval",
            "count",
            "median_s",
            "p90_s",
            "p99_s",
            "max_s",
            "sum",
            "limit_s",
            "target_percent",
            "within_percent",
            "target_met",
            "ticket",
            "at",
        ])?;
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
        for group in self.groups.iter().chain(std::iter::once(&self.total)) {
            for m in &group.measures {
                w.write_record([
                    group.group.clone(),
                    m.measure.as_str().to_string(),
                    m.count.to_string(),
                    opt(m.median),
                    opt(m.p90),
                    opt(m.p99),
                    opt(m.max),
                    format!("{:.3}", m.sum),
                    m.limit_secs.map_or(String::new(), |l| l.to_string()),
                    m.target_percent.map_or(String::new(), |t| t.to_string()),
                    m.within_percent
                        .map_or(String::new(), |w| format!("{w:.2}")),
                    m.target_met.map_or(String::new(), |b| b.to_string()),
                    String::new(),
                    String::new(),
                ])?;
            }
        }
        for b in self.total.breaches.iter().flatten() {
            w.write_record([
                "breach".to_string(),
                b.measure.as_str().to_string(),
                "1".into(),
                String::new(),
                String::new(),
                String::new(),
                format!("{:.3}", b.seconds),
                String::new(),
                b.limit_secs.to_string(),
                String::new(),
                String::new(),
                "false".into(),
                b.ticket.clone(),
                crate::store::timestamp(b.at),
            ])?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

fn fmt_value(measure: Measure, v: f64) -> String {
    if measure.is_count() {
        format!("{v}")
    } else {
        human(v)
    }
}

/// A duration in the largest unit that keeps it readable: `42s`, `7.5m`, `3.2h`, `4.1d`.
pub fn human(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.0}s")
    } else if secs < 3600.0 {
        format!("{:.1}m", secs / 60.0)
    } else if secs < 86_400.0 {
        format!("{:.1}h", secs / 3600.0)
    } else {
        format!("{:.1}d", secs / 86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition itself: the smallest value with at least p% of the values at or below it.
    fn reference(values: &[f64], p: f64) -> Option<f64> {
        let mut candidates: Vec<f64> = values.to_vec();
        candidates.sort_by(f64::total_cmp);
        candidates.into_iter().find(|&v| {
            let at_or_below = values.iter().filter(|x| **x <= v).count();
            at_or_below as f64 * 100.0 >= p * values.len() as f64
        })
    }

    proptest! {
        #[test]
        fn percentiles_match_the_definition(
            mut values in prop::collection::vec(0u32..100_000, 1..300),
            p in prop::sample::select(vec![50.0, 90.0, 99.0, 100.0, 1.0, 33.3]),
        ) {
            let values: Vec<f64> = values.drain(..).map(f64::from).collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            prop_assert_eq!(percentile(&sorted, p), reference(&values, p));
            let mut scratch = values.clone();
            prop_assert_eq!(percentile_select(&mut scratch, p), reference(&values, p));
        }
    }

    #[test]
    fn small_cases() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&ten, 50.0), Some(5.0));
        assert_eq!(percentile(&ten, 90.0), Some(9.0));
        assert_eq!(percentile(&ten, 99.0), Some(10.0));
        assert_eq!(human(59.0), "59s");
        assert_eq!(human(90.0), "1.5m");
        assert_eq!(human(5.0 * 86_400.0), "5.0d");
    }
}
