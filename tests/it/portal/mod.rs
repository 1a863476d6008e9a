//! The web portal over real HTTP and in a real browser: the daemon started in-process (as in
//! `daemon::TestDesk`) on the real root zone and IANA's TLD records from `../shared/data`, or on
//! a simulated history for the change log and turnaround pages; headless Chromium driven over
//! WebDriver (fantoccini) through a `chromedriver` this test starts and stops by its PID.
//!
//! Screenshots of every page, desktop and phone size, go to `target/portal-screenshots/`.

mod browser;
mod desk;
mod desk_http;
mod http;
mod journey;
mod managers;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rootdesk::api::Server;
use rootdesk::audit::Actor;
use rootdesk::desk::Desk;
use rootdesk::store::Store;

use crate::common::{shared_data, skip};
use crate::daemon::{options, settings};

/// A daemon serving the portal over one database.
pub struct PortalDesk {
    _dir: tempfile::TempDir,
    pub desk: Arc<Desk>,
    server: Option<Server>,
    pub base: String,
}

impl PortalDesk {
    async fn serve(dir: tempfile::TempDir, store: Store, rdap_public: bool) -> PortalDesk {
        let desk = Arc::new(Desk::new(store, settings(Default::default())).with_rdap(
            rootdesk::config::RdapSettings {
                public_contacts: rdap_public,
                base_url: String::new(),
            },
        ));
        let server = Server::start(desk.clone(), options())
            .await
            .expect("start daemon");
        let base = format!("http://{}", server.addr);
        PortalDesk {
            _dir: dir,
            desk,
            server: Some(server),
            base,
        }
    }

    /// The real root zone and IANA's TLD records; `None` (a visible skip) without them.
    pub async fn real() -> Option<PortalDesk> {
        let zone = shared_data("root.zone")?;
        let tlds = shared_data("tlds.jsonl")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::create(&dir.path().join("rootdesk.db")).expect("create");
        let now = time::OffsetDateTime::now_utc();
        let actor = Actor::system("test");
        let zone = rootdesk::zonefile::read_root_zone(&zone).expect("real root zone");
        store
            .import_zone(&zone, "test", &actor, now)
            .expect("import zone");
        let text = std::fs::read_to_string(tlds).expect("read tlds");
        let records = rootdesk::registry::parse_tld_lines(&text).expect("parse tlds");
        store
            .import_tlds(&records, &actor, now)
            .expect("import tlds");
        Some(PortalDesk::serve(dir, store, false).await)
    }

    /// The demo registry (contacts with names, e-mail addresses and phones).
    pub async fn demo(rdap_public: bool) -> PortalDesk {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::daemon::demo_database(dir.path());
        PortalDesk::serve(dir, store, rdap_public).await
    }

    /// A simulated history of finished requests (change log, turnaround, chart).
    pub async fn simulated() -> PortalDesk {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::create(&dir.path().join("rootdesk.db")).expect("create");
        let options = rootdesk::metrics::simulate::SimOptions {
            requests: 300,
            seed: 15,
            start: time::macros::datetime!(2026-01-01 00:00 UTC),
            days: 120,
            expire_days: 30,
            reminder_days: vec![7, 21],
        };
        rootdesk::metrics::simulate::simulate(&mut store, &options, |_| {}).expect("simulate");
        PortalDesk::serve(dir, store, false).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

/// Where screenshots go (under the build directory; not committed).
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/portal-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// An installed program by name, or `None`.
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Headless Chromium behind a `chromedriver` that this test started.
pub struct Browser {
    driver: Child,
    pub client: fantoccini::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a Chromium session, or `None` (a visible skip, a failure under
    /// CI) when Debian's `chromium` and `chromium-driver` are not installed.
    pub async fn start() -> Option<Browser> {
        let (Some(chromium), Some(chromedriver)) = (
            find_program(&["chromium", "chromium-browser"]),
            find_program(&["chromedriver"]),
        ) else {
            skip("chromium or chromedriver is not installed (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = free_port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that Chromium's processes go with it on drop.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command.spawn().expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut browser_guard = DriverGuard(Some(driver));
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-default-apps",
                    "--disable-extensions", "--hide-scrollbars", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = fantoccini::ClientBuilder::rustls()
            .expect("rustls connector")
            .capabilities(caps)
            .connect(&format!("http://{addr}"))
            .await
            .expect("a Chromium session");
        Some(Browser {
            driver: browser_guard.0.take().expect("driver"),
            client,
            _profile: profile,
        })
    }

    /// Ends the session (Chromium quits), then chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
        // Drop stops chromedriver.
    }

    /// Screenshot of the current page as `{name}.png`.
    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("save");
    }
}

/// Stops chromedriver (and its process group) by PID if the start fails half-way.
struct DriverGuard(Option<Child>);

fn stop_driver(child: &mut Child) {
    // The group this test created for chromedriver: its PID is the group's id.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            stop_driver(child);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        stop_driver(&mut self.driver);
    }
}
