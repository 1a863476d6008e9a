//! `rootdesk metrics ...` and `rootdesk simulate`: turnaround reports, the per-request
//! breakdown and the chart, read straight from the database; and a simulated history.

use std::path::PathBuf;

use clap::Subcommand;
use time::OffsetDateTime;

use super::{emit, Context, Format};
use crate::error::{Error, Result};
use crate::metrics::simulate::{simulate, SimOptions};
use crate::metrics::{self, GroupBy, Report, ReportOptions, Timeline};
use crate::store::Store;
use crate::workflow::Owner;

/// Timeliness metrics: how long the desk took, how long it waited on the TLD
#[derive(Debug, clap::Args)]
pub struct MetricsCmd {
    #[command(subcommand)]
    pub command: MetricsCommand,
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Count, median, p90, p99 and maximum of every interval per group, the share within each
    /// service level, and the breaches by ticket
    Report {
        /// Intervals that ended on or after this date (YYYY-MM-DD or RFC 3339)
        #[arg(long)]
        since: Option<String>,
        /// Intervals that ended before this date (YYYY-MM-DD or RFC 3339)
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum, default_value = "month")]
        by: GroupBy,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Breaches listed in the table (JSON and CSV list all)
        #[arg(long, default_value_t = 20)]
        max_breaches: usize,
    },
    /// Each state of one request with its owner and duration, and its intervals
    Request {
        ticket: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Monthly desk-time and TLD-time percentiles against the service levels, as SVG
    Chart {
        /// The SVG file to write
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// The Prometheus text of `GET /metrics`, for a look without the daemon
    Prometheus,
}

/// Drive N requests through the workflow with a simulated clock (no DNS is probed)
#[derive(Debug, clap::Args)]
pub struct SimulateCmd {
    /// How many requests
    #[arg(long, default_value_t = 1000)]
    pub requests: usize,
    /// The same seed gives the same history
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The first submission (YYYY-MM-DD or RFC 3339)
    #[arg(long, default_value = "2025-01-01")]
    pub start: String,
    /// Days over which submissions are spread
    #[arg(long, default_value_t = 365)]
    pub days: u32,
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
pub fn parse_date(text: &str) -> Result<OffsetDateTime> {
    metrics::parse_date(text).ok_or_else(|| {
        Error::Usage(format!(
            "{text:?} is not a date: use YYYY-MM-DD or RFC 3339 (2025-03-01T00:00:00Z)"
        ))
    })
}

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    let mut text = serde_json::to_string_pretty(value).map_err(Error::failed)?;
    text.push('\n');
    Ok(text)
}

fn load(ctx: &Context) -> Result<(Store, Vec<Timeline>)> {
    let store = ctx.open_store()?;
    let timelines = metrics::load_timelines(&store)?;
    Ok((store, timelines))
}

impl MetricsCmd {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let levels = ctx.config.service_levels;
        match self.command {
            MetricsCommand::Report {
                since,
                until,
                by,
                format,
                max_breaches,
            } => {
                let options = ReportOptions {
                    since: since.as_deref().map(parse_date).transpose()?,
                    until: until.as_deref().map(parse_date).transpose()?,
                    by,
                    breaches: true,
                };
                let (_, timelines) = load(ctx)?;
                let report = Report::build(&timelines, &levels, &options);
                emit(&match format {
                    Format::Table => report.to_table(max_breaches),
                    Format::Json => json(&report)?,
                    Format::Csv => report.to_csv().map_err(Error::failed)?,
                })
            }
            MetricsCommand::Request { ticket, format } => {
                let store = ctx.open_store()?;
                let events = store.request_history(&ticket)?;
                let timeline = Timeline::from_events(&events)
                    .ok_or_else(|| Error::Failed(format!("no request {ticket}")))?;
                emit(&request_view(&timeline, format, OffsetDateTime::now_utc())?)
            }
            MetricsCommand::Chart { output } => {
                let (_, timelines) = load(ctx)?;
                let svg = metrics::render_chart(&timelines, &levels).map_err(Error::Failed)?;
                std::fs::write(&output, svg).map_err(|e| Error::io(&output, e))?;
                println!("wrote {}", output.display());
                Ok(())
            }
            MetricsCommand::Prometheus => {
                let (store, timelines) = load(ctx)?;
                let checks = store.check_durations()?;
                emit(&metrics::render_prometheus(&timelines, &checks, &levels))
            }
        }
    }
}

/// The per-request breakdown: states with owner and duration, then the intervals.
pub fn request_view(t: &Timeline, format: Format, now: OffsetDateTime) -> Result<String> {
    let owner = |o: Option<Owner>| match o {
        Some(Owner::Desk) => "desk",
        Some(Owner::Tld) => "tld",
        None => "-",
    };
    let stays = t.stays.iter().filter(|s| !s.state.is_final());
    Ok(match format {
        Format::Json => json(&serde_json::json!({
            "timeline": t,
            "desk_seconds": t.owned_seconds(Owner::Desk, now),
            "tld_seconds": t.owned_seconds(Owner::Tld, now),
        }))?,
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["state", "owner", "from", "to", "seconds"])
                .map_err(Error::failed)?;
            for s in stays {
                w.write_record([
                    s.state.as_str().to_string(),
                    owner(s.owner).to_string(),
                    crate::store::timestamp(s.from),
                    s.to.map(crate::store::timestamp).unwrap_or_default(),
                    format!("{:.3}", s.seconds(now)),
                ])
                .map_err(Error::failed)?;
            }
            let bytes = w.into_inner().map_err(Error::failed)?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Format::Table => {
            use std::fmt::Write as _;
            let mut out = String::new();
            let _ = writeln!(
                out,
                "{} ({}, {}, {}) is {}",
                t.ticket,
                t.tld,
                format!("{:?}", t.kind).to_lowercase(),
                format!("{:?}", t.priority).to_lowercase(),
                t.state
            );
            let _ = writeln!(
                out,
                "{:<22} {:<6} {:<28} {:>10}",
                "state", "owner", "from", "duration"
            );
            for s in stays {
                let _ = writeln!(
                    out,
                    "{:<22} {:<6} {:<28} {:>10}{}",
                    s.state.as_str(),
                    owner(s.owner),
                    crate::store::timestamp(s.from),
                    metrics::human(s.seconds(now)),
                    if s.to.is_none() { " (so far)" } else { "" }
                );
            }
            let _ = writeln!(
                out,
                "desk time {}, TLD time {} (the desk's clock stopped), questions {}",
                metrics::human(t.owned_seconds(Owner::Desk, now)),
                metrics::human(t.owned_seconds(Owner::Tld, now)),
                t.questions
            );
            for m in &t.measurements {
                if m.measure.is_count() {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "  {:<20} {:>10}  at {}",
                    m.measure.as_str(),
                    metrics::human(m.value),
                    crate::store::timestamp(m.at)
                );
            }
            out
        }
    })
}

impl SimulateCmd {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let mut store = if ctx.config.db.exists() {
            ctx.open_store()?
        } else {
            Store::create(&ctx.config.db)?
        };
        let options = SimOptions {
            requests: self.requests,
            seed: self.seed,
            start: parse_date(&self.start)?,
            days: self.days,
            expire_days: ctx.config.workflow.expire_days,
            reminder_days: ctx.config.workflow.reminder_days.clone(),
        };
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let summary = simulate(&mut store, &options, |done| {
            if terminal {
                eprint!("\r{done} of {} requests", options.requests);
            }
        })
        .map_err(Error::failed)?;
        if terminal {
            eprintln!();
        }
        println!(
            "simulated {} requests ({} events) on {} TLDs into {}",
            summary.requests,
            summary.events,
            summary.tlds,
            ctx.config.db.display()
        );
        for (state, n) in &summary.final_states {
            println!("  {state:<12} {n}");
        }
        Ok(())
    }
}
