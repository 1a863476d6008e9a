//! `changelog`: the public change log of one month (src/changelog.rs), read from the database.

use clap::Args;

use super::{emit, Context, Format};
use crate::changelog::{build, Month};
use crate::error::{Error, Result};

/// The public change log: requests that reached a final state in a month
#[derive(Debug, Args)]
pub struct ChangelogCmd {
    /// The month, YYYY-MM
    #[arg(long)]
    pub month: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

impl ChangelogCmd {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let month = Month::parse(&self.month).map_err(Error::Usage)?;
        let store = ctx.open_store()?;
        let log = build(&store, month)?;
        match self.format {
            Format::Table => emit(&log.to_table()),
            Format::Csv => emit(&log.to_csv()),
            Format::Json => emit(&format!(
                "{}\n",
                serde_json::to_string_pretty(&log).map_err(|e| Error::Failed(e.to_string()))?
            )),
        }
    }
}
