//! The daemon over real HTTP: started in-process on a temporary database and port 0, with
//! lab name servers on loopback, driven with a real HTTP client.

mod authz;
mod bodies;
mod changelog;
mod consent;
mod demo;
mod dry_run;
mod exposure;
mod flows;
mod input;
mod paging;
mod quotas;
mod rdap;
mod restart;
mod sweep;
mod tickets;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
pub use rootdesk::api::ConnectionLimits;
use rootdesk::api::{ServeOptions, Server};
use rootdesk::audit::Actor;
use rootdesk::check::Profile;
use rootdesk::desk::{Desk, DeskSettings};
use rootdesk::lab::{healthy_zone, LabServer};
use rootdesk::store::{PublishTtls, Role, Store};
use serde_json::{json, Value};

pub const NS1: &str = "127.0.0.21";
pub const NS2: &str = "127.0.0.22";
/// An address where nothing answers.
pub const DEAD: &str = "127.0.0.23";

pub struct Tokens {
    pub admin: String,
    pub tech: String,
    pub staff: String,
    pub auditor: String,
    /// xb's admin contact: a contact of another TLD.
    pub other: String,
    /// Revoked and expired tokens.
    pub revoked: String,
}

pub struct TestDesk {
    pub dir: tempfile::TempDir,
    pub desk: Arc<Desk>,
    pub server: Option<Server>,
    pub base: String,
    pub tokens: Tokens,
    pub lab: Vec<LabServer>,
    pub http: reqwest::Client,
    /// The lab ports and notification settings, for `restart`.
    ports: BTreeMap<IpAddr, u16>,
    notify: rootdesk::config::SmtpSettings,
}

/// An HTTP client (reqwest with rustls on ring).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The lab profile with short timeouts, so that a dead server costs little.
pub fn fast_lab_profile() -> Profile {
    let mut profile = Profile::lab();
    profile.query.timeout_ms = 300;
    profile.query.retries = 0;
    profile.query.budget_ms = 5000;
    profile
}

/// A database with the demo registry and the audit key, in `dir`.
pub fn demo_database(dir: &std::path::Path) -> Store {
    let mut store = Store::create(&dir.join("rootdesk.db")).expect("create database");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let zone = rootdesk::zonefile::read_root_zone(&fixtures.join("root.zone")).expect("demo zone");
    let now = time::OffsetDateTime::now_utc();
    store
        .import_zone(&zone, "test", &Actor::system("test"), now)
        .expect("import zone");
    let text = std::fs::read_to_string(fixtures.join("tlds.jsonl")).expect("read tlds");
    let records = rootdesk::registry::parse_tld_lines(&text).expect("parse tlds");
    store
        .import_tlds(&records, &Actor::system("test"), now)
        .expect("import tlds");
    store
}

pub fn settings(ports: BTreeMap<IpAddr, u16>) -> DeskSettings {
    DeskSettings {
        expire_days: 30,
        reminder_days: vec![7, 21],
        ttls: PublishTtls {
            ns: 172800,
            ds: 86400,
            glue: 172800,
        },
        profile: fast_lab_profile(),
        check_ports: ports,
        sweep_remind_after: Some(time::Duration::days(7)),
        four_eyes: false,
    }
}

pub fn options() -> ServeOptions {
    ServeOptions {
        listen: "127.0.0.1:0".parse().expect("address"),
        tls: None,
        max_body_bytes: 64 * 1024,
        check_poll: Duration::from_millis(50),
        sweep_interval: Duration::from_secs(3600),
        checkpoints: None,
        limits: Default::default(),
        delegation_sweep: None,
    }
}

/// Lab name servers for xa on NS1 and NS2.
pub async fn xa_lab() -> (Vec<LabServer>, BTreeMap<IpAddr, u16>) {
    let ips: [IpAddr; 2] = [NS1.parse().expect("ip"), NS2.parse().expect("ip")];
    let zone = healthy_zone("xa", &[("ns1.nic.xa", ips[0]), ("ns2.nic.xa", ips[1])]);
    let mut lab = Vec::new();
    let mut ports = BTreeMap::new();
    for ip in ips {
        let server = LabServer::start(ip, 0, "xa.", &zone)
            .await
            .expect("lab server");
        ports.insert(ip, server.addr.port());
        lab.push(server);
    }
    // Nothing listens on DEAD: probe it on a port of its own that nobody uses.
    ports.insert(DEAD.parse().expect("ip"), 9);
    (lab, ports)
}

impl TestDesk {
    pub async fn start() -> TestDesk {
        TestDesk::start_with(rootdesk::config::SmtpSettings::default()).await
    }

    /// With notification settings (a relay makes the daemon run its sender).
    pub async fn start_with(notify: rootdesk::config::SmtpSettings) -> TestDesk {
        TestDesk::start_with_options(notify, options()).await
    }

    /// With desk settings of the test's own (e.g. `four_eyes`).
    pub async fn start_with_settings(adjust: impl FnOnce(&mut DeskSettings)) -> TestDesk {
        TestDesk::start_full(rootdesk::config::SmtpSettings::default(), options(), adjust).await
    }

    /// With notification settings and serving options of the test's own.
    pub async fn start_with_options(
        notify: rootdesk::config::SmtpSettings,
        options: ServeOptions,
    ) -> TestDesk {
        TestDesk::start_full(notify, options, |_| {}).await
    }

    async fn start_full(
        notify: rootdesk::config::SmtpSettings,
        options: ServeOptions,
        adjust: impl FnOnce(&mut DeskSettings),
    ) -> TestDesk {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = demo_database(dir.path());
        let now = time::OffsetDateTime::now_utc();
        let cli = Actor::system("test");
        let mut issue = |role, subject: &str| {
            store
                .issue_token(role, subject, None, &cli, now)
                .expect("issue token")
        };
        let admin = issue(Role::Contact, "xa-admin").1;
        let tech = issue(Role::Contact, "xa-tech").1;
        let staff = issue(Role::Staff, "staff-1").1;
        let auditor = issue(Role::Auditor, "auditor-1").1;
        let other = issue(Role::Contact, "xb-admin").1;
        let (revoked_token, revoked) = issue(Role::Staff, "gone");
        store
            .revoke_token(&revoked_token.id, &cli, now)
            .expect("revoke");
        let (lab, ports) = xa_lab().await;
        let mut desk_settings = settings(ports.clone());
        adjust(&mut desk_settings);
        let desk = Arc::new(Desk::new(store, desk_settings).with_notify(notify.clone()));
        let server = Server::start(desk.clone(), options)
            .await
            .expect("start daemon");
        let base = format!("http://{}", server.addr);
        TestDesk {
            dir,
            desk,
            server: Some(server),
            base,
            tokens: Tokens {
                admin,
                tech,
                staff,
                auditor,
                other,
                revoked,
            },
            lab,
            http: http(),
            ports,
            notify,
        }
    }

    /// Stops the daemon and starts a new one on the same database (and a new port).
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        let store = Store::open(&self.dir.path().join("rootdesk.db")).expect("reopen database");
        self.desk = Arc::new(
            Desk::new(store, settings(self.ports.clone())).with_notify(self.notify.clone()),
        );
        let server = Server::start(self.desk.clone(), options())
            .await
            .expect("restart daemon");
        self.base = format!("http://{}", server.addr);
        self.server = Some(server);
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("HTTP request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, Some(token), path, None)
            .await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, Some(token), path, Some(&body))
            .await
    }

    /// Posts and insists on success.
    pub async fn ok(&self, token: &str, path: &str, body: Value) -> Value {
        let (status, value) = self.post(token, path, body).await;
        assert!(status.is_success(), "POST {path}: {status} {value}");
        value
    }

    /// Submits a request as xa's admin; returns its ticket.
    pub async fn submit(&self, proposal: Value) -> String {
        let value = self
            .ok(
                &self.tokens.admin,
                "/v1/requests",
                json!({ "tld": "xa", "proposal": proposal }),
            )
            .await;
        value["ticket"].as_str().expect("ticket").to_string()
    }

    /// Waits until the request reaches `state` (checks run in the background).
    pub async fn wait_for(&self, ticket: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let (status, value) = self
                .get(&self.tokens.staff, &format!("/v1/requests/{ticket}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{value}");
            if value["state"] == state {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("{ticket} never reached {state}: {value}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        for s in self.lab.drain(..) {
            s.stop().await;
        }
    }
}

/// A delegation proposal for xa.
pub fn delegation(servers: &[(&str, &str)]) -> Value {
    let nameservers: Vec<Value> = servers
        .iter()
        .map(|(name, ip)| json!({ "name": name, "addresses": [ip] }))
        .collect();
    json!({ "kind": "delegation", "delegation": { "nameservers": nameservers } })
}

pub fn healthy() -> Value {
    delegation(&[("ns1.nic.xa", NS1), ("ns2.nic.xa", NS2)])
}

pub fn broken() -> Value {
    delegation(&[("ns1.nic.xa", NS1), ("ns3.nic.xa", DEAD)])
}
