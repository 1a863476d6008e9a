//! Interoperability with real authoritative servers: NSD and BIND started on loopback
//! addresses and high ports with real zone files (one signed with BIND's own tools).
//! Skipped, with a visible `SKIPPED:` line, when the programs are not installed.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use rootdesk::check::{run_check, CheckId, Proposal, Severity, Verdict};
use rootdesk::registry::DsRecord;

use super::server::{ip, origin};
use super::{assert_findings, assert_has, profile};

fn find(program: &str) -> Option<PathBuf> {
    for dir in [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ] {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return Some(p);
        }
    }
    None
}

/// The programs, or a visible skip.
fn programs(names: &[&str]) -> Option<Vec<PathBuf>> {
    let found: Vec<Option<PathBuf>> = names.iter().map(|n| find(n)).collect();
    if found.iter().any(Option::is_none) {
        let missing: Vec<&str> = names
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(n, _)| *n)
            .collect();
        crate::common::skip(&format!(
            "{} not installed (apt-get install nsd bind9 bind9-utils)",
            missing.join(", ")
        ));
        return None;
    }
    Some(found.into_iter().flatten().collect())
}

/// A free UDP+TCP port on `ip`.
fn free_port(ip: IpAddr) -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("bind");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(SocketAddr::new(ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on {ip}");
}

/// A server process, killed when dropped.
struct Daemon {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Waits until the server answers an SOA query for `zone`.
    fn wait_ready(&mut self, zone: &Name) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let sock = UdpSocket::bind(SocketAddr::new(self.addr.ip(), 0)).expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut q = Message::query();
        q.add_query(Query::query(zone.clone(), RecordType::SOA));
        let bytes = q.to_vec().expect("encode");
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server exited with {status}: {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            let _ = sock.send_to(&bytes, self.addr);
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if let Ok(m) = Message::from_vec(&buf[..n]) {
                    if m.metadata.authoritative && !m.answers.is_empty() {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "server on {} never answered: {}",
            self.addr,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

/// NSD serving `zone_text` for `zone` on `ip`.
fn nsd(bin: &Path, ip: IpAddr, zone: &str, zone_text: &str) -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port(ip);
    let d = dir.path();
    std::fs::write(d.join("zone.db"), zone_text).expect("zone file");
    let conf = format!(
        "server:\n  ip-address: {ip}@{port}\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{dir}\"\n  \
         pidfile: \"{dir}/nsd.pid\"\n  xfrdfile: \"{dir}/xfrd.state\"\n  zonelistfile: \"{dir}/zone.list\"\n  \
         database: \"\"\n  logfile: \"{dir}/nsd.log\"\n  server-count: 1\n  verbosity: 1\n  do-ip6: no\n\
         remote-control:\n  control-enable: no\n\
         zone:\n  name: \"{zone}\"\n  zonefile: \"{dir}/zone.db\"\n",
        dir = d.display()
    );
    std::fs::write(d.join("nsd.conf"), conf).expect("conf");
    let log = d.join("nsd.log");
    let child = Command::new(bin)
        .arg("-d")
        .arg("-c")
        .arg(d.join("nsd.conf"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("stderr.log")).expect("log"))
        .spawn()
        .expect("start nsd");
    let mut daemon = Daemon {
        child,
        addr: SocketAddr::new(ip, port),
        _dir: dir,
        log,
    };
    daemon.wait_ready(&origin(zone));
    daemon
}

/// BIND's named serving `zone_text` for `zone` on `ip`, recursion off unless `recursion`.
/// named listens only on addresses configured on an interface, so tests give it 127.0.0.1.
fn named(bin: &Path, ip: IpAddr, zone: &str, zone_text: &str, recursion: bool) -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port(ip);
    let d = dir.path();
    std::fs::write(d.join("zone.db"), zone_text).expect("zone file");
    let conf = format!(
        "options {{\n  directory \"{dir}\";\n  listen-on port {port} {{ {ip}; }};\n  listen-on-v6 {{ none; }};\n  \
         recursion {rec};\n  {allow}\n  pid-file \"{dir}/named.pid\";\n  \
         session-keyfile \"{dir}/session.key\";\n  managed-keys-directory \"{dir}\";\n  dnssec-validation no;\n  \
         allow-transfer {{ none; }};\n  notify no;\n}};\ncontrols {{ }};\n\
         zone \"{zone}\" {{ type primary; file \"{dir}/zone.db\"; }};\n",
        dir = d.display(),
        rec = if recursion { "yes" } else { "no" },
        allow = if recursion { "allow-recursion { any; };" } else { "" }
    );
    std::fs::write(d.join("named.conf"), conf).expect("conf");
    let log = d.join("named.log");
    let child = Command::new(bin)
        .arg("-g")
        .arg("-c")
        .arg(d.join("named.conf"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start named");
    let mut daemon = Daemon {
        child,
        addr: SocketAddr::new(ip, port),
        _dir: dir,
        log,
    };
    daemon.wait_ready(&origin(zone));
    daemon
}

/// The `interop.` zone with ns1 and ns2 at the given addresses.
fn zone_text(serial: u32, ns1: &str, ns2: &str, extra: &str) -> String {
    format!(
        "$ORIGIN interop.\n$TTL 3600\n\
         @ IN SOA ns1.interop. hostmaster.interop. {serial} 21600 3600 1209600 3600\n\
         @ IN NS ns1.interop.\n@ IN NS ns2.interop.\n\
         ns1 IN A {ns1}\nns2 IN A {ns2}\nwww IN A 192.0.2.80\n{extra}"
    )
}

fn proposal(a: &Daemon, b: &Daemon) -> Proposal {
    let mut p = Proposal::default();
    p.add_arg(&format!("ns1.interop/{}", a.addr)).expect("ns1");
    p.add_arg(&format!("ns2.interop/{}", b.addr)).expect("ns2");
    p
}

#[tokio::test]
async fn nsd_and_bind_serving_a_good_zone_pass() {
    let Some(bins) = programs(&["nsd", "named"]) else {
        return;
    };
    let text = zone_text(2026112301, "127.0.0.31", "127.0.0.1", "");
    let a = nsd(&bins[0], ip("127.0.0.31"), "interop.", &text);
    let b = named(&bins[1], ip("127.0.0.1"), "interop.", &text, false);
    let report = run_check(&origin("interop."), &proposal(&a, &b), &profile()).await;
    assert_findings(&report, &[]);
    assert_eq!(report.verdict, Verdict::Pass);
}

#[tokio::test]
async fn nsd_and_bind_with_broken_delegations() {
    let Some(bins) = programs(&["nsd", "named"]) else {
        return;
    };
    // BIND has a newer serial and lists a third name server; BIND also recurses. Both zones
    // give ns1 another address (127.0.0.99) than the proposal's glue.
    let a = nsd(
        &bins[0],
        ip("127.0.0.33"),
        "interop.",
        &zone_text(1, "127.0.0.99", "127.0.0.1", ""),
    );
    let extra = "@ IN NS ns3.interop.\nns3 IN A 127.0.0.35\n";
    let b = named(
        &bins[1],
        ip("127.0.0.1"),
        "interop.",
        &zone_text(2, "127.0.0.99", "127.0.0.1", extra),
        true,
    );
    let mut p = proposal(&a, &b);
    let report = run_check(&origin("interop."), &p, &profile()).await;
    let checks: Vec<CheckId> = report.findings.iter().map(|f| f.check).collect();
    assert!(
        checks.contains(&CheckId::SoaConsistent),
        "{}",
        report.to_text()
    );
    assert!(
        checks.contains(&CheckId::NsSetMatch),
        "{}",
        report.to_text()
    );
    assert!(checks.contains(&CheckId::GlueMatch), "{}", report.to_text());
    assert!(
        checks.contains(&CheckId::NoRecursion),
        "{}",
        report.to_text()
    );
    let ns = assert_has(&report, CheckId::NsSetMatch, Severity::Error);
    assert!(ns.iter().all(|m| m.contains("ns3.interop.")), "{ns:?}");
    let rec: Vec<_> = report.findings_of(CheckId::NoRecursion).collect();
    assert!(
        rec.iter().all(|f| f.address == Some(b.addr)),
        "only BIND recurses: {}",
        report.to_text()
    );
    // A proposal naming a server that does not serve the zone: NSD refuses (not authoritative).
    p.add_arg(&format!(
        "ns3.interop/{}",
        SocketAddr::new(ip("127.0.0.33"), free_port(ip("127.0.0.33")))
    ))
    .expect("ns3");
    let report = run_check(&origin("interop."), &p, &profile()).await;
    assert_has(&report, CheckId::ReachableUdp, Severity::Error);
}

/// Signs `text` with BIND's dnssec-keygen and dnssec-signzone; returns the signed zone and
/// its DS records (from the dsset file).
fn bind_sign(
    keygen: &Path,
    signzone: &Path,
    text: &str,
    algorithm: &str,
) -> (String, Vec<DsRecord>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let run = |cmd: &mut Command| {
        let out = cmd.current_dir(d).output().expect("run BIND tool");
        assert!(
            out.status.success(),
            "{:?}: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    run(Command::new(keygen).args([
        "-K", ".", "-a", algorithm, "-f", "KSK", "-n", "ZONE", "interop.",
    ]));
    run(Command::new(keygen).args(["-K", ".", "-a", algorithm, "-n", "ZONE", "interop."]));
    std::fs::write(d.join("interop.db"), text).expect("zone");
    run(Command::new(signzone).args([
        "-K",
        ".",
        "-S",
        "-O",
        "full",
        "-o",
        "interop.",
        "-e",
        "+2592000",
        "-f",
        "signed.db",
        "interop.db",
    ]));
    let signed = std::fs::read_to_string(d.join("signed.db")).expect("signed zone");
    let dsset = std::fs::read_to_string(d.join("dsset-interop.")).expect("dsset");
    let ds = dsset
        .lines()
        .filter_map(|l| l.split_once(" DS ").map(|(_, r)| r.trim().to_string()))
        .map(|r| DsRecord::parse(&r).expect("DS from dsset"))
        .collect();
    (signed, ds)
}

#[tokio::test]
async fn bind_signed_zone_on_nsd_and_bind() {
    let Some(bins) = programs(&["nsd", "named", "dnssec-keygen", "dnssec-signzone"]) else {
        return;
    };
    let (signed, ds) = bind_sign(
        &bins[2],
        &bins[3],
        &zone_text(7, "127.0.0.36", "127.0.0.1", ""),
        "ECDSAP256SHA256",
    );
    assert!(!ds.is_empty());
    let a = nsd(&bins[0], ip("127.0.0.36"), "interop.", &signed);
    let b = named(&bins[1], ip("127.0.0.1"), "interop.", &signed, false);
    let mut p = proposal(&a, &b);
    p.ds = ds.clone();
    let report = run_check(&origin("interop."), &p, &profile()).await;
    assert_findings(&report, &[]);
    // A DS for a key that is not in the zone.
    let mut wrong = ds[0].clone();
    wrong.key_tag = wrong.key_tag.wrapping_add(1);
    wrong.digest[0] ^= 0x55;
    p.ds = vec![wrong];
    let report = run_check(&origin("interop."), &p, &profile()).await;
    assert_findings(
        &report,
        &[
            (CheckId::DsMatch, Severity::Error),
            (CheckId::DnssecValid, Severity::Error),
        ],
    );
}

#[tokio::test]
async fn bind_signed_zone_with_deprecated_algorithm_warns() {
    let Some(bins) = programs(&["nsd", "dnssec-keygen", "dnssec-signzone"]) else {
        return;
    };
    let (signed, ds) = bind_sign(
        &bins[1],
        &bins[2],
        &zone_text(8, "127.0.0.38", "127.0.0.39", ""),
        "RSASHA1",
    );
    let a = nsd(&bins[0], ip("127.0.0.38"), "interop.", &signed);
    let b = nsd(&bins[0], ip("127.0.0.39"), "interop.", &signed);
    let mut p = Proposal::default();
    p.add_arg(&format!("ns1.interop/{}", a.addr)).expect("ns1");
    p.add_arg(&format!("ns2.interop/{}", b.addr)).expect("ns2");
    p.ds = ds;
    let report = run_check(&origin("interop."), &p, &profile()).await;
    // RSASHA1 signatures verify, but the algorithm is deprecated: a warning only (and a SHA-1
    // DS next to the SHA-256 one, if dnssec-signzone wrote one, is a warning too).
    let outcomes = super::outcomes(&report);
    assert!(
        outcomes.contains(&(CheckId::DnskeyAlgorithm, Severity::Warning)),
        "{}",
        report.to_text()
    );
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            (
                CheckId::DnskeyAlgorithm | CheckId::DsDigest,
                Severity::Warning
            )
        )),
        "{}",
        report.to_text()
    );
    assert_eq!(report.verdict, Verdict::Warn);
}

#[tokio::test]
async fn bind_signed_ed448_zone_is_unverifiable_not_broken() {
    let Some(bins) = programs(&["nsd", "dnssec-keygen", "dnssec-signzone"]) else {
        return;
    };
    let (signed, ds) = bind_sign(
        &bins[1],
        &bins[2],
        &zone_text(9, "127.0.0.40", "127.0.0.41", ""),
        "ED448",
    );
    let a = nsd(&bins[0], ip("127.0.0.40"), "interop.", &signed);
    let b = nsd(&bins[0], ip("127.0.0.41"), "interop.", &signed);
    let mut p = Proposal::default();
    p.add_arg(&format!("ns1.interop/{}", a.addr)).expect("ns1");
    p.add_arg(&format!("ns2.interop/{}", b.addr)).expect("ns2");
    p.ds = ds;
    let report = run_check(&origin("interop."), &p, &profile()).await;
    // ED448 is a recommended algorithm; hickory (ring) cannot verify it, which is a warning
    // about the checker, not an error about the zone.
    assert_findings(&report, &[(CheckId::DnssecValid, Severity::Warning)]);
    assert!(
        assert_has(&report, CheckId::DnssecValid, Severity::Warning)[0]
            .contains("cannot verify algorithm 16")
    );
}
