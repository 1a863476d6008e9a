//! rootdesk: the change desk for the DNS root zone's top-level domains.
//!
//! The crate mirrors the design (DESIGN §9). Inner rooms first, then the door, then the edges:
//! - [`registry`]: the model (TLDs, contacts, delegations), its validation and diffs; no I/O.
//! - [`workflow`]: change requests: states, owners, the transition table, consent; no I/O.
//! - [`check`]: the DNS technical check of a proposed delegation (DESIGN §5); no database.
//!   [`check::cds`] reads and judges a TLD's CDS/CDNSKEY records (DS automation);
//!   [`check::dsboot`] validates RFC 9615 bootstrapping signals for unsigned TLDs.
//! - [`store`]: SQLite, the only module that speaks SQL: schema, migrations, queries, the one
//!   event append ([`store::append_event`]), and the audit log's drivers (checkpoint signing,
//!   export, verification of the database) over audit's rules.
//! - [`audit`]: the hash-chained event log's rules: canonical JSON, checkpoints, export,
//!   verify, and the catalogue of event kinds ([`audit::kinds`]); it imports no store.
//! - [`desk`]: the only door to change anything. [`desk::Desk`] holds the database handles; its
//!   command pipeline (load once, permit, decide, append events + projection + follow-up in one
//!   transaction), the permission gate ([`desk::gate`]), check jobs and scheduled work
//!   ([`desk::jobs`]), confirmation links ([`desk::links`]), and DS automation's acting side
//!   ([`desk::cds`]: requests opened from CDS scans, problem reports, the hold of
//!   notify-only requests), and the named reads the API, RDAP and the portal ask
//!   ([`desk::reads`]).
//! - [`people`]: persons (issue 14): argon2id passwords, TOTP second factor, recovery codes,
//!   random secrets and the login brute-force limits; no I/O (the desk's `desk::people` stores
//!   and audits them).
//! - [`daemon`]: the scheduler: pending checks, reminders and expiry, the delegation sweep,
//!   checkpoints, and the outbox sender (SMTP delivery, [`daemon::sender`]; the outbox rows it
//!   claims and records through [`desk::outbox`]); it asks the desk
//!   on a clock.
//! - [`watch`]: after each sweep, who is told that a delegation fails, still fails or works.
//! - [`notify`]: the outbox's messages and confirmation links to issue (DESIGN §8.3); it
//!   knows nothing of the desk.
//! - [`metrics`]: turnaround from the events: intervals, service levels, reports, /metrics,
//!   simulation.
//! - [`changelog`]: the public monthly change log of requests that reached a final state.
//! - [`zonefile`]: root zone master files in and out, through hickory's parser and encoder.
//! - [`config`]: settings from defaults, a TOML file and `ROOTDESK_*` variables.
//! - [`api`]: the HTTP API under `/v1` (wire types, error labels in [`api::error::Label`]), and
//!   public RDAP under `/rdap` ([`api::rdap`]); the server with its connection bounds.
//! - [`portal`]: the web portal at `/`: server-rendered pages (maud) over the same desk, with a
//!   strict CSP and CSRF-guarded forms ([`portal::csrf`]): public pages, the login, and a TLD
//!   manager's pages ([`portal::manager`]).
//! - [`http`]: what the API and the portal share on the wire (peer address, session cookie),
//!   so that neither imports the other.
//! - [`cli`]: the clap command tree; `main.rs` only maps its result to an exit code.
//! - [`lab`]: lab name servers for the demo and tests; [`error`]: the process edge's errors
//!   and exit codes.

pub mod api;
pub mod audit;

pub mod changelog;
pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod desk;
pub mod error;
pub mod http;
pub mod lab;
pub mod metrics;
pub mod notify;
pub mod people;
pub mod portal;
pub mod registry;
pub mod store;
pub mod watch;
pub mod workflow;
pub mod zonefile;
