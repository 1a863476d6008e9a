//! `tld list` and `tld show`.

use clap::{Args, Subcommand};

use super::listing::Listing;
use super::zone::print_json;
use super::{emit, Context, Format};
use crate::error::{Error, Result};
use crate::registry::{TldLabel, TldRecord};

/// Show TLD records
#[derive(Debug, Args)]
pub struct TldCmd {
    #[command(subcommand)]
    pub command: TldCommand,
}

#[derive(Debug, Subcommand)]
pub enum TldCommand {
    /// List every TLD record
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show one TLD record with its contacts and delegation
    Show {
        /// The TLD (A-label or U-label)
        label: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Set whether the desk acts on the TLD's CDS/CDNSKEY records (DS automation)
    Cds {
        /// The TLD (A-label or U-label)
        label: String,
        /// off, with-consent (the contacts confirm each change) or notify-only (the technical
        /// contact is told; the change proceeds after `[cds] hold_days` unless withdrawn)
        #[arg(value_parser = parse_cds)]
        mode: crate::workflow::CdsMode,
    },
    /// Show a TLD's authority (authorised persons, approval policy, special handling), or set
    /// it up (`--set FILE`, JSON as in README "People and authority"). Once a TLD has an
    /// authority, its changes go through an `authority` request approved under its current
    /// policy; the CLI replaces it only with `--override REASON`, recorded in the audit trail.
    Authority {
        /// The TLD (A-label or U-label)
        label: String,
        /// A JSON file with `members`, `policy` and optionally `special_handling`
        #[arg(long)]
        set: Option<std::path::PathBuf>,
        /// Replace an authority already in force; the reason is recorded
        #[arg(long = "override", requires = "set")]
        override_reason: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

fn parse_cds(text: &str) -> std::result::Result<crate::workflow::CdsMode, String> {
    crate::workflow::CdsMode::parse(text)
}

impl TldCmd {
    pub fn run(self, ctx: &Context) -> Result<()> {
        let store = ctx.open_store()?;
        match self.command {
            TldCommand::List { format } => {
                let records = store.tlds()?;
                emit(&tld_listing(&records).render(format, &records)?)
            }
            TldCommand::Show { label, format } => {
                let label = TldLabel::parse(&label)?;
                let record = store.tld(&label)?.ok_or_else(|| {
                    Error::Failed(format!(
                        "no TLD record for {label}; `rootdesk tld list` shows the known TLDs"
                    ))
                })?;
                let cds = crate::store::tld_cds(store.conn(), label.as_str())?;
                match format {
                    Format::Json => print_json(&crate::desk::cds::with_setting(&record, cds)),
                    Format::Table | Format::Csv => {
                        emit(&format!("{}{:<13}{cds}\n", show(&record), "CDS"))
                    }
                }
            }
            TldCommand::Cds { label, mode } => {
                let label = TldLabel::parse(&label)?;
                let mut store = store;
                let now = time::OffsetDateTime::now_utc();
                let actor = crate::audit::Actor::cli();
                let before = store.write(|tx| {
                    crate::store::set_tld_cds_tx(tx, label.as_str(), mode, &actor, now)
                })?;
                emit(&format!("{label}: DS automation {before} -> {mode}\n"))
            }
            TldCommand::Authority {
                label,
                set,
                override_reason,
                format,
            } => {
                let label = TldLabel::parse(&label)?;
                let mut store = store;
                if store.tld(&label)?.is_none() {
                    return Err(Error::Failed(format!(
                        "no TLD record for {label}; `rootdesk tld list` shows the known TLDs"
                    )));
                }
                let authority = match set {
                    None => crate::store::tld_authority(store.conn(), label.as_str())?,
                    Some(file) => Some(crate::desk::set_authority_cli(
                        &mut store,
                        label.as_str(),
                        &file,
                        override_reason,
                    )?),
                };
                match (format, authority) {
                    (Format::Json, authority) => print_json(&authority),
                    (_, None) => {
                        let pending = crate::store::pending_members(store.conn(), label.as_str())?;
                        let mut text = format!(
                            "{label} has no authority in force: its admin and tech contacts \
                             consent to its changes\n"
                        );
                        for (person, groups) in pending {
                            text.push_str(&format!(
                                "  invited {person} ({}), not yet authorised\n",
                                groups.into_iter().collect::<Vec<_>>().join(", ")
                            ));
                        }
                        emit(&text)
                    }
                    (_, Some(authority)) => {
                        let mut text = format!("{label}\n");
                        for line in authority.lines() {
                            text.push_str(&format!("  {line}\n"));
                        }
                        emit(&text)
                    }
                }
            }
        }
    }
}

fn display_label(r: &TldRecord) -> String {
    if r.unicode != r.label.as_str() {
        format!("{} ({})", r.label, r.unicode)
    } else {
        r.label.to_string()
    }
}

/// `tld list`: one line per TLD, U-label beside the A-label of an IDN.
pub fn tld_listing(records: &[TldRecord]) -> Listing {
    let mut list = Listing::new(&["TLD", "UNICODE", "TYPE", "STATUS", "NS", "DS", "SPONSOR"])
        .right(&["NS", "DS"])
        .csv_names(&[
            "label",
            "unicode",
            "type",
            "status",
            "nameservers",
            "ds",
            "sponsor",
        ]);
    for r in records {
        list.row(vec![
            r.label.to_string(),
            r.unicode.clone(),
            r.kind.as_str().to_string(),
            r.status.as_str().to_string(),
            r.delegation.nameservers.len().to_string(),
            r.delegation.ds.len().to_string(),
            r.sponsor.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    list
}

/// The readable form of one record.
pub fn show(r: &TldRecord) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<13}{v}\n"));
    line("TLD", display_label(r));
    line(
        "Type",
        match &r.tag {
            Some(tag) => format!("{} ({tag})", r.kind),
            None => r.kind.to_string(),
        },
    );
    if let Some(country) = &r.country {
        line("Country", country.clone());
    }
    line("Status", r.status.to_string());
    line("Sponsor", r.sponsor.clone().unwrap_or_else(|| "-".into()));
    for (role, contact) in [("Admin", &r.admin), ("Tech", &r.tech)] {
        let text = match contact {
            Some(c) => [
                Some(c.handle.clone()),
                c.organisation.clone(),
                c.name.clone(),
                c.email.as_ref().map(|e| format!("<{e}>")),
                c.phone.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
            None => "-".into(),
        };
        line(role, text);
    }
    line("Created", r.created.clone().unwrap_or_else(|| "-".into()));
    line("Updated", r.updated.clone().unwrap_or_else(|| "-".into()));
    if r.delegation.nameservers.is_empty() {
        out.push_str("Name servers none (not delegated)\n");
    } else {
        out.push_str("Name servers\n");
        for (name, addresses) in &r.delegation.nameservers {
            let addresses: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
            out.push_str(&format!("  {name:<40} {}\n", addresses.join(" ")));
        }
    }
    if !r.delegation.ds.is_empty() {
        out.push_str("DS\n");
        for ds in &r.delegation.ds {
            out.push_str(&format!("  {ds}\n"));
        }
    }
    out
}
