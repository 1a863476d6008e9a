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
    store
        .write(|tx| {
            establish_authority_tx(tx, &Actor::cli(), tld, &authority, override_reason, now)
        })
        .map_err(crate::error::Error::failed)?;
    Ok(authority)
}

/// Puts a TLD's authority in force by the desk's operator, with a `tld-authority-set` event.
/// Refused when one is in force already, unless there is a reason to override it.
pub fn establish_authority_tx(
    tx: &rusqlite::Transaction<'_>,
    actor: &Actor,
    tld: &str,
    authority: &Authority,
    override_reason: Option<String>,
    now: OffsetDateTime,
) -> Result<(), DeskError> {
    let reason = override_reason.filter(|r| !r.trim().is_empty());
    authority.validate()?;
    let before = store::tld_authority(tx, tld)?;
    if before.is_some() && reason.is_none() {
        return Err(DeskError::Forbidden(format!(
            "{tld} already has an authority in force: change it by an `authority` request that \
             its current policy approves, or replace it with --override REASON"
        )));
    }
    check_authority_members(
        tx,
        &Proposal::Authority {
            authority: authority.clone(),
        },
    )?;
    store::set_authority_tx(tx, tld, authority, now)?;
    let payload = crate::audit::Payload::TldAuthoritySet(crate::audit::kinds::TldAuthoritySet {
        tld: tld.to_string(),
        before,
        authority: authority.clone(),
        reason,
    });
    store::append_event(
        tx,
        &NewEvent::typed(actor.clone(), &payload).at(now).tld(tld),
    )?;
    Ok(())
}

impl Desk {
    /// [`establish_authority_tx`] in a transaction of its own, at the desk's clock.
    pub fn establish_authority(
        &self,
        actor: &Actor,
        tld: &str,
        authority: &Authority,
        override_reason: Option<String>,
    ) -> Result<(), DeskError> {
        let now = self.clock.now();
        self.with_store(|s| {
            s.write(|tx| establish_authority_tx(tx, actor, tld, authority, override_reason, now))
        })
    }

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

    /// The display names of the persons `authority` names (for the same callers as
    /// [`Desk::tld_authority`]: the gate is asked again for `tld`).
    pub fn authority_names(
        &self,
        caller: &Caller,
        tld: &str,
        authority: &Authority,
    ) -> Result<BTreeMap<String, String>, DeskError> {
        self.tld_authority(caller, tld)?;
        self.read_store(|s| {
            let mut names = BTreeMap::new();
            for id in authority.members.keys() {
                if let Some(record) = store::persons::person_by_id(s.conn(), id)? {
                    names.insert(id.clone(), record.person.name);
                }
            }
            Ok(names)
        })
    }
}
