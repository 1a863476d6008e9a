//! Check jobs and scheduled work: request checks, the delegation sweep, reminders and expiry.

use super::*;

impl Desk {
    /// The proposal a check job must test, with lab ports applied.
    pub fn check_proposal(&self, delegation: &Delegation) -> check::Proposal {
        let mut proposal = check::Proposal::from_delegation(delegation);
        for ns in &mut proposal.nameservers {
            for address in &mut ns.addresses {
                if let Some(port) = self.settings.check_ports.get(&address.ip()) {
                    *address = SocketAddr::new(address.ip(), *port);
                }
            }
        }
        proposal
    }

    /// Sweeps every delegation of the current publication (the daemon's `[sweep]` schedule):
    /// the same engine, profile and check ports as the request checks, one shared hub, the
    /// results stored per TLD.
    pub async fn sweep_delegations(
        self: &Arc<Self>,
        limits: check::SweepLimits,
    ) -> Result<SweptSummary, DeskError> {
        let me = self.clone();
        let (items, cds) = tokio::task::spawn_blocking(move || {
            me.with_store(|s| {
                let Some(zone) = s.zone(None)? else {
                    return Ok((Vec::new(), BTreeSet::new()));
                };
                // DS automation: the TLDs whose CDS the sweep reads (src/desk/cds.rs).
                let cds: BTreeSet<String> = store::cds_enabled(s.conn())?.into_keys().collect();
                let mut items = Vec::new();
                for tld in zone.tlds.keys() {
                    if let Some(d) = s.current_delegation(tld)? {
                        items.push(check::SweepItem {
                            label: tld.as_str().to_string(),
                            zone: tld.to_name(),
                            proposal: me.check_proposal(&d),
                        });
                    }
                }
                Ok((items, cds))
            })
        })
        .await
        .map_err(|e| DeskError::Store(StoreError::Conflict(format!("sweep: {e}"))))??;
        let cds = check::CdsSweep {
            tlds: cds,
            bootstrap: self.cds_bootstrap.clone(),
        };
        let outcome =
            check::sweep::sweep_with_cds(items, &cds, &self.settings.profile, limits, &|_, _| {})
                .await;
        let counts = outcome.counts();
        let outcome_cds = outcome.cds.clone();
        let n = |v| counts.get(&v).copied().unwrap_or(0);
        let summary = SweptSummary {
            tlds: outcome.reports.len(),
            pass: n(check::Verdict::Pass),
            warn: n(check::Verdict::Warn),
            fail: n(check::Verdict::Fail),
            not_run: n(check::Verdict::NotRun),
            queries: outcome.queries_sent,
            elapsed_ms: outcome.elapsed_ms,
        };
        let rows = outcome.stored_rows();
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let now = me.clock.now();
            let staff = me.notify.staff_address.clone();
            let policy = crate::watch::WatchPolicy {
                remind_after: me.settings.sweep_remind_after,
            };
            me.with_store(|s| {
                s.write(|tx| {
                    let before = store::last_sweep_verdicts_tx(tx)?;
                    let id = store::record_sweep_tx(
                        tx,
                        &outcome.started,
                        outcome.elapsed_ms,
                        outcome.queries_sent,
                        &rows,
                    )?;
                    // Newly failing, still failing (reminder), recovered: src/watch.rs.
                    crate::watch::after_sweep(
                        tx,
                        id,
                        &before,
                        &outcome.reports,
                        &staff,
                        policy,
                        now,
                    )?;
                    Ok(())
                })
            })
        })
        .await
        .map_err(|e| DeskError::Store(StoreError::Conflict(format!("sweep: {e}"))))??;
        let me = self.clone();
        let scans = outcome_cds;
        tokio::task::spawn_blocking(move || crate::desk::cds::act(&me, &scans))
            .await
            .map_err(|e| DeskError::Store(StoreError::Conflict(format!("sweep: {e}"))))?;
        Ok(summary)
    }

    /// Runs one pending check job to its end: the check, the stored report, and the
    /// workflow's `check-finished` event. A job whose request moved on is closed as stale.
    pub async fn run_check_job(&self, job: &store::CheckJob) -> Result<(), DeskError> {
        let request = self.read_store(|s| Ok(s.request(&job.ticket)?))?;
        let now = self.clock.now();
        let expected = match job.phase {
            CheckPhase::Initial => State::TechnicalCheck,
            CheckPhase::Supplemental => State::SupplementalCheck,
        };
        let current = request
            .as_ref()
            .filter(|r| r.revision() == job.revision && r.state == expected);
        let Some(request) = current else {
            return self.with_store(|s| {
                s.write(|tx| {
                    store::close_stale_check(tx, job.id, now)?;
                    Ok(())
                })
            });
        };
        let Some(delegation) = request.proposal().delegation().cloned() else {
            return Err(StoreError::Corrupt(format!(
                "{} has no delegation to check",
                request.ticket
            ))
            .into());
        };
        let zone = Name::from_ascii(format!("{}.", request.tld))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let proposal = self.check_proposal(&delegation);
        let report = check::run_check(&zone, &proposal, &self.settings.profile).await;
        let verdict = match report.verdict {
            check::Verdict::Pass => Verdict::Pass,
            check::Verdict::Warn => Verdict::Warn,
            // A delegation that could not be judged is never let through: the request is
            // held as by a failed check, and the stored report says `not-run` and why.
            check::Verdict::Fail | check::Verdict::NotRun => Verdict::Fail,
        };
        let summary = report.summary();
        let report_json =
            serde_json::to_value(&report).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let now = self.clock.now();
        let command = Command::FinishCheck {
            phase: job.phase,
            revision: job.revision,
            verdict,
            check_id: Some(job.id),
            summary,
        };
        // The stored report and the workflow's event commit together: a crash between them
        // would leave a finished job and a request still waiting for it.
        let recorded = self.with_store(|s| {
            s.write(|tx| {
                store::finish_check(tx, job.id, verdict, &report_json, now)?;
                self.execute_tx(tx, &job.ticket, &Party::System, None, command, now)
            })
        });
        match recorded {
            Ok(_) => {}
            // The request moved on while the check ran (amended, withdrawn): keep the report,
            // close the job, record nothing on the request.
            Err(DeskError::Workflow(e)) => {
                tracing::info!(ticket = %job.ticket, reason = %e, "check result no longer applies");
                self.with_store(|s| {
                    s.write(|tx| {
                        store::finish_check(tx, job.id, verdict, &report_json, now)?;
                        Ok(())
                    })
                })?;
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Runs every pending check (the daemon calls this when woken and at start, so that a
    /// restart resumes checks that were in flight).
    /// Each job runs as its own task, so that a slow check never holds up the others; a job
    /// already running is not started twice. Returns how many were started.
    pub fn start_pending_checks(self: &Arc<Self>) -> Result<usize, DeskError> {
        let jobs = self.read_store(|s| Ok(s.pending_checks()?))?;
        let mut started = 0;
        for job in jobs {
            let fresh = self
                .running_checks
                .lock()
                .map(|mut running| running.insert(job.id))
                .unwrap_or(false);
            if !fresh {
                continue;
            }
            started += 1;
            let desk = self.clone();
            tokio::spawn(async move {
                let _permit = desk.check_slots.acquire().await;
                if let Err(e) = desk.run_check_job(&job).await {
                    tracing::error!(ticket = %job.ticket, error = %e, "check job failed");
                }
                if let Ok(mut running) = desk.running_checks.lock() {
                    running.remove(&job.id);
                }
            });
        }
        Ok(started)
    }

    /// Every open request, newest first (for the scheduled work, not for callers).
    pub fn open_requests(&self) -> Result<Vec<store::RequestSummary>, DeskError> {
        self.read_store(|s| {
            Ok(s.requests(&store::RequestFilter {
                open_only: true,
                limit: u32::MAX,
                ..Default::default()
            })?)
        })
    }

    /// Sends due reminders and expires requests left with the TLD too long. Returns the
    /// tickets it acted on.
    pub fn sweep(&self) -> Result<Vec<(String, Event)>, DeskError> {
        let now = self.clock.now();
        let open = self.open_requests()?;
        let mut acted = Vec::new();
        for summary in open.iter().filter(|r| r.owner.as_deref() == Some("tld")) {
            let Some(request) = self.read_store(|s| Ok(s.request(&summary.ticket)?))? else {
                continue;
            };
            let Some(waited) = request.waiting_on_tld_for(now) else {
                continue;
            };
            let days = waited.whole_days().max(0) as u32;
            let command = if days >= self.settings.expire_days {
                Command::Expire {
                    limit_days: self.settings.expire_days,
                }
            } else if let Some(due) = self
                .settings
                .reminder_days
                .iter()
                .filter(|d| **d <= days && !request.reminders.contains(d))
                .max()
            {
                Command::Remind { after_days: *due }
            } else {
                continue;
            };
            let after = self.execute(&summary.ticket, &Party::System, None, command)?;
            if let Some(last) = self
                .read_store(|s| Ok(s.request_history(&after.ticket)?))?
                .pop()
            {
                acted.push((after.ticket.clone(), last.event));
            }
        }
        // DS automation: notify-only CDS requests whose hold is over go to review.
        acted.extend(crate::desk::cds::release_holds(self)?);
        Ok(acted)
    }

    /// Signs an audit checkpoint over the log as it stands now.
    pub fn sign_checkpoint(&self, key: &ed25519_dalek::SigningKey) -> Result<(), DeskError> {
        let now = self.clock.now();
        self.with_store(|s| {
            crate::store::sign_checkpoint(s, key, now)
                .map(|_| ())
                .map_err(|e| DeskError::Store(StoreError::Conflict(e.to_string())))
        })
    }
}

/// What one scheduled sweep of the delegations came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweptSummary {
    pub tlds: usize,
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub not_run: usize,
    pub queries: u64,
    pub elapsed_ms: u64,
}
