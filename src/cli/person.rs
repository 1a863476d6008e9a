//! `person invite|list|show|disable|reset-factor`: persons' accounts for the desk's operators
//! (issue 14). The first staff person is invited here; everything else can then happen over
//! the API. Changes go through the desk, recorded with the operator as the actor.

use clap::{Args, Subcommand};

use super::listing::Listing;
use super::zone::print_json;
use super::{emit, Context, Format};
use crate::audit::kinds::AuthorisedTld;
use crate::audit::Actor;
use crate::desk::people::{Invitation, NewPerson, PersonView};
use crate::desk::{Desk, DeskError};
use crate::error::{Error, Result};
use crate::people::Person;
use crate::workflow::WorkflowError;

/// Persons' accounts: invite, list, show, disable, reset the second factor
#[derive(Debug, Args)]
pub struct PersonCmd {
    #[command(subcommand)]
    pub command: PersonCommand,
}

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Invite a person; prints the invitation link (shown once: hand it over safely)
    Invite {
        #[arg(long)]
        name: String,
        /// The login e-mail address
        #[arg(long)]
        email: String,
        /// manager, staff or auditor
        #[arg(long)]
        role: String,
        /// A TLD the manager acts for; repeat for more, each followed by its --groups
        #[arg(long)]
        tld: Vec<String>,
        /// The groups in the TLD before it (comma-separated, e.g. admin,tech)
        #[arg(long)]
        groups: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List persons (never a secret)
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One person, with the TLDs they are authorised for
    Show {
        /// The person's id (p-...)
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Disable a person: every session and token ends at once
    Disable { id: String },
    /// Clear a person's second factor and recovery codes, end their sessions and tokens, and
    /// print a new invitation link
    ResetFactor {
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

fn desk_error(e: DeskError) -> Error {
    match e {
        DeskError::Workflow(WorkflowError::Invalid { field, message }) => {
            Error::Usage(format!("{field}: {message}"))
        }
        other => Error::failed(other),
    }
}

/// The list's table, CSV and JSON.
pub fn person_listing(persons: &[Person]) -> Listing {
    let mut list = Listing::new(&["ID", "NAME", "EMAIL", "ROLE", "STATUS", "FACTOR"]);
    for p in persons {
        list.row(vec![
            p.id.clone(),
            p.name.clone(),
            p.email.clone(),
            p.role.as_str().to_string(),
            p.status.as_str().to_string(),
            if p.factor_enrolled { "totp" } else { "none" }.to_string(),
        ]);
    }
    list
}

fn groups_text(tlds: &[AuthorisedTld]) -> String {
    if tlds.is_empty() {
        return "-".into();
    }
    tlds.iter()
        .map(|t| format!("{} ({})", t.tld, t.groups.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `person show` as text.
pub fn person_text(view: &PersonView) -> String {
    let p = &view.person;
    format!(
        "{}\n  name:       {}\n  e-mail:     {}\n  role:       {}\n  status:     {}\n  factor:     {}\n  recovery:   {} codes left\n  TLDs:       {}\n  created:    {}\n  changed:    {}\n",
        p.id,
        p.name,
        p.email,
        p.role.as_str(),
        p.status.as_str(),
        if p.factor_enrolled { "totp" } else { "none" },
        view.recovery_codes_left,
        groups_text(&view.tlds),
        p.created_at,
        p.changed_at,
    )
}

/// An invitation as printed: the link once, and what to do with it.
pub fn invitation_text(i: &Invitation) -> String {
    format!(
        "invited {} ({} {}, {}){}\n{}\nThe link is shown only now and works once until {}: hand it to {} safely.\n",
        i.person.id,
        i.person.role.as_str(),
        i.person.name,
        i.person.email,
        if i.tlds.is_empty() {
            String::new()
        } else {
            format!("\n  TLDs: {}", groups_text(&i.tlds))
        },
        i.link,
        i.expires_at,
        i.person.name,
    )
}

/// `--tld A --groups admin --tld B --groups tech,admin` as pairs.
fn tld_groups(tlds: &[String], groups: &[String]) -> Result<Vec<AuthorisedTld>> {
    if tlds.len() != groups.len() {
        return Err(Error::Usage(
            "give each --tld its --groups (e.g. --tld xa --groups admin,tech)".into(),
        ));
    }
    Ok(tlds
        .iter()
        .zip(groups)
        .map(|(tld, groups)| AuthorisedTld {
            tld: tld.clone(),
            groups: groups
                .split(',')
                .map(|g| g.trim().to_string())
                .filter(|g| !g.is_empty())
                .collect(),
        })
        .collect())
}

/// After the migration to schema 7: persons from the contact e-mails, their invitations in
/// the outbox (`rootdesk outbox list`; the daemon's sender mails them).
pub(crate) fn persons_from_contacts(ctx: &Context, store: crate::store::Store) -> Result<()> {
    let desk = Desk::new(store, super::serve::desk_settings(ctx)?)
        .with_notify(ctx.config.smtp.clone())
        .with_accounts(ctx.config.accounts.clone());
    let made = desk
        .persons_from_contacts(&Actor::cli())
        .map_err(desk_error)?;
    for m in &made {
        let tlds: Vec<String> = m
            .tlds
            .iter()
            .map(|t| format!("{} ({})", t.tld, t.groups.join(", ")))
            .collect();
        println!("invited {} <{}> for {}", m.person, m.email, tlds.join("; "));
    }
    println!(
        "{} persons invited from the TLDs' contact e-mails; their invitations wait in the outbox (`rootdesk outbox list`) for the daemon's sender",
        made.len()
    );
    Ok(())
}

impl PersonCmd {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let store = ctx.open_store()?;
        let desk = Desk::new(store, super::serve::desk_settings(ctx)?)
            .with_notify(ctx.config.smtp.clone())
            .with_accounts(ctx.config.accounts.clone());
        match self.command {
            PersonCommand::Invite {
                name,
                email,
                role,
                tld,
                groups,
                format,
            } => {
                let new = NewPerson {
                    name,
                    email,
                    role,
                    tlds: tld_groups(&tld, &groups)?,
                };
                let invitation = desk
                    .invite_person(&Actor::cli(), None, new)
                    .map_err(desk_error)?;
                match format {
                    Format::Json => print_json(&invitation),
                    _ => emit(&invitation_text(&invitation)),
                }
            }
            PersonCommand::List { format } => {
                let persons = desk.persons().map_err(desk_error)?;
                emit(&person_listing(&persons).render(format, &persons)?)
            }
            PersonCommand::Show { id, format } => {
                let view = desk.person_view(&id).map_err(desk_error)?;
                match format {
                    Format::Json => print_json(&view),
                    Format::Csv => {
                        let persons = [view.person.clone()];
                        emit(&person_listing(&persons).render(Format::Csv, &persons)?)
                    }
                    Format::Table => emit(&person_text(&view)),
                }
            }
            PersonCommand::Disable { id } => {
                let done = desk
                    .disable_person(&Actor::cli(), None, &id)
                    .map_err(desk_error)?;
                emit(&format!(
                    "disabled {id}: {} sessions ended, {} tokens revoked\n",
                    done.sessions_ended, done.tokens_revoked
                ))
            }
            PersonCommand::ResetFactor { id, format } => {
                let invitation = desk
                    .reset_factor(&Actor::cli(), None, &id)
                    .map_err(desk_error)?;
                match format {
                    Format::Json => print_json(&invitation),
                    _ => emit(&invitation_text(&invitation)),
                }
            }
        }
    }
}
