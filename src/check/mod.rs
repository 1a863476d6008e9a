//! The DNS technical check (DESIGN §5): does a proposed delegation work, and if not, exactly
//! what is wrong and where?
//!
//! The desk must never publish a broken delegation, and a TLD manager must see in seconds
//! what to fix. This module is a library with no database access: it takes a zone name and
//! a [`Proposal`] (name servers, addresses, DS records) that replaces whatever the parent
//! publishes, like Zonemaster's undelegated test, and returns a [`Report`]. It needs only
//! public DNS: no zone transfer, no access to the TLD's systems. The CLI (`rootdesk check`),
//! the workflow's technical and supplemental checks and the sweep all call [`run_check`].
//!
//! Parts: [`probe`] sends one query and reports exactly what came back; [`engine`] plans the
//! queries and judges the answers; [`dnssec`] and [`referral`] hold the pure DNSSEC and
//! referral-size rules; [`lookup`] resolves names and origin ASes; [`profile`] is the
//! policy; [`report`] the result.

pub mod addresses;
pub mod cds;
pub mod dnssec;
pub mod dsboot;
pub mod engine;
pub mod lookup;
mod names;
pub mod probe;
pub mod profile;
pub mod proposal;
pub mod referral;
pub mod report;
pub mod sweep;

pub use engine::{run_check, run_check_with};
pub use probe::{ProbeHub, Prober, Transport};
pub use profile::{
    AsSource, CheckId, Needs, Profile, ProfileError, QuerySettings, ResolverSettings, Severity,
};
pub use proposal::{Proposal, ProposedNs};
pub use report::{CheckStatus, Finding, Report, Verdict};
pub use sweep::{sweep, CdsSweep, SweepItem, SweepLimits, SweepOutcome};

use crate::registry::{Delegation, TldLabel};

/// Checks a TLD's delegation as the registry holds it (addresses on port 53).
pub async fn check_delegation(
    tld: &TldLabel,
    delegation: &Delegation,
    profile: &Profile,
) -> Report {
    run_check(
        &tld.to_name(),
        &Proposal::from_delegation(delegation),
        profile,
    )
    .await
}
