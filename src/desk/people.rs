//! Persons' accounts through the desk (issue 14): invitations, enrolment of the second
//! factor, logins and sessions, password changes, disabling, factor resets and person tokens.
//! Each operation is one transaction with its audit event; a refused one writes nothing but,
//! for logins, an aggregated `login-refused` event.

use time::Duration;

use super::*;
use crate::audit::kinds::{
    AuthorisedTld, LoginRefused, PersonChanged, PersonInvited, PersonToken, SessionEnded,
    SessionStarted,
};
use crate::audit::Payload;
use crate::people::{self, password, totp, Person, Status};
use crate::store::persons::{self as sp, PersonRecord, PersonTokenRecord};

/// The in-memory side of logins: the brute-force throttle and the aggregation of
/// `login-refused` events per (account, source).
#[derive(Debug, Default)]
pub struct PeopleState {
    pub throttle: people::throttle::Throttle,
    refusals: Mutex<HashMap<(String, String), RefusalWindow>>,
}

/// Person tokens' secrets start with this (role tokens' with `rd_`).
pub const PERSON_TOKEN_PREFIX: &str = "rdp_";
/// The caller token of a login session: `session:<person id>`.
pub const SESSION_PREFIX: &str = "session:";
/// A session's `last_seen` is written at most this often.
const TOUCH_EVERY: Duration = Duration::minutes(1);

/// A person to invite.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    pub name: String,
    pub email: String,
    pub role: String,
    #[serde(default)]
    pub tlds: Vec<AuthorisedTld>,
}

/// An invitation made: the link is shown once (its secret is stored only as a hash).
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub person: Person,
    pub tlds: Vec<AuthorisedTld>,
    pub link: String,
    pub expires_at: String,
}

/// Step 1 of an invitation done: the TOTP secret to enrol (absent when the factor is optional
/// and the person is active already).
#[derive(Debug, Clone, Serialize)]
pub struct PasswordSet {
    pub person: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otpauth_uri: Option<String>,
}

/// Step 2 done: the person is active; the recovery codes are shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct Enrolled {
    pub person: String,
    pub status: Status,
    pub recovery_codes: Vec<String>,
}

/// What a login presents.
#[derive(Debug, Clone, Default)]
pub struct LoginAttempt {
    pub email: String,
    pub password: String,
    pub code: Option<String>,
    pub recovery_code: Option<String>,
    /// The session secret the client presented, ended on success (rotation).
    pub presented: Option<String>,
    pub source: Option<String>,
}

/// A new login session; the secret goes into the cookie and is not stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub person: Person,
    pub secret: String,
    pub csrf: String,
    pub expires_at: OffsetDateTime,
}

/// Why a login is refused. Every wrong input is the same [`LoginError::Invalid`].
#[derive(Debug)]
pub enum LoginError {
    Invalid,
    /// Backed off: retry after this long.
    Throttled(Duration),
    Desk(DeskError),
}

impl From<DeskError> for LoginError {
    fn from(e: DeskError) -> Self {
        LoginError::Desk(e)
    }
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        LoginError::Desk(e.into())
    }
}

/// What a session cookie gives.
#[derive(Debug)]
pub enum SessionAuth {
    Valid(Caller),
    /// Unknown, ended or expired.
    Invalid,
    /// A state-changing request without the session's CSRF token.
    CsrfRefused,
}

/// A person token made: the secret is shown once.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub token: PersonTokenRecord,
    pub secret: String,
}

/// A person as `GET /v1/me` and `GET /v1/persons/{id}` show them.
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    #[serde(flatten)]
    pub person: Person,
    pub tlds: Vec<AuthorisedTld>,
    pub recovery_codes_left: u32,
}

fn invalid(field: &str, message: impl Into<String>) -> DeskError {
    DeskError::Workflow(WorkflowError::Invalid {
        field: field.to_string(),
        message: message.into(),
    })
}

fn no_randomness(e: String) -> DeskError {
    DeskError::Store(StoreError::Conflict(e))
}

fn text_field(field: &str, value: &str, max: usize) -> Result<String, DeskError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, "required"));
    }
    if value.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    if value.chars().any(crate::registry::is_forbidden_char) {
        return Err(invalid(
            field,
            "control or direction characters are not allowed",
        ));
    }
    Ok(value.to_string())
}

fn group_name(group: &str) -> bool {
    !group.is_empty()
        && group.len() <= 32
        && group
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn changed(person: &str, (sessions, tokens): (u64, u64)) -> PersonChanged {
    PersonChanged {
        person: person.to_string(),
        sessions_ended: sessions,
        tokens_revoked: tokens,
    }
}

/// The end of an invitation: the person is active, its links are used, `person-enrolled`.
fn activate_tx(
    tx: &rusqlite::Transaction<'_>,
    person: &Person,
    now: OffsetDateTime,
) -> Result<(), DeskError> {
    sp::set_status_tx(tx, &person.id, Status::Active, now)?;
    sp::use_invitations_tx(tx, &person.id, now)?;
    let payload = Payload::PersonEnrolled(changed(&person.id, (0, 0)));
    store::append_event(
        tx,
        &NewEvent::typed(
            Actor::person(&person.id, person.role.as_str(), "invitation"),
            &payload,
        )
        .at(now),
    )?;
    Ok(())
}

impl Desk {
    /// Sets the accounts' settings (`[accounts]`).
    pub fn with_accounts(mut self, accounts: crate::config::AccountsSettings) -> Desk {
        self.accounts = accounts;
        self
    }

    /// Marks session cookies `Secure` (the server runs TLS).
    pub fn with_secure_cookies(mut self, secure: bool) -> Desk {
        self.secure_cookies = secure;
        self
    }

    fn invitation_link(&self, secret: &str) -> String {
        format!(
            "{}/v1/invitations/{secret}",
            self.notify.base_url.trim_end_matches('/')
        )
    }

    /// Invites a person: an invited account, its TLD authority, and a link to set the password
    /// and enrol the second factor. Staff (`manage-persons`) or the CLI.
    pub fn invite_person(
        &self,
        actor: &Actor,
        source: Option<&str>,
        new: NewPerson,
    ) -> Result<Invitation, DeskError> {
        let name = text_field("name", &new.name, 200)?;
        let email = people::normalise_email(&text_field("email", &new.email, 254)?);
        if !people::plausible_email(&email) {
            return Err(invalid(
                "email",
                format!("{email:?} is not an e-mail address"),
            ));
        }
        let role = people::person_role(&new.role).ok_or_else(|| {
            invalid(
                "role",
                format!(
                    "{:?} is not a person's role: manager, staff or auditor",
                    new.role
                ),
            )
        })?;
        if role != Role::Manager && !new.tlds.is_empty() {
            return Err(invalid(
                "tlds",
                "only managers act for TLDs; staff and auditors are invited without tlds",
            ));
        }
        let mut tlds = Vec::new();
        for (i, t) in new.tlds.iter().enumerate() {
            let label = TldLabel::parse(&t.tld)
                .map_err(|e| invalid(&format!("tlds[{i}].tld"), e.to_string()))?;
            if t.groups.is_empty() || !t.groups.iter().all(|g| group_name(g)) {
                return Err(invalid(
                    &format!("tlds[{i}].groups"),
                    "one or more groups, lower-case letters, digits and dashes (admin, tech)",
                ));
            }
            let mut groups = t.groups.clone();
            groups.sort();
            groups.dedup();
            tlds.push(AuthorisedTld {
                tld: label.as_str().to_string(),
                groups,
            });
        }
        let now = self.clock.now();
        self.with_store(|s| {
            s.write(|tx| {
                for t in &tlds {
                    if !sp::tld_exists(tx, &t.tld)? {
                        return Err(DeskError::NotFound(format!("TLD {}", t.tld)));
                    }
                    // Once a TLD's persons act for it, only its own approvals change who they
                    // are: the desk cannot add one by inviting.
                    if store::authority_in_force(tx, &t.tld)? {
                        return Err(DeskError::Forbidden(format!(
                            ".{} has its authority in force: a person is added by an \
                             `authority` request that its policy approves (README: People and \
                             authority); invite the person without --tld, then submit it",
                            t.tld
                        )));
                    }
                }
                if let Some(existing) = sp::person_by_email(tx, &email)? {
                    return Err(DeskError::Store(StoreError::Conflict(format!(
                        "{email} is the login of {} already (`rootdesk person show {}`)",
                        existing.person.id, existing.person.id
                    ))));
                }
                let id = people::new_person_id().map_err(no_randomness)?;
                sp::insert_person_tx(tx, &id, &name, &email, role, now)?;
                for t in &tlds {
                    store::add_member_tx(tx, &t.tld, &id, &t.groups)?;
                }
                let person = sp::person_by_id(tx, &id)?
                    .ok_or_else(|| DeskError::NotFound(format!("person {id}")))?
                    .person;
                self.invite_tx(tx, actor, source, person, tlds.clone(), "invited", now)
            })
        })
    }

    /// A new invitation for `person` in `tx`, with its `person-invited` event.
    #[allow(clippy::too_many_arguments)]
    fn invite_tx(
        &self,
        tx: &rusqlite::Transaction<'_>,
        actor: &Actor,
        source: Option<&str>,
        person: Person,
        tlds: Vec<AuthorisedTld>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<Invitation, DeskError> {
        let secret = people::new_secret().map_err(no_randomness)?;
        let expires = now + Duration::days(i64::from(self.accounts.invitation_valid_days.max(1)));
        sp::insert_invitation_tx(tx, &people::secret_hash(&secret), &person.id, now, expires)?;
        let payload = Payload::PersonInvited(PersonInvited {
            person: person.id.clone(),
            name: person.name.clone(),
            email: person.email.clone(),
            role: person.role.as_str().to_string(),
            tlds: tlds.clone(),
            expires_at: store::timestamp(expires),
            reason: reason.to_string(),
        });
        let mut event = NewEvent::typed(actor.clone(), &payload).at(now);
        if let Some(source) = source {
            event = event.source(source);
        }
        store::append_event(tx, &event)?;
        Ok(Invitation {
            person,
            tlds,
            link: self.invitation_link(&secret),
            expires_at: store::timestamp(expires),
        })
    }

    /// The person an open invitation is for.
    pub fn invitation(&self, secret: &str) -> Result<Person, DeskError> {
        let now = self.clock.now();
        let hash = people::secret_hash(secret);
        self.read_store(|s| {
            let id = sp::open_invitation(s.conn(), &hash, now)?;
            let record = match id {
                Some(id) => sp::person_by_id(s.conn(), &id)?,
                None => None,
            };
            match record {
                Some(r) if r.person.status == Status::Invited => Ok(r.person),
                _ => Err(DeskError::NotFound(
                    "invitation (the link is unknown, used or expired: ask the desk for a new one)"
                        .into(),
                )),
            }
        })
    }

    /// Step 1 of an invitation: the password. Returns the TOTP secret to enrol, or, for an
    /// auditor when `[accounts] auditor_factor_optional`, an active account.
    pub fn set_invited_password(
        &self,
        secret: &str,
        new_password: &str,
    ) -> Result<PasswordSet, DeskError> {
        let person = self.invitation(secret)?;
        password::check_rules(new_password, &person.email).map_err(|m| invalid("password", m))?;
        let phc =
            password::hash(new_password).map_err(|e| DeskError::Store(StoreError::Corrupt(e)))?;
        let optional = person.role == Role::Auditor && self.accounts.auditor_factor_optional;
        let now = self.clock.now();
        let hash = people::secret_hash(secret);
        self.with_store(|s| {
            s.write(|tx| {
                // Still open: nobody used it between the read and this write.
                if sp::open_invitation(tx, &hash, now)?.as_deref() != Some(person.id.as_str()) {
                    return Err(DeskError::NotFound("invitation".into()));
                }
                sp::set_password_tx(tx, &person.id, &phc, now)?;
                if optional {
                    sp::set_totp_tx(tx, &person.id, None, true, now)?;
                    activate_tx(tx, &person, now)?;
                    return Ok(PasswordSet {
                        person: person.id.clone(),
                        status: Status::Active,
                        totp_secret: None,
                        otpauth_uri: None,
                    });
                }
                let totp_secret = totp::new_secret().map_err(no_randomness)?;
                let uri =
                    totp::uri(&totp_secret, &person.email).map_err(|e| invalid("email", e))?;
                sp::set_totp_tx(tx, &person.id, Some(&totp_secret), false, now)?;
                Ok(PasswordSet {
                    person: person.id.clone(),
                    status: Status::Invited,
                    totp_secret: Some(totp_secret),
                    otpauth_uri: Some(uri),
                })
            })
        })
    }

    /// Step 2 of an invitation: a code from the enrolled device. The person becomes active and
    /// gets ten single-use recovery codes, shown this once.
    pub fn enrol(&self, secret: &str, code: &str) -> Result<Enrolled, DeskError> {
        let person = self.invitation(secret)?;
        let now = self.clock.now();
        let hash = people::secret_hash(secret);
        let record = self
            .read_store(|s| Ok(sp::person_by_id(s.conn(), &person.id)?))?
            .ok_or_else(|| DeskError::NotFound(format!("person {}", person.id)))?;
        let (Some(_), Some(totp_secret)) = (&record.password_hash, &record.totp_secret) else {
            return Err(invalid(
                "code",
                "set the password first (POST /v1/invitations/{secret} with {\"password\": ...})",
            ));
        };
        let step = totp::verify(totp_secret, code, now, record.totp_last_step).ok_or_else(|| {
            invalid(
                "code",
                "code: not the code of this moment; enter the current six digits (and check the device's clock)",
            )
        })?;
        let codes = people::new_recovery_codes().map_err(no_randomness)?;
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| people::secret_hash(&people::normalise_recovery_code(c)))
            .collect();
        self.with_store(|s| {
            s.write(|tx| {
                if sp::open_invitation(tx, &hash, now)?.as_deref() != Some(person.id.as_str()) {
                    return Err(DeskError::NotFound("invitation".into()));
                }
                if !sp::use_totp_step_tx(tx, &person.id, step)? {
                    return Err(invalid("code", "code: used already; wait for the next one"));
                }
                sp::replace_recovery_codes_tx(tx, &person.id, &hashes)?;
                activate_tx(tx, &person, now)?;
                Ok(())
            })
        })?;
        Ok(Enrolled {
            person: person.id,
            status: Status::Active,
            recovery_codes: codes,
        })
    }

    /// Checks the second factor of `record` in `tx` and uses it up; `None` when it is not
    /// right (or used already). Returns the factor's name for the audit trail.
    fn use_factor_tx(
        &self,
        tx: &rusqlite::Transaction<'_>,
        record: &PersonRecord,
        code: Option<&str>,
        recovery_code: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<&'static str>, DeskError> {
        let id = &record.person.id;
        match (&record.totp_secret, code, recovery_code) {
            (Some(secret), Some(code), None) => {
                match totp::verify(secret, code, now, record.totp_last_step) {
                    Some(step) if sp::use_totp_step_tx(tx, id, step)? => Ok(Some("totp")),
                    _ => Ok(None),
                }
            }
            (Some(_), None, Some(recovery)) => {
                let hash = people::secret_hash(&people::normalise_recovery_code(recovery));
                Ok(sp::use_recovery_code_tx(tx, id, &hash, now)?.then_some("recovery-code"))
            }
            (None, None, None)
                if record.factor_optional
                    && record.person.role == Role::Auditor
                    && self.accounts.auditor_factor_optional =>
            {
                Ok(Some("none"))
            }
            _ => Ok(None),
        }
    }

    /// Logs a person in: a new session. Every wrong e-mail, password or code is the same
    /// [`LoginError::Invalid`] after the same argon2 work; after repeated failures the account
    /// and the source are backed off ([`LoginError::Throttled`]) and nothing is checked.
    pub fn login(&self, attempt: LoginAttempt) -> Result<NewSession, LoginError> {
        let now = self.clock.now();
        let source = attempt.source.as_deref();
        self.people
            .throttle
            .check(&attempt.email, source, now)
            .map_err(LoginError::Throttled)?;
        let record =
            self.read_store(|s| Ok(sp::person_by_email(s.conn(), attempt.email.trim())?))?;
        let password_ok = match record.as_ref().and_then(|r| r.password_hash.as_deref()) {
            Some(phc) => password::verify(&attempt.password, phc),
            None => {
                password::verify_dummy(&attempt.password);
                false
            }
        };
        let refused = |reason: &str, person: Option<&str>| -> LoginError {
            self.people.throttle.fail(&attempt.email, source, now);
            if let Err(e) = self.record_login_refusal(&attempt.email, source, person, reason, now) {
                return LoginError::Desk(e);
            }
            LoginError::Invalid
        };
        let Some(record) = record else {
            return Err(refused("unknown-account", None));
        };
        let id = record.person.id.clone();
        if record.person.status != Status::Active {
            return Err(refused("not-active", Some(&id)));
        }
        if !password_ok {
            return Err(refused("password", Some(&id)));
        }
        let secret = people::new_secret().map_err(|e| LoginError::Desk(no_randomness(e)))?;
        let csrf = people::new_secret().map_err(|e| LoginError::Desk(no_randomness(e)))?;
        let expires = now + Duration::hours(i64::from(self.accounts.session_absolute_hours.max(1)));
        let started = self.with_store(|s| {
            s.write(|tx| {
                let Some(factor) = self.use_factor_tx(
                    tx,
                    &record,
                    attempt.code.as_deref(),
                    attempt.recovery_code.as_deref(),
                    now,
                )?
                else {
                    return Ok(false);
                };
                let actor = Actor::person(&id, record.person.role.as_str(), "session");
                // Rotation: a session the client presented ends with this login.
                let mut rotated = false;
                if let Some(old) = &attempt.presented {
                    let old_hash = people::secret_hash(old);
                    if let Some(old_session) = sp::session_by_hash(tx, &old_hash)? {
                        sp::delete_session_tx(tx, &old_hash)?;
                        rotated = true;
                        let payload = Payload::SessionEnded(SessionEnded {
                            person: old_session.person.clone(),
                            reason: "rotated".into(),
                        });
                        store::append_event(
                            tx,
                            &with_source(NewEvent::typed(actor.clone(), &payload).at(now), source),
                        )?;
                    }
                }
                sp::insert_session_tx(
                    tx,
                    &people::secret_hash(&secret),
                    &id,
                    &csrf,
                    source,
                    now,
                    expires,
                )?;
                let payload = Payload::SessionStarted(SessionStarted {
                    person: id.clone(),
                    factor: factor.to_string(),
                    expires_at: store::timestamp(expires),
                    rotated,
                });
                store::append_event(
                    tx,
                    &with_source(NewEvent::typed(actor, &payload).at(now), source),
                )?;
                Ok::<_, DeskError>(true)
            })
        })?;
        if !started {
            return Err(refused("code", Some(&id)));
        }
        self.people.throttle.succeed(&attempt.email);
        Ok(NewSession {
            person: record.person,
            secret,
            csrf,
            expires_at: expires,
        })
    }

    /// Records a refused login: at most one event per account and source per
    /// [`REFUSAL_WINDOW`], carrying the count of the ones in between.
    fn record_login_refusal(
        &self,
        email: &str,
        source: Option<&str>,
        person: Option<&str>,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), DeskError> {
        let key = (
            people::normalise_email(email),
            source.unwrap_or_default().to_string(),
        );
        let repeated = {
            let mut windows = self.people.refusals.lock().map_err(|_| lock_failed())?;
            if let Some(w) = windows.get_mut(&key) {
                if now - w.recorded < REFUSAL_WINDOW && now >= w.recorded {
                    w.repeated += 1;
                    return Ok(());
                }
            }
            if windows.len() >= 10_000 {
                windows.retain(|_, w| now - w.recorded < REFUSAL_WINDOW);
                if windows.len() >= 10_000 {
                    windows.clear();
                }
            }
            windows
                .insert(
                    key,
                    RefusalWindow {
                        recorded: now,
                        repeated: 0,
                    },
                )
                .map_or(0, |w| w.repeated)
        };
        let payload = Payload::LoginRefused(LoginRefused {
            person: person.map(str::to_string),
            reason: reason.to_string(),
            repeated: (repeated > 0).then_some(repeated),
        });
        let event = with_source(
            NewEvent::typed(Actor::system("login"), &payload).at(now),
            source,
        );
        self.with_store(|s| s.write(|tx| Ok(store::append_event(tx, &event).map(|_| ())?)))
    }

    /// The caller a session cookie stands for. `safe`: a GET or HEAD; any other method must
    /// carry the session's CSRF token.
    pub fn session_caller(
        &self,
        secret: &str,
        safe: bool,
        csrf: Option<&str>,
        source: Option<String>,
    ) -> Result<SessionAuth, DeskError> {
        let now = self.clock.now();
        let hash = people::secret_hash(secret);
        let found = self.read_store(|s| {
            Ok(match sp::session_by_hash(s.conn(), &hash)? {
                Some(session) => {
                    let person = sp::person_by_id(s.conn(), &session.person)?;
                    person.map(|p| (session, p))
                }
                None => None,
            })
        })?;
        let Some((session, record)) = found else {
            return Ok(SessionAuth::Invalid);
        };
        let idle = Duration::minutes(i64::from(self.accounts.session_idle_minutes.max(1)));
        let now_text = store::timestamp(now);
        let expired = session.expires_at <= now_text
            || session.last_seen <= store::timestamp(now - idle)
            || record.person.status != Status::Active
            || session.created_at < record.credentials_at;
        if expired {
            self.with_store(|s| s.write(|tx| Ok(sp::delete_session_tx(tx, &hash).map(|_| ())?)))?;
            return Ok(SessionAuth::Invalid);
        }
        if !safe {
            // Compared as hashes: the time taken says nothing about the token.
            let given = csrf.map(people::secret_hash);
            if given.as_deref() != Some(people::secret_hash(&session.csrf).as_str()) {
                return Ok(SessionAuth::CsrfRefused);
            }
        }
        if session.last_seen <= store::timestamp(now - TOUCH_EVERY) {
            self.with_store(|s| s.write(|tx| Ok(sp::touch_session_tx(tx, &hash, now)?)))?;
        }
        let person = record.person;
        Ok(SessionAuth::Valid(Caller {
            token: format!("{SESSION_PREFIX}{}", person.id),
            role: person.role,
            subject: person.id.clone(),
            source,
            person: Some(person.id),
            scope: None,
        }))
    }

    /// A session's CSRF token and its person's name, for the pages a logged-in person sees.
    pub fn session_page(&self, secret: &str) -> Result<Option<(String, String)>, DeskError> {
        let hash = people::secret_hash(secret);
        self.read_store(|s| {
            let Some(session) = sp::session_by_hash(s.conn(), &hash)? else {
                return Ok(None);
            };
            let name = sp::person_by_id(s.conn(), &session.person)?
                .map(|r| r.person.name)
                .unwrap_or_default();
            Ok(Some((session.csrf, name)))
        })
    }

    /// The caller a person token stands for, if it is valid now.
    pub(crate) fn person_token_caller(
        &self,
        secret: &str,
        source: Option<String>,
    ) -> Result<Option<Caller>, DeskError> {
        let now = store::timestamp(self.clock.now());
        let hash = people::secret_hash(secret);
        self.read_store(|s| {
            let Some(token) = sp::person_token_by_hash(s.conn(), &hash)? else {
                return Ok(None);
            };
            let Some(record) = sp::person_by_id(s.conn(), &token.person)? else {
                return Ok(None);
            };
            if token.revoked_at.is_some()
                || token.expires_at <= now
                || record.person.status != Status::Active
                || token.created_at < record.credentials_at
            {
                return Ok(None);
            }
            Ok(Some(Caller {
                token: token.id.clone(),
                role: record.person.role,
                subject: record.person.id.clone(),
                source,
                person: Some(record.person.id),
                scope: Some(gate::Scope {
                    permissions: token.permissions.into_iter().collect(),
                    tlds: token.tlds.map(|t| t.into_iter().collect()),
                }),
            }))
        })
    }

    /// Ends the session `secret` (logout).
    pub fn logout(&self, caller: &Caller, secret: &str) -> Result<(), DeskError> {
        let now = self.clock.now();
        let person = caller
            .person
            .clone()
            .ok_or_else(|| DeskError::Forbidden("logout ends a person's login session".into()))?;
        let hash = people::secret_hash(secret);
        self.with_store(|s| {
            s.write(|tx| {
                if sp::delete_session_tx(tx, &hash)? {
                    let payload = Payload::SessionEnded(SessionEnded {
                        person,
                        reason: "logout".into(),
                    });
                    let event = with_source(
                        NewEvent::typed(caller.actor(), &payload).at(now),
                        caller.source.as_deref(),
                    );
                    store::append_event(tx, &event)?;
                }
                Ok(())
            })
        })
    }

    fn own_person(&self, caller: &Caller) -> Result<PersonRecord, DeskError> {
        let id = caller.person.as_deref().ok_or_else(|| {
            DeskError::Forbidden("this is for persons; a role token has no account".into())
        })?;
        self.read_store(|s| Ok(sp::person_by_id(s.conn(), id)?))?
            .ok_or_else(|| DeskError::NotFound(format!("person {id}")))
    }

    fn require_session(caller: &Caller, what: &str) -> Result<(), DeskError> {
        if caller.person.is_some() && caller.token.starts_with(SESSION_PREFIX) {
            Ok(())
        } else {
            Err(DeskError::Forbidden(format!(
                "{what} needs a login session (POST /v1/login), not a token"
            )))
        }
    }

    /// Changes the caller's password: the current password and a code (or recovery code) are
    /// needed, and every session and token of the person ends.
    pub fn change_password(
        &self,
        caller: &Caller,
        current: &str,
        code: Option<&str>,
        recovery_code: Option<&str>,
        new_password: &str,
    ) -> Result<PersonChanged, DeskError> {
        Self::require_session(caller, "changing the password")?;
        let record = self.own_person(caller)?;
        let now = self.clock.now();
        let id = record.person.id.clone();
        if let Err(wait) =
            self.people
                .throttle
                .check(&record.person.email, caller.source.as_deref(), now)
        {
            return Err(DeskError::Forbidden(format!(
                "too many wrong attempts: retry in {} seconds",
                wait.whole_seconds().max(1)
            )));
        }
        let wrong = || {
            self.people
                .throttle
                .fail(&record.person.email, caller.source.as_deref(), now);
            DeskError::Forbidden("the current password or the code is not right".into())
        };
        let current_ok = record
            .password_hash
            .as_deref()
            .is_some_and(|phc| password::verify(current, phc));
        if !current_ok {
            return Err(wrong());
        }
        password::check_rules(new_password, &record.person.email)
            .map_err(|m| invalid("new_password", m))?;
        let phc =
            password::hash(new_password).map_err(|e| DeskError::Store(StoreError::Corrupt(e)))?;
        let done = self.with_store(|s| {
            s.write(|tx| {
                if self
                    .use_factor_tx(tx, &record, code, recovery_code, now)?
                    .is_none()
                {
                    return Ok(None);
                }
                sp::set_password_tx(tx, &id, &phc, now)?;
                let ended = sp::end_credentials_tx(tx, &id, now)?;
                let payload = changed(&id, ended);
                let event = with_source(
                    NewEvent::typed(
                        caller.actor(),
                        &Payload::PersonPasswordChanged(payload.clone()),
                    )
                    .at(now),
                    caller.source.as_deref(),
                );
                store::append_event(tx, &event)?;
                Ok::<_, DeskError>(Some(payload))
            })
        })?;
        done.ok_or_else(wrong)
    }

    /// Every person.
    pub fn persons(&self) -> Result<Vec<Person>, DeskError> {
        self.read_store(|s| Ok(sp::persons(s.conn())?))
    }

    /// One person with their TLDs.
    pub fn person_view(&self, id: &str) -> Result<PersonView, DeskError> {
        self.read_store(|s| {
            let record = sp::person_by_id(s.conn(), id)?.ok_or_else(|| {
                DeskError::NotFound(format!("person {id} (`rootdesk person list` shows them)"))
            })?;
            let tlds = store::authority_of(s.conn(), id)?
                .into_iter()
                .map(|(tld, groups)| AuthorisedTld { tld, groups })
                .collect();
            Ok(PersonView {
                person: record.person,
                tlds,
                recovery_codes_left: sp::unused_recovery_codes(s.conn(), id)?,
            })
        })
    }

    /// The caller's own account.
    pub fn me(&self, caller: &Caller) -> Result<PersonView, DeskError> {
        let record = self.own_person(caller)?;
        self.person_view(&record.person.id)
    }

    /// Disables a person: every session and token ends, open invitations die, and they can no
    /// longer log in.
    pub fn disable_person(
        &self,
        actor: &Actor,
        source: Option<&str>,
        id: &str,
    ) -> Result<PersonChanged, DeskError> {
        let now = self.clock.now();
        self.with_store(|s| {
            s.write(|tx| {
                let record = sp::person_by_id(tx, id)?
                    .ok_or_else(|| DeskError::NotFound(format!("person {id}")))?;
                if record.person.status == Status::Disabled {
                    return Err(DeskError::Store(StoreError::Conflict(format!(
                        "person {id} is disabled already"
                    ))));
                }
                let ended = sp::end_credentials_tx(tx, id, now)?;
                sp::set_status_tx(tx, id, Status::Disabled, now)?;
                sp::use_invitations_tx(tx, id, now)?;
                let payload = changed(id, ended);
                let event = with_source(
                    NewEvent::typed(actor.clone(), &Payload::PersonDisabled(payload.clone()))
                        .at(now),
                    source,
                );
                store::append_event(tx, &event)?;
                Ok(payload)
            })
        })
    }

    /// Resets a person's second factor: TOTP and recovery codes cleared, every session and
    /// token ended, the person invited again with a new link (password and factor anew).
    pub fn reset_factor(
        &self,
        actor: &Actor,
        source: Option<&str>,
        id: &str,
    ) -> Result<Invitation, DeskError> {
        let now = self.clock.now();
        self.with_store(|s| {
            s.write(|tx| {
                let record = sp::person_by_id(tx, id)?
                    .ok_or_else(|| DeskError::NotFound(format!("person {id}")))?;
                let ended = sp::end_credentials_tx(tx, id, now)?;
                sp::set_totp_tx(tx, id, None, false, now)?;
                sp::replace_recovery_codes_tx(tx, id, &[])?;
                sp::set_status_tx(tx, id, Status::Invited, now)?;
                sp::use_invitations_tx(tx, id, now)?;
                let event = with_source(
                    NewEvent::typed(
                        actor.clone(),
                        &Payload::PersonFactorReset(changed(id, ended)),
                    )
                    .at(now),
                    source,
                );
                store::append_event(tx, &event)?;
                let tlds = store::authority_of(tx, id)?
                    .into_iter()
                    .map(|(tld, groups)| AuthorisedTld { tld, groups })
                    .collect();
                let person = Person {
                    status: Status::Invited,
                    factor_enrolled: false,
                    ..record.person
                };
                self.invite_tx(tx, actor, source, person, tlds, "factor-reset", now)
            })
        })
    }

    /// Makes a person token for the caller (in a login session): at most the caller's
    /// permissions, at most their TLDs, and an expiry within `[accounts] token_max_days`.
    pub fn issue_person_token(
        &self,
        caller: &Caller,
        permissions: &[String],
        tlds: Option<&[String]>,
        expires_in_days: u32,
    ) -> Result<IssuedToken, DeskError> {
        Self::require_session(caller, "making a token")?;
        let record = self.own_person(caller)?;
        let role = record.person.role;
        if permissions.is_empty() {
            return Err(invalid(
                "permissions",
                "permissions: name at least one (e.g. read)",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, name) in permissions.iter().enumerate() {
            let permission = Permission::from_name(name).ok_or_else(|| {
                let all: Vec<&str> = Permission::all().into_iter().map(|p| p.name()).collect();
                invalid(
                    &format!("permissions[{i}]"),
                    format!("{name:?} is not a permission; one of {}", all.join(", ")),
                )
            })?;
            if !permission.possible_for(role) {
                return Err(DeskError::Forbidden(format!(
                    "a {} cannot hold {name}, so no token of theirs can",
                    role.as_str()
                )));
            }
            names.insert(permission.name().to_string());
        }
        let max = self.accounts.token_max_days.max(1);
        if expires_in_days == 0 || expires_in_days > max {
            return Err(invalid(
                "expires_in_days",
                format!("expires_in_days: from 1 to {max} ([accounts] token_max_days)"),
            ));
        }
        let now = self.clock.now();
        let id = record.person.id.clone();
        let tlds = match tlds {
            None => None,
            Some(list) => {
                let mut labels = std::collections::BTreeSet::new();
                for (i, t) in list.iter().enumerate() {
                    let label = TldLabel::parse(t)
                        .map_err(|e| invalid(&format!("tlds[{i}]"), e.to_string()))?;
                    labels.insert(label.as_str().to_string());
                }
                if labels.is_empty() {
                    return Err(invalid(
                        "tlds",
                        "tlds: name at least one, or leave it out for all",
                    ));
                }
                let mine = self.read_store(|s| Ok(store::authorised_tlds(s.conn(), &id)?))?;
                for label in &labels {
                    if !self.read_store(|s| Ok(sp::tld_exists(s.conn(), label)?))? {
                        return Err(DeskError::NotFound(format!("TLD {label}")));
                    }
                    if role == Role::Manager && !mine.contains(label) {
                        return Err(DeskError::Forbidden(format!(
                            "you are not authorised for {label}, so no token of yours can be"
                        )));
                    }
                }
                Some(labels.into_iter().collect::<Vec<_>>())
            }
        };
        let secret = format!(
            "{PERSON_TOKEN_PREFIX}{}",
            people::new_secret().map_err(no_randomness)?
        );
        let token = PersonTokenRecord {
            id: format!(
                "ptok-{}",
                data_encoding::HEXLOWER.encode(&people::random::<8>().map_err(no_randomness)?)
            ),
            person: id.clone(),
            permissions: names.into_iter().collect(),
            tlds,
            created_at: store::timestamp(now),
            expires_at: store::timestamp(now + Duration::days(i64::from(expires_in_days))),
            revoked_at: None,
        };
        self.with_store(|s| {
            s.write(|tx| {
                sp::insert_person_token_tx(tx, &token, &people::secret_hash(&secret))?;
                let payload = Payload::PersonTokenIssued(token_payload(&token));
                let event = with_source(
                    NewEvent::typed(caller.actor(), &payload).at(now),
                    caller.source.as_deref(),
                );
                store::append_event(tx, &event)?;
                Ok::<_, DeskError>(())
            })
        })?;
        Ok(IssuedToken { token, secret })
    }

    /// The caller's own person tokens.
    pub fn person_tokens(&self, caller: &Caller) -> Result<Vec<PersonTokenRecord>, DeskError> {
        let record = self.own_person(caller)?;
        self.read_store(|s| Ok(sp::person_tokens(s.conn(), &record.person.id)?))
    }

    /// Revokes one of the caller's own tokens.
    pub fn revoke_person_token(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<PersonTokenRecord, DeskError> {
        let record = self.own_person(caller)?;
        let now = self.clock.now();
        self.with_store(|s| {
            s.write(|tx| {
                let token = sp::person_token(tx, id)?
                    .filter(|t| t.person == record.person.id)
                    .ok_or_else(|| DeskError::NotFound(format!("token {id} of yours")))?;
                if !sp::revoke_person_token_tx(tx, id, now)? {
                    return Err(DeskError::Store(StoreError::Conflict(format!(
                        "token {id} is revoked already"
                    ))));
                }
                let payload = Payload::PersonTokenRevoked(token_payload(&token));
                let event = with_source(
                    NewEvent::typed(caller.actor(), &payload).at(now),
                    caller.source.as_deref(),
                );
                store::append_event(tx, &event)?;
                Ok(PersonTokenRecord {
                    revoked_at: Some(store::timestamp(now)),
                    ..token
                })
            })
        })
    }
}

/// A person the migration made from a contact e-mail.
#[derive(Debug, Clone, Serialize)]
pub struct MigratedPerson {
    pub person: String,
    pub email: String,
    pub tlds: Vec<AuthorisedTld>,
}

impl Desk {
    /// Schema 7's migration (issue 14): one invited manager per distinct contact e-mail of the
    /// TLDs' contact records, authorised for each TLD where it is a contact (groups: its roles
    /// there), with an invitation mailed through the outbox. The link's secret is minted when
    /// the sender hands the message to the relay, so the database never holds a usable one.
    /// E-mails that are someone's login already are left alone, so running it twice adds
    /// nobody. Nothing recorded before changes: the contacts stay as they are.
    pub fn persons_from_contacts(&self, actor: &Actor) -> Result<Vec<MigratedPerson>, DeskError> {
        let now = self.clock.now();
        let expires = now + Duration::days(i64::from(self.accounts.invitation_valid_days.max(1)));
        let base = self.notify.base_url.trim_end_matches('/').to_string();
        self.with_store(|s| {
            s.write(|tx| {
                let mut made = Vec::new();
                for contact in sp::contact_emails(tx)? {
                    if !people::plausible_email(&contact.email)
                        || sp::person_by_email(tx, &contact.email)?.is_some()
                    {
                        continue;
                    }
                    let mut tlds: Vec<AuthorisedTld> = Vec::new();
                    for (tld, role) in &contact.roles {
                        match tlds.last_mut() {
                            Some(last) if &last.tld == tld => last.groups.push(role.clone()),
                            _ => tlds.push(AuthorisedTld {
                                tld: tld.clone(),
                                groups: vec![role.clone()],
                            }),
                        }
                    }
                    let id = people::new_person_id().map_err(no_randomness)?;
                    let name: String = contact
                        .name
                        .chars()
                        .filter(|c| !crate::registry::is_forbidden_char(*c))
                        .take(200)
                        .collect();
                    sp::insert_person_tx(tx, &id, &name, &contact.email, Role::Manager, now)?;
                    for t in &tlds {
                        store::add_member_tx(tx, &t.tld, &id, &t.groups)?;
                    }
                    let (template, placeholder) = crate::notify::links::invitation_placeholder()?;
                    sp::insert_unsent_invitation_tx(tx, &template, &id, now, expires)?;
                    let payload = Payload::PersonInvited(PersonInvited {
                        person: id.clone(),
                        name: name.clone(),
                        email: contact.email.clone(),
                        role: Role::Manager.as_str().to_string(),
                        tlds: tlds.clone(),
                        expires_at: store::timestamp(expires),
                        reason: "migrated".into(),
                    });
                    store::append_event(tx, &NewEvent::typed(actor.clone(), &payload).at(now))?;
                    let names: Vec<String> = tlds.iter().map(|t| format!(".{}", t.tld)).collect();
                    let body = format!(
                        "Dear {name},\n\n\
                         The root zone change desk now gives everyone who acts for a TLD an\n\
                         account of their own, with a password and a second factor (an\n\
                         authenticator app). You are a contact of {}, so an account was made\n\
                         for you. Open the link below to set your password and enrol your\n\
                         second factor. It works once, until {}.\n\n\
                         Link:\n  {base}/v1/invitations/{placeholder}\n",
                        names.join(", "),
                        store::timestamp(expires),
                    );
                    store::queue_notification(
                        tx,
                        &store::NewNotification {
                            recipient: contact.email.clone(),
                            subject: format!(
                                "Your account at the root zone desk ({})",
                                names.join(", ")
                            ),
                            body,
                            ticket: None,
                            tld: tlds.first().map(|t| t.tld.clone()),
                            kind: "invitation".into(),
                        },
                        now,
                        now,
                    )?;
                    made.push(MigratedPerson {
                        person: id,
                        email: contact.email,
                        tlds,
                    });
                }
                // Each TLD whose persons can meet the default rule (admin and tech) is run by
                // them from now on; the others stay with their contacts until their authority
                // is set (README: People and authority).
                let touched: std::collections::BTreeSet<String> = made
                    .iter()
                    .flat_map(|m| m.tlds.iter().map(|t| t.tld.clone()))
                    .collect();
                for tld in touched {
                    if store::authority_in_force(tx, &tld)? {
                        continue;
                    }
                    let authority = crate::workflow::Authority {
                        members: store::pending_members(tx, &tld)?,
                        ..Default::default()
                    };
                    if authority.validate().is_ok() {
                        super::authority::establish_authority_tx(
                            tx,
                            actor,
                            &tld,
                            &authority,
                            None,
                            now,
                        )?;
                    } else {
                        tracing::warn!(%tld, "its contacts cannot meet the default rule as persons; the TLD stays with its contacts");
                    }
                }
                Ok(made)
            })
        })
    }
}

fn token_payload(token: &PersonTokenRecord) -> PersonToken {
    PersonToken {
        token: token.id.clone(),
        person: token.person.clone(),
        permissions: token.permissions.clone(),
        tlds: token.tlds.clone(),
        expires_at: token.expires_at.clone(),
    }
}

fn with_source(event: NewEvent, source: Option<&str>) -> NewEvent {
    match source {
        Some(source) => event.source(source),
        None => event,
    }
}
