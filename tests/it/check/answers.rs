//! Bounded property runs on the checker's handling of DNS answers (issue 10, "Fuzzing"): a
//! proxy on loopback passes each query to a well-behaved server and damages the answer on its
//! way back (bytes flipped, cut short, or replaced), over UDP and TCP. Whatever comes back,
//! the check ends with a report, never a panic, and a server that only ever sends garbage
//! never passes.

use std::net::SocketAddr;
use std::sync::Arc;

use proptest::prelude::*;
use rootdesk::check::{run_check, Proposal, Verdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::server::{ip, origin, Faults, Scripted};
use super::{profile, test_zone};

/// How answers are damaged on their way back: the message ID (the first two bytes) is kept,
/// so that the checker takes the answer for its own and has to read the rest.
#[derive(Debug, Clone)]
enum Damage {
    /// XOR these bytes at these offsets (modulo the answer's length, past the ID).
    Flip(Vec<(usize, u8)>),
    /// Keep only this many bytes.
    Cut(usize),
    /// Replace everything after the ID with these bytes.
    Garbage(Vec<u8>),
}

impl Damage {
    fn apply(&self, answer: &mut Vec<u8>) {
        match self {
            Damage::Flip(flips) => {
                if answer.len() > 2 {
                    let span = answer.len() - 2;
                    for (at, xor) in flips {
                        answer[2 + at % span] ^= xor;
                    }
                }
            }
            Damage::Cut(keep) => answer.truncate((*keep).max(2)),
            Damage::Garbage(bytes) => {
                answer.truncate(2);
                answer.extend_from_slice(bytes);
            }
        }
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        prop::collection::vec((any::<usize>(), 1u8..=255), 1..6).prop_map(Damage::Flip),
        (0usize..120).prop_map(Damage::Cut),
        prop::collection::vec(any::<u8>(), 0..80).prop_map(Damage::Garbage),
    ]
}

/// Listens on `ip` (UDP and TCP, one port) and relays to `upstream`, damaging each answer.
struct Proxy {
    addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr, damage: Damage) -> Proxy {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind((ip("127.0.0.1"), 0))
                .await
                .expect("bind UDP");
            let port = udp.local_addr().expect("addr").port();
            if let Ok(tcp) = TcpListener::bind((ip("127.0.0.1"), port)).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().expect("addr");
        let damage = Arc::new(damage);
        let udp = Arc::new(udp);
        let mut tasks = Vec::new();
        {
            let damage = damage.clone();
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 65535];
                while let Ok((n, from)) = udp.recv_from(&mut buf).await {
                    let query = buf[..n].to_vec();
                    let (udp, damage) = (udp.clone(), damage.clone());
                    tokio::spawn(async move {
                        if let Some(mut answer) = ask_udp(upstream, &query).await {
                            damage.apply(&mut answer);
                            let _ = udp.send_to(&answer, from).await;
                        }
                    });
                }
            }));
        }
        tasks.push(tokio::spawn(async move {
            while let Ok((mut client, _)) = tcp.accept().await {
                let damage = damage.clone();
                tokio::spawn(async move {
                    let Some(query) = read_framed(&mut client).await else {
                        return;
                    };
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    if write_framed(&mut server, &query).await.is_err() {
                        return;
                    }
                    if let Some(mut answer) = read_framed(&mut server).await {
                        damage.apply(&mut answer);
                        let _ = write_framed(&mut client, &answer).await;
                    }
                });
            }
        }));
        Proxy { addr, tasks }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn ask_udp(upstream: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind((ip("127.0.0.1"), 0)).await.ok()?;
    socket.send_to(query, upstream).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(std::time::Duration::from_secs(2), socket.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    Some(buf)
}

async fn read_framed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let len = stream.read_u16().await.ok()?;
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

async fn write_framed(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
    stream.write_u16(len).await?;
    stream
        .write_all(&message[..usize::from(len).min(message.len())])
        .await
}

/// ns1.test behind a damaging proxy, ns2.test well-behaved; the check's verdict.
fn check_with_damaged_ns1(damage: Damage) -> Verdict {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let ns1 = Scripted::start(ip("127.0.0.1"), test_zone(1), Faults::default()).await;
        let ns2 = Scripted::start(ip("127.0.0.2"), test_zone(1), Faults::default()).await;
        let proxy = Proxy::start(ns1.addr, damage).await;
        let mut proposal = Proposal::default();
        proposal
            .add_arg(&format!("ns1.test/{}", proxy.addr))
            .expect("ns1");
        proposal
            .add_arg(&format!("ns2.test/{}", ns2.addr))
            .expect("ns2");
        let mut profile = profile();
        profile.query.timeout_ms = 200;
        profile.query.retries = 0;
        profile.query.budget_ms = 3_000;
        let report = run_check(&origin("test."), &proposal, &profile).await;
        // The report is whole: it serialises, and says what it found.
        serde_json::to_string(&report).expect("the report serialises");
        drop(proxy);
        drop(ns1);
        drop(ns2);
        report.verdict
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn damaged_answers_end_in_a_report(damage in damage()) {
        let _ = check_with_damaged_ns1(damage);
    }

    #[test]
    fn a_server_that_answers_garbage_never_passes(bytes in prop::collection::vec(any::<u8>(), 0..12)) {
        // Twelve bytes or fewer after the ID cannot hold a question and an answer.
        let verdict = check_with_damaged_ns1(Damage::Garbage(bytes));
        prop_assert_eq!(verdict, Verdict::Fail);
    }
}
