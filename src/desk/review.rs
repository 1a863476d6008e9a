//! What the portal's staff and auditor pages ask of the desk (issue 15): the work queue, the
//! review actions a person may take on a request now, and the audit export. Each goes through
//! the gate ([`Desk::grant`]) and the workflow's own decision, so the pages hold no rules.

use std::path::Path;

use super::{Action, Caller, Desk, DeskError, Permission, Resource};
use crate::audit::export::ExportFormat;
use crate::store::{RequestFilter, RequestSummary};
use crate::workflow::{Assessment, Command, Criterion, Evaluation, Facts, Request};

impl Desk {
    /// Every open request, for the desk's work queue (staff only: `work-queue`).
    pub fn work_queue(&self, caller: &Caller) -> Result<Vec<RequestSummary>, DeskError> {
        self.grant(caller, Permission::WorkQueue, Resource::AuditLog)?;
        self.list(
            caller,
            RequestFilter {
                open_only: true,
                limit: u32::MAX,
                ..Default::default()
            },
        )
    }

    /// Refuses a caller who may not use the work queue and review pages (a page asks this
    /// before it reads anything).
    pub fn require_work_queue(&self, caller: &Caller) -> Result<(), DeskError> {
        self.grant(caller, Permission::WorkQueue, Resource::AuditLog)
            .map(|_| ())
    }

    /// The review actions (approve, reject, ask, evaluate, implement, verify) `caller` may
    /// take on `request` now: the gate allows them and the workflow would accept them in the
    /// request's state (asked with placeholder texts; nothing is written).
    pub fn review_actions_now(
        &self,
        caller: &Caller,
        request: &Request,
    ) -> Result<Vec<Action>, DeskError> {
        let facts = Facts {
            four_eyes: self.settings.four_eyes,
            ..Default::default()
        };
        let now = self.clock.now();
        let party = caller.party();
        Ok(self
            .allowed_actions(caller, request)?
            .into_iter()
            .filter(|action| {
                let probe = match action {
                    Action::Approve => Command::Approve { note: "-".into() },
                    Action::Reject => Command::Reject { reason: "-".into() },
                    Action::Ask => Command::Ask {
                        question: "-".into(),
                    },
                    Action::Evaluate => Command::Evaluate {
                        evaluation: Evaluation {
                            assessments: vec![Assessment {
                                criterion: Criterion::Stability,
                                met: true,
                                note: "-".into(),
                            }],
                            approve: true,
                            summary: "-".into(),
                        },
                    },
                    Action::Implement => Command::Implement { serial: None },
                    Action::Verify => Command::Verify { note: "-".into() },
                    _ => return false,
                };
                request.decide(&probe, &party, now, &facts).is_ok()
            })
            .collect())
    }

    /// Audit events matching `query` and every checkpoint, for a caller granted `read-audit`.
    pub fn audit_page(
        &self,
        caller: &Caller,
        query: &crate::audit::EventQuery,
    ) -> Result<(Vec<crate::audit::Event>, Vec<crate::audit::Checkpoint>), DeskError> {
        self.grant(caller, Permission::ReadAudit, Resource::AuditLog)?;
        Ok((self.events(query)?, self.checkpoints()?))
    }

    /// The audit export of the whole log (`rootdesk audit export --format F`), for a caller
    /// granted `read-audit`: the same writer over one read snapshot.
    pub fn audit_export(
        &self,
        caller: &Caller,
        format: ExportFormat,
    ) -> Result<Vec<u8>, DeskError> {
        self.grant(caller, Permission::ReadAudit, Resource::AuditLog)?;
        self.read_store(|s| {
            let mut out = Vec::new();
            crate::store::write_export(s, 1, None, format, &mut out, Path::new("(portal)"))
                .map_err(|e| {
                    DeskError::Store(crate::store::StoreError::Conflict(format!(
                        "the audit export failed: {e}"
                    )))
                })?;
            Ok(out)
        })
    }
}
