//! TLD authority at the desk (issue 14): the operator's set-up from the CLI, and who may read
//! a TLD's authority. Changes after set-up are `authority` requests through the pipeline.

use std::path::Path;

use super::*;
use crate::workflow::Authority;

/// Reads, checks and stores a TLD's authority from a JSON file, as the desk's operator. A TLD
/// that already has one is changed by an `authority` request under its current policy; the
/// operator replaces it only with a reason, which the audit trail keeps.
pub fn set_authority_cli(
    store: &mut Store,
    tld: &str,
    file: &Path,
    override_reason: Option<String>,
) -> crate::error::Result<Authority> {
    let text = std::fs::read_to_string(file).map_err(|e| crate::error::Error::io(file, e))?;
    let authority: Authority = serde_json::from_str(&text)
        .map_err(|e| crate::error::Error::Usage(format!("{}: {e}", file.display())))?;
    authority
        .validate()
        .map_err(|e| crate::error::Error::Usage(format!("{}: {e}", file.display())))?;
    let now = OffsetDateTime::now_utc();
    let reason = override_reason.filter(|r| !r.trim().is_empty());
    store
        .write(|tx| {
            let before = store::tld_authority(tx, tld)?;
            if before.is_some() && reason.is_none() {
                return Err(DeskError::Forbidden(format!(
                    "{tld} already has an authority: change it by an `authority` request that its \
                     current policy approves, or replace it with --override REASON"
                )));
            }
            check_authority_members(
                tx,
                &Proposal::Authority {
                    authority: authority.clone(),
                },
            )?;
            store::set_authority_tx(tx, tld, &authority, now)?;
            let payload =
                crate::audit::Payload::TldAuthoritySet(crate::audit::kinds::TldAuthoritySet {
                    tld: tld.to_string(),
                    before,
                    authority: authority.clone(),
                    reason: reason.clone(),
                });
            store::append_event(
                tx,
                &NewEvent::typed(Actor::cli(), &payload).at(now).tld(tld),
            )?;
            Ok(())
        })
        .map_err(crate::error::Error::failed)?;
    Ok(authority)
}

impl Desk {
    /// A TLD's authority, for staff, auditors, and the persons it authorises.
    pub fn tld_authority(
        &self,
        caller: &Caller,
        tld: &str,
    ) -> Result<Option<Authority>, DeskError> {
        self.grant(caller, Permission::ReadAuthority, Resource::Tld(Some(tld)))?;
        self.read_store(|s| {
            let standing = gate::standing_in(s.conn(), caller, tld)?;
            let allowed = match caller.role {
                Role::Staff | Role::Auditor => true,
                Role::Manager => standing.authorised,
                Role::Contact => standing.holds_role,
            };
            if !allowed {
                return Err(DeskError::Forbidden(format!(
                    "{} may not read the authority of {tld}",
                    caller.subject
                )));
            }
            Ok(store::tld_authority(s.conn(), tld)?)
        })
    }
}
