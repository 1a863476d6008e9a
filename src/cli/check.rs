//! `rootdesk check`: the technical check from the command line, in the convention of
//! zonemaster-cli's undelegated mode (`--ns NAME/ADDR`, `--ds ...`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::Context;
use crate::check::{self, Profile, Proposal, Verdict};
use crate::error::{Error, Result};
use crate::registry::{DsRecord, TldLabel};

/// Output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Check a proposed delegation against the name server requirements
///
/// Exit status: 0 for pass or warn, 1 for fail, 2 for a usage error, 3 for not-run (some
/// check could not be evaluated: no server answered, or the desk itself failed).
#[derive(Debug, Args)]
pub struct CheckCmd {
    /// The zone to check (a TLD such as `de`, or any zone name such as `test.`)
    #[arg(required_unless_present = "tld", conflicts_with = "tld")]
    pub zone: Option<String>,
    /// A name server, optionally with an address (ADDR may carry a port: 127.0.0.1:5300,
    /// [::1]:5300); repeat for more servers or more addresses of one server
    #[arg(
        long = "ns",
        value_name = "NAME[/ADDR]",
        required_unless_present = "tld"
    )]
    pub ns: Vec<String>,
    /// A DS record, 'KEYTAG ALGORITHM DIGESTTYPE HEXDIGEST' (commas also separate); repeatable
    #[arg(long = "ds", value_name = "DS", conflicts_with = "tld")]
    pub ds: Vec<String>,
    /// Check the delegation the database currently holds for this TLD
    #[arg(long, value_name = "LABEL", conflicts_with = "ns")]
    pub tld: Option<String>,
    /// Policy profile (TOML) [default: the config's check.profile, else the built-in one]
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

impl CheckCmd {
    pub fn run(self, ctx: &Context) -> Result<ExitCode> {
        let profile = match self.profile.as_ref().or(ctx.config.check.profile.as_ref()) {
            Some(path) => Profile::load(path).map_err(|e| Error::Usage(e.to_string()))?,
            None => Profile::default(),
        };
        let (zone, proposal) = match &self.tld {
            Some(label) => {
                let tld = TldLabel::parse(label)?;
                let store = ctx.open_store()?;
                let delegation = store.current_delegation(&tld)?.ok_or_else(|| {
                    Error::Usage(format!("the database holds no delegation for {tld}"))
                })?;
                (tld.to_name(), Proposal::from_delegation(&delegation))
            }
            None => {
                let zone = self.zone.as_deref().unwrap_or_default();
                let zone = check::proposal::parse_name(zone)
                    .map_err(|e| Error::Usage(format!("zone: {e}")))?;
                let mut proposal = Proposal::default();
                for arg in &self.ns {
                    proposal
                        .add_arg(arg)
                        .map_err(|e| Error::Usage(format!("--ns {arg}: {e}")))?;
                }
                for arg in &self.ds {
                    let text = arg.replace(',', " ");
                    let ds = DsRecord::parse(&text)
                        .map_err(|e| Error::Usage(format!("--ds {arg}: {e}")))?;
                    if !proposal.ds.contains(&ds) {
                        proposal.ds.push(ds);
                    }
                }
                (zone, proposal)
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(Error::failed)?;
        let report = runtime.block_on(check::run_check(&zone, &proposal, &profile));
        match self.format {
            Format::Json => {
                let text = serde_json::to_string_pretty(&report).map_err(Error::failed)?;
                super::emit(&format!("{text}\n"))?;
            }
            Format::Text => super::emit(&report.to_text())?,
        }
        Ok(exit_code(report.verdict))
    }
}

/// The exit status for a verdict: 0 pass or warn, 1 fail, 3 not-run.
pub fn exit_code(verdict: Verdict) -> ExitCode {
    match verdict {
        Verdict::Pass | Verdict::Warn => ExitCode::SUCCESS,
        Verdict::Fail => ExitCode::from(1),
        Verdict::NotRun => ExitCode::from(3),
    }
}
