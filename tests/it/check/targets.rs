//! Special-purpose targets (issue 10, item 7): the default profile sends no packet to a
//! loopback, private or otherwise special-purpose address; a profile may allow blocks.

use std::net::SocketAddr;

use rootdesk::check::{run_check, CheckId, Profile, Proposal, Severity, Verdict};
use tokio::net::{TcpListener, UdpSocket};

use super::assert_has;
use super::server::origin;

/// Sockets that would see any query sent to them.
async fn listeners(ip: &str) -> (UdpSocket, TcpListener, SocketAddr) {
    for _ in 0..50 {
        let udp = UdpSocket::bind(format!("{ip}:0")).await.expect("bind UDP");
        let addr = udp.local_addr().expect("addr");
        if let Ok(tcp) = TcpListener::bind(addr).await {
            return (udp, tcp, addr);
        }
    }
    panic!("no free port pair on {ip}");
}

#[tokio::test]
async fn the_default_profile_sends_nothing_to_special_purpose_addresses() {
    let (udp1, tcp1, a1) = listeners("127.0.0.41").await;
    let (udp2, tcp2, a2) = listeners("127.0.0.42").await;
    let mut proposal = Proposal::default();
    proposal.add_arg(&format!("ns1.test/{a1}")).expect("arg");
    proposal.add_arg(&format!("ns2.test/{a2}")).expect("arg");
    let mut profile = Profile::default();
    profile.query.timeout_ms = 300;
    profile.query.retries = 0;
    profile.query.budget_ms = 5000;
    profile.asn = rootdesk::check::AsSource::None;
    let report = run_check(&origin("test."), &proposal, &profile).await;
    assert_eq!(report.verdict, Verdict::Fail, "{}", report.to_text());
    assert_has(&report, CheckId::AddressRoutable, Severity::Error);
    // Not a packet: neither socket saw a datagram or a connection.
    let mut buf = [0u8; 512];
    for (udp, tcp) in [(&udp1, &tcp1), (&udp2, &tcp2)] {
        assert!(udp.try_recv(&mut buf).is_err(), "a UDP query was sent");
        let accepted =
            tokio::time::timeout(std::time::Duration::from_millis(1), tcp.accept()).await;
        assert!(accepted.is_err(), "a TCP connection was made");
    }
    // The report says why nothing was sent, per query.
    assert!(!report.queries.is_empty(), "{}", report.to_text());
    for q in &report.queries {
        let error = q.error.as_deref().unwrap_or("");
        assert!(
            error.contains("special-purpose") && error.contains("allow_special_purpose"),
            "{q:?}"
        );
    }
}

#[tokio::test]
async fn a_profile_may_allow_special_purpose_blocks() {
    let profile =
        Profile::from_toml("[query]\nallow_special_purpose = [\"127.0.0.0/8\", \"::1/128\"]\n")
            .expect("valid");
    assert_eq!(profile.query.allow_special_purpose.len(), 2);
    assert!(Profile::from_toml("[query]\nallow_special_purpose = [\"127.0.0.0/33\"]\n").is_err());
    assert!(Profile::from_toml("[query]\nallow_special_purpose = [\"localhost\"]\n").is_err());
    assert!(Profile::lab()
        .query
        .allow_special_purpose
        .iter()
        .any(|p| p == "127.0.0.0/8"));
}
