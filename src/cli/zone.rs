//! `import-zone`, `import-tlds` and `export-zone`.

use std::path::PathBuf;

use clap::Args;
use time::OffsetDateTime;

use super::{Context, Format};
use crate::audit::Actor;
use crate::error::{Error, Result};
use crate::registry::parse_tld_lines;
use crate::store::ImportOutcome;
use crate::zonefile;

/// Set every TLD's delegation from a root zone master file
#[derive(Debug, Args)]
pub struct ImportZone {
    /// The master file (RFC 1035 syntax), e.g. IANA's root.zone
    pub file: PathBuf,
    /// Output format of the report
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

impl ImportZone {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let zone = zonefile::read_root_zone(&self.file)?;
        let mut store = ctx.open_store()?;
        let source = format!("import-zone {}", self.file.display());
        let outcome =
            store.import_zone(&zone, &source, &Actor::cli(), OffsetDateTime::now_utc())?;
        if self.format == Format::Json {
            return print_json(&outcome);
        }
        match outcome {
            ImportOutcome::Unchanged { serial } => println!(
                "{}: same delegation data as the current publication (serial {serial}); nothing changed",
                self.file.display()
            ),
            ImportOutcome::Published {
                serial,
                previous,
                diff,
                created_tlds,
            } => {
                match previous {
                    Some(p) => println!("published serial {serial} (was {p})"),
                    None => println!("published serial {serial} (first publication)"),
                }
                println!(
                    "{} TLDs delegated, {} added, {} removed, {} changed, {} with TTL changes only",
                    zone.tlds.len(),
                    diff.added.len(),
                    diff.removed.len(),
                    diff.changed.len(),
                    diff.ttl_changed.len()
                );
                if previous.is_some() {
                    for label in &diff.added {
                        println!("added {label}");
                    }
                    for label in &diff.removed {
                        println!("removed {label}");
                    }
                }
                for (label, changes) in &diff.changed {
                    if previous.is_some() {
                        println!("{label}:");
                        for line in changes.to_string().lines() {
                            println!("  {line}");
                        }
                    }
                }
                if diff.apex_changed && previous.is_some() {
                    println!("the root's own NS set or its addresses changed");
                }
                if !created_tlds.is_empty() {
                    println!(
                        "created {} TLD records from the zone alone; `rootdesk import-tlds` adds their details",
                        created_tlds.len()
                    );
                }
            }
        }
        Ok(())
    }
}

/// Add or update TLD records and contacts from a JSON Lines file
#[derive(Debug, Args)]
pub struct ImportTlds {
    /// One JSON object per line, in the format of IANA's Root Zone Database extract
    pub file: PathBuf,
    /// Output format of the report
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

impl ImportTlds {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let text = std::fs::read_to_string(&self.file).map_err(|e| Error::io(&self.file, e))?;
        let records = parse_tld_lines(&text).map_err(|e| {
            Error::ZoneFile(zonefile::ZoneFileError {
                file: self.file.clone(),
                line: e.line,
                reason: e.reason,
            })
        })?;
        let mut store = ctx.open_store()?;
        let report = store.import_tlds(&records, &Actor::cli(), OffsetDateTime::now_utc())?;
        if self.format == Format::Json {
            return print_json(&report);
        }
        if report.is_empty() {
            println!(
                "{}: all {} TLD records are as in the database; nothing changed",
                self.file.display(),
                report.unchanged
            );
        } else {
            println!(
                "{}: {} TLD records added, {} updated, {} unchanged",
                self.file.display(),
                report.added.len(),
                report.updated.len(),
                report.unchanged
            );
            if report.updated.len() <= 50 {
                for label in &report.updated {
                    println!("updated {label}");
                }
            }
        }
        Ok(())
    }
}

/// Write the root zone delegation data as a master file
#[derive(Debug, Args)]
pub struct ExportZone {
    /// Write to this file instead of standard output
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The publication to render [default: the current one]
    #[arg(long)]
    pub serial: Option<u32>,
}

impl ExportZone {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let store = ctx.open_store()?;
        let zone = store.zone(self.serial)?.ok_or_else(|| match self.serial {
            Some(s) => Error::Failed(format!(
                "there is no publication with serial {s}; `rootdesk export-zone` without --serial shows the current one"
            )),
            None => Error::Failed(
                "nothing has been published yet: import a root zone with `rootdesk import-zone FILE`".into(),
            ),
        })?;
        let text = zonefile::render_root_zone(&zone);
        match &self.output {
            Some(path) => std::fs::write(path, text).map_err(|e| Error::io(path, e))?,
            None => super::emit(&text)?,
        }
        Ok(())
    }
}

pub(super) fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(Error::failed)?;
    text.push('\n');
    super::emit(&text)
}
