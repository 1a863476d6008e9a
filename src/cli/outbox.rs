//! `outbox list|retry`: the notifications the daemon delivers, for operators, on the
//! database directly (safe beside a running daemon: SQLite WAL, one short write).

use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::zone::print_json;
use super::{emit, Context, Format};
use crate::audit::{Actor, NewEvent};
use crate::error::{Error, Result};
use crate::store::{self, StoreError};

/// See and retry the notifications of the outbox
#[derive(Debug, Args)]
pub struct OutboxCmd {
    #[command(subcommand)]
    pub command: OutboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List notifications, newest first
    List {
        /// Only those not delivered yet
        #[arg(long)]
        pending: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Make undelivered notifications due now (the sender picks them up at its next poll)
    Retry {
        /// The notification's id; all undelivered ones with --all
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        #[arg(long)]
        all: bool,
    },
}

fn csv(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

impl OutboxCmd {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let mut store = ctx.open_store()?;
        match self.command {
            OutboxCommand::List {
                pending,
                limit,
                format,
            } => {
                let rows = store.outbox(pending, limit)?;
                match format {
                    Format::Json => print_json(&rows),
                    Format::Csv => {
                        let mut out = String::from(
                            "id,created,kind,ticket,recipient,attempts,next_attempt_at,delivered_at,last_error,subject\n",
                        );
                        for n in &rows {
                            out.push_str(&format!(
                                "{},{},{},{},{},{},{},{},{},{}\n",
                                n.id,
                                n.created,
                                n.kind,
                                n.ticket.as_deref().unwrap_or(""),
                                csv(&n.recipient),
                                n.attempts,
                                n.next_attempt_at,
                                n.delivered_at.as_deref().unwrap_or(""),
                                csv(n.last_error.as_deref().unwrap_or("")),
                                csv(&n.subject)
                            ));
                        }
                        emit(&out)
                    }
                    Format::Table => {
                        let mut out = format!(
                            "{:<6} {:<10} {:<16} {:<30} {:>3} {}\n",
                            "ID", "KIND", "TICKET", "RECIPIENT", "TRY", "STATUS"
                        );
                        for n in &rows {
                            let status = match (&n.delivered_at, &n.last_error) {
                                (Some(d), _) => format!("delivered {d}"),
                                (None, Some(e)) => {
                                    format!("waiting until {}: {e}", n.next_attempt_at)
                                }
                                (None, None) => format!("due {}", n.next_attempt_at),
                            };
                            out.push_str(&format!(
                                "{:<6} {:<10} {:<16} {:<30} {:>3} {status}\n",
                                n.id,
                                n.kind,
                                n.ticket.as_deref().unwrap_or("-"),
                                n.recipient,
                                n.attempts
                            ));
                        }
                        emit(&out)
                    }
                }
            }
            OutboxCommand::Retry { id, all } => {
                let id = if all { None } else { id };
                if let Some(id) = id {
                    match store.notification(id)? {
                        None => return Err(Error::Failed(format!("no notification {id}"))),
                        Some(n) if n.delivered_at.is_some() => {
                            return Err(Error::Failed(format!(
                            "notification {id} was delivered already ({}); it is never sent twice",
                            n.delivered_at.unwrap_or_default()
                        )))
                        }
                        Some(_) => {}
                    }
                }
                let now = OffsetDateTime::now_utc();
                let count = store.write(|tx| {
                    let count = store::retry_notifications(tx, id, now)?;
                    let payload = match id {
                        Some(id) => serde_json::json!({ "outbox": id, "count": count }),
                        None => serde_json::json!({ "count": count }),
                    };
                    store::append_event(
                        tx,
                        &NewEvent::of(
                            Actor::cli(),
                            crate::audit::Kind::NotificationRetryRequested,
                            payload,
                        )
                        .at(now),
                    )?;
                    Ok::<_, StoreError>(count)
                })?;
                emit(&format!("{count} notification(s) due now\n"))
            }
        }
    }
}
