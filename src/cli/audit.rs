//! `rootdesk audit ...`: checkpoints, the public key, export, verify and reading the log.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use ed25519_dalek::VerifyingKey;
use time::OffsetDateTime;

use super::{emit, Context};
use crate::audit::checkpoint::{
    create_signing_key, format_public_key, key_id, load_signing_key, parse_public_key,
    PublicKeyFormat,
};
use crate::audit::export::{verify_file, ExportFormat};
use crate::audit::{Actor, AuditError, CheckpointOutcome, EventQuery, NewEvent, Report};
use crate::error::{Error, Result};
use crate::store::{sign_checkpoint, verify_store, write_export, Store};

/// The audit trail: signed checkpoints, export and offline verification.
#[derive(Debug, clap::Args)]
pub struct AuditCmd {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Sign a checkpoint of the latest event (the daemon also does this periodically)
    Checkpoint,
    /// Print the public key that verifies checkpoints, for auditors
    PublicKey {
        /// base64 or hex of the 32 raw key bytes, or a PEM SubjectPublicKeyInfo
        #[arg(long, value_enum, default_value = "base64")]
        format: PublicKeyFormat,
    },
    /// Create the signing key of an existing database that has none (never overwrites one)
    CreateKey,
    /// Write events with their hashes and the checkpoints to a file anyone can verify
    Export {
        /// First event to export
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Last event to export [default: the newest]
        #[arg(long)]
        to: Option<u64>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Output file [default: standard output]
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Check every hash, link and checkpoint signature of an export FILE, or of the database
    /// when no FILE is given (`rootdesk audit verify --db PATH`)
    Verify {
        /// An export made by `rootdesk audit export` (JSON Lines or CSV)
        file: Option<PathBuf>,
        /// The desk's public key (base64, hex or PEM), or a file holding it; repeat for
        /// checkpoints signed by earlier keys. Required for a FILE; for the database the
        /// signing key file is used when this is absent.
        #[arg(long = "public-key", value_name = "KEY")]
        public_key: Vec<String>,
        /// Fail, too, when the newest events are not yet covered by a checkpoint
        #[arg(long)]
        require_signed: bool,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// List events, oldest first
    Log {
        #[arg(long)]
        tld: Option<String>,
        #[arg(long)]
        request: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        /// Actor id: token id, user name or component
        #[arg(long)]
        actor: Option<String>,
        /// First event to show
        #[arg(long)]
        from: Option<u64>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
}

/// Where the signing key lives: `audit.signing_key`, beside the database when relative.
pub fn key_path(ctx: &Context) -> PathBuf {
    ctx.config.beside_db(&ctx.config.audit.signing_key)
}

/// Fails if the signing key file exists, so that `init` stops before creating anything.
pub fn refuse_existing_key(path: &Path) -> Result<()> {
    if path.exists() {
        return Err(AuditError::KeyExists(path.to_path_buf()).into());
    }
    Ok(())
}

/// Creates the signing key and records its public half as an `audit-key-created` event.
pub fn create_key(store: &mut Store, path: &Path) -> Result<VerifyingKey> {
    let key = create_signing_key(path)?.verifying_key();
    let event = NewEvent::of(
        Actor::cli(),
        crate::audit::Kind::AuditKeyCreated,
        serde_json::json!({
            "algorithm": "ed25519",
            "key_id": key_id(&key),
            "public_key": format_public_key(&key, PublicKeyFormat::Base64),
        }),
    );
    store.append_events(&[event])?;
    println!(
        "created audit signing key {} (key id {})",
        path.display(),
        key_id(&key)
    );
    Ok(key)
}

impl AuditCmd {
    pub fn run(self, ctx: &Context) -> Result<()> {
        match self.command {
            AuditCommand::Checkpoint => {
                let key = load_signing_key(&key_path(ctx))?;
                let mut store = ctx.open_store()?;
                match sign_checkpoint(&mut store, &key, OffsetDateTime::now_utc())? {
                    CheckpointOutcome::Signed(c) => println!(
                        "signed checkpoint of event {} (hash {}) with key {}",
                        c.seq, c.hash, c.key_id
                    ),
                    CheckpointOutcome::AlreadySigned(c) => println!(
                        "event {} is the newest and already has a checkpoint (signed {})",
                        c.seq, c.time
                    ),
                    CheckpointOutcome::NoEvents => {
                        println!("the event log is empty; nothing to sign")
                    }
                }
            }
            AuditCommand::PublicKey { format } => {
                let key = load_signing_key(&key_path(ctx))?.verifying_key();
                let text = format_public_key(&key, format);
                println!("{}", text.trim_end());
            }
            AuditCommand::CreateKey => {
                let path = key_path(ctx);
                refuse_existing_key(&path)?;
                let mut store = ctx.open_store()?;
                create_key(&mut store, &path)?;
            }
            AuditCommand::Export {
                from,
                to,
                format,
                output,
            } => {
                let store = ctx.open_store()?;
                let header = match &output {
                    Some(path) => {
                        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
                        let mut out = std::io::BufWriter::new(file);
                        let header = write_export(&store, from, to, format, &mut out, path)?;
                        out.into_inner()
                            .map_err(|e| Error::io(path, e.into_error()))?
                            .sync_all()
                            .map_err(|e| Error::io(path, e))?;
                        header
                    }
                    None => {
                        let stdout = std::io::stdout();
                        let mut out = std::io::BufWriter::new(stdout.lock());
                        match write_export(
                            &store,
                            from,
                            to,
                            format,
                            &mut out,
                            Path::new("(stdout)"),
                        ) {
                            // The reader went away (`| head`): not an error.
                            Err(AuditError::Io { source, .. })
                                if source.kind() == std::io::ErrorKind::BrokenPipe =>
                            {
                                return Ok(());
                            }
                            other => other?,
                        }
                    }
                };
                if let Some(path) = output {
                    eprintln!(
                        "exported events {}..={} ({} events, {} checkpoints) to {}",
                        header.from,
                        header.to,
                        header.events,
                        header.checkpoints,
                        path.display()
                    );
                }
            }
            AuditCommand::Verify {
                file,
                public_key,
                require_signed,
                json,
            } => {
                let mut keys = public_key
                    .iter()
                    .map(|k| read_public_key(k))
                    .collect::<Result<Vec<_>>>()?;
                let report = match &file {
                    Some(path) => {
                        if keys.is_empty() {
                            return Err(Error::Usage(
                                "verifying an export needs the desk's public key: --public-key KEY (from `rootdesk audit public-key`)".into(),
                            ));
                        }
                        verify_file(path, &keys)?
                    }
                    None => {
                        let store = ctx.open_store()?;
                        if keys.is_empty() {
                            let path = key_path(ctx);
                            let key = load_signing_key(&path).map_err(|e| {
                                Error::Failed(format!(
                                    "{e}\n(or give the public key with --public-key KEY)"
                                ))
                            })?;
                            keys.push(key.verifying_key());
                        }
                        verify_store(&store, &keys)?
                    }
                };
                print_report(&report, json)?;
                if let Some(problem) = report.first_problem() {
                    return Err(Error::Failed(format!(
                        "verification FAILED: first bad event {}: {}",
                        problem.seq,
                        problem.kind.label()
                    )));
                }
                if require_signed && report.has_unsigned_tail() {
                    return Err(Error::Failed(
                        "verification FAILED: the newest events are not covered by a checkpoint (--require-signed)".into(),
                    ));
                }
            }
            AuditCommand::Log {
                tld,
                request,
                kind,
                actor,
                from,
                limit,
                json,
            } => {
                let store = ctx.open_store()?;
                let events = store.events(&EventQuery {
                    from_seq: from,
                    tld,
                    request,
                    kind,
                    actor,
                    limit: Some(limit),
                    ..Default::default()
                })?;
                let mut text = String::new();
                for e in &events {
                    if json {
                        text.push_str(&serde_json::to_string(e).map_err(Error::failed)?);
                        text.push('\n');
                    } else {
                        text.push_str(&format!(
                            "{:>8}  {}  {}:{}  {}  {}{}  {}\n",
                            e.seq,
                            crate::store::timestamp(e.time),
                            e.actor.kind,
                            e.actor.id,
                            e.kind,
                            e.tld.as_deref().unwrap_or("-"),
                            e.request
                                .as_deref()
                                .map(|r| format!(" {r}"))
                                .unwrap_or_default(),
                            e.payload
                        ));
                    }
                }
                emit(&text)?;
            }
        }
        Ok(())
    }
}

/// A public key given on the command line: a file holding it, or the key itself.
fn read_public_key(arg: &str) -> Result<VerifyingKey> {
    let path = Path::new(arg);
    let text = if path.is_file() {
        std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?
    } else {
        arg.to_string()
    };
    Ok(parse_public_key(&text)?)
}

fn print_report(report: &Report, json: bool) -> Result<()> {
    let text = if json {
        serde_json::to_string_pretty(report).map_err(Error::failed)? + "\n"
    } else {
        report.to_string()
    };
    emit(&text)
}
