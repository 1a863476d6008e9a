//! DNS servers for the check tests, all on loopback: a scripted authoritative responder on
//! hickory-proto and tokio that can misbehave in every way a real server might, and
//! hickory-server's in-process authoritative server for well-behaved zones.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordSet, RecordType, RrKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use super::zone::Zone;

/// The ways a scripted server misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Nothing listens on TCP (connections are refused).
    pub no_tcp: bool,
    /// Answers without the AA bit.
    pub no_aa: bool,
    /// Answers every query REFUSED.
    pub refused: bool,
    /// Never answers (UDP and TCP).
    pub silent: bool,
    /// Answers FORMERR (without OPT) to every query with EDNS.
    pub formerr_on_edns: bool,
    /// Drops queries with EDNS silently.
    pub drop_edns: bool,
    /// Sets TC and empties the answer on every UDP reply.
    pub truncate_udp: bool,
    /// Recurses: answers RD=1 queries outside the zone with RA=1.
    pub open_resolver: bool,
    /// Sends UDP replies from this address instead of the one queried.
    pub reply_from: Option<IpAddr>,
    /// Ignores the first UDP datagram of every query id (answers its retransmission).
    pub drop_first_udp: bool,
    /// Answers every EDNS version as if it were 0 (no BADVERS, RFC 6891 §6.1.3).
    pub edns_any_version: bool,
    /// Echoes the query's EDNS options and unknown flags in the reply's OPT record.
    pub echo_edns: bool,
}

/// A running scripted server; stopped when dropped.
pub struct Scripted {
    pub addr: SocketAddr,
    /// UDP datagrams and TCP queries received (answered or not).
    pub received: Arc<std::sync::atomic::AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds UDP and TCP on one free port of `ip`.
async fn bind_pair(ip: IpAddr, tcp: bool) -> (UdpSocket, Option<TcpListener>) {
    for _ in 0..50 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0))
            .await
            .expect("bind UDP");
        let port = udp.local_addr().expect("local addr").port();
        if !tcp {
            // Keep the TCP port closed: make sure nobody else listens there.
            return (udp, None);
        }
        if let Ok(listener) = TcpListener::bind(SocketAddr::new(ip, port)).await {
            return (udp, Some(listener));
        }
    }
    panic!("no free UDP+TCP port pair on {ip}");
}

impl Scripted {
    /// Serves on a given port of `ip` (UDP and TCP), or `None` if it cannot be bound.
    pub async fn start_on(ip: IpAddr, port: u16, zone: Zone, faults: Faults) -> Option<Scripted> {
        let udp = UdpSocket::bind(SocketAddr::new(ip, port)).await.ok()?;
        let tcp = TcpListener::bind(SocketAddr::new(ip, port)).await.ok()?;
        Some(Scripted::serve(udp, Some(tcp), vec![zone], faults).await)
    }

    /// [`Scripted::start_multi`] on a given port, or `None` if it cannot be bound.
    pub async fn start_multi_on(
        ip: IpAddr,
        port: u16,
        zones: Vec<Zone>,
        faults: Faults,
    ) -> Option<Scripted> {
        let udp = UdpSocket::bind(SocketAddr::new(ip, port)).await.ok()?;
        let tcp = TcpListener::bind(SocketAddr::new(ip, port)).await.ok()?;
        Some(Scripted::serve(udp, Some(tcp), zones, faults).await)
    }

    pub async fn start(ip: IpAddr, zone: Zone, faults: Faults) -> Scripted {
        Scripted::start_multi(ip, vec![zone], faults).await
    }

    /// One server for several zones (a name server shared by several TLDs).
    pub async fn start_multi(ip: IpAddr, zones: Vec<Zone>, faults: Faults) -> Scripted {
        let (udp, tcp) = bind_pair(ip, !faults.no_tcp).await;
        Scripted::serve(udp, tcp, zones, faults).await
    }

    async fn serve(
        udp: UdpSocket,
        tcp: Option<TcpListener>,
        zones: Vec<Zone>,
        faults: Faults,
    ) -> Scripted {
        let zone = Arc::new(zones);
        let faults = Arc::new(faults);
        let received = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let addr = udp.local_addr().expect("local addr");
        let mut tasks = Vec::new();
        let reply_socket = match faults.reply_from {
            Some(other) => Some(
                UdpSocket::bind(SocketAddr::new(other, 0))
                    .await
                    .expect("bind reply socket"),
            ),
            None => None,
        };
        {
            let (zone, faults, received) = (zone.clone(), faults.clone(), received.clone());
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 65535];
                let mut seen = std::collections::HashSet::new();
                loop {
                    let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                        return;
                    };
                    received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if faults.drop_first_udp && n >= 2 && seen.insert((from, buf[0], buf[1])) {
                        continue;
                    }
                    let Some(reply) = reply(&zone, &faults, &buf[..n], true) else {
                        continue;
                    };
                    let socket = reply_socket.as_ref().unwrap_or(&udp);
                    let _ = socket.send_to(&reply, from).await;
                }
            }));
        }
        if let Some(listener) = tcp {
            let received = received.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let Ok((mut stream, _)) = listener.accept().await else {
                        return;
                    };
                    let (zone, faults) = (zone.clone(), faults.clone());
                    received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::spawn(async move {
                        loop {
                            let Ok(len) = stream.read_u16().await else {
                                return;
                            };
                            let mut buf = vec![0u8; usize::from(len)];
                            if stream.read_exact(&mut buf).await.is_err() {
                                return;
                            }
                            let Some(reply) = reply(&zone, &faults, &buf, false) else {
                                continue;
                            };
                            let Ok(rlen) = u16::try_from(reply.len()) else {
                                return;
                            };
                            let mut framed = rlen.to_be_bytes().to_vec();
                            framed.extend_from_slice(&reply);
                            if stream.write_all(&framed).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            }));
        }
        Scripted {
            addr,
            received,
            tasks,
        }
    }
}

/// The zone a query is for (the longest origin holding its name), else the first.
fn pick<'a>(zones: &'a [Zone], query: &Message) -> &'a Zone {
    query
        .queries
        .first()
        .and_then(|q| {
            zones
                .iter()
                .filter(|z| z.origin.zone_of(q.name()))
                .max_by_key(|z| z.origin.num_labels())
        })
        .unwrap_or(&zones[0])
}

/// The reply to one query (decoded once, also to pick its zone), or `None` to stay silent.
fn reply(zones: &[Zone], faults: &Faults, query: &[u8], udp: bool) -> Option<Vec<u8>> {
    if faults.silent {
        return None;
    }
    let query = Message::from_vec(query).ok()?;
    answer(pick(zones, &query), faults, &query, udp)
}

/// The reply to one query, or `None` to stay silent.
fn answer(zone: &Zone, faults: &Faults, query: &Message, udp: bool) -> Option<Vec<u8>> {
    let q = query.queries.first()?.clone();
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.add_query(q.clone());
    if let Some(asked) = &query.edns {
        if faults.drop_edns {
            return None;
        }
        if faults.formerr_on_edns {
            reply.metadata.response_code = ResponseCode::FormErr;
            return reply.to_vec().ok();
        }
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.set_dnssec_ok(asked.flags().dnssec_ok);
        if faults.echo_edns {
            e.flags_mut().z = asked.flags().z;
            for (_, option) in asked.options().as_ref() {
                e.options_mut().insert(option.clone());
            }
        }
        reply.set_edns(e);
        // RFC 6891 §6.1.3: an unknown version gets BADVERS and the version known (0).
        if asked.version() != 0 && !faults.edns_any_version {
            reply.metadata.response_code = ResponseCode::BADVERS;
            return reply.to_vec().ok();
        }
    }
    if faults.refused {
        reply.metadata.response_code = ResponseCode::Refused;
        return reply.to_vec().ok();
    }
    let qname = q.name().to_lowercase();
    let qtype = q.query_type();
    if !zone.origin.zone_of(&qname) {
        if faults.open_resolver && query.metadata.recursion_desired {
            reply.metadata.recursion_available = true;
            if qtype == RecordType::A {
                reply.add_answer(Record::from_rdata(
                    qname,
                    60,
                    RData::A(A::new(192, 0, 2, 1)),
                ));
            } else {
                reply.metadata.response_code = ResponseCode::NXDomain;
            }
        } else {
            reply.metadata.response_code = ResponseCode::Refused;
        }
        return reply.to_vec().ok();
    }
    // Below a zone cut (NS records at a name under the origin): a referral with glue.
    if let Some(cut) = zone
        .records
        .iter()
        .filter(|r| {
            r.record_type() == RecordType::NS && r.name != zone.origin && r.name.zone_of(&qname)
        })
        .map(|r| r.name.clone())
        .max_by_key(|n| n.num_labels())
    {
        for ns in zone
            .records
            .iter()
            .filter(|r| r.name == cut && r.record_type() == RecordType::NS)
        {
            reply.add_authority(ns.clone());
            if let RData::NS(target) = &ns.data {
                for glue in zone.records.iter().filter(|r| {
                    r.name == target.0
                        && matches!(r.record_type(), RecordType::A | RecordType::AAAA)
                }) {
                    reply.add_additional(glue.clone());
                }
            }
        }
        return reply.to_vec().ok();
    }
    reply.metadata.authoritative = !faults.no_aa;
    let dnssec_ok = query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    let at_name: Vec<&Record> = zone.records.iter().filter(|r| r.name == qname).collect();
    let matching: Vec<Record> = at_name
        .iter()
        .filter(|r| {
            r.record_type() == qtype
                || (qtype != RecordType::CNAME && r.record_type() == RecordType::CNAME)
        })
        .map(|r| (*r).clone())
        .collect();
    if matching.is_empty() {
        if at_name.is_empty() {
            reply.metadata.response_code = ResponseCode::NXDomain;
        }
        if let Some(soa) = zone
            .records
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
        {
            reply.add_authority(soa.clone());
        }
    } else {
        reply.add_answers(matching);
        if dnssec_ok {
            let sigs: Vec<Record> = at_name
                .iter()
                .filter(|r| matches!(&r.data, RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == qtype))
                .map(|r| (*r).clone())
                .collect();
            reply.add_answers(sigs);
        }
    }
    if udp && faults.truncate_udp {
        reply.metadata.truncation = true;
        reply.answers.clear();
        reply.authorities.clear();
    }
    let bytes = reply.to_vec().ok()?;
    let limit = query
        .edns
        .as_ref()
        .map_or(512, |e| usize::from(e.max_payload().max(512)));
    if udp && bytes.len() > limit {
        let mut t = reply.clone();
        t.metadata.truncation = true;
        t.answers.clear();
        t.authorities.clear();
        t.additionals.clear();
        return t.to_vec().ok();
    }
    Some(bytes)
}

/// hickory-server serving a zone authoritatively on `ip`, UDP and TCP on one port.
pub struct Hickory {
    pub addr: SocketAddr,
    server: hickory_server::Server<hickory_server::zone_handler::Catalog>,
}

impl Hickory {
    /// Serves `zone` (signed by `signer` with hickory's own signing if given).
    pub async fn start(
        ip: IpAddr,
        zone: &Zone,
        signer: Option<hickory_proto::dnssec::DnssecSigner>,
    ) -> Hickory {
        use hickory_server::dnssec::NxProofKind;
        use hickory_server::store::in_memory::InMemoryZoneHandler;
        use hickory_server::zone_handler::{AxfrPolicy, Catalog, DnssecZoneHandler, ZoneType};
        let mut records: BTreeMap<RrKey, RecordSet> = BTreeMap::new();
        for r in &zone.records {
            let key = RrKey::new(r.name.clone().into(), r.record_type());
            records
                .entry(key)
                .or_insert_with(|| RecordSet::new(r.name.clone(), r.record_type(), 1))
                .insert(r.clone(), 1);
        }
        let nx = signer.as_ref().map(|_| NxProofKind::Nsec);
        let handler =
            InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::new(
                zone.origin.clone(),
                records,
                ZoneType::Primary,
                AxfrPolicy::Deny,
                nx,
            )
            .expect("zone handler");
        if let Some(signer) = signer {
            handler.add_zone_signing_key(signer).await.expect("add key");
            handler.secure_zone().await.expect("sign zone");
        }
        let mut catalog = Catalog::new();
        catalog.upsert(zone.origin.clone().into(), vec![Arc::new(handler)]);
        let mut server = hickory_server::Server::new(catalog);
        let (udp, tcp) = bind_pair(ip, true).await;
        let addr = udp.local_addr().expect("addr");
        server.register_socket(udp);
        server.register_listener(tcp.expect("tcp"), Duration::from_secs(5), 65535);
        Hickory { addr, server }
    }

    pub async fn stop(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }
}

/// Parses `127.0.0.x` and friends.
pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A name for a test zone.
pub fn origin(s: &str) -> Name {
    Name::from_ascii(s).expect("origin")
}
