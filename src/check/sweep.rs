//! The sweep (issue 12): every published delegation re-checked in one process, as one
//! scheduling problem.
//!
//! Every TLD's check runs the same engine and profile as `rootdesk check`, through a
//! [`Prober`] of its own (its own query log and time budget) that shares one [`ProbeHub`]
//! with all the others: one bound on queries in flight for the whole sweep, the addresses
//! found dead (a dead server costs one timeout in the sweep, not one per TLD that uses it),
//! and the answers to identical questions (a server shared by many TLDs is asked each such
//! question once).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::rr::Name;
use serde::Serialize;

use super::dsboot::Bootstrap;
use super::engine::run_check_with;
use super::probe::{ProbeHub, Prober};
use super::profile::Profile;
use super::proposal::Proposal;
use super::report::{Report, Verdict};

/// One delegation to check.
#[derive(Debug, Clone)]
pub struct SweepItem {
    /// The TLD's label, as reports and the store name it (`xa`).
    pub label: String,
    pub zone: Name,
    pub proposal: Proposal,
}

/// How much runs at once.
#[derive(Debug, Clone, Copy)]
pub struct SweepLimits {
    /// Queries in flight, over all TLDs together.
    pub queries: usize,
    /// TLD checks in progress at once (each TLD's time budget starts with its check).
    pub tlds: usize,
}

impl Default for SweepLimits {
    fn default() -> Self {
        SweepLimits {
            queries: 256,
            tlds: 128,
        }
    }
}

/// What the CDS scans of a sweep need ([`sweep_with_cds`], src/check/cds.rs).
#[derive(Debug, Clone, Default)]
pub struct CdsSweep {
    /// The TLDs whose CDS/CDNSKEY are read after their check.
    pub tlds: BTreeSet<String>,
    /// RFC 9615 bootstrapping of unsigned TLDs (`[cds] trust_anchor` and `resolvers`);
    /// `None`: an unsigned TLD's records are reported as `cds-unsigned`, never acted on.
    pub bootstrap: Option<Arc<Bootstrap>>,
}

/// The result of one sweep, TLDs in label order.
#[derive(Debug, Clone, Serialize)]
pub struct SweepOutcome {
    pub started: String,
    pub elapsed_ms: u64,
    /// Queries sent to the network (an answer shared by several TLDs is counted once).
    pub queries_sent: u64,
    pub reports: Vec<(String, Report)>,
    /// CDS/CDNSKEY scans of the TLDs asked for ([`sweep_with_cds`]), in label order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cds: Vec<(String, super::cds::CdsScan)>,
}

impl SweepOutcome {
    /// Each TLD's result as the sweep history stores it: (TLD, verdict, report without its
    /// query log).
    pub fn stored_rows(&self) -> Vec<(String, String, serde_json::Value)> {
        self.reports
            .iter()
            .map(|(tld, r)| {
                let json = serde_json::json!({
                    "checks": r.checks,
                    "not_run": r.not_run,
                    "findings": r.findings,
                    "elapsed_ms": r.elapsed_ms,
                });
                (tld.clone(), r.verdict.to_string(), json)
            })
            .collect()
    }

    /// TLDs by verdict.
    pub fn counts(&self) -> BTreeMap<Verdict, usize> {
        let mut counts = BTreeMap::new();
        for v in [Verdict::Pass, Verdict::Warn, Verdict::Fail, Verdict::NotRun] {
            counts.insert(v, 0);
        }
        for (_, r) in &self.reports {
            *counts.entry(r.verdict).or_insert(0) += 1;
        }
        counts
    }
}

/// Checks every item; `done` is called as each TLD's check finishes (for a progress bar).
pub async fn sweep(
    items: Vec<SweepItem>,
    profile: &Profile,
    limits: SweepLimits,
    done: &(dyn Fn(&str, &Report) + Sync),
) -> SweepOutcome {
    sweep_with_cds(items, &Default::default(), profile, limits, done).await
}

/// [`sweep`], and for the TLDs in `cds.tlds` also the CDS scan (src/check/cds.rs) after the
/// check, through the same hub and within the TLD's budget, bootstrapping unsigned TLDs
/// with `cds.bootstrap`.
pub async fn sweep_with_cds(
    items: Vec<SweepItem>,
    cds: &CdsSweep,
    profile: &Profile,
    limits: SweepLimits,
    done: &(dyn Fn(&str, &Report) + Sync),
) -> SweepOutcome {
    let started_at = Instant::now();
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let hub: Arc<ProbeHub> = ProbeHub::new(limits.queries);
    // Each TLD's check is a task of its own, so that the checks spread over the runtime's
    // worker threads: polled inside one task, the whole sweep ran on one core.
    let profile = Arc::new(profile.clone());
    type Done = (String, Report, Option<super::cds::CdsScan>);
    let spawn = |set: &mut tokio::task::JoinSet<Done>, item: SweepItem| {
        let (hub, profile) = (hub.clone(), profile.clone());
        let scan_cds = cds.tlds.contains(&item.label);
        let bootstrap = cds.bootstrap.clone();
        set.spawn(async move {
            let prober = Prober::shared(
                &hub,
                profile.query.timeout(),
                profile.query.retries,
                profile.query.budget(),
            );
            let budget = Prober::shared(
                &hub,
                profile.query.timeout(),
                profile.query.retries,
                profile.query.budget(),
            );
            let report = run_check_with(&item.zone, &item.proposal, &profile, prober).await;
            let scan = match scan_cds {
                true => Some(
                    super::cds::scan_swept(
                        &item.zone,
                        &item.proposal,
                        &report,
                        budget,
                        &profile,
                        bootstrap.as_deref(),
                    )
                    .await,
                ),
                false => None,
            };
            (item.label, report, scan)
        });
    };
    let mut items = items;
    items.sort_by_cached_key(schedule_key);
    let mut pending = items.into_iter();
    let mut set = tokio::task::JoinSet::new();
    for item in pending.by_ref().take(limits.tlds.max(1)) {
        spawn(&mut set, item);
    }
    let mut reports: Vec<(String, Report)> = Vec::new();
    let mut scans = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((label, report, scan)) => {
                done(&label, &report);
                if let Some(scan) = scan {
                    scans.push((label.clone(), scan));
                }
                reports.push((label, report));
            }
            // A check that panicked is a bug: surface it as before, not a missing TLD.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => tracing::error!(error = %e, "a sweep check was cancelled"),
        }
        if let Some(item) = pending.next() {
            spawn(&mut set, item);
        }
    }
    reports.sort_by(|a, b| a.0.cmp(&b.0));
    scans.sort_by(|a, b| a.0.cmp(&b.0));
    SweepOutcome {
        started,
        elapsed_ms: u64::try_from(started_at.elapsed().as_millis()).unwrap_or(u64::MAX),
        queries_sent: hub.queries_sent(),
        reports,
        cds: scans,
    }
}

/// The order the sweep takes the TLDs in: TLDs on the same servers one after another, so
/// that a server's UDP channel and shared answers are still at hand for the next TLD using
/// it instead of evicted and set up again (the channels open at once are bounded).
fn schedule_key(item: &SweepItem) -> (Vec<std::net::SocketAddr>, Vec<Name>) {
    let mut addresses: Vec<std::net::SocketAddr> = item
        .proposal
        .nameservers
        .iter()
        .flat_map(|ns| ns.addresses.iter().copied())
        .collect();
    addresses.sort_unstable();
    // Names order case-insensitively already (hickory's `Ord` for `Name`).
    let mut names: Vec<Name> = item
        .proposal
        .nameservers
        .iter()
        .map(|ns| ns.name.clone())
        .collect();
    names.sort_unstable();
    (addresses, names)
}
