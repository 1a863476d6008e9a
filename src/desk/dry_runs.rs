//! Bounds on dry-run checks (`POST /v1/check`): each one sends real queries and holds sockets,
//! so one caller may run only a few at once, and all callers together a few more.

use std::collections::HashMap;
use std::sync::Mutex;

use hickory_proto::rr::Name;

use super::{Caller, Desk, DeskError, Permission, Resource};
use crate::registry::Delegation;

/// Why a dry run did not run.
#[derive(Debug)]
pub enum DryRunError {
    /// Refused by the gate.
    Desk(DeskError),
    /// Too many dry runs in flight (the caller's, or everyone's): retry after this many seconds.
    Busy { retry_after_secs: u64 },
}

impl Desk {
    /// A dry run of the technical checks on `delegation` for `zone` (`POST /v1/check` and the
    /// portal's pre-check): granted by the gate, bounded per caller and in total, with the
    /// desk's profile and lab ports. Nothing is stored.
    pub async fn dry_run(
        &self,
        caller: &Caller,
        zone: &Name,
        delegation: &Delegation,
    ) -> Result<crate::check::Report, DryRunError> {
        self.grant(caller, Permission::RunCheck, Resource::Check)
            .map_err(DryRunError::Desk)?;
        // Each check holds sockets for up to its budget.
        let Some(_slot) = self.dry_runs.try_start(&caller.subject) else {
            let retry_after_secs = self
                .settings
                .profile
                .query
                .budget_ms
                .div_ceil(1000)
                .clamp(1, 60);
            return Err(DryRunError::Busy { retry_after_secs });
        };
        let proposal = self.check_proposal(delegation);
        Ok(crate::check::run_check(zone, &proposal, &self.settings.profile).await)
    }
}

/// Dry-run checks in flight, by caller.
#[derive(Debug)]
pub struct DryRuns {
    total: usize,
    per_caller: usize,
    running: Mutex<HashMap<String, usize>>,
}

/// A place taken by one dry-run check; freed when dropped.
pub struct DryRunSlot<'a> {
    runs: &'a DryRuns,
    caller: String,
}

impl Default for DryRuns {
    fn default() -> Self {
        DryRuns::new(8, 2)
    }
}

impl DryRuns {
    pub fn new(total: usize, per_caller: usize) -> DryRuns {
        DryRuns {
            total: total.max(1),
            per_caller: per_caller.max(1),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for `caller`, or `None` when the caller or everyone together is at the bound.
    pub fn try_start(&self, caller: &str) -> Option<DryRunSlot<'_>> {
        let mut running = self.running.lock().ok()?;
        let all: usize = running.values().sum();
        let mine = running.get(caller).copied().unwrap_or(0);
        if all >= self.total || mine >= self.per_caller {
            return None;
        }
        *running.entry(caller.to_string()).or_insert(0) += 1;
        Some(DryRunSlot {
            runs: self,
            caller: caller.to_string(),
        })
    }
}

impl Drop for DryRunSlot<'_> {
    fn drop(&mut self) {
        if let Ok(mut running) = self.runs.running.lock() {
            if let Some(n) = running.get_mut(&self.caller) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    running.remove(&self.caller);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_per_caller_and_in_total() {
        let runs = DryRuns::new(2, 1);
        let a = runs.try_start("a");
        assert!(a.is_some());
        assert!(runs.try_start("a").is_none());
        let b = runs.try_start("b");
        assert!(b.is_some());
        assert!(runs.try_start("c").is_none());
        drop(a);
        assert!(runs.try_start("c").is_some());
    }
}
