//! Dry-run checks are bounded per caller and in total (issue 10, item 7): a caller over the
//! bound gets 429 with `Retry-After`, and nothing else changes.

use tokio::net::{TcpListener, UdpSocket};

use super::*;

/// Name servers that take every query and never answer, so a check stays in flight.
const SILENT: &str = "127.0.0.25";
const SILENT2: &str = "127.0.0.26";

fn body(ip: &str) -> Value {
    json!({ "zone": "xa", "delegation": { "nameservers": [
        { "name": "ns1.nic.xa", "addresses": [ip] },
        { "name": "ns2.nic.xa", "addresses": [ip] },
    ] } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_checks_are_bounded_per_caller_and_in_total() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = demo_database(dir.path());
    let now = time::OffsetDateTime::now_utc();
    let cli = Actor::system("test");
    let mut token = |subject: &str| {
        store
            .issue_token(rootdesk::store::Role::Staff, subject, None, &cli, now)
            .expect("token")
            .1
    };
    let (a, b, c) = (token("staff-a"), token("staff-b"), token("staff-c"));
    let mut ports = BTreeMap::new();
    let mut silent = Vec::new();
    for ip in [SILENT, SILENT2] {
        let udp = UdpSocket::bind(format!("{ip}:0")).await.expect("bind");
        let port = udp.local_addr().expect("addr").port();
        // TCP is held open without a reply too.
        let tcp = TcpListener::bind(format!("{ip}:{port}")).await.ok();
        ports.insert(ip.parse().expect("ip"), port);
        silent.push((udp, tcp));
    }
    let mut settings = settings(ports);
    settings.profile.query.timeout_ms = 2000;
    let desk = Arc::new(Desk::new(store, settings).with_dry_run_limits(2, 1));
    let server = Server::start(desk, options()).await.expect("start");
    let url = format!("http://{}/v1/check", server.addr);
    let client = http();
    let send = |token: String, ip: &str| {
        let request = client.post(&url).bearer_auth(token).json(&body(ip));
        tokio::spawn(async move { request.send().await.expect("HTTP").status() })
    };
    let mut buf = [0u8; 512];
    // a's check is in flight once its first query arrives.
    let first = send(a.clone(), SILENT);
    silent[0].0.recv(&mut buf).await.expect("a's query");
    let again = client
        .post(&url)
        .bearer_auth(&a)
        .json(&body(SILENT))
        .send()
        .await
        .expect("HTTP");
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = again
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry >= 1);
    let refused: Value = again.json().await.expect("JSON");
    assert_eq!(refused["error"], "too-many-checks", "{refused}");
    // b may run one; then the total bound (2) is reached and c is refused.
    let second = send(b, SILENT2);
    silent[1].0.recv(&mut buf).await.expect("b's query");
    let third = client
        .post(&url)
        .bearer_auth(&c)
        .json(&body(SILENT))
        .send()
        .await
        .expect("HTTP");
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    // Done, the slots are free again.
    assert_eq!(first.await.expect("join"), StatusCode::OK);
    assert_eq!(second.await.expect("join"), StatusCode::OK);
    let later = client
        .post(&url)
        .bearer_auth(&c)
        .json(&body(SILENT))
        .send()
        .await
        .expect("HTTP");
    assert_eq!(later.status(), StatusCode::OK);
    server.shutdown().await;
}
