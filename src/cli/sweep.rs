//! `rootdesk sweep`: re-check every published delegation in one process (issue 12).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{Context, Format};
use crate::check::{self, CheckStatus, Profile, Proposal, Report, Severity, SweepItem, Verdict};
use crate::error::{Error, Result};
use crate::registry::TldLabel;

/// Re-check every published delegation (or the given TLDs) with one shared bound on queries
///
/// All TLDs are one scheduling problem: one bound on queries in flight, a dead server costs
/// one timeout in the whole sweep, a question shared by several TLDs is asked once. The
/// results are stored per TLD (history); the summary says what changed since the last sweep.
///
/// Exit status: 0 when every TLD passes or warns, 1 when some TLD fails, 3 when none fails
/// but some could not be judged (not-run), 2 for a usage error.
#[derive(Debug, Args)]
pub struct SweepCmd {
    /// Sweep only this TLD; repeatable
    #[arg(long = "tld", value_name = "LABEL")]
    pub tlds: Vec<String>,
    /// Policy profile (TOML) [default: the config's check.profile, else the built-in one]
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Queries in flight, over all TLDs together
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub concurrency: usize,
    /// TLD checks in progress at once (each TLD's time budget starts with its check)
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub parallel: usize,
    /// Do not store the results (no history, no "changed since")
    #[arg(long)]
    pub no_store: bool,
    /// Read every swept TLD's CDS/CDNSKEY, not only those with DS automation on; the
    /// findings are reported, never acted on (the daemon's sweep acts)
    #[arg(long)]
    pub cds: bool,
}

/// A TLD whose verdict differs from the last sweep's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    pub tld: String,
    /// `null` when the TLD was not in any earlier sweep.
    pub before: Option<String>,
    pub after: String,
}

impl SweepCmd {
    pub fn run(self, ctx: &Context) -> Result<ExitCode> {
        let profile = match self.profile.as_ref().or(ctx.config.check.profile.as_ref()) {
            Some(path) => Profile::load(path).map_err(|e| Error::Usage(e.to_string()))?,
            None => Profile::default(),
        };
        // RFC 9615 bootstrapping of unsigned TLDs ([cds] trust_anchor and resolvers): a bad
        // setting stops the command before it sweeps.
        let bootstrap = ctx
            .config
            .cds
            .bootstrap()
            .map_err(Error::Usage)?
            .map(std::sync::Arc::new);
        let mut store = ctx.open_store()?;
        let labels: Vec<TldLabel> = if self.tlds.is_empty() {
            let zone = store.zone(None)?.ok_or_else(|| {
                Error::Usage("the database holds no published root zone to sweep".into())
            })?;
            zone.tlds.keys().cloned().collect()
        } else {
            self.tlds
                .iter()
                .map(|t| TldLabel::parse(t))
                .collect::<std::result::Result<_, _>>()?
        };
        let mut items = Vec::with_capacity(labels.len());
        for tld in &labels {
            let delegation = store.current_delegation(tld)?.ok_or_else(|| {
                Error::Usage(format!("the database holds no delegation for {tld}"))
            })?;
            items.push(SweepItem {
                label: tld.as_str().to_string(),
                zone: tld.to_name(),
                proposal: Proposal::from_delegation(&delegation),
            });
        }
        let bar = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(items.len() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} TLDs {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        let limits = check::SweepLimits {
            queries: self.concurrency.max(1),
            tlds: self.parallel.max(1),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Error::failed)?;
        let progress = |tld: &str, report: &Report| {
            bar.inc(1);
            if report.verdict != Verdict::Pass {
                bar.set_message(format!("{tld}: {}", report.verdict));
            }
        };
        let cds_tlds = crate::desk::cds::sweep_cds_tlds(&store, &items, self.cds)?;
        let cds = check::CdsSweep {
            tlds: cds_tlds,
            bootstrap,
        };
        let mut outcome = runtime.block_on(check::sweep::sweep_with_cds(
            items, &cds, &profile, limits, &progress,
        ));
        bar.finish_and_clear();

        let before = if self.no_store {
            BTreeMap::new()
        } else {
            store.last_sweep_verdicts()?
        };
        let changes: Vec<Change> = outcome
            .reports
            .iter()
            .filter_map(|(tld, r)| {
                let after = r.verdict.to_string();
                let was = before.get(tld).cloned();
                (was.as_deref() != Some(after.as_str())).then(|| Change {
                    tld: tld.clone(),
                    before: was,
                    after,
                })
            })
            .collect();
        // The sweep report and the history keep every finding; the per-query logs stay out
        // (`rootdesk check --tld L` shows them), or a root zone sweep would weigh megabytes.
        let mut queries_per_tld = BTreeMap::new();
        for (tld, r) in &mut outcome.reports {
            queries_per_tld.insert(tld.clone(), r.queries.len());
            r.queries.clear();
        }
        if !self.no_store {
            let rows = outcome.stored_rows();
            store.record_sweep(
                &outcome.started,
                outcome.elapsed_ms,
                outcome.queries_sent,
                &rows,
            )?;
        }
        let counts = outcome.counts();
        let text = match self.format {
            Format::Json => {
                let tlds: Vec<serde_json::Value> = outcome
                    .reports
                    .iter()
                    .map(|(tld, r)| {
                        serde_json::json!({
                            "tld": tld,
                            "verdict": r.verdict,
                            "queries": queries_per_tld.get(tld).copied().unwrap_or(0),
                            "report": r,
                        })
                    })
                    .collect();
                let mut doc = serde_json::json!({
                    "started": outcome.started,
                    "elapsed_ms": outcome.elapsed_ms,
                    "queries_sent": outcome.queries_sent,
                    "summary": counts.iter().map(|(v, n)| (v.to_string(), *n)).collect::<BTreeMap<_, _>>(),
                    "changed": changes,
                    "tlds": tlds,
                });
                crate::desk::cds::add_to_sweep_json(&mut doc, &outcome.cds);
                let mut text = serde_json::to_string_pretty(&doc).map_err(Error::failed)?;
                text.push('\n');
                text
            }
            Format::Csv => csv_text(&outcome.reports)?,
            Format::Table => {
                table_text(&outcome, &counts, &changes)
                    + &crate::desk::cds::sweep_table(&outcome.cds)
            }
        };
        super::emit(&text)?;
        Ok(if counts.get(&Verdict::Fail).copied().unwrap_or(0) > 0 {
            ExitCode::from(1)
        } else if counts.get(&Verdict::NotRun).copied().unwrap_or(0) > 0 {
            ExitCode::from(3)
        } else {
            ExitCode::SUCCESS
        })
    }
}

fn summary_line(outcome: &check::SweepOutcome, counts: &BTreeMap<Verdict, usize>) -> String {
    let n = |v| counts.get(&v).copied().unwrap_or(0);
    format!(
        "{} TLDs: {} pass, {} warn, {} fail, {} not-run; {} queries in {} ms",
        outcome.reports.len(),
        n(Verdict::Pass),
        n(Verdict::Warn),
        n(Verdict::Fail),
        n(Verdict::NotRun),
        outcome.queries_sent,
        outcome.elapsed_ms
    )
}

fn table_text(
    outcome: &check::SweepOutcome,
    counts: &BTreeMap<Verdict, usize>,
    changes: &[Change],
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<8} {:>6} {:>8} {:>7}  first problem",
        "TLD", "VERDICT", "ERRORS", "WARNINGS", "NOT-RUN"
    );
    for (tld, r) in &outcome.reports {
        let errors = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = r
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count();
        let not_run = r
            .checks
            .values()
            .filter(|s| **s == CheckStatus::NotRun)
            .count();
        let first = r
            .findings
            .iter()
            .find(|f| f.severity == Severity::Error)
            .or_else(|| r.findings.first())
            .map(|f| format!("{}: {}", f.check, f.message))
            .or_else(|| {
                r.not_run
                    .iter()
                    .next()
                    .map(|(c, why)| format!("{c}: not run: {why}"))
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{tld:<24} {:<8} {errors:>6} {warnings:>8} {not_run:>7}  {first}",
            r.verdict.to_string()
        );
    }
    let _ = writeln!(out, "{}", summary_line(outcome, counts));
    if changes.is_empty() {
        let _ = writeln!(out, "changed since the last sweep: nothing");
    } else {
        let list: Vec<String> = changes
            .iter()
            .map(|c| {
                format!(
                    "{} {} -> {}",
                    c.tld,
                    c.before.as_deref().unwrap_or("new"),
                    c.after
                )
            })
            .collect();
        let _ = writeln!(out, "changed since the last sweep: {}", list.join(", "));
    }
    out
}

/// One row per finding and per not-run check; a TLD with neither gets one row of its own.
fn csv_text(reports: &[(String, Report)]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "tld",
        "verdict",
        "check",
        "status",
        "nameserver",
        "address",
        "transport",
        "message",
    ];
    w.write_record(header).map_err(Error::failed)?;
    for (tld, r) in reports {
        let verdict = r.verdict.to_string();
        let mut rows = 0;
        for f in &r.findings {
            let address = f
                .address
                .map(|a| check::probe::address_text::format(&a))
                .unwrap_or_default();
            let transport = f.transport.map(|t| t.to_string()).unwrap_or_default();
            w.write_record([
                tld.as_str(),
                &verdict,
                f.check.as_str(),
                &f.severity.to_string(),
                f.nameserver.as_deref().unwrap_or(""),
                &address,
                &transport,
                &f.message,
            ])
            .map_err(Error::failed)?;
            rows += 1;
        }
        for (c, why) in &r.not_run {
            w.write_record([
                tld.as_str(),
                &verdict,
                c.as_str(),
                "not-run",
                "",
                "",
                "",
                why,
            ])
            .map_err(Error::failed)?;
            rows += 1;
        }
        if rows == 0 {
            w.write_record([tld.as_str(), &verdict, "", "", "", "", "", ""])
                .map_err(Error::failed)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| Error::Failed(e.to_string()))?;
    String::from_utf8(bytes).map_err(Error::failed)
}
