//! `import-zone`, `import-tlds` and `export-zone`.

use std::path::PathBuf;

use clap::Args;
use time::OffsetDateTime;

use super::listing::Listing;
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

/// Write the root zone delegation data as a master file, with its ZONEMD digest
#[derive(Debug, Args)]
pub struct ExportZone {
    /// Write to this file instead of standard output
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The publication to render [default: the current one]
    #[arg(long, conflicts_with = "diff")]
    pub serial: Option<u32>,
    /// List per TLD the NS, DS and glue records added and removed from serial FROM to TO,
    /// with the request ticket that caused each change, instead of the master file
    #[arg(long, num_args = 2, value_names = ["FROM", "TO"])]
    pub diff: Option<Vec<u32>>,
    /// Output format of --diff
    #[arg(long, value_enum, default_value_t = Format::Table, requires = "diff")]
    pub format: Format,
}

impl ExportZone {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let store = ctx.open_store()?;
        if let Some(serials) = &self.diff {
            let (from, to) = match serials.as_slice() {
                [from, to] => (*from, *to),
                _ => return Err(Error::Usage("--diff takes two serials: FROM TO".into())),
            };
            let diff = store.serial_diff(from, to)?;
            let text = match self.format {
                Format::Json => {
                    let mut t = serde_json::to_string_pretty(&diff).map_err(Error::failed)?;
                    t.push('\n');
                    t
                }
                Format::Csv => diff_csv(&diff)?,
                Format::Table => diff_table(&diff),
            };
            return write_out(self.output.as_ref(), &text);
        }
        let text = export_text(&store, self.serial)?;
        write_out(self.output.as_ref(), &text)
    }
}

fn write_out(output: Option<&PathBuf>, text: &str) -> Result<()> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| Error::io(path, e)),
        None => super::emit(text),
    }
}

/// The master file of publication `serial` (the current one for `None`), checked against the
/// digest recorded when it was published.
pub(super) fn export_text(store: &crate::store::Store, serial: Option<u32>) -> Result<String> {
    let zone = store.zone(serial)?.ok_or_else(|| match serial {
        Some(s) => Error::Failed(format!(
            "there is no publication with serial {s}; `rootdesk export-zone` without --serial shows the current one"
        )),
        None => Error::Failed(
            "nothing has been published yet: import a root zone with `rootdesk import-zone FILE`".into(),
        ),
    })?;
    let recorded = store.recorded_digest(zone.soa.serial)?;
    zonefile::export_root_zone(&zone, recorded.as_deref()).map_err(Error::failed)
}

fn diff_table(diff: &crate::store::SerialDiff) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "changes from serial {} to {}: {} TLDs",
        diff.from,
        diff.to,
        diff.tlds.len()
    );
    for tld in &diff.tlds {
        match &tld.u_label {
            Some(u) => {
                let _ = writeln!(out, "{} ({u})", tld.tld);
            }
            None => {
                let _ = writeln!(out, "{}", tld.tld);
            }
        }
        for (sign, changes) in [("+", &tld.added), ("-", &tld.removed)] {
            for c in changes {
                let _ = writeln!(
                    out,
                    "  {sign} {} {} {}  (serial {}, {})",
                    c.owner,
                    c.rtype,
                    c.data,
                    c.serial,
                    c.ticket
                        .as_ref()
                        .map_or_else(|| c.source.clone(), |t| format!("ticket {t}"))
                );
            }
        }
    }
    out
}

fn diff_csv(diff: &crate::store::SerialDiff) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "tld", "change", "owner", "type", "data", "serial", "ticket", "source",
    ])
    .map_err(Error::failed)?;
    for tld in &diff.tlds {
        for (change, list) in [("added", &tld.added), ("removed", &tld.removed)] {
            for c in list {
                w.write_record([
                    tld.tld.as_str(),
                    change,
                    &c.owner,
                    c.rtype,
                    &c.data,
                    &c.serial.to_string(),
                    c.ticket.as_deref().unwrap_or(""),
                    &c.source,
                ])
                .map_err(Error::failed)?;
            }
        }
    }
    let bytes = w.into_inner().map_err(Error::failed)?;
    String::from_utf8(bytes).map_err(Error::failed)
}

/// Root zone publications: list them, verify their digests
#[derive(Debug, clap::Args)]
pub struct PublicationCmd {
    #[command(subcommand)]
    pub command: PublicationCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PublicationCommand {
    /// Every publication: serial, time, source and ZONEMD digest
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Recompute a publication's ZONEMD digest from the stored delegation data and compare it
    /// with the digest recorded when it was published (exit status 1 on a mismatch)
    Verify {
        /// The publication [default: the current one]
        #[arg(long)]
        serial: Option<u32>,
        /// Verify every publication
        #[arg(long, conflicts_with = "serial")]
        all: bool,
    },
}

impl PublicationCmd {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let store = ctx.open_store()?;
        match self.command {
            PublicationCommand::List { format } => {
                let list = store.publications()?;
                let mut table = Listing::new(&["SERIAL", "PUBLISHED", "ZONEMD", "SOURCE"]);
                for p in &list {
                    table.row(vec![
                        p.serial.to_string(),
                        p.published_at.clone(),
                        p.zonemd.clone().unwrap_or_else(|| "(no digest)".into()),
                        p.source.clone(),
                    ]);
                }
                super::emit(&table.render(format, &list)?)
            }
            PublicationCommand::Verify { serial, all } => {
                let serials: Vec<u32> = if all {
                    store.publications()?.iter().map(|p| p.serial).collect()
                } else {
                    match serial.or(store.current_serial()?) {
                        Some(s) => vec![s],
                        None => {
                            return Err(Error::Failed(
                                "nothing has been published yet: import a root zone with `rootdesk import-zone FILE`".into(),
                            ))
                        }
                    }
                };
                let mut bad = Vec::new();
                for s in serials {
                    match verify_serial(&store, s) {
                        Ok(line) => println!("{line}"),
                        Err(e) => {
                            eprintln!("{e}");
                            bad.push(s);
                        }
                    }
                }
                if bad.is_empty() {
                    Ok(())
                } else {
                    Err(Error::Failed(format!(
                        "{} publication(s) failed verification: {}",
                        bad.len(),
                        bad.iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            }
        }
    }
}

/// One serial's verification: its line for the user, or why it failed.
fn verify_serial(store: &crate::store::Store, serial: u32) -> Result<String> {
    let zone = store.zone(Some(serial))?.ok_or_else(|| {
        Error::Failed(format!(
            "serial {serial}: there is no such publication (`rootdesk publication list` shows them)"
        ))
    })?;
    let computed = zonefile::zone_digest(&zone).map_err(Error::failed)?;
    let hex = |d: &[u8]| data_encoding::HEXUPPER.encode(d);
    match store.recorded_digest(serial)? {
        None => Err(Error::Failed(format!(
            "serial {serial}: no digest was recorded for it; `rootdesk migrate` records one"
        ))),
        Some(recorded) if recorded == computed => Ok(format!(
            "serial {serial}: OK, ZONEMD SHA-384 {} matches the digest recorded at publication",
            hex(&computed)
        )),
        Some(recorded) => Err(Error::Failed(format!(
            "serial {serial}: MISMATCH: the stored delegation data gives ZONEMD SHA-384 {}, \
             but {} was recorded at publication; the history was changed after publication",
            hex(&computed),
            hex(&recorded)
        ))),
    }
}

pub(super) fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(Error::failed)?;
    text.push('\n');
    super::emit(&text)
}
