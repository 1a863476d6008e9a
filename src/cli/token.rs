//! `token issue|list|revoke`: API bearer tokens, managed on the database directly.

use clap::{Args, Subcommand};
use time::{Duration, OffsetDateTime};

use super::listing::Listing;
use super::zone::print_json;
use super::{emit, Context, Format};
use crate::audit::Actor;
use crate::error::{Error, Result};
use crate::store::Role;

/// Issue, list and revoke API tokens
#[derive(Debug, Args)]
pub struct TokenCmd {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token; its secret is printed once and never stored
    Issue {
        /// contact, staff or auditor
        #[arg(long)]
        role: String,
        /// The contact handle a contact token acts as
        #[arg(long, conflicts_with = "subject")]
        contact: Option<String>,
        /// Who holds a staff or auditor token (a name or e-mail address)
        #[arg(long)]
        subject: Option<String>,
        /// Lifetime in days [default: no expiry]
        #[arg(long)]
        days: Option<u32>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List tokens (never their secrets)
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a token at once
    Revoke {
        /// The token's id (tok-...)
        id: String,
    },
}

impl TokenCmd {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let mut store = ctx.open_store()?;
        let now = OffsetDateTime::now_utc();
        match self.command {
            TokenCommand::Issue {
                role,
                contact,
                subject,
                days,
                format,
            } => {
                let role = Role::parse(&role).ok_or_else(|| {
                    Error::Usage(format!(
                        "--role {role:?}: expected contact, staff or auditor"
                    ))
                })?;
                let subject = match (role, contact, subject) {
                    (Role::Contact, Some(handle), None) => handle,
                    (Role::Contact, _, _) => {
                        return Err(Error::Usage(
                            "a contact token needs --contact HANDLE (the contact it acts as)"
                                .into(),
                        ))
                    }
                    (_, Some(_), _) => return Err(Error::Usage(
                        "--contact is for contact tokens; staff and auditor tokens take --subject"
                            .into(),
                    )),
                    (_, None, Some(subject)) => subject,
                    (_, None, None) => {
                        return Err(Error::Usage(
                            "name who holds the token with --subject NAME".into(),
                        ))
                    }
                };
                // The API's rule for text: the subject is shown in mail and the trail.
                if let Some(c) = subject
                    .chars()
                    .find(|c| crate::registry::is_forbidden_char(*c))
                {
                    return Err(Error::Usage(crate::registry::forbidden_char_message(
                        "--subject",
                        c,
                    )));
                }
                let expires = days.map(|d| now + Duration::days(i64::from(d)));
                let (token, secret) =
                    store.issue_token(role, &subject, expires, &Actor::cli(), now)?;
                if format == Format::Json {
                    return print_json(&serde_json::json!({ "token": token, "secret": secret }));
                }
                emit(&format!(
                    "issued {} ({} {}{})\n{secret}\nThe secret is shown only now: hand it over safely.\n",
                    token.id,
                    token.role.as_str(),
                    token.subject,
                    token
                        .expires_at
                        .as_ref()
                        .map(|e| format!(", expires {e}"))
                        .unwrap_or_default()
                ))
            }
            TokenCommand::List { format } => {
                let tokens = store.tokens()?;
                let mut list = Listing::new(&["ID", "ROLE", "SUBJECT", "CREATED", "STATUS"]);
                for t in &tokens {
                    let status = match (&t.revoked_at, &t.expires_at) {
                        (Some(r), _) => format!("revoked {r}"),
                        (None, Some(e)) => format!("expires {e}"),
                        (None, None) => "valid".into(),
                    };
                    list.row(vec![
                        t.id.clone(),
                        t.role.as_str().to_string(),
                        t.subject.clone(),
                        t.created_at.clone(),
                        status,
                    ]);
                }
                emit(&list.render(format, &tokens)?)
            }
            TokenCommand::Revoke { id } => {
                let token = store.revoke_token(&id, &Actor::cli(), now)?;
                emit(&format!(
                    "revoked {} ({} {})\n",
                    token.id,
                    token.role.as_str(),
                    token.subject
                ))
            }
        }
    }
}
