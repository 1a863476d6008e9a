//! rootdesk: the change desk for the DNS root zone's top-level domains.
//!
//! The crate mirrors the design (DESIGN §9):
//! - [`registry`]: the model (TLDs, contacts, delegations), its validation and diffs; no I/O.
//! - [`store`]: SQLite, the only module that speaks SQL: schema, migrations, queries.
//! - [`workflow`]: change requests: states, owners, the transition table, consent; no I/O.
//! - [`check`]: the DNS technical check of a proposed delegation (DESIGN §5); no database.
//! - [`zonefile`]: root zone master files in and out, through hickory's parser and encoder.
//! - [`config`]: settings from defaults, a TOML file and `ROOTDESK_*` variables.
//! - [`audit`]: the hash-chained event log's rules: canonical JSON, checkpoints, export, verify.
//! - [`changelog`]: the public monthly change log of requests that reached a final state.
//! - [`metrics`]: turnaround from the events: intervals, service levels, reports, /metrics.
//! - [`notify`]: the outbox, SMTP delivery and confirmation links (DESIGN §8.3).
//! - [`watch`]: after each sweep, who is told that a delegation fails, still fails or works.
//! - [`api`]: the HTTP API under `/v1`, and public RDAP under `/rdap` ([`api::rdap`]).
//! - [`cli`]: the clap command tree; `main.rs` only maps its result to an exit code.

pub mod api;
pub mod audit;
pub mod changelog;
pub mod check;
pub mod cli;
pub mod config;
pub mod desk;
pub mod error;
pub mod lab;
pub mod metrics;
pub mod notify;
pub mod registry;
pub mod store;
pub mod watch;
pub mod workflow;
pub mod zonefile;
