//! The command tree. Each subcommand is a struct with its own `run`; `main.rs` only maps the
//! result to an exit status.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

pub mod audit;
mod changelog;
mod check;
pub mod metrics;
mod outbox;
pub mod person;
pub use outbox::outbox_listing;
pub mod listing;
pub mod request;
mod serve;
mod sweep;
mod tld;
mod token;
mod zone;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "rootdesk",
    version,
    about = "The root zone change desk for top-level domains"
)]
pub struct Cli {
    /// The SQLite database file [default: ./rootdesk.db]
    #[arg(long, global = true, env = "ROOTDESK_DB")]
    pub db: Option<PathBuf>,
    /// Settings file (TOML; see rootdesk.example.toml)
    #[arg(long, global = true, env = "ROOTDESK_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new database (and the audit signing key)
    Init,
    /// Upgrade a database to this version's schema
    Migrate,
    ImportZone(zone::ImportZone),
    ImportTlds(zone::ImportTlds),
    ExportZone(zone::ExportZone),
    Publication(zone::PublicationCmd),
    Tld(tld::TldCmd),
    Token(token::TokenCmd),
    Person(person::PersonCmd),
    Check(check::CheckCmd),
    Sweep(sweep::SweepCmd),
    Serve(serve::Serve),
    Request(request::RequestCmd),
    /// Copy the database with SQLite's online backup (safe while the daemon runs)
    Backup {
        /// The copy to write; it must not exist yet
        file: PathBuf,
    },
    /// The audit trail: checkpoints, public key, export, verify, log
    Audit(audit::AuditCmd),
    Metrics(metrics::MetricsCmd),
    Simulate(metrics::SimulateCmd),
    /// Notifications waiting for delivery or delivered: list, retry
    Outbox(outbox::OutboxCmd),
    Changelog(changelog::ChangelogCmd),
}

/// Output formats of list and report commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Writes command output to standard output. A reader that went away (`| head`) is not an
/// error.
pub(crate) fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("standard output", e))
        }
        _ => Ok(()),
    }
}

/// What every command gets: the settings, with the database path resolved.
pub struct Context {
    pub config: Config,
    /// Whether the database path was given (`--db` or `ROOTDESK_DB`), not a default.
    pub db_given: bool,
}

impl Context {
    pub fn open_store(&self) -> Result<Store> {
        Ok(Store::open(&self.config.db)?)
    }
}

impl Cli {
    pub fn run(self) -> Result<ExitCode> {
        let mut config = Config::load(self.config.as_deref())?;
        let db_given = self.db.is_some();
        if let Some(db) = self.db {
            config.db = db;
        }
        let mut ctx = Context { config, db_given };
        match self.command {
            Command::Init => {
                // An existing key file is refused before a new database is created, so that
                // the refusal leaves nothing behind; an existing database is refused first.
                let key_path = audit::key_path(&ctx);
                let db_exists = ctx.config.db.exists();
                if !db_exists {
                    audit::refuse_existing_key(&key_path)?;
                }
                let mut store = Store::create(&ctx.config.db)?;
                if db_exists {
                    audit::refuse_existing_key(&key_path)?;
                }
                println!(
                    "created {} (schema version {})",
                    store.path().display(),
                    store.schema_version()?
                );
                audit::create_key(&mut store, &key_path)?;
            }
            Command::Migrate => {
                let (store, from) = Store::migrate(&ctx.config.db)?;
                let to = store.schema_version()?;
                if from == to {
                    println!(
                        "{} is at schema version {to}; nothing to do",
                        store.path().display()
                    );
                } else {
                    println!(
                        "{} migrated from schema version {from} to {to}",
                        store.path().display()
                    );
                    if from < 7 && to >= 7 {
                        person::persons_from_contacts(&ctx, store)?;
                    }
                }
            }
            Command::Audit(cmd) => cmd.run(&ctx)?,
            Command::Metrics(cmd) => cmd.run(&ctx)?,
            Command::Simulate(cmd) => cmd.run(&ctx)?,
            Command::Outbox(cmd) => cmd.run(&ctx)?,
            Command::Changelog(cmd) => cmd.run(&ctx)?,
            Command::ImportZone(cmd) => cmd.run(&ctx)?,
            Command::ImportTlds(cmd) => cmd.run(&ctx)?,
            Command::ExportZone(cmd) => cmd.run(&ctx)?,
            Command::Publication(cmd) => cmd.run(&ctx)?,
            Command::Tld(cmd) => cmd.run(&ctx)?,
            Command::Token(cmd) => cmd.run(&ctx)?,
            Command::Person(cmd) => cmd.run(&ctx)?,
            Command::Check(cmd) => return cmd.run(&ctx),
            Command::Sweep(cmd) => return cmd.run(&ctx),
            Command::Serve(cmd) => cmd.run(&mut ctx)?,
            Command::Request(cmd) => cmd.run(&ctx)?,
            Command::Backup { file } => {
                if file.exists() {
                    return Err(Error::Failed(format!(
                        "{} exists already; name a new file for the backup",
                        file.display()
                    )));
                }
                ctx.open_store()?.backup(&file)?;
                println!(
                    "backed up {} to {}",
                    ctx.config.db.display(),
                    file.display()
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
