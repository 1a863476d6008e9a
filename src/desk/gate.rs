//! The permission gate (STYLE 3, after Krill's `auth/permission.rs`): every guarded thing has a
//! named [`Permission`] on a [`Resource`], and one table ([`rule`], [`request_rule`]) says which
//! role is granted it. A handler gets a request body only with a [`Granted`], which only the
//! gate makes. Deciding writes nothing; a refusal of a request action is recorded afterwards,
//! in the caller's transaction ([`Desk::record_refusal_tx`]).

use super::*;

/// Who calls, as the API authenticated them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// The credential: a role token's or person token's id, or `session:<person id>` for a
    /// person's login session. Refusals are aggregated per credential.
    pub token: String,
    pub role: Role,
    /// A role token's subject (a contact handle, or a name); a person's id for persons.
    pub subject: String,
    /// The client's address.
    pub source: Option<String>,
    /// The person acting (issue 14), through a session or a person token.
    pub person: Option<String>,
    /// What a narrowed person token carries; `None`: all the person may do.
    pub scope: Option<Scope>,
}

/// What a person token may do (issue 14): a subset of its person's permissions, and
/// optionally of their TLDs. The gate grants nothing outside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Permissions by name ([`Permission::name`]).
    pub permissions: BTreeSet<String>,
    /// The TLDs it acts on; `None`: every TLD its person may act on.
    pub tlds: Option<BTreeSet<String>>,
}

impl Scope {
    /// Whether the scope carries `permission` on `tld` (`None`: the TLD is not known yet).
    pub fn allows(&self, permission: Permission, tld: Option<&str>) -> bool {
        self.permissions.contains(permission.name())
            && match (&self.tlds, tld) {
                (None, _) | (Some(_), None) => true,
                (Some(tlds), Some(tld)) => tlds.contains(tld),
            }
    }
}

/// The token id of the desk's CDS scanner: no issued token has it (ids are generated).
pub const CDS_SCANNER: &str = "system:cds";

impl Caller {
    /// The desk's CDS scanner (issue 12 part 2, src/desk/cds.rs): submits DS requests on a
    /// TLD's behalf, recorded as an actor of its own (`system:cds`).
    pub fn cds_scanner() -> Caller {
        Caller {
            token: CDS_SCANNER.into(),
            role: Role::Staff,
            subject: "cds-scanner".into(),
            source: None,
            person: None,
            scope: None,
        }
    }

    fn is_cds_scanner(&self) -> bool {
        self.token == CDS_SCANNER
    }

    pub fn from_token(token: &Token, source: Option<String>) -> Caller {
        Caller {
            token: token.id.clone(),
            role: token.role,
            subject: token.subject.clone(),
            source,
            person: None,
            scope: None,
        }
    }

    /// The workflow's view of the caller.
    pub fn party(&self) -> Party {
        if self.is_cds_scanner() {
            return Party::CdsScanner;
        }
        match self.role {
            Role::Contact => Party::Contact(self.subject.clone()),
            Role::Staff => Party::Staff(self.subject.clone()),
            Role::Manager => Party::Person(self.subject.clone()),
            // Auditors never act; a party is needed only to refuse them.
            Role::Auditor => Party::Staff(format!("auditor:{}", self.subject)),
        }
    }

    /// The audit trail's view of the caller.
    pub fn actor(&self) -> Actor {
        if self.is_cds_scanner() {
            return Actor::system("cds");
        }
        if let Some(person) = &self.person {
            let via = if self.token.starts_with("session:") {
                "session"
            } else {
                self.token.as_str()
            };
            return Actor::person(person, self.role.as_str(), via);
        }
        Actor::token(
            &self.token,
            Some(self.role.as_str()),
            (self.role == Role::Contact).then_some(self.subject.as_str()),
        )
    }
}

/// What the API's actions on a request are called, for permissions and refusal events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Read,
    Amend,
    Withdraw,
    Answer,
    Confirm,
    Decline,
    Approve,
    Reject,
    Ask,
    Evaluate,
    Implement,
    /// Record the out-of-band verification of a TLD's special handling (issue 14).
    Verify,
}

impl Action {
    /// Every action, in the order the API lists them.
    pub const ALL: [Action; 12] = [
        Action::Read,
        Action::Amend,
        Action::Withdraw,
        Action::Answer,
        Action::Confirm,
        Action::Decline,
        Action::Approve,
        Action::Reject,
        Action::Ask,
        Action::Evaluate,
        Action::Implement,
        Action::Verify,
    ];

    /// Its place in [`Action::ALL`]; the match has no default, so a new action is a compile
    /// error here until it is placed (and the assertion below checks `ALL` agrees).
    const fn index(self) -> usize {
        match self {
            Action::Read => 0,
            Action::Amend => 1,
            Action::Withdraw => 2,
            Action::Answer => 3,
            Action::Confirm => 4,
            Action::Decline => 5,
            Action::Approve => 6,
            Action::Reject => 7,
            Action::Ask => 8,
            Action::Evaluate => 9,
            Action::Implement => 10,
            Action::Verify => 11,
        }
    }

    /// The name in URLs (`POST /v1/requests/{ticket}/{name}`) and in refusal events.
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Amend => "amend",
            Action::Withdraw => "withdraw",
            Action::Answer => "answer",
            Action::Confirm => "confirm",
            Action::Decline => "decline",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Ask => "ask",
            Action::Evaluate => "evaluate",
            Action::Implement => "implement",
            Action::Verify => "verify",
        }
    }

    /// The action a URL names.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Review actions: the desk's staff only.
    fn staff_only(self) -> bool {
        match self {
            Action::Approve
            | Action::Reject
            | Action::Ask
            | Action::Evaluate
            | Action::Implement
            | Action::Verify => true,
            Action::Read
            | Action::Amend
            | Action::Withdraw
            | Action::Answer
            | Action::Confirm
            | Action::Decline => false,
        }
    }
}

// `ALL` holds each action once, at its own index.
const _: () = {
    let mut i = 0;
    while i < Action::ALL.len() {
        assert!(Action::ALL[i].index() == i);
        i += 1;
    }
};

/// What the gate guards, besides the actions on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Submit a change request (`POST /v1/requests`); whose TLD it is the workflow decides.
    SubmitRequest,
    /// An action on one request.
    OnRequest(Action),
    /// Read the audit trail and its checkpoints.
    ReadAudit,
    /// Run a dry-run technical check (`POST /v1/check`).
    RunCheck,
    /// Store an evidence document (`POST /v1/documents`).
    UploadDocument,
    /// See service-level breaches by ticket in the turnaround report.
    ReadBreaches,
    /// Read a TLD's authority: its authorised persons, policy and special handling.
    ReadAuthority,
    /// Invite, list, show, disable persons and reset their second factor (issue 14).
    ManagePersons,
    /// A person's own account: `/v1/me`, its password, its tokens (issue 14).
    OwnAccount,
    /// The desk's work queue and review pages (`/desk` in the portal).
    WorkQueue,
}

impl Permission {
    /// Whether `role` may ever hold this permission: the permissions a person token of a
    /// person with that role may carry.
    pub fn possible_for(self, role: Role) -> bool {
        !matches!(rule(role, self), Rule::Refused(_))
    }

    /// Every permission, for listing and parsing token scopes.
    pub fn all() -> Vec<Permission> {
        let mut all = vec![
            Permission::SubmitRequest,
            Permission::ReadAudit,
            Permission::RunCheck,
            Permission::UploadDocument,
            Permission::ReadBreaches,
            Permission::ReadAuthority,
            Permission::ManagePersons,
            Permission::OwnAccount,
            Permission::WorkQueue,
        ];
        all.extend(Action::ALL.into_iter().map(Permission::OnRequest));
        all
    }

    /// Its name in token scopes: `submit-request`, an action's name (`confirm`, ...),
    /// `read-audit`, `run-check`, `upload-document`, `read-breaches`, `manage-persons`, `own-account`,
    /// `work-queue`.
    pub fn name(self) -> &'static str {
        match self {
            Permission::SubmitRequest => "submit-request",
            Permission::OnRequest(action) => action.name(),
            Permission::ReadAudit => "read-audit",
            Permission::RunCheck => "run-check",
            Permission::UploadDocument => "upload-document",
            Permission::ReadBreaches => "read-breaches",
            Permission::ReadAuthority => "read-authority",
            Permission::ManagePersons => "manage-persons",
            Permission::OwnAccount => "own-account",
            Permission::WorkQueue => "work-queue",
        }
    }

    /// The permission a scope names.
    pub fn from_name(name: &str) -> Option<Permission> {
        Permission::all().into_iter().find(|p| p.name() == name)
    }
}

/// What a permission is asked on.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// A TLD, or any TLD (`None`) when the body that names it is not read yet.
    Tld(Option<&'a str>),
    Request(&'a Request),
    AuditLog,
    Check,
    Document,
    /// Persons' accounts.
    Persons,
}

/// Proof that the gate granted a permission; only the gate makes one, and the API's body
/// parser asks for one.
#[derive(Debug)]
pub struct Granted {
    permission: Permission,
}

impl Granted {
    /// The permission granted.
    pub fn permission(&self) -> Permission {
        self.permission
    }
}

/// What a role is granted, for permissions that need nothing but the role.
pub enum Rule {
    Granted,
    Refused(&'static str),
    /// Depends on the caller's standing on the request ([`request_rule`]).
    ByRequest,
}

/// The table of who may do what. No default arm: a new permission or role is a compile error
/// here until it has a row.
pub fn rule(role: Role, permission: Permission) -> Rule {
    use Permission::*;
    match (permission, role) {
        // Which persons may submit which kind for a TLD its authority policy says (workflow).
        (SubmitRequest, Role::Contact | Role::Staff | Role::Manager) => Rule::Granted,
        (SubmitRequest, Role::Auditor) => {
            Rule::Refused("auditors read; they do not submit requests")
        }
        (OnRequest(_), _) => Rule::ByRequest,
        (ReadAudit, Role::Staff | Role::Auditor) => Rule::Granted,
        (ReadAudit, Role::Contact | Role::Manager) => {
            Rule::Refused("the audit trail is for desk staff and auditors")
        }
        // A dry run changes nothing; it is bounded per caller instead (`[dry_run]`).
        (RunCheck, Role::Contact | Role::Staff | Role::Auditor | Role::Manager) => Rule::Granted,
        (UploadDocument, Role::Contact | Role::Staff | Role::Manager) => Rule::Granted,
        (UploadDocument, Role::Auditor) => {
            Rule::Refused("auditors read; they do not upload documents")
        }
        (ReadBreaches, Role::Staff | Role::Auditor) => Rule::Granted,
        // Which TLD's the desk checks on the TLD (`Desk::tld_authority`).
        (ReadAuthority, Role::Staff | Role::Auditor | Role::Manager | Role::Contact) => {
            Rule::Granted
        }
        (ReadBreaches, Role::Contact | Role::Manager) => {
            Rule::Refused("breaches by ticket are for desk staff and auditors")
        }
        (ManagePersons, Role::Staff) => Rule::Granted,
        (ManagePersons, Role::Contact | Role::Manager | Role::Auditor) => {
            Rule::Refused("persons' accounts are managed by desk staff")
        }
        (OwnAccount, Role::Manager | Role::Staff | Role::Auditor) => Rule::Granted,
        (WorkQueue, Role::Staff) => Rule::Granted,
        (WorkQueue, Role::Contact | Role::Manager | Role::Auditor) => {
            Rule::Refused("the desk's queue and review pages are for desk staff")
        }
        (OwnAccount, Role::Contact) => {
            Rule::Refused("a contact's role token has no account; persons log in (POST /v1/login)")
        }
    }
}

/// The caller's standing on one request, read from the database by the gate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Standing {
    /// The caller is a contact of the request's TLD.
    pub holds_role: bool,
    /// The caller is a person authorised for the request's TLD by its authority policy.
    pub authorised: bool,
}

/// Whether `caller` may do `action` on `request`: the role-level rule, before the workflow's
/// own. Pure: the reason is returned, never recorded here.
pub fn request_rule(
    caller: &Caller,
    action: Action,
    request: &Request,
    standing: Standing,
) -> Result<(), String> {
    match caller.role {
        // Staff read and review; they never act for the TLD or consent for a contact.
        Role::Staff if action == Action::Read || action.staff_only() => Ok(()),
        // Staff who keyed in a request (received by other means) act for its submitter.
        Role::Staff
            if request.submitter == caller.party()
                && matches!(action, Action::Amend | Action::Withdraw | Action::Answer) =>
        {
            Ok(())
        }
        Role::Staff => Err(format!(
            "only the TLD's contacts may {}; staff act through review",
            action.name()
        )),
        Role::Auditor if action == Action::Read => Ok(()),
        Role::Auditor => Err("auditors read; they do not act on requests".into()),
        Role::Contact | Role::Manager if action.staff_only() => {
            Err("only desk staff may do this".into())
        }
        // Whether this person's approval counts, and whether they may submit, the policy
        // snapshot in the request says (workflow); the gate asks that they act for the TLD.
        Role::Manager => {
            if standing.authorised {
                Ok(())
            } else {
                Err(format!(
                    "{} is not authorised for {}",
                    caller.subject, request.tld
                ))
            }
        }
        Role::Contact => {
            let asked = request.consents.contains_key(&caller.subject);
            let allowed = match action {
                Action::Confirm | Action::Decline => asked,
                Action::Read => standing.holds_role || asked,
                Action::Amend | Action::Withdraw | Action::Answer => {
                    standing.holds_role || request.submitter == caller.party()
                }
                // Refused above (staff only); listed so that a new action is a compile error.
                Action::Approve
                | Action::Reject
                | Action::Ask
                | Action::Evaluate
                | Action::Implement
                | Action::Verify => false,
            };
            if allowed {
                Ok(())
            } else {
                Err(format!(
                    "{} is not a contact of {} for this request",
                    caller.subject, request.tld
                ))
            }
        }
    }
}

/// Refusals of one caller on one endpoint are recorded at most once per this window.
pub const REFUSAL_WINDOW: time::Duration = time::Duration::minutes(1);
/// Callers tracked at once; beyond it, expired windows are dropped first, then all.
const REFUSAL_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
pub(crate) struct RefusalWindow {
    /// When the last event was written.
    pub(crate) recorded: OffsetDateTime,
    /// Refusals since then without an event of their own.
    pub(crate) repeated: u64,
}

impl Desk {
    /// Grants `permission` on `resource` to `caller`, or refuses it (403). Request actions are
    /// refused with an audit event; the others are role rules and only answered.
    pub fn grant(
        &self,
        caller: &Caller,
        permission: Permission,
        resource: Resource<'_>,
    ) -> Result<Granted, DeskError> {
        let granted = Granted { permission };
        if let Some(scope) = &caller.scope {
            let tld = match resource {
                Resource::Tld(tld) => tld,
                Resource::Request(request) => Some(request.tld.as_str()),
                Resource::AuditLog | Resource::Check | Resource::Document | Resource::Persons => {
                    None
                }
            };
            if !scope.allows(permission, tld) {
                let reason = format!(
                    "this token does not carry {}{}",
                    permission.name(),
                    tld.map(|t| format!(" on {t}")).unwrap_or_default()
                );
                if let Resource::Request(request) = resource {
                    self.record_refusal(
                        caller,
                        Some(&request.ticket),
                        Some(&request.tld),
                        permission.name(),
                        &reason,
                    )?;
                }
                return Err(DeskError::Forbidden(reason));
            }
        }
        match (rule(caller.role, permission), permission, resource) {
            (Rule::Granted, _, _) => Ok(granted),
            (Rule::Refused(reason), _, _) => Err(DeskError::Forbidden(reason.into())),
            (Rule::ByRequest, Permission::OnRequest(action), Resource::Request(request)) => {
                let standing = self.standing(caller, request)?;
                match request_rule(caller, action, request, standing) {
                    Ok(()) => Ok(granted),
                    Err(reason) => {
                        self.record_refusal(
                            caller,
                            Some(&request.ticket),
                            Some(&request.tld),
                            action.name(),
                            &reason,
                        )?;
                        Err(DeskError::Forbidden(reason))
                    }
                }
            }
            (Rule::ByRequest, _, _) => Err(DeskError::Forbidden(format!(
                "{permission:?} is granted on a request only"
            ))),
        }
    }

    /// The caller's standing on `request`, from a read connection.
    fn standing(&self, caller: &Caller, request: &Request) -> Result<Standing, DeskError> {
        self.read_store(|s| Ok(standing_in(s.conn(), caller, &request.tld)?))
    }

    /// The actions `caller` may take on `request` by the gate's rules (the workflow may still
    /// refuse one in the request's state). For pages that offer only what can be done.
    pub fn allowed_actions(
        &self,
        caller: &Caller,
        request: &Request,
    ) -> Result<Vec<Action>, DeskError> {
        let standing = self.standing(caller, request)?;
        Ok(Action::ALL
            .into_iter()
            .filter(|a| request_rule(caller, *a, request, standing).is_ok())
            .collect())
    }

    /// Records a refused attempt on a request in the audit trail, in its own transaction.
    pub fn record_refusal(
        &self,
        caller: &Caller,
        ticket: Option<&str>,
        tld: Option<&str>,
        action: &str,
        reason: &str,
    ) -> Result<(), DeskError> {
        self.with_store(|s| {
            s.write(|tx| self.record_refusal_tx(tx, caller, ticket, tld, action, reason))
        })
    }

    /// Records a refused attempt in the transaction `tx` (the command's own, so that the
    /// refusal and nothing else is what the attempt leaves behind).
    pub(crate) fn record_refusal_tx(
        &self,
        tx: &rusqlite::Transaction<'_>,
        caller: &Caller,
        ticket: Option<&str>,
        tld: Option<&str>,
        action: &str,
        reason: &str,
    ) -> Result<(), DeskError> {
        let now = self.clock.now();
        // One event per caller and endpoint per window; the count of the others rides on the
        // next event, so forbidden calls cannot grow the trail one event each.
        let key = (
            caller.token.clone(),
            action.to_string(),
            ticket.unwrap_or_default().to_string(),
        );
        let repeated = {
            let mut windows = self.refusals.lock().map_err(|_| lock_failed())?;
            if let Some(w) = windows.get_mut(&key) {
                if now - w.recorded < REFUSAL_WINDOW && now >= w.recorded {
                    w.repeated += 1;
                    tracing::debug!(token = %caller.token, action, "refusal aggregated");
                    return Ok(());
                }
            }
            if windows.len() >= REFUSAL_KEYS {
                windows.retain(|_, w| now - w.recorded < REFUSAL_WINDOW);
                if windows.len() >= REFUSAL_KEYS {
                    windows.clear();
                }
            }
            let previous = windows.insert(
                key,
                RefusalWindow {
                    recorded: now,
                    repeated: 0,
                },
            );
            previous.map_or(0, |w| w.repeated)
        };
        let payload = crate::audit::Payload::AccessRefused(crate::audit::kinds::AccessRefused {
            action: action.to_string(),
            reason: reason.to_string(),
            repeated: (repeated > 0).then_some(repeated),
        });
        let mut event = NewEvent::typed(caller.actor(), &payload).at(now);
        if let Some(source) = &caller.source {
            event = event.source(source);
        }
        if let Some(ticket) = ticket {
            event = event.request(ticket);
        }
        if let Some(tld) = tld {
            event = event.tld(tld);
        }
        store::append_event(tx, &event)?;
        Ok(())
    }

    /// A request, if the caller may read it.
    pub fn read(&self, caller: &Caller, ticket: &str) -> Result<Request, DeskError> {
        let request = self
            .read_store(|s| Ok(s.request(ticket)?))?
            .ok_or_else(|| DeskError::NotFound(format!("request {ticket}")))?;
        self.permit(caller, Action::Read, &request)?;
        Ok(request)
    }

    /// Whether `caller` may do `action` on `request` (a refusal is recorded).
    pub fn permit(
        &self,
        caller: &Caller,
        action: Action,
        request: &Request,
    ) -> Result<(), DeskError> {
        self.grant(
            caller,
            Permission::OnRequest(action),
            Resource::Request(request),
        )
        .map(|_| ())
    }

    /// The permission gate alone: whether `caller` may do `action` on the request `ticket`
    /// (a refusal is recorded). The API calls it before it reads a request body.
    pub fn authorize(
        &self,
        caller: &Caller,
        ticket: &str,
        action: Action,
    ) -> Result<Granted, DeskError> {
        let request = self
            .read_store(|s| Ok(s.request(ticket)?))?
            .ok_or_else(|| DeskError::NotFound(format!("request {ticket}")))?;
        self.grant(
            caller,
            Permission::OnRequest(action),
            Resource::Request(&request),
        )
    }
}

/// The caller's standing on a TLD's requests, read through `conn`.
pub(crate) fn standing_in(
    conn: &rusqlite::Connection,
    caller: &Caller,
    tld: &str,
) -> Result<Standing, StoreError> {
    Ok(Standing {
        // A TLD whose authority is in force is acted for by its persons, not its contacts.
        holds_role: caller.role == Role::Contact
            && store::contact_tlds(conn, &caller.subject)?
                .iter()
                .any(|t| t == tld)
            && !store::authority_in_force(conn, tld)?,
        authorised: match (&caller.person, caller.role) {
            (Some(person), Role::Manager) => store::authorised_tlds(conn, person)?
                .iter()
                .any(|t| t == tld),
            _ => false,
        },
    })
}
