-- rootdesk database schema.
--
-- The program applies this file to a new database (`rootdesk init`) and records the version
-- in PRAGMA user_version. Upgrades of an existing database run the numbered migrations in
-- src/store/migrations/ (`rootdesk migrate`); this file always describes the newest version.
-- Connections run with foreign_keys=ON and journal_mode=WAL.

-- TLD records of the Root Zone Database.
CREATE TABLE tlds (
    label       TEXT PRIMARY KEY,            -- A-label, lower case
    type        TEXT NOT NULL CHECK (type IN ('cctld', 'gtld', 'infrastructure')),
    tag         TEXT,                        -- IANA's tag: country-code, generic, sponsored, ...
    country     TEXT,                        -- country or territory, for ccTLDs
    status      TEXT NOT NULL CHECK (status IN ('active', 'undelegated', 'retired')),
    sponsor     TEXT,                        -- sponsoring organisation (the TLD manager)
    created     TEXT,                        -- YYYY-MM-DD, as IANA shows it
    updated     TEXT,                        -- YYYY-MM-DD
    recorded_at TEXT NOT NULL                -- when rootdesk last changed this record (RFC 3339)
) WITHOUT ROWID;

-- Contacts, identified by handle: the person or role account a token acts as; one contact
-- may hold roles on several TLDs. The details here are those it was first known by; what a
-- TLD has on file is its own record in tld_contacts.
CREATE TABLE contacts (
    handle       TEXT PRIMARY KEY,
    organisation TEXT,
    name         TEXT,
    email        TEXT,
    phone        TEXT,
    address      TEXT
) WITHOUT ROWID;

-- Who is the administrative and the technical contact of each TLD, with the TLD's own record
-- of that contact (schema version 2): a change one TLD makes to a contact it shares with
-- others changes that TLD's record alone (IANA keeps contacts per TLD).
CREATE TABLE tld_contacts (
    tld          TEXT NOT NULL REFERENCES tlds (label),
    role         TEXT NOT NULL CHECK (role IN ('admin', 'tech')),
    contact      TEXT NOT NULL REFERENCES contacts (handle),
    organisation TEXT,
    name         TEXT,
    email        TEXT,
    phone        TEXT,
    address      TEXT,
    PRIMARY KEY (tld, role)
) WITHOUT ROWID;
CREATE INDEX tld_contacts_by_contact ON tld_contacts (contact);

-- Root zone publications: each serial is one version of the root zone's delegation data.
CREATE TABLE publications (
    serial       INTEGER PRIMARY KEY,        -- YYYYMMDDNN
    published_at TEXT NOT NULL,              -- RFC 3339, UTC
    source       TEXT NOT NULL,              -- what made it: 'import-zone FILE', a request ticket
    soa_mname    TEXT NOT NULL,
    soa_rname    TEXT NOT NULL,
    soa_refresh  INTEGER NOT NULL,
    soa_retry    INTEGER NOT NULL,
    soa_expire   INTEGER NOT NULL,
    soa_minimum  INTEGER NOT NULL,
    soa_ttl      INTEGER NOT NULL,
    zonemd       BLOB                        -- SHA-384 ZONEMD digest (RFC 8976) of the export
);

-- Delegation data is versioned by publication: a row belongs to every publication from
-- `since` up to, but not including, `until` (NULL: it is still published). Rendering any
-- serial is one query; nothing is ever overwritten.

-- NS records of each TLD.
CREATE TABLE zone_ns (
    tld   TEXT NOT NULL REFERENCES tlds (label),
    host  TEXT NOT NULL,                     -- host name, lower case, no trailing dot
    ttl   INTEGER NOT NULL,
    since INTEGER NOT NULL REFERENCES publications (serial),
    until INTEGER REFERENCES publications (serial)
);
CREATE INDEX zone_ns_current ON zone_ns (tld) WHERE until IS NULL;
CREATE INDEX zone_ns_history ON zone_ns (since, until);
CREATE INDEX zone_ns_by_host ON zone_ns (host) WHERE until IS NULL;

-- The root's own NS records.
CREATE TABLE zone_apex_ns (
    host  TEXT NOT NULL,
    ttl   INTEGER NOT NULL,
    since INTEGER NOT NULL REFERENCES publications (serial),
    until INTEGER REFERENCES publications (serial)
);

-- DS records of each TLD.
CREATE TABLE zone_ds (
    tld         TEXT NOT NULL REFERENCES tlds (label),
    key_tag     INTEGER NOT NULL CHECK (key_tag BETWEEN 0 AND 65535),
    algorithm   INTEGER NOT NULL CHECK (algorithm BETWEEN 1 AND 255),
    digest_type INTEGER NOT NULL CHECK (digest_type BETWEEN 1 AND 255),
    digest      BLOB NOT NULL,
    ttl         INTEGER NOT NULL,
    since       INTEGER NOT NULL REFERENCES publications (serial),
    until       INTEGER REFERENCES publications (serial)
);
CREATE INDEX zone_ds_current ON zone_ds (tld) WHERE until IS NULL;
CREATE INDEX zone_ds_history ON zone_ds (since, until);

-- Glue: the A and AAAA records of name server hosts. They belong to the host, which any
-- number of TLDs may use.
CREATE TABLE zone_glue (
    host    TEXT NOT NULL,
    address TEXT NOT NULL,                   -- IPv4 or IPv6 address, canonical text form
    ttl     INTEGER NOT NULL,
    since   INTEGER NOT NULL REFERENCES publications (serial),
    until   INTEGER REFERENCES publications (serial)
);
CREATE INDEX zone_glue_current ON zone_glue (host) WHERE until IS NULL;
CREATE INDEX zone_glue_history ON zone_glue (since, until);

-- API bearer tokens. The secret is shown once when issued; only its SHA-256 is kept.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,             -- public identifier, e.g. tok-3f9a0c1b
    hash       TEXT NOT NULL UNIQUE,         -- hex SHA-256 of the secret
    role       TEXT NOT NULL CHECK (role IN ('contact', 'staff', 'auditor')),
    subject    TEXT NOT NULL,                -- contact handle (role contact) or a person's name
    created_at TEXT NOT NULL,
    expires_at TEXT,                         -- RFC 3339; NULL: never
    revoked_at TEXT
) WITHOUT ROWID;

-- The audit trail (README.md, The audit trail): every recorded fact, appended in the same transaction
-- as the state change it describes. Nothing ever updates or deletes an event; the triggers
-- below make the database refuse it. Each event's hash covers the previous one, so an edit
-- made outside rootdesk breaks the chain and `rootdesk audit verify` finds it.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY CHECK (seq > 0),  -- 1, 2, 3, ... without gaps
    time          TEXT NOT NULL,             -- RFC 3339, UTC, microseconds
    actor_kind    TEXT NOT NULL,             -- token, cli, system
    actor_id      TEXT NOT NULL,             -- token id, OS user name or component
    actor_role    TEXT,
    actor_contact TEXT,
    source        TEXT,                      -- network address of the caller
    tld           TEXT,                      -- A-label the event is about
    request       TEXT,                      -- change request ticket it is about
    kind          TEXT NOT NULL,             -- zone-imported, tld-records-imported, ...
    payload       TEXT NOT NULL,             -- canonical JSON
    prev_hash     TEXT NOT NULL,             -- hash of event seq - 1 (64 zeros for event 1)
    hash          TEXT NOT NULL              -- SHA-256(prev_hash || canonical bytes), hex
);
CREATE INDEX events_by_time ON events (time);
CREATE INDEX events_by_tld ON events (tld, seq) WHERE tld IS NOT NULL;
CREATE INDEX events_by_request ON events (request, seq) WHERE request IS NOT NULL;
CREATE INDEX events_by_kind ON events (kind, seq);
CREATE INDEX events_by_actor ON events (actor_id, seq);

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: an event is never changed');
END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: an event is never deleted');
END;
-- Each new event continues the chain: the next number, linked to the last hash.
CREATE TRIGGER events_chain BEFORE INSERT ON events
WHEN NEW.seq IS NOT coalesce((SELECT max(seq) FROM events), 0) + 1
  OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM events ORDER BY seq DESC LIMIT 1),
                                   '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN
    SELECT RAISE(ABORT, 'an event must follow the last one: next sequence number, previous hash');
END;

-- Signed checkpoints of the event log: the desk's Ed25519 signature over (seq, hash, time)
-- of an event. Append-only like the events.
CREATE TABLE checkpoints (
    seq       INTEGER PRIMARY KEY REFERENCES events (seq),
    hash      TEXT NOT NULL,                 -- the hash of event seq
    time      TEXT NOT NULL,                 -- when it was signed (RFC 3339, as signed)
    key_id    TEXT NOT NULL,                 -- first 8 bytes of SHA-256(public key), hex
    signature TEXT NOT NULL                  -- Ed25519 signature, hex
);
CREATE TRIGGER checkpoints_append_only_update BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: a checkpoint is never changed');
END;
CREATE TRIGGER checkpoints_append_only_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: a checkpoint is never deleted');
END;
CREATE TRIGGER checkpoints_match BEFORE INSERT ON checkpoints
WHEN NEW.hash IS NOT (SELECT hash FROM events WHERE seq = NEW.seq)
BEGIN
    SELECT RAISE(ABORT, 'a checkpoint must sign the hash of an existing event');
END;

-- Change requests: the projection of their `request-*` events (the events are the truth; this
-- table is rebuilt from them and serves listing and lookups).
CREATE TABLE requests (
    ticket          TEXT PRIMARY KEY,        -- RD-YYYYMMDD-NNNN
    tld             TEXT NOT NULL REFERENCES tlds (label),
    kind            TEXT NOT NULL CHECK (kind IN ('delegation', 'contacts', 'sponsor', 'transfer', 'authority')),
    priority        TEXT NOT NULL CHECK (priority IN ('normal', 'emergency')),
    state           TEXT NOT NULL,
    owner           TEXT,                    -- desk, tld, or NULL when final
    revision        INTEGER NOT NULL,
    submitter       TEXT NOT NULL,           -- the submitting party, as JSON
    submitted_at    TEXT NOT NULL,
    state_since     TEXT NOT NULL,
    idempotency_key TEXT,                    -- the submitter's Idempotency-Key header
    token           TEXT                     -- the token that submitted it
) WITHOUT ROWID;
CREATE INDEX requests_by_tld ON requests (tld, state);
CREATE INDEX requests_by_state ON requests (state);
-- Schema 5: pages of a listing, newest first (a TLD's requests and the open ones by ticket).
CREATE INDEX requests_by_tld_ticket ON requests (tld, ticket);
CREATE INDEX requests_open ON requests (ticket) WHERE owner IS NOT NULL;
CREATE INDEX requests_open_by_tld ON requests (tld, ticket) WHERE owner IS NOT NULL;
-- The next ticket number of a day (`RD-YYYYMMDD-` is 12 characters), without a scan.
CREATE INDEX requests_by_day_number
    ON requests (substr(ticket, 1, 12), CAST(substr(ticket, 13) AS INTEGER));
CREATE UNIQUE INDEX requests_idempotency ON requests (token, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Technical checks the daemon must run: persisted so that a restart resumes them.
CREATE TABLE check_jobs (
    id          INTEGER PRIMARY KEY,
    ticket      TEXT NOT NULL REFERENCES requests (ticket),
    revision    INTEGER NOT NULL,
    phase       TEXT NOT NULL CHECK (phase IN ('initial', 'supplemental')),
    created_at  TEXT NOT NULL,
    finished_at TEXT,
    verdict     TEXT CHECK (verdict IN ('pass', 'warn', 'fail')),
    report      TEXT                         -- the complete check report (JSON)
);
CREATE INDEX check_jobs_pending ON check_jobs (id) WHERE finished_at IS NULL;
CREATE INDEX check_jobs_by_ticket ON check_jobs (ticket);

-- Evidence documents of transfers, by content hash.
CREATE TABLE documents (
    sha256     TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    content    BLOB NOT NULL,
    stored_at  TEXT NOT NULL
) WITHOUT ROWID;

-- Notifications waiting for, or done with, delivery (README.md, Notifications). Each row is written
-- in the same transaction as the state change that asks somebody to act; the daemon's sender
-- delivers it over SMTP. A row is never deleted: delivered_at marks it done.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,     -- also the message's Message-ID
    created         TEXT NOT NULL,           -- RFC 3339, UTC: the state change's time
    recipient       TEXT NOT NULL,           -- one e-mail address
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,           -- plain text; a confirmation link is blanked once delivered
    ticket          TEXT,                    -- the request it is about
    tld             TEXT,
    kind            TEXT NOT NULL,           -- confirm, fix, answer, review, emergency, reminder, completed, ...
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,           -- RFC 3339, UTC
    sending_at      TEXT,                    -- set while handed to the relay; left set by a crash
    last_error      TEXT,
    delivered_at    TEXT                     -- when the relay accepted it
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
CREATE INDEX outbox_by_ticket ON outbox (ticket);

-- Single-use confirmation links e-mailed to required contacts. Only the SHA-256 of the
-- secret is kept, as for API tokens.
CREATE TABLE confirm_links (
    id         TEXT PRIMARY KEY,             -- public identifier, e.g. lnk-3f9a0c1b2d
    hash       TEXT NOT NULL UNIQUE,         -- hex SHA-256 of the secret
    ticket     TEXT NOT NULL,
    revision   INTEGER NOT NULL,             -- the revision it asks consent for
    contact    TEXT NOT NULL,                -- the contact handle it was sent to
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,                -- when the request expires if nobody acts
    used_at    TEXT
) WITHOUT ROWID;
CREATE INDEX confirm_links_by_ticket ON confirm_links (ticket, contact);

-- The sweep (rootdesk sweep, issue 12): every sweep, and each TLD's verdict and findings in it.
CREATE TABLE sweeps (
    id         INTEGER PRIMARY KEY,
    started    TEXT NOT NULL,                -- RFC 3339, UTC
    elapsed_ms INTEGER NOT NULL,
    queries    INTEGER NOT NULL,             -- queries sent to the network
    tlds       INTEGER NOT NULL
);
CREATE TABLE sweep_results (
    sweep      INTEGER NOT NULL REFERENCES sweeps (id),
    tld        TEXT NOT NULL,                -- A-label
    verdict    TEXT NOT NULL CHECK (verdict IN ('pass', 'warn', 'fail', 'not-run')),
    report     TEXT NOT NULL,                -- JSON: checks, not_run, findings (no query log)
    PRIMARY KEY (sweep, tld)
) WITHOUT ROWID;
CREATE INDEX sweep_results_by_tld ON sweep_results (tld, sweep);

-- DS automation from CDS/CDNSKEY (issue 12 part 2): each TLD's `cds` setting (off when absent).
CREATE TABLE tld_cds (
    tld    TEXT PRIMARY KEY REFERENCES tlds (label),
    mode   TEXT NOT NULL CHECK (mode IN ('off', 'with-consent', 'notify-only')),
    set_at TEXT NOT NULL                     -- RFC 3339, UTC
) WITHOUT ROWID;

-- Persons and authority (schema version 7, issue 14). Everyone who logs in is a person:
-- TLD managers, desk staff, auditors. A person's TLD authority is kept apart from the TLD's
-- public contacts above (what RDAP and the public pages show).
CREATE TABLE persons (
    id              TEXT PRIMARY KEY,            -- p-<16 hex>
    name            TEXT NOT NULL,
    email           TEXT NOT NULL UNIQUE,        -- the login, lower case
    role            TEXT NOT NULL CHECK (role IN ('manager', 'staff', 'auditor')),
    status          TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    password_hash   TEXT,                        -- argon2id PHC string; NULL until invited person sets it
    totp_secret     TEXT,                        -- RFC 6238 secret, base32; NULL until enrolled
    totp_last_step  INTEGER,                     -- last time step accepted: no code is used twice
    factor_optional INTEGER NOT NULL DEFAULT 0 CHECK (factor_optional IN (0, 1)), -- auditors, if allowed
    created_at      TEXT NOT NULL,
    changed_at      TEXT NOT NULL,
    credentials_at  TEXT NOT NULL                -- sessions and tokens older than this are dead
) WITHOUT ROWID;
-- Invitations: the link sets the password and enrols the second factor; only its hash is kept.
CREATE TABLE person_invitations (
    hash       TEXT PRIMARY KEY,                 -- hex SHA-256 of the link's secret
    person     TEXT NOT NULL REFERENCES persons (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
) WITHOUT ROWID;
CREATE INDEX person_invitations_by_person ON person_invitations (person);
-- Single-use recovery codes, hashed.
CREATE TABLE recovery_codes (
    person  TEXT NOT NULL REFERENCES persons (id),
    hash    TEXT NOT NULL,
    used_at TEXT,
    PRIMARY KEY (person, hash)
) WITHOUT ROWID;
-- Login sessions: the cookie's secret is never stored, only its hash.
CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,
    person     TEXT NOT NULL REFERENCES persons (id),
    csrf       TEXT NOT NULL,                    -- the session's anti-forgery token
    source     TEXT,
    created_at TEXT NOT NULL,                    -- absolute expiry counts from here
    last_seen  TEXT NOT NULL,                    -- idle expiry counts from here
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_person ON sessions (person);
-- API tokens a person made: they act as that person, within a subset of their permissions.
CREATE TABLE person_tokens (
    id          TEXT PRIMARY KEY,                -- ptok-<hex>
    hash        TEXT NOT NULL UNIQUE,            -- hex SHA-256 of the secret
    person      TEXT NOT NULL REFERENCES persons (id),
    permissions TEXT NOT NULL,                   -- JSON array of permission names
    tlds        TEXT,                            -- JSON array of A-labels; NULL: all the person's
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
) WITHOUT ROWID;
CREATE INDEX person_tokens_by_person ON person_tokens (person);
-- Who is authorised to act for each TLD, in which groups ('admin', 'tech', ...).
CREATE TABLE tld_authority (
    tld    TEXT NOT NULL REFERENCES tlds (label),
    person TEXT NOT NULL REFERENCES persons (id),
    groups TEXT NOT NULL,                        -- JSON array of group names
    PRIMARY KEY (tld, person)
) WITHOUT ROWID;
CREATE INDEX tld_authority_by_person ON tld_authority (person);
-- Each TLD's approval policy (JSON, README "People and authority") and special handling.
-- A row here puts the TLD's authority in force: its persons approve, its contacts' tokens no
-- longer act. Persons listed in tld_authority for a TLD without a row here are invited, not
-- yet authorised.
CREATE TABLE tld_policies (
    tld              TEXT PRIMARY KEY REFERENCES tlds (label),
    policy           TEXT NOT NULL,
    special_handling TEXT,                       -- instructions for the out-of-band check; NULL: none
    changed_at       TEXT NOT NULL
) WITHOUT ROWID;
