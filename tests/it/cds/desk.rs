//! The desk flow from a CDS scan to a published DS set: the real desk on a SQLite file, its
//! scheduled sweep reading CDS from in-process name servers on loopback.

use std::collections::BTreeMap;
use std::sync::Arc;

use rootdesk::audit::Actor;
use rootdesk::check::SweepLimits;
use rootdesk::config::CdsSettings;
use rootdesk::desk::{Action, Caller, Desk};
use rootdesk::registry::{DsRecord, TldLabel};
use rootdesk::store::{self, Role, Store, StoreError};
use rootdesk::workflow::{CdsMode, Command, Party, Request, State};

use super::{before, rolling, Keys};
use crate::check::server::{ip, origin, Faults, Scripted};
use crate::check::zone::Zone;

const NS1: &str = "127.0.0.61";
const NS2: &str = "127.0.0.62";

pub(super) struct Lab {
    _dir: tempfile::TempDir,
    pub(super) desk: Arc<Desk>,
    pub(super) keys: Keys,
    /// Lab servers (and resolvers) kept running for the desk.
    pub(super) servers: Vec<Scripted>,
}

fn ns() -> Vec<(&'static str, std::net::IpAddr)> {
    vec![("ns1.nic.xa.", ip(NS1)), ("ns2.nic.xa.", ip(NS2))]
}

fn old_ds(keys: &Keys) -> DsRecord {
    keys.old.ds(&origin("xa."), 2)
}

/// A desk whose only TLD, xa, is delegated to two lab servers serving `zones(keys)`, with
/// the old KSK's DS published and DS automation set to `mode`.
async fn lab(mode: CdsMode, zones: impl Fn(&Keys) -> [Zone; 2]) -> Lab {
    let keys = Keys::new();
    let ds = old_ds(&keys);
    let xa = format!(
        "xa. 172800 IN NS ns1.nic.xa.\n\
         xa. 172800 IN NS ns2.nic.xa.\n\
         xa. 86400 IN DS {} {} {} {}\n\
         ns1.nic.xa. 172800 IN A {NS1}\n\
         ns2.nic.xa. 172800 IN A {NS2}\n",
        ds.key_tag,
        ds.algorithm,
        ds.digest_type,
        ds.digest_hex()
    );
    let zones = zones(&keys);
    let servers = ns().into_iter().map(|(_, a)| a).zip(zones).collect();
    desk_lab(
        tempfile::tempdir().expect("tempdir"),
        keys,
        &xa,
        mode,
        servers,
        CdsSettings::default(),
    )
    .await
}

/// The real desk on a SQLite file in `dir`, its root zone delegating xa by the records
/// `xa_records` (NS, DS, glue), xa's DS automation set to `mode`; each (address, zone) of
/// `servers` served by a lab server there (the desk's check ports lead to it); the desk's
/// `[cds]` settings `cds`.
pub(super) async fn desk_lab(
    dir: tempfile::TempDir,
    keys: Keys,
    xa_records: &str,
    mode: CdsMode,
    servers: Vec<(std::net::IpAddr, Zone)>,
    cds: CdsSettings,
) -> Lab {
    let root = format!(
        "$ORIGIN .\n$TTL 86400\n\
         @ 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2026120100 1800 900 604800 86400\n\
         @ 518400 IN NS a.root-servers.net.\n\
         a.root-servers.net. 518400 IN A 198.41.0.4\n\
         {xa_records}"
    );
    let zone_path = dir.path().join("root.zone");
    std::fs::write(&zone_path, root).expect("write zone");
    let mut st = Store::create(&dir.path().join("rootdesk.db")).expect("create");
    let now = time::OffsetDateTime::now_utc();
    let zone = rootdesk::zonefile::read_root_zone(&zone_path).expect("zone");
    st.import_zone(&zone, "test", &Actor::system("test"), now)
        .expect("import zone");
    let line = r#"{"tld": "xa", "type": "cctld", "tag": "country-code", "country": "Aldoria (fictional)", "delegated": true, "sponsor": "Aldoria NIC", "admin": {"handle": "xa-admin", "name": "Ana Alves", "email": "admin@nic.xa.example"}, "tech": {"handle": "xa-tech", "name": "Tomas Tavares", "email": "tech@nic.xa.example"}, "created": "1993-04-01", "updated": "2026-01-15"}"#;
    let records = rootdesk::registry::parse_tld_lines(line).expect("tld line");
    st.import_tlds(&records, &Actor::system("test"), now)
        .expect("import tlds");
    st.write(|tx| store::set_tld_cds_tx(tx, "xa", mode, &Actor::system("test"), now))
        .expect("set cds");
    let mut running = Vec::new();
    let mut ports = BTreeMap::new();
    for (address, z) in servers {
        let s = Scripted::start(address, z, Faults::default()).await;
        ports.insert(address, s.addr.port());
        running.push(s);
    }
    let desk = Desk::new(st, crate::daemon::settings(ports))
        .with_cds(cds)
        .expect("[cds] settings");
    Lab {
        _dir: dir,
        desk: Arc::new(desk),
        keys,
        servers: running,
    }
}

fn rollover(keys: &Keys) -> [Zone; 2] {
    let z = rolling("xa.", &ns(), keys, &keys.old);
    [z.clone(), z]
}

impl Lab {
    /// Staff approve the request, the supplemental check runs, staff implement it.
    pub(super) async fn approve_and_implement(&self, ticket: &str, note: &str) {
        self.desk
            .act(
                &staff(),
                ticket,
                Action::Approve,
                Command::Approve { note: note.into() },
            )
            .expect("approve");
        self.run_checks().await;
        assert_eq!(self.request(ticket).state, State::Implementation);
        self.desk
            .act(
                &staff(),
                ticket,
                Action::Implement,
                Command::Implement { serial: None },
            )
            .expect("implement");
        assert_eq!(self.request(ticket).state, State::Completed);
    }

    pub(super) async fn sweep(&self) {
        self.desk
            .sweep_delegations(SweepLimits::default())
            .await
            .expect("sweep");
    }

    pub(super) fn requests(&self) -> Vec<Request> {
        self.desk
            .read_store(|s| {
                let list = s.requests(&store::RequestFilter {
                    limit: 100,
                    ..Default::default()
                })?;
                let mut out = Vec::new();
                for r in list {
                    out.extend(s.request(&r.ticket)?);
                }
                Ok(out)
            })
            .expect("requests")
    }

    pub(super) fn request(&self, ticket: &str) -> Request {
        self.desk
            .read_store(|s| Ok(s.request(ticket)?))
            .expect("read")
            .expect("request")
    }

    /// Runs every pending check job to its end.
    pub(super) async fn run_checks(&self) {
        let jobs = self
            .desk
            .read_store(|s| Ok(s.pending_checks()?))
            .expect("jobs");
        for job in jobs {
            self.desk.run_check_job(&job).await.expect("check job");
        }
    }

    pub(super) fn outbox(&self) -> Vec<store::Notification> {
        self.desk
            .read_store(|s| Ok(s.outbox(false, 1000)?))
            .expect("outbox")
    }

    pub(super) fn count_events(&self, kind: &str) -> i64 {
        self.desk
            .read_store(|s| {
                Ok(s.conn()
                    .query_row("SELECT count(*) FROM events WHERE kind = ?1", [kind], |r| {
                        r.get(0)
                    })
                    .map_err(StoreError::from)?)
            })
            .expect("count")
    }

    pub(super) fn published_ds(&self) -> Vec<DsRecord> {
        let label = TldLabel::parse("xa").expect("label");
        self.desk
            .read_store(|s| Ok(s.current_delegation(&label)?))
            .expect("read")
            .expect("delegation")
            .ds
            .into_iter()
            .collect()
    }
}

pub(super) fn staff() -> Caller {
    Caller {
        token: "tok-staff".into(),
        role: Role::Staff,
        subject: "staff".into(),
        source: None,
        person: None,
        scope: None,
    }
}

fn contact(handle: &str) -> Caller {
    Caller {
        token: format!("tok-{handle}"),
        role: Role::Contact,
        subject: handle.into(),
        source: None,
        person: None,
        scope: None,
    }
}

/// The one request the scanner opened, after its technical check.
async fn opened(lab: &Lab) -> Request {
    lab.sweep().await;
    let requests = lab.requests();
    assert_eq!(requests.len(), 1, "one request opened: {requests:?}");
    let r = requests[0].clone();
    assert_eq!(r.submitter, Party::CdsScanner);
    assert_eq!(r.state, State::TechnicalCheck);
    let ds: Vec<DsRecord> = r
        .proposal()
        .delegation()
        .expect("delegation")
        .ds
        .iter()
        .cloned()
        .collect();
    assert_eq!(ds, vec![lab.keys.new.ds(&origin("xa."), 2)]);
    lab.run_checks().await;
    lab.request(&r.ticket)
}

#[tokio::test]
async fn notify_only_rolls_the_key_after_the_hold_with_no_request_filed_by_hand() {
    let lab = lab(CdsMode::NotifyOnly, rollover).await;
    let r = opened(&lab).await;
    assert_eq!(r.state, State::ContactConfirmation, "{r:?}");
    assert!(r.pending_consents().is_empty());
    assert_eq!(r.cds, Some(CdsMode::NotifyOnly));
    // The technical contact is told at once, and nobody is asked to confirm.
    let mail = lab.outbox();
    assert!(
        mail.iter()
            .any(|n| n.kind == "cds-request" && n.recipient == "tech@nic.xa.example"),
        "{mail:?}"
    );
    assert!(!mail.iter().any(|n| n.kind == "confirm"), "{mail:?}");
    // The submitter is the scanner, an actor of its own in the trail.
    let actor: String = lab
        .desk
        .read_store(|s| {
            Ok(s.conn()
                .query_row(
                    "SELECT actor_kind || ':' || actor_id FROM events WHERE kind = 'request-submitted'",
                    [],
                    |row| row.get(0),
                )
                .map_err(StoreError::from)?)
        })
        .expect("actor");
    assert_eq!(actor, "system:cds");
    // A second sweep opens nothing more.
    lab.sweep().await;
    assert_eq!(lab.requests().len(), 1);
    // Before the hold is over the request stays.
    lab.desk.clock.advance(time::Duration::days(2));
    lab.desk.sweep().expect("reminders");
    assert_eq!(lab.request(&r.ticket).state, State::ContactConfirmation);
    lab.desk.clock.advance(time::Duration::days(1));
    let acted = lab.desk.sweep().expect("reminders");
    assert!(acted.iter().any(|(t, _)| *t == r.ticket), "{acted:?}");
    assert_eq!(lab.request(&r.ticket).state, State::ManualReview);
    // Staff review and implement as for any request; the supplemental check runs.
    lab.approve_and_implement(&r.ticket, "CDS rollover").await;
    assert_eq!(lab.published_ds(), vec![lab.keys.new.ds(&origin("xa."), 2)]);
    // With the new DS published, the CDS asks for nothing more.
    lab.sweep().await;
    assert_eq!(lab.requests().len(), 1);
}

#[tokio::test]
async fn notify_only_withdrawn_during_the_hold_goes_no_further() {
    let lab = lab(CdsMode::NotifyOnly, rollover).await;
    let r = opened(&lab).await;
    assert_eq!(r.state, State::ContactConfirmation);
    // A contact of another TLD may not stop it; the TLD's admin contact may.
    assert!(lab
        .desk
        .act(
            &contact("xb-admin"),
            &r.ticket,
            Action::Withdraw,
            Command::Withdraw { reason: "x".into() },
        )
        .is_err());
    lab.desk
        .act(
            &contact("xa-admin"),
            &r.ticket,
            Action::Withdraw,
            Command::Withdraw {
                reason: "not our rollover".into(),
            },
        )
        .expect("withdraw");
    lab.desk.clock.advance(time::Duration::days(4));
    lab.desk.sweep().expect("reminders");
    assert_eq!(lab.request(&r.ticket).state, State::Withdrawn);
    assert_eq!(lab.published_ds(), vec![old_ds(&lab.keys)]);
}

#[tokio::test]
async fn with_consent_asks_the_contacts_and_is_never_released_by_time() {
    let lab = lab(CdsMode::WithConsent, rollover).await;
    let r = opened(&lab).await;
    assert_eq!(r.state, State::ContactConfirmation);
    assert_eq!(r.pending_consents(), vec!["xa-admin", "xa-tech"]);
    let mail = lab.outbox();
    for to in ["admin@nic.xa.example", "tech@nic.xa.example"] {
        assert!(
            mail.iter()
                .any(|n| n.kind == "confirm" && n.recipient == to),
            "{to}: {mail:?}"
        );
    }
    lab.desk.clock.advance(time::Duration::days(5));
    lab.desk.sweep().expect("reminders");
    assert_eq!(lab.request(&r.ticket).state, State::ContactConfirmation);
    for handle in ["xa-admin", "xa-tech"] {
        lab.desk
            .act(
                &contact(handle),
                &r.ticket,
                Action::Confirm,
                Command::Confirm,
            )
            .expect("confirm");
    }
    assert_eq!(lab.request(&r.ticket).state, State::ManualReview);
}

#[tokio::test]
async fn off_does_nothing() {
    let lab = lab(CdsMode::Off, rollover).await;
    lab.sweep().await;
    assert!(lab.requests().is_empty());
    assert_eq!(lab.count_events(store::CDS_PROBLEM_EVENT), 0);
    assert!(!lab.outbox().iter().any(|n| n.kind.starts_with("cds")));
}

#[tokio::test]
async fn a_lagging_server_is_reported_once_per_interval_and_never_acted_on() {
    let lab = lab(CdsMode::NotifyOnly, |keys| {
        [
            rolling("xa.", &ns(), keys, &keys.old),
            before("xa.", &ns(), keys),
        ]
    })
    .await;
    lab.sweep().await;
    assert!(lab.requests().is_empty());
    assert_eq!(lab.count_events(store::CDS_PROBLEM_EVENT), 1);
    let reports = |lab: &Lab| {
        lab.outbox()
            .into_iter()
            .filter(|n| n.kind == "cds-problem")
            .collect::<Vec<_>>()
    };
    let sent = reports(&lab);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "tech@nic.xa.example");
    assert!(
        sent[0].body.contains("cds-inconsistent"),
        "{}",
        sent[0].body
    );
    // The next sweep finds the same problem: not reported again within report_days.
    lab.sweep().await;
    assert_eq!(reports(&lab).len(), 1);
    lab.desk.clock.advance(time::Duration::days(8));
    lab.sweep().await;
    assert_eq!(reports(&lab).len(), 2);
    assert_eq!(lab.count_events(store::CDS_PROBLEM_EVENT), 2);
    assert!(lab.requests().is_empty());
}

#[tokio::test]
async fn the_delete_signal_opens_a_request_to_remove_the_ds_set() {
    let lab = lab(CdsMode::NotifyOnly, |keys| {
        let mut z = before("xa.", &ns(), keys);
        super::add_delete(&mut z);
        super::sign(&mut z, hickory_proto::rr::RecordType::CDS, &keys.old);
        super::sign(&mut z, hickory_proto::rr::RecordType::CDNSKEY, &keys.old);
        [z.clone(), z]
    })
    .await;
    lab.sweep().await;
    let requests = lab.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let delegation = requests[0]
        .proposal()
        .delegation()
        .expect("delegation")
        .clone();
    assert!(delegation.ds.is_empty());
    assert_eq!(delegation.nameservers.len(), 2, "the NS set is kept");
    assert_eq!(requests[0].submitter, Party::CdsScanner);
}
