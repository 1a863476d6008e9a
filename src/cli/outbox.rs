//! `outbox list|retry`: the notifications the daemon delivers, for operators, on the
//! database directly (safe beside a running daemon: SQLite WAL, one short write).

use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::listing::Listing;
use super::{emit, Context, Format};
use crate::audit::{Actor, NewEvent};
use crate::error::{Error, Result};
use crate::store::{self, Notification, StoreError};

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

/// `outbox list`: one line per notification with where its delivery stands; CSV has the
/// stored fields one by one, for programs.
pub fn outbox_listing(rows: &[Notification], format: Format) -> Listing {
    if format == Format::Csv {
        let mut list = Listing::new(&[
            "ID",
            "CREATED",
            "KIND",
            "TICKET",
            "RECIPIENT",
            "ATTEMPTS",
            "NEXT_ATTEMPT_AT",
            "DELIVERED_AT",
            "LAST_ERROR",
            "SUBJECT",
        ]);
        for n in rows {
            list.row(vec![
                n.id.to_string(),
                n.created.clone(),
                n.kind.clone(),
                n.ticket.clone().unwrap_or_default(),
                n.recipient.clone(),
                n.attempts.to_string(),
                n.next_attempt_at.clone(),
                n.delivered_at.clone().unwrap_or_default(),
                n.last_error.clone().unwrap_or_default(),
                n.subject.clone(),
            ]);
        }
        return list;
    }
    let mut list =
        Listing::new(&["ID", "KIND", "TICKET", "RECIPIENT", "TRY", "STATUS"]).right(&["ID", "TRY"]);
    for n in rows {
        let status = match (&n.delivered_at, &n.last_error) {
            (Some(d), _) => format!("delivered {d}"),
            (None, Some(e)) => format!("waiting until {}: {e}", n.next_attempt_at),
            (None, None) => format!("due {}", n.next_attempt_at),
        };
        list.row(vec![
            n.id.to_string(),
            n.kind.clone(),
            n.ticket.clone().unwrap_or_else(|| "-".into()),
            n.recipient.clone(),
            n.attempts.to_string(),
            status,
        ]);
    }
    list
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
                emit(&outbox_listing(&rows, format).render(format, &rows)?)
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
