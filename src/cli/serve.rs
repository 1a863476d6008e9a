//! `rootdesk serve`: the daemon, and `serve --demo`, a whole desk on one machine.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use time::OffsetDateTime;

use super::Context;
use crate::api::{ServeOptions, Server};
use crate::audit::{self, Actor};
use crate::check::Profile;
use crate::desk::{Desk, DeskSettings};
use crate::error::{Error, Result};
use crate::lab::{healthy_zone, LabServer};
use crate::registry::parse_tld_lines;
use crate::store::{PublishTtls, Role, Store};
use crate::zonefile;

const DEMO_ZONE: &str = include_str!("../../fixtures/demo/root.zone");
const DEMO_TLDS: &str = include_str!("../../fixtures/demo/tlds.jsonl");

/// Run the daemon: the HTTP API, the technical checks, reminders and expiry, checkpoints
#[derive(Debug, Args)]
pub struct Serve {
    /// Address to listen on [default: server.listen, 127.0.0.1:8053]
    #[arg(long)]
    pub listen: Option<String>,
    /// A self-contained demo: a new database with a fixture registry, lab name servers on
    /// loopback, tokens and a walk-through printed on start
    #[arg(long)]
    pub demo: bool,
    /// Log format on standard error: text or json [default: server.log_format]
    #[arg(long)]
    pub log_format: Option<String>,
    /// Start even when group or others may read the database or the audit signing key
    /// [default: allow_readable_files, false]
    #[arg(long)]
    pub allow_readable_files: bool,
}

fn init_logging(format: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROOTDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        "json" => builder.json().try_init(),
        "text" => builder.try_init(),
        other => {
            return Err(Error::Usage(format!(
                "log format {other:?}: use text or json"
            )))
        }
    };
    // A subscriber set already (tests) is fine.
    let _ = result;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The desk's settings from the configuration.
pub fn desk_settings(ctx: &Context) -> Result<DeskSettings> {
    let profile = match &ctx.config.check.profile {
        Some(path) => Profile::load(path).map_err(Error::failed)?,
        None => Profile::default(),
    };
    let mut check_ports = BTreeMap::new();
    for (address, port) in &ctx.config.check.ports {
        let ip: IpAddr = address
            .parse()
            .map_err(|_| Error::Usage(format!("check.ports: {address:?} is not an IP address")))?;
        check_ports.insert(ip, *port);
    }
    let zone = &ctx.config.zone;
    Ok(DeskSettings {
        expire_days: ctx.config.workflow.expire_days,
        reminder_days: ctx.config.workflow.reminder_days.clone(),
        four_eyes: ctx.config.workflow.four_eyes,
        ttls: PublishTtls {
            ns: zone.ns_ttl,
            ds: zone.ds_ttl,
            glue: zone.glue_ttl,
        },
        profile,
        check_ports,
        sweep_remind_after: (ctx.config.sweep.remind_after > 0)
            .then(|| time::Duration::days(i64::from(ctx.config.sweep.remind_after))),
    })
}

fn serve_options(
    ctx: &Context,
    listen: SocketAddr,
    key: Option<ed25519_dalek::SigningKey>,
) -> Result<ServeOptions> {
    let s = &ctx.config.server;
    let tls = match (&s.tls_cert, &s.tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        (None, None) => None,
        _ => {
            return Err(Error::Usage(
                "server.tls_cert and server.tls_key go together".into(),
            ))
        }
    };
    let every = ctx.config.audit.checkpoint_interval_secs;
    Ok(ServeOptions {
        listen,
        tls,
        max_body_bytes: s.max_body_bytes,
        check_poll: Duration::from_millis(s.check_poll_ms.max(10)),
        sweep_interval: Duration::from_secs(s.sweep_interval_secs.max(1)),
        checkpoints: key
            .filter(|_| every > 0)
            .map(|k| (Duration::from_secs(every), k)),
        limits: crate::api::ConnectionLimits {
            header_read_timeout: Duration::from_secs(s.header_read_timeout_secs.max(1)),
            tls_handshake_timeout: Duration::from_secs(s.header_read_timeout_secs.max(1)),
            max_connections: s.max_connections.max(1),
            max_per_source: s.max_connections_per_source.max(1),
        },
        delegation_sweep: (ctx.config.sweep.interval > 0).then(|| {
            (
                Duration::from_secs(ctx.config.sweep.interval),
                crate::check::SweepLimits {
                    queries: ctx.config.sweep.concurrency.max(1),
                    tlds: ctx.config.sweep.parallel.max(1),
                },
            )
        }),
    })
}

impl Serve {
    pub fn run(self, ctx: &mut Context) -> Result<()> {
        let log_format = self
            .log_format
            .clone()
            .unwrap_or_else(|| ctx.config.server.log_format.clone());
        init_logging(&log_format)?;
        let runtime = tokio::runtime::Runtime::new()
            .map_err(|e| Error::failed(format!("cannot start the runtime: {e}")))?;
        runtime.block_on(async {
            if self.demo {
                return self.demo(ctx).await;
            }
            let listen = self
                .listen
                .clone()
                .unwrap_or_else(|| ctx.config.server.listen.clone());
            let listen: SocketAddr = listen.parse().map_err(|_| {
                Error::Usage(format!("listen address {listen:?}: expected IP:PORT"))
            })?;
            let allow_readable = self.allow_readable_files || ctx.config.allow_readable_files;
            if !allow_readable {
                crate::store::ensure_private(&ctx.config.db)?;
            }
            let store = ctx.open_store()?;
            let key_path = ctx.config.beside_db(&ctx.config.audit.signing_key);
            let key = match audit::checkpoint::load_signing_key_with(&key_path, allow_readable) {
                Ok(k) => Some(k),
                // Running without checkpoints is a choice; a key others can read is a leak.
                Err(e @ audit::AuditError::KeyReadable { .. }) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "no periodic checkpoints without the signing key");
                    None
                }
            };
            let options = serve_options(ctx, listen, key)?;
            let desk = Arc::new(
                Desk::new(store, desk_settings(ctx)?)
                    .with_service_levels(ctx.config.service_levels)
                    .with_notify(ctx.config.smtp.clone())
                    .with_rdap(ctx.config.rdap.clone())
                    // RFC 9615 bootstrapping for the sweeps: a bad [cds] stops the start here.
                    .with_cds(ctx.config.cds.clone())
                    .map_err(Error::Usage)?
                    .with_accounts(ctx.config.accounts.clone())
                    .with_secure_cookies(options.tls.is_some()),
            );
            let scheme = if options.tls.is_some() {
                "https"
            } else {
                "http"
            };
            let server = Server::start(desk, options)
                .await
                .map_err(|e| Error::failed(format!("cannot listen on {listen}: {e}")))?;
            println!(
                "rootdesk serving {scheme}://{} (database {})",
                server.addr,
                ctx.config.db.display()
            );
            shutdown_signal().await;
            server.shutdown().await;
            Ok(())
        })
    }

    async fn demo(&self, ctx: &mut Context) -> Result<()> {
        // The demo always starts from a new database: where --db says, else a new folder.
        if ctx.db_given {
            if ctx.config.db.exists() {
                return Err(Error::Usage(format!(
                    "{} exists: the demo creates a new database; remove it or give another --db",
                    ctx.config.db.display()
                )));
            }
            let parent = ctx
                .config
                .db
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        } else {
            let dir = std::env::temp_dir().join(format!(
                "rootdesk-demo-{}-{}",
                std::process::id(),
                OffsetDateTime::now_utc().unix_timestamp()
            ));
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            ctx.config.db = dir.join("rootdesk.db");
        }
        let now = OffsetDateTime::now_utc();
        let mut store = Store::create(&ctx.config.db)?;
        let key_path = ctx.config.beside_db(&ctx.config.audit.signing_key);
        let key = audit::checkpoint::create_signing_key(&key_path)?;
        let zone = zonefile::parse_root_zone(DEMO_ZONE, &PathBuf::from("fixtures/demo/root.zone"))?;
        store.import_zone(&zone, "demo fixtures", &Actor::system("demo"), now)?;
        let records = parse_tld_lines(DEMO_TLDS)
            .map_err(|e| Error::failed(format!("demo fixtures, line {}: {}", e.line, e.reason)))?;
        store.import_tlds(&records, &Actor::system("demo"), now)?;

        // Two lab name servers for xa, on their own loopback addresses.
        let ips = [
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 12)),
        ];
        let zone_text = healthy_zone("xa", &[("ns1.nic.xa", ips[0]), ("ns2.nic.xa", ips[1])]);
        let mut lab = Vec::new();
        let mut check_ports = BTreeMap::new();
        for ip in ips {
            // Port 53 where this process may bind it (so that `dig @127.0.0.11` works), else
            // a free port, which the checks are told and the walk-through prints.
            let server = match LabServer::start(ip, 53, "xa.", &zone_text).await {
                Ok(server) => server,
                Err(_) => LabServer::start(ip, 0, "xa.", &zone_text)
                    .await
                    .map_err(|e| {
                        Error::failed(format!("cannot start a lab name server on {ip}: {e}"))
                    })?,
            };
            check_ports.insert(ip, server.addr.port());
            lab.push(server);
        }
        let mut settings = desk_settings(ctx)?;
        settings.profile = Profile::lab();
        settings.check_ports = check_ports;

        let actor = Actor::system("demo");
        let mut tokens = Vec::new();
        for (role, subject) in [
            (Role::Contact, "xa-admin"),
            (Role::Contact, "xa-tech"),
            (Role::Staff, "demo-staff"),
            (Role::Auditor, "demo-auditor"),
        ] {
            let (_, secret) = store.issue_token(role, subject, None, &actor, now)?;
            tokens.push(secret);
        }
        let wanted: SocketAddr = self
            .listen
            .clone()
            .unwrap_or_else(|| ctx.config.server.listen.clone())
            .parse()
            .map_err(|_| Error::Usage("listen address: expected IP:PORT".into()))?;
        // Bound before the desk is made, so that the links it mails name the real port.
        let listener = match tokio::net::TcpListener::bind(wanted).await {
            Ok(l) => l,
            // The usual port is taken: any free one will do for a demo.
            Err(_) => tokio::net::TcpListener::bind(SocketAddr::new(wanted.ip(), 0))
                .await
                .map_err(|e| Error::failed(format!("cannot listen on {}: {e}", wanted.ip())))?,
        };
        let bound = listener
            .local_addr()
            .map_err(|e| Error::failed(format!("cannot listen: {e}")))?;
        let mut notify = ctx.config.smtp.clone();
        notify.base_url = format!("http://{bound}");
        let desk = Arc::new(
            Desk::new(store, settings)
                .with_service_levels(ctx.config.service_levels)
                .with_notify(notify)
                .with_rdap(ctx.config.rdap.clone())
                .with_cds(ctx.config.cds.clone())
                .map_err(Error::Usage)?
                .with_accounts(ctx.config.accounts.clone()),
        );
        let persons = demo_persons(&desk)?;
        let mut options = serve_options(ctx, bound, Some(key))?;
        options.check_poll = Duration::from_millis(100);
        let server = Server::start_on(desk, options, listener)
            .await
            .map_err(|e| Error::failed(format!("cannot listen on {bound}: {e}")))?;
        let ticket = format!(
            "RD-{:04}{:02}{:02}-0001",
            now.year(),
            u8::from(now.month()),
            now.day()
        );
        println!(
            "{}",
            walkthrough(&server.addr, &ctx.config.db, &tokens, &ticket, &lab)
        );
        println!("{}", persons_text(&server.addr, &persons));
        shutdown_signal().await;
        server.shutdown().await;
        for s in lab {
            s.stop().await;
        }
        Ok(())
    }
}

/// The demo's password for every person it enrols (never a real one).
const DEMO_PASSWORD: &str = "demo passphrase, change me";

/// A person the demo enrolled: who, and the TOTP secret to log in with.
struct DemoPerson {
    what: &'static str,
    email: &'static str,
    totp_secret: String,
}

/// Enrols a staff person and xb's two managers through the invitation steps, and puts xb's
/// authority in force (admin and tech approve), so that the demo shows both models: xa run by
/// its contacts' tokens, xb by its persons' logins.
fn demo_persons(desk: &Desk) -> Result<Vec<DemoPerson>> {
    use crate::audit::kinds::AuthorisedTld;
    use crate::desk::people::NewPerson;
    let actor = Actor::system("demo");
    let wanted = [
        (
            "desk staff",
            "Dana Desk",
            "dana@desk.example",
            "staff",
            None,
        ),
        (
            "xb admin",
            "Bo Admin",
            "bo@nic.xb.example",
            "manager",
            Some("admin"),
        ),
        (
            "xb tech",
            "Tia Tech",
            "tia@nic.xb.example",
            "manager",
            Some("tech"),
        ),
    ];
    let mut persons = Vec::new();
    let mut members = BTreeMap::new();
    for (what, name, email, role, group) in wanted {
        let invitation = desk
            .invite_person(
                &actor,
                None,
                NewPerson {
                    name: name.into(),
                    email: email.into(),
                    role: role.into(),
                    tlds: group
                        .map(|g| {
                            vec![AuthorisedTld {
                                tld: "xb".into(),
                                groups: vec![g.into()],
                            }]
                        })
                        .unwrap_or_default(),
                },
            )
            .map_err(Error::failed)?;
        let secret = invitation
            .link
            .rsplit_once("/v1/invitations/")
            .map(|(_, s)| s.to_string())
            .ok_or_else(|| Error::failed("the demo's invitation has no link"))?;
        let set = desk
            .set_invited_password(&secret, DEMO_PASSWORD)
            .map_err(Error::failed)?;
        let totp_secret = set
            .totp_secret
            .ok_or_else(|| Error::failed("the demo's person got no TOTP secret"))?;
        let code =
            crate::people::totp::code_at(&totp_secret, desk.clock.now()).map_err(Error::failed)?;
        desk.enrol(&secret, &code).map_err(Error::failed)?;
        if let Some(g) = group {
            members.insert(
                invitation.person.id.clone(),
                [g.to_string()].into_iter().collect(),
            );
        }
        persons.push(DemoPerson {
            what,
            email,
            totp_secret,
        });
    }
    let authority = crate::workflow::Authority {
        members,
        ..Default::default()
    };
    desk.establish_authority(&actor, "xb", &authority, None)
        .map_err(Error::failed)?;
    Ok(persons)
}

fn persons_text(addr: &SocketAddr, persons: &[DemoPerson]) -> String {
    let mut text = format!(
        "\nPersons (xb is run by its persons: its admin and tech approve each change; xa by its \
         contacts' tokens above).\nPassword of each: \"{DEMO_PASSWORD}\"; the code is the \
         current TOTP of the secret\n(an authenticator app, or `oathtool --totp -b SECRET`):\n"
    );
    for p in persons {
        text.push_str(&format!(
            "  {:<12} {:<22} TOTP secret {}\n",
            p.what, p.email, p.totp_secret
        ));
    }
    text.push_str(&format!(
        "In a browser, the web portal: http://{addr}/login (staff land on the work queue /desk,\n\
         xb's managers on /my, where they pre-check and submit changes and approve each other's).\n\
         Or log in over the API (the answer sets a session cookie and gives its csrf_token):\n\
         curl -si -X POST http://{addr}/v1/login -H 'Content-Type: application/json' \\\n  \
         -d '{{\"email\":\"bo@nic.xb.example\",\"password\":\"{DEMO_PASSWORD}\",\"code\":\"CODE\"}}'\n\
         README \"People and authority\" and \"Persons, logins and tokens\" say what they can do.\n\n\
         Stop with Ctrl-C."
    ));
    text
}

fn walkthrough(
    addr: &SocketAddr,
    db: &std::path::Path,
    tokens: &[String],
    ticket: &str,
    lab: &[LabServer],
) -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "rootdesk".into());
    let lab_list: Vec<String> = lab.iter().map(|s| s.addr.to_string()).collect();
    format!(
        r#"rootdesk demo: serving http://{addr}
database:      {db}
lab servers:   {lab} (zone xa., probed by the checks)

Tokens (each shown only now):
  xa admin contact   {admin}
  xa tech contact    {tech}
  desk staff         {staff}
  auditor            {auditor}

Walk one request through, in another terminal (copy and paste):

export RD=http://{addr} ADMIN={admin} TECH={tech} STAFF={staff} AUDITOR={auditor}
# 1. xa's admin contact proposes two new name servers; the check starts at once.
curl -s -X POST $RD/v1/requests -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{{"tld":"xa","proposal":{{"kind":"delegation","delegation":{{"nameservers":[{{"name":"ns1.nic.xa","addresses":["127.0.0.11"]}},{{"name":"ns2.nic.xa","addresses":["127.0.0.12"]}}]}}}}}}'
# 2. A moment later the check has passed and the contacts are asked (contact-confirmation).
curl -s $RD/v1/requests/{ticket} -H "Authorization: Bearer $ADMIN"
# 3. Both contacts confirm.
curl -s -X POST $RD/v1/requests/{ticket}/confirm -H "Authorization: Bearer $ADMIN"
curl -s -X POST $RD/v1/requests/{ticket}/confirm -H "Authorization: Bearer $TECH"
# 4. Staff approve; the supplemental check runs; then staff implement.
curl -s -X POST $RD/v1/requests/{ticket}/approve -H "Authorization: Bearer $STAFF"
sleep 1; curl -s -X POST $RD/v1/requests/{ticket}/implement -H "Authorization: Bearer $STAFF"
# 5. The new root zone data, with xa's new name servers under a new serial.
curl -s $RD/v1/zone
# 6. The auditor reads the trail; anyone verifies it.
curl -s "$RD/v1/audit?request={ticket}" -H "Authorization: Bearer $AUDITOR"
{exe} --db {db} audit verify

The same with the command-line client:
{exe} request submit --server $RD --token $ADMIN --tld xa --ns ns1.nic.xa/127.0.0.11 --ns ns2.nic.xa/127.0.0.12
{exe} request show {ticket} --server $RD --token $ADMIN"#,
        db = db.display(),
        lab = lab_list.join(", "),
        admin = tokens[0],
        tech = tokens[1],
        staff = tokens[2],
        auditor = tokens[3],
    )
}
