//! The monthly chart: desk time and TLD time percentiles of the requests finished each month,
//! drawn against the service-level lines, as an SVG file readable without explanation.

use plotters::prelude::*;

use super::report::percentile;
use super::{Measure, ServiceLevels, Timeline};

const HOUR: f64 = 3600.0;

/// Per month (`YYYY-MM`): sorted desk and TLD times, in hours.
fn monthly(timelines: &[Timeline]) -> Vec<(String, Vec<f64>, Vec<f64>)> {
    let mut months: std::collections::BTreeMap<String, (Vec<f64>, Vec<f64>)> = Default::default();
    for t in timelines {
        for m in &t.measurements {
            let slot = match m.measure {
                Measure::DeskTime => 0,
                Measure::TldTime => 1,
                _ => continue,
            };
            let key = format!("{:04}-{:02}", m.at.year(), u8::from(m.at.month()));
            let entry = months.entry(key).or_default();
            let list = if slot == 0 {
                &mut entry.0
            } else {
                &mut entry.1
            };
            list.push(m.value / HOUR);
        }
    }
    months
        .into_iter()
        .map(|(k, (mut d, mut t))| {
            d.sort_by(f64::total_cmp);
            t.sort_by(f64::total_cmp);
            (k, d, t)
        })
        .collect()
}

/// Renders the chart as SVG text.
pub fn render_chart(timelines: &[Timeline], levels: &ServiceLevels) -> Result<String, String> {
    let months = monthly(timelines);
    if months.is_empty() {
        return Err("no finished requests to chart yet".into());
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 650)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        // Durations span minutes to weeks: a logarithmic axis in hours keeps both readable.
        let floor = 0.01;
        // Which list: false for desk time, true for TLD time.
        let series = |tld: bool, p: f64| -> Vec<(usize, f64)> {
            months
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    percentile(if tld { &m.2 } else { &m.1 }, p).map(|v| (i, v.max(floor)))
                })
                .collect()
        };
        let (desk, tld) = (false, true);
        let lines = [
            (
                "desk time, median",
                series(desk, 50.0),
                BLUE.stroke_width(2),
            ),
            (
                "desk time, p90",
                series(desk, 90.0),
                BLUE.mix(0.5).stroke_width(2),
            ),
            (
                "TLD time (clock stopped), median",
                series(tld, 50.0),
                RED.stroke_width(2),
            ),
            (
                "TLD time (clock stopped), p90",
                series(tld, 90.0),
                RED.mix(0.5).stroke_width(2),
            ),
        ];
        let top = lines
            .iter()
            .flat_map(|l| l.1.iter().map(|p| p.1))
            .fold(levels.staff_review.limit_secs as f64 / HOUR, f64::max)
            * 2.0;
        let labels: Vec<String> = months.iter().map(|m| m.0.clone()).collect();
        let last = months.len().saturating_sub(1).max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "rootdesk: time per request finished each month, charged to who had to act",
                ("sans-serif", 22),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0usize..last, (floor..top).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("month the request finished (UTC)")
            .y_desc("hours (log scale)")
            .x_labels(labels.len().min(24))
            .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .y_label_formatter(&|v| {
                if *v >= 1.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            })
            .draw()
            .map_err(|e| e.to_string())?;
        for (name, points, style) in lines {
            let color = style.color;
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        let limits = [
            (
                format!(
                    "service level: staff review {} d ({}%)",
                    levels.staff_review.limit_secs as f64 / 86_400.0,
                    levels.staff_review.target_percent
                ),
                levels.staff_review.limit_secs as f64 / HOUR,
                GREEN.mix(0.9),
            ),
            (
                format!(
                    "service level: publication {} h after review ({}%)",
                    levels.publication.limit_secs as f64 / HOUR,
                    levels.publication.target_percent
                ),
                levels.publication.limit_secs as f64 / HOUR,
                MAGENTA.mix(0.8),
            ),
            (
                format!(
                    "service level: emergency desk time {} h ({}%)",
                    levels.emergency_desk.limit_secs as f64 / HOUR,
                    levels.emergency_desk.target_percent
                ),
                levels.emergency_desk.limit_secs as f64 / HOUR,
                BLACK.mix(0.7),
            ),
        ];
        for (name, hours, color) in limits {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0, hours.max(floor)), (last, hours.max(floor))],
                    8,
                    4,
                    color.stroke_width(1),
                ))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(1))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
