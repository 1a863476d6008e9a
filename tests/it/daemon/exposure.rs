//! Network exposure (issue 10, item 3): idle and half-open connections, from one source or
//! many, cannot keep the desk from serving `/healthz` and a submission; they are closed after
//! the header-read or TLS-handshake timeout.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::*;

const PER_SOURCE: usize = 4;

fn limited() -> ServeOptions {
    let mut serve = options();
    serve.limits = ConnectionLimits {
        header_read_timeout: Duration::from_millis(800),
        tls_handshake_timeout: Duration::from_millis(800),
        max_connections: 24,
        max_per_source: PER_SOURCE,
    };
    serve
}

/// A TCP connection to `to` from the loopback address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(from.parse().expect("ip"), 0))
        .expect("bind source");
    socket.connect(to).await.expect("connect")
}

/// Whether the daemon closed the connection (EOF or reset) within a generous bound; an open
/// connection just never answers.
async fn closed_by_daemon(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar before closing is fine; keep reading to the end.
            Ok(Ok(_)) => continue,
        }
    }
}

/// Idle (nothing sent) and half-open (half a request's headers) connections, twice the
/// per-source bound from each of several sources.
async fn attack(addr: SocketAddr) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for source in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        for i in 0..2 * PER_SOURCE {
            let mut stream = connect_from(source, addr).await;
            if i % 2 == 1 {
                stream
                    .write_all(b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Ty")
                    .await
                    .expect("write half a request");
            }
            held.push(stream);
        }
    }
    held
}

/// `/healthz` answers and a submission goes through (the second time, an amendment-free
/// read of the first, since xa may hold one open delegation request).
async fn legitimate_use_still_works(t: &TestDesk) {
    let (status, health) = t.call(reqwest::Method::GET, None, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    let (status, open) = t.get(&t.tokens.admin, "/v1/requests?tld=xa").await;
    assert_eq!(status, StatusCode::OK, "{open}");
    if open.to_string().contains("RD-") {
        return;
    }
    let ticket = t.submit(healthy()).await;
    assert!(!ticket.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_open_connections_cannot_stop_the_desk() {
    let t = TestDesk::start_with_options(Default::default(), limited()).await;
    let addr = t.server.as_ref().expect("server").addr;
    let mut held = attack(addr).await;
    // More than the per-source bound: the surplus is closed at once.
    legitimate_use_still_works(&t).await;
    // Every attacking connection ends: the surplus on accept, the rest on the timeout.
    for (i, stream) in held.iter_mut().enumerate() {
        assert!(
            closed_by_daemon(stream).await,
            "connection {i} is still open"
        );
    }
    legitimate_use_still_works(&t).await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_tls_handshakes_cannot_stop_the_desk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
    let mut serve = limited();
    serve.tls = Some((cert_path, key_path));
    let mut t = TestDesk::start_with_options(Default::default(), serve).await;
    let addr = t.server.as_ref().expect("server").addr;
    t.http = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("root"),
        )
        .resolve("localhost", addr)
        .build()
        .expect("client");
    t.base = format!("https://localhost:{}", addr.port());
    // Half-open handshakes: the first bytes of a TLS record, then nothing.
    let mut held = Vec::new();
    for source in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        for i in 0..2 * PER_SOURCE {
            let mut stream = connect_from(source, addr).await;
            if i % 2 == 1 {
                stream
                    .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                    .await
                    .expect("write a partial ClientHello");
            }
            held.push(stream);
        }
    }
    legitimate_use_still_works(&t).await;
    for (i, stream) in held.iter_mut().enumerate() {
        assert!(
            closed_by_daemon(stream).await,
            "connection {i} is still open"
        );
    }
    legitimate_use_still_works(&t).await;
    t.stop().await;
}
