//! The probe: one DNS query to one server address over one transport, and its outcome.
//!
//! Queries go over raw tokio sockets with hickory-proto's encoder and decoder (never
//! hand-written wire code), so that the checker sees what a resolver library would hide:
//! the address a reply really came from, a missing AA bit, TC without a TCP service,
//! FORMERR on EDNS. An outcome keeps "no answer / transport failure" apart from "answered
//! with this rcode" (STYLE §4). The [`Prober`] bounds the queries in flight, applies the
//! per-query timeout (UDP retransmissions happen within it), stops at the check's time
//! budget, remembers addresses that gave no answer so that a dead server costs one timeout
//! and not one per query, and logs every query for the report.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RecordType};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Notify, OnceCell, Semaphore};
use tokio::time::{timeout_at, Instant};

super::names::named_enum! {
    /// The transport of a query.
    pub enum Transport {
        Udp = "udp",
        Tcp = "tcp",
    }
}

/// What to ask.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuerySpec {
    pub qname: Name,
    pub qtype: RecordType,
    /// Recursion desired (only the open-resolver probe sets it).
    pub rd: bool,
    /// EDNS0 with this payload size, and the DO bit.
    pub edns: Option<(u16, bool)>,
    /// A deliberately unusual EDNS query (with `edns`).
    pub odd: Option<EdnsOddity>,
}

/// Deliberately unusual EDNS queries, to see that a server follows RFC 6891 (as Zonemaster's
/// NAMESERVER10 to NAMESERVER12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdnsOddity {
    /// EDNS version 1: the answer must be BADVERS with an OPT record of version 0 (§6.1.3).
    Version1,
    /// EDNS version 0 with an unknown option and an unknown flag: both must be ignored and
    /// neither echoed (§6.1.2, §6.1.4).
    UnknownOptionAndFlag,
}

/// The unknown EDNS option: unassigned in the IANA registry of EDNS option codes, as in
/// Zonemaster's NAMESERVER11.
pub const UNKNOWN_EDNS_OPTION: u16 = 137;
/// The unknown EDNS flag: the lowest of the flags field's unassigned Z bits.
pub const UNKNOWN_EDNS_FLAG: u16 = 0x0001;

impl QuerySpec {
    /// A plain query: RD=0, no EDNS.
    pub fn plain(qname: &Name, qtype: RecordType) -> Self {
        QuerySpec {
            qname: qname.clone(),
            qtype,
            rd: false,
            edns: None,
            odd: None,
        }
    }

    /// An EDNS0 query with the given payload size and DO bit.
    pub fn edns(qname: &Name, qtype: RecordType, payload: u16, dnssec_ok: bool) -> Self {
        QuerySpec {
            edns: Some((payload, dnssec_ok)),
            ..QuerySpec::plain(qname, qtype)
        }
    }

    /// The same query made deliberately unusual.
    pub fn odd(mut self, oddity: EdnsOddity) -> Self {
        self.odd = Some(oddity);
        self
    }

    fn message(&self) -> Message {
        let mut msg = Message::query();
        msg.metadata.recursion_desired = self.rd;
        msg.add_query(Query::query(self.qname.clone(), self.qtype));
        if let Some((payload, dnssec_ok)) = self.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(payload.max(512));
            edns.set_dnssec_ok(dnssec_ok);
            match self.odd {
                Some(EdnsOddity::Version1) => {
                    edns.set_version(1);
                }
                Some(EdnsOddity::UnknownOptionAndFlag) => {
                    edns.options_mut()
                        .insert(EdnsOption::Unknown(UNKNOWN_EDNS_OPTION, Vec::new()));
                    edns.flags_mut().z = UNKNOWN_EDNS_FLAG;
                }
                None => {}
            }
            msg.set_edns(edns);
        }
        msg
    }
}

/// A reply that was received and decoded.
#[derive(Debug, Clone)]
pub struct Answer {
    pub message: Message,
    /// Where the reply came from (for UDP it may differ from the address queried).
    pub from: SocketAddr,
    pub rtt: Duration,
}

/// Why a query got no usable reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("no reply within {0} ms")]
    Timeout(u64),
    #[error("TCP connection refused")]
    Refused,
    #[error("port unreachable: nothing listens on UDP there (ICMP)")]
    Unreachable,
    #[error("no reply within {0} ms, when the check's time budget ran out")]
    Budget(u64),
    /// The budget was spent before the query's turn came: nothing was sent.
    #[error("not sent (budget): the check's time budget was spent before this query's turn")]
    BudgetSpent,
    /// Datagrams came back from the server, but none was a reply to the query.
    #[error("no usable reply within {ms} ms: {count} datagram(s) came back that were not a DNS reply to this query")]
    Garbage { count: u32, ms: u64 },
    #[error("network error: {0}")]
    Io(String),
    /// The desk itself failed (out of file descriptors, no local port, no buffer space):
    /// nothing was learnt about the server.
    #[error("local error: {0}")]
    Local(String),
    #[error("malformed reply: {0}")]
    Malformed(String),
    #[error("not sent: {0}")]
    Skipped(String),
    /// A special-purpose address the profile does not allow: refused before any packet.
    #[error("not sent: {0} is a special-purpose address ({1}) and the profile does not allow it (query.allow_special_purpose)")]
    NotAllowed(std::net::IpAddr, String),
}

impl ProbeError {
    /// Whether this failure means nothing answers at that address and transport.
    fn is_dead(&self) -> bool {
        matches!(
            self,
            ProbeError::Timeout(_) | ProbeError::Refused | ProbeError::Io(_)
        )
    }
}

/// The desk's own resource failures (errno on Linux), as opposed to what the network or the
/// server did: these must never be blamed on a name server.
fn local_cause(e: &std::io::Error) -> Option<&'static str> {
    match e.raw_os_error()? {
        24 => Some("too many open files"),
        23 => Some("too many open files in the system"),
        105 => Some("no buffer space available"),
        12 => Some("out of memory"),
        98 => Some("local address already in use"),
        99 => Some("cannot assign a local address"),
        _ => None,
    }
}

/// An I/O error as a probe error: the desk's own ([`ProbeError::Local`]) or the network's.
fn io_error(e: &std::io::Error) -> ProbeError {
    match local_cause(e) {
        Some(cause) => ProbeError::Local(cause.to_string()),
        None => ProbeError::Io(e.to_string()),
    }
}

/// The outcome of one query.
pub type Outcome = Result<Answer, ProbeError>;

/// One query as the report records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRecord {
    /// The name server the address belongs to.
    pub server: String,
    /// The address queried: `192.0.2.53` on port 53, `127.0.0.1:5300` on any other port.
    #[serde(with = "address_text")]
    pub address: SocketAddr,
    pub transport: Transport,
    pub qname: String,
    pub qtype: Cow<'static, str>,
    /// `rd`, `edns`, `do`: what the query asked for.
    pub query_flags: Vec<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcode: Option<Cow<'static, str>>,
    /// Header flags of the reply (`qr aa tc rd ra ad cd`), plus `edns` when it carried OPT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<Cow<'static, str>>>,
    /// Answer, authority and additional record counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<[usize; 3]>,
    /// Set when the reply came from another address than the one queried.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "address_text::option"
    )]
    pub from: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Header flags of a message, in the order dig prints them.
pub fn flags_of(msg: &Message) -> Vec<Cow<'static, str>> {
    let m = &msg.metadata;
    let mut flags = Vec::new();
    for (set, name) in [
        (m.message_type == MessageType::Response, "qr"),
        (m.authoritative, "aa"),
        (m.truncation, "tc"),
        (m.recursion_desired, "rd"),
        (m.recursion_available, "ra"),
        (m.authentic_data, "ad"),
        (m.checking_disabled, "cd"),
        (msg.edns.is_some(), "edns"),
    ] {
        if set {
            flags.push(Cow::Borrowed(name));
        }
    }
    flags
}

/// An address and transport.
type Key = (SocketAddr, Transport);
/// The answer to one question, computed once for everyone who asks it.
type SharedOutcome = Arc<OnceCell<Outcome>>;

/// What the checks of one sweep share (DESIGN §5, issue 12): one bound on queries in flight
/// for all TLDs, the addresses found dead (a dead server costs one timeout in the whole
/// sweep), and the answers to identical questions (a server shared by many TLDs is asked each
/// question once: the same question to the same address and transport cannot get a
/// different answer within one sweep).
pub struct ProbeHub {
    permits: Arc<Semaphore>,
    /// The first failure that showed an address and transport dead, by key.
    dead: Mutex<HashMap<(SocketAddr, Transport), ProbeError>>,
    /// Addresses and transports that answered something in this sweep.
    alive: Mutex<HashSet<(SocketAddr, Transport)>>,
    /// The first contact with an address and transport: later queries wait for it, so that
    /// concurrent checks do not each wait for a dead server's timeout.
    gates: Mutex<HashMap<Key, Arc<OnceCell<()>>>>,
    answers: Mutex<HashMap<(SocketAddr, Transport, QuerySpec), SharedOutcome>>,
    sent: AtomicU64,
    /// One UDP socket pair per server address, for every check of the sweep.
    udp: Arc<UdpPool>,
}

impl ProbeHub {
    /// A hub allowing `concurrency` queries in flight across every check that uses it.
    pub fn new(concurrency: usize) -> Arc<ProbeHub> {
        Arc::new(ProbeHub {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dead: Mutex::new(HashMap::new()),
            alive: Mutex::new(HashSet::new()),
            gates: Mutex::new(HashMap::new()),
            answers: Mutex::new(HashMap::new()),
            sent: AtomicU64::new(0),
            udp: Arc::new(UdpPool::new(concurrency)),
        })
    }

    /// Queries actually sent to the network (shared answers are not counted again).
    pub fn queries_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn gate(&self, key: (SocketAddr, Transport)) -> Arc<OnceCell<()>> {
        match self.gates.lock() {
            Ok(mut g) => g.entry(key).or_default().clone(),
            Err(_) => Arc::new(OnceCell::new()),
        }
    }

    fn cell(&self, key: (SocketAddr, Transport, QuerySpec)) -> Arc<OnceCell<Outcome>> {
        match self.answers.lock() {
            Ok(mut a) => a.entry(key).or_default().clone(),
            Err(_) => Arc::new(OnceCell::new()),
        }
    }

    fn dead_error(&self, key: (SocketAddr, Transport)) -> Option<ProbeError> {
        self.dead.lock().ok()?.get(&key).cloned()
    }

    fn learn(&self, key: (SocketAddr, Transport), outcome: &Outcome) {
        match outcome {
            Ok(_) => {
                if let Ok(mut a) = self.alive.lock() {
                    a.insert(key);
                }
            }
            Err(e) if e.is_dead() => {
                // An address that answered before is not dead for everyone because one
                // question went unanswered.
                let answered = self.alive.lock().map(|a| a.contains(&key)).unwrap_or(false);
                if !answered {
                    if let Ok(mut d) = self.dead.lock() {
                        d.entry(key).or_insert_with(|| e.clone());
                    }
                }
            }
            Err(_) => {}
        }
    }
}

/// Sends queries under the profile's limits and logs them.
pub struct Prober {
    permits: Arc<Semaphore>,
    hub: Option<Arc<ProbeHub>>,
    timeout: Duration,
    retries: u32,
    deadline: Instant,
    dead: Mutex<HashSet<(SocketAddr, Transport)>>,
    log: Mutex<Vec<QueryRecord>>,
    /// Special-purpose blocks queries may go to; every other special-purpose address is refused.
    allowed: Vec<ipnet::IpNet>,
    /// The UDP sockets: the hub's in a sweep, else the prober's own.
    udp: Arc<UdpPool>,
}

impl Prober {
    /// A prober with `concurrency` queries in flight, a per-query `timeout` (with `retries`
    /// UDP retransmissions inside it) and an overall `budget` from now.
    pub fn new(concurrency: usize, timeout: Duration, retries: u32, budget: Duration) -> Self {
        Prober {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            hub: None,
            timeout,
            retries,
            deadline: Instant::now() + budget,
            dead: Mutex::new(HashSet::new()),
            log: Mutex::new(Vec::new()),
            allowed: Vec::new(),
            udp: Arc::new(UdpPool::new(concurrency)),
        }
    }

    /// A prober for one check of a sweep: the hub's bound on queries in flight, dead
    /// addresses and shared answers; its own log and budget (from now).
    pub fn shared(hub: &Arc<ProbeHub>, timeout: Duration, retries: u32, budget: Duration) -> Self {
        let mut p = Prober::new(1, timeout, retries, budget);
        p.permits = hub.permits.clone();
        p.hub = Some(hub.clone());
        p.udp = hub.udp.clone();
        p
    }

    /// Allows queries to these special-purpose blocks (the profile's `allow_special_purpose`).
    pub fn allowing(mut self, blocks: Vec<ipnet::IpNet>) -> Self {
        self.allowed = blocks;
        self
    }

    /// Why a query to `ip` must not be sent, if it must not.
    fn refusal(&self, ip: std::net::IpAddr) -> Option<ProbeError> {
        let why = super::addresses::special_purpose(ip)?;
        let allowed = self.allowed.iter().any(|net| net.contains(&ip));
        (!allowed).then_some(ProbeError::NotAllowed(ip, why))
    }

    /// Whether an earlier query to this address and transport got no answer at all.
    pub fn is_dead(&self, address: SocketAddr, transport: Transport) -> bool {
        self.dead
            .lock()
            .map(|d| d.contains(&(address, transport)))
            .unwrap_or(false)
    }

    /// Every query made so far.
    pub fn take_log(&self) -> Vec<QueryRecord> {
        self.log
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }

    /// Sends one query to `address` over `transport` (labelled with the name server `server`
    /// in the log). An address that timed out before is not queried again.
    pub async fn query(
        &self,
        server: &Name,
        address: SocketAddr,
        transport: Transport,
        spec: &QuerySpec,
    ) -> Outcome {
        self.query_inner(server, address, transport, spec, false)
            .await
    }

    /// The first query to an address and transport (the engine's SOA round, sent to every
    /// address at once): not skipped when another name on the same address failed a moment
    /// before, so that which of two names sharing an address gets the real error does not
    /// depend on the order the queries were polled in. In a sweep it still waits for the
    /// hub's first contact with the address and takes its failure.
    pub async fn query_first(
        &self,
        server: &Name,
        address: SocketAddr,
        transport: Transport,
        spec: &QuerySpec,
    ) -> Outcome {
        self.query_inner(server, address, transport, spec, true)
            .await
    }

    async fn query_inner(
        &self,
        server: &Name,
        address: SocketAddr,
        transport: Transport,
        spec: &QuerySpec,
        first: bool,
    ) -> Outcome {
        if let Some(refused) = self.refusal(address.ip()) {
            let outcome = Err(refused);
            self.record(server, address, transport, spec, &outcome);
            return outcome;
        }
        if !first && self.is_dead(address, transport) {
            return Err(ProbeError::Skipped(format!(
                "{address} gave no answer over {transport} earlier"
            )));
        }
        let outcome = if Instant::now() >= self.deadline {
            Err(ProbeError::BudgetSpent)
        } else {
            match &self.hub {
                Some(hub) => self.via_hub(hub, address, transport, spec).await,
                None => self.send(address, transport, spec).await,
            }
        };
        if let Err(e) = &outcome {
            if e.is_dead() {
                if let Ok(mut dead) = self.dead.lock() {
                    dead.insert((address, transport));
                }
            }
        }
        self.record(server, address, transport, spec, &outcome);
        outcome
    }

    /// A query of a sweep: waits for the first contact with the address, answers from the
    /// dead list or from an identical question asked before, else sends.
    async fn via_hub(
        &self,
        hub: &ProbeHub,
        address: SocketAddr,
        transport: Transport,
        spec: &QuerySpec,
    ) -> Outcome {
        let key = (address, transport);
        let gate = hub.gate(key);
        let mut first: Option<Outcome> = None;
        if !gate.initialized() {
            gate.get_or_init(|| async {
                let outcome = self.shared_send(hub, address, transport, spec).await;
                hub.learn(key, &outcome);
                first = Some(outcome);
            })
            .await;
        }
        if let Some(outcome) = first {
            return outcome;
        }
        if let Some(dead) = hub.dead_error(key) {
            return Err(dead);
        }
        let outcome = self.shared_send(hub, address, transport, spec).await;
        hub.learn(key, &outcome);
        outcome
    }

    /// Sends, unless the same question went to the same address and transport before.
    async fn shared_send(
        &self,
        hub: &ProbeHub,
        address: SocketAddr,
        transport: Transport,
        spec: &QuerySpec,
    ) -> Outcome {
        // Only the open-resolver probe (RD=1, a name outside every TLD) is asked alike by
        // every TLD on a server. Every other question names the asking TLD's own zone (its
        // apex, or its in-zone name servers for glue), which no other TLD asks about:
        // remembering those answers for the whole sweep cost memory and time for nothing.
        if !spec.rd {
            return self.send(address, transport, spec).await;
        }
        let cell = hub.cell((address, transport, spec.clone()));
        let mut mine = false;
        let outcome = cell
            .get_or_init(|| async {
                mine = true;
                self.send(address, transport, spec).await
            })
            .await
            .clone();
        // Failures of the asking check (its budget, the desk's resources) are not the answer.
        match &outcome {
            Err(ProbeError::Budget(_) | ProbeError::BudgetSpent | ProbeError::Local(_))
                if !mine =>
            {
                self.send(address, transport, spec).await
            }
            _ => outcome,
        }
    }

    /// Sends one query under the bound on queries in flight and the budget.
    async fn send(&self, address: SocketAddr, transport: Transport, spec: &QuerySpec) -> Outcome {
        let _permit = self.permits.acquire().await;
        // The budget may have run out while waiting for a permit.
        if Instant::now() >= self.deadline {
            return Err(ProbeError::BudgetSpent);
        }
        if let Some(hub) = &self.hub {
            hub.sent.fetch_add(1, Ordering::Relaxed);
        }
        let full = Instant::now() + self.timeout;
        let end = full.min(self.deadline);
        let outcome = match transport {
            Transport::Udp => self.udp(address, spec, end).await,
            Transport::Tcp => tcp(address, spec, end).await,
        };
        match outcome {
            // Cut short by the budget: say so rather than blame the server's patience.
            Err(ProbeError::Timeout(ms)) if end < full => Err(ProbeError::Budget(ms)),
            other => other,
        }
    }

    fn record(
        &self,
        server: &Name,
        address: SocketAddr,
        transport: Transport,
        spec: &QuerySpec,
        outcome: &Outcome,
    ) {
        let mut query_flags = Vec::new();
        if spec.rd {
            query_flags.push(Cow::Borrowed("rd"));
        }
        if let Some((_, dnssec_ok)) = spec.edns {
            query_flags.push(Cow::Borrowed("edns"));
            if dnssec_ok {
                query_flags.push(Cow::Borrowed("do"));
            }
            match spec.odd {
                Some(EdnsOddity::Version1) => query_flags.push(Cow::Borrowed("edns-version-1")),
                Some(EdnsOddity::UnknownOptionAndFlag) => {
                    query_flags.push(Cow::Owned(format!("edns-option-{UNKNOWN_EDNS_OPTION}")));
                    query_flags.push(Cow::Borrowed("edns-flag-z"));
                }
                None => {}
            }
        }
        let mut rec = QueryRecord {
            server: server.to_ascii(),
            address,
            transport,
            qname: spec.qname.to_ascii(),
            qtype: record_type_name(spec.qtype),
            query_flags,
            rcode: None,
            flags: None,
            counts: None,
            from: None,
            rtt_ms: None,
            error: None,
        };
        match outcome {
            Ok(a) => {
                rec.rcode = Some(rcode_name(a.message.metadata.response_code));
                rec.flags = Some(flags_of(&a.message));
                rec.counts = Some([
                    a.message.answers.len(),
                    a.message.authorities.len(),
                    a.message.additionals.len(),
                ]);
                rec.from = (a.from != address).then_some(a.from);
                rec.rtt_ms = Some((a.rtt.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0);
            }
            Err(e) => rec.error = Some(e.to_string()),
        }
        if let Ok(mut log) = self.log.lock() {
            log.push(rec);
        }
    }

    async fn udp(&self, address: SocketAddr, spec: &QuerySpec, end: Instant) -> Outcome {
        let channel = self.udp.lease(address)?;
        // A channel whose socket failed takes no queries: this one gets a fresh pair.
        let (channel, waiter) = match channel.register() {
            Some(w) => (channel, w),
            None => {
                let fresh = Arc::new(UdpChannel::open(address)?);
                let w = fresh
                    .register()
                    .ok_or_else(|| ProbeError::Local("cannot use a new UDP socket".into()))?;
                (fresh, w)
            }
        };
        let Waiter {
            id,
            mailbox,
            _registration,
        } = waiter;
        let mut msg = spec.message();
        msg.metadata.id = id;
        let bytes = msg
            .to_vec()
            .map_err(|e| ProbeError::Io(format!("cannot encode query: {e}")))?;
        let start = Instant::now();
        let interval = end.saturating_duration_since(start) / (self.retries + 1);
        match channel.inner.connected.send(&bytes).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(ProbeError::Unreachable)
            }
            Err(e) => return Err(io_error(&e)),
            Ok(_) => {}
        }
        let mut sends = 1;
        let mut next_send = start + interval;
        // Datagrams from the server that were not a reply: garbage is not silence.
        let mut garbage = 0u32;
        loop {
            let wake = if sends <= self.retries {
                next_send.min(end)
            } else {
                end
            };
            match timeout_at(wake, mailbox.recv()).await {
                Err(_) => {
                    if Instant::now() >= end {
                        let ms = millis(end - start);
                        if garbage > 0 {
                            return Err(ProbeError::Garbage { count: garbage, ms });
                        }
                        return Err(ProbeError::Timeout(ms));
                    }
                    // Retransmit the same query (same id): a late first reply still counts.
                    let _ = channel.inner.connected.send(&bytes).await;
                    sends += 1;
                    next_send += interval;
                }
                Ok(Delivery::Unreachable) => return Err(ProbeError::Unreachable),
                Ok(Delivery::Failed(e)) => return Err(e),
                Ok(Delivery::Garbage) => garbage = garbage.saturating_add(1),
                Ok(Delivery::Datagram(data, from)) => match Message::from_vec(&data) {
                    Ok(reply) if matches_query(&msg, &reply) => {
                        return Ok(Answer {
                            message: reply,
                            from,
                            rtt: start.elapsed(),
                        })
                    }
                    // A reply to our id that does not decode is the server's fault (the
                    // reader hands over only datagrams that carry the id).
                    Err(e) => return Err(ProbeError::Malformed(e.to_string())),
                    // Our id, another question: not ours; keep waiting, but remember it.
                    Ok(_) => {
                        if from == address {
                            garbage = garbage.saturating_add(1);
                        }
                    }
                },
            }
        }
    }
}

/// What a channel's reader hands to the query waiting on an id.
enum Delivery {
    /// A datagram carrying the query's id, and where it came from.
    Datagram(Vec<u8>, SocketAddr),
    /// A datagram from the server that carries the id of no query waiting, nor of one that
    /// ended lately.
    Garbage,
    /// The kernel reported ICMP port unreachable from the server.
    Unreachable,
    /// The socket failed.
    Failed(ProbeError),
}

/// Where a channel's reader leaves what arrives for one query: a queue and a wake-up, one
/// allocation per query (tokio's unbounded channel allocates a block of 32 slots).
#[derive(Default)]
struct Mailbox {
    queue: Mutex<VecDeque<Delivery>>,
    ready: Notify,
}

impl Mailbox {
    fn send(&self, delivery: Delivery) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.push_back(delivery);
        }
        self.ready.notify_one();
    }

    /// The next delivery. Cancel-safe: a delivery is taken only when it is returned, and a
    /// wake-up sent while nobody waits is kept (`Notify` stores one permit).
    async fn recv(&self) -> Delivery {
        loop {
            if let Some(d) = self.queue.lock().ok().and_then(|mut q| q.pop_front()) {
                return d;
            }
            self.ready.notified().await;
        }
    }
}

/// A query waiting on a channel: its id, and where its datagrams arrive.
struct Waiter {
    id: u16,
    mailbox: Arc<Mailbox>,
    _registration: Registration,
}

/// Removes a query's id from its channel when the query ends, however it ends.
struct Registration {
    inner: Arc<ChannelInner>,
    id: u16,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut w) = self.inner.waiting.lock() {
            w.by_id.remove(&self.id);
            if w.retired.len() >= RETIRED {
                w.retired.pop_front();
            }
            w.retired.push_back(self.id);
        }
    }
}

/// Ids of ended queries remembered per channel: a late reply or a retransmission's answer
/// to one of them is neither another query's reply nor garbage, and the id is not reused.
const RETIRED: usize = 512;

/// Queries sent from one source port before the pool opens a new channel (a new random port
/// from the kernel): an off-path spoofer must then guess the port as well as the 16-bit id
/// (RFC 5452 §9.2), while the sockets opened stay 1/16 of one pair per query.
const PORT_USES: u32 = 32;

#[derive(Default)]
struct Waiting {
    by_id: HashMap<u16, Arc<Mailbox>>,
    retired: VecDeque<u16>,
    /// Random ids drawn from the OS in one call per [`PORT_USES`] queries, not one each.
    fresh_ids: Vec<u16>,
    /// Queries registered so far (the channel is retired after [`PORT_USES`]).
    issued: u32,
    /// The reader stopped on a socket error: the channel takes no more queries.
    broken: bool,
}

struct ChannelInner {
    server: SocketAddr,
    connected: UdpSocket,
    other: Option<UdpSocket>,
    waiting: Mutex<Waiting>,
}

/// One UDP socket pair (see [`udp_sockets`]) to one server address, shared by every query
/// to it (issue 12: opening two sockets per query was most of the checker's cost in a
/// sweep). The anti-spoofing rules are those of a socket per query: the connected socket
/// takes only datagrams from the server's address, each query has a random id that no
/// other query on the channel is using or used lately, and a reply must carry the query's
/// id and question; the twin still sees replies from other addresses. A reader task hands
/// each datagram to the query whose id it carries.
struct UdpChannel {
    inner: Arc<ChannelInner>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for UdpChannel {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl UdpChannel {
    fn open(server: SocketAddr) -> Result<UdpChannel, ProbeError> {
        // Every failure to set up the sockets is the desk's, whatever errno says.
        let (connected, other) = udp_sockets(server).map_err(|e| match io_error(&e) {
            ProbeError::Io(m) => ProbeError::Local(format!("cannot open a UDP socket: {m}")),
            other => other,
        })?;
        let inner = Arc::new(ChannelInner {
            server,
            connected,
            other,
            waiting: Mutex::new(Waiting::default()),
        });
        let reader = tokio::spawn(read_loop(inner.clone()));
        Ok(UdpChannel { inner, reader })
    }

    /// A fresh id for a query, or `None` when the channel is broken.
    fn register(&self) -> Option<Waiter> {
        let mut w = self.inner.waiting.lock().ok()?;
        if w.broken {
            return None;
        }
        let id = loop {
            if w.fresh_ids.is_empty() {
                let mut bytes = [0u8; 2 * PORT_USES as usize];
                getrandom::fill(&mut bytes).ok()?;
                w.fresh_ids = bytes
                    .chunks_exact(2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]))
                    .collect();
            }
            let id = w.fresh_ids.pop()?;
            if !w.by_id.contains_key(&id) && !w.retired.contains(&id) {
                break id;
            }
        };
        let mailbox = Arc::new(Mailbox::default());
        w.by_id.insert(id, mailbox.clone());
        w.issued = w.issued.saturating_add(1);
        Some(Waiter {
            id,
            mailbox,
            _registration: Registration {
                inner: self.inner.clone(),
                id,
            },
        })
    }

    /// Broken, or has sent its share of queries from this port: the pool opens a new one.
    fn is_spent(&self) -> bool {
        self.inner
            .waiting
            .lock()
            .map(|w| w.broken || w.issued >= PORT_USES)
            .unwrap_or(true)
    }
}

impl ChannelInner {
    fn deliver(&self, data: &[u8], from: SocketAddr, own: bool) {
        let Ok(w) = self.waiting.lock() else { return };
        let id = data.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        match id.and_then(|id| w.by_id.get(&id)) {
            Some(tx) => {
                tx.send(Delivery::Datagram(data.to_vec(), from));
            }
            // From the server, for no query of ours, ended or waiting: garbage to everyone
            // waiting on it (before, each query's own socket counted what it received).
            None if own && !id.is_some_and(|id| w.retired.contains(&id)) => {
                for tx in w.by_id.values() {
                    tx.send(Delivery::Garbage);
                }
            }
            None => {}
        }
    }

    fn to_all(&self, what: impl Fn() -> Delivery) {
        if let Ok(w) = self.waiting.lock() {
            for tx in w.by_id.values() {
                tx.send(what());
            }
        }
    }
}

async fn read_loop(ch: Arc<ChannelInner>) {
    // Capacity only: the buffers are never zeroed.
    let mut buf: Vec<u8> = Vec::with_capacity(65535);
    let mut other_buf: Vec<u8> = Vec::with_capacity(65535);
    loop {
        buf.clear();
        other_buf.clear();
        let received = tokio::select! {
            r = ch.connected.recv_buf(&mut buf) => r.map(|_| (ch.server, true)),
            r = async {
                match &ch.other {
                    Some(o) => o.recv_buf_from(&mut other_buf).await,
                    None => std::future::pending().await,
                }
            } => r.map(|(_, from)| (from, false)),
        };
        match received {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                ch.to_all(|| Delivery::Unreachable)
            }
            Err(e) => {
                let error = io_error(&e);
                if let Ok(mut w) = ch.waiting.lock() {
                    w.broken = true;
                    for tx in w.by_id.values() {
                        tx.send(Delivery::Failed(error.clone()));
                    }
                }
                return;
            }
            Ok((from, true)) => ch.deliver(&buf, from, true),
            Ok((from, false)) => ch.deliver(&other_buf, from, false),
        }
    }
}

/// The UDP channels of a prober or a sweep, at most `cap` open (twice as many sockets):
/// queries in flight are bounded by the same number, so an idle channel can always make
/// room, and the file descriptors stay bounded as with a socket pair per query.
struct UdpPool {
    cap: usize,
    open: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    channels: HashMap<SocketAddr, (Arc<UdpChannel>, u64)>,
    tick: u64,
}

impl UdpPool {
    fn new(cap: usize) -> Self {
        UdpPool {
            cap: cap.max(1),
            open: Mutex::new(PoolState::default()),
        }
    }

    /// The channel to `server`, opened if need be.
    fn lease(&self, server: SocketAddr) -> Result<Arc<UdpChannel>, ProbeError> {
        let Ok(mut state) = self.open.lock() else {
            return UdpChannel::open(server).map(Arc::new);
        };
        state.tick += 1;
        let tick = state.tick;
        if let Some((channel, last)) = state.channels.get_mut(&server) {
            if !channel.is_spent() {
                *last = tick;
                return Ok(channel.clone());
            }
            state.channels.remove(&server);
        }
        if state.channels.len() >= self.cap {
            // The least recently used channel no query holds makes room.
            let idle = state
                .channels
                .iter()
                .filter(|(_, (c, _))| Arc::strong_count(c) == 1)
                .min_by_key(|(_, (_, last))| *last)
                .map(|(k, _)| *k);
            match idle {
                Some(k) => {
                    state.channels.remove(&k);
                }
                None => return UdpChannel::open(server).map(Arc::new),
            }
        }
        let channel = Arc::new(UdpChannel::open(server)?);
        state.channels.insert(server, (channel.clone(), tick));
        Ok(channel)
    }
}

/// Two UDP sockets sharing one local port: one connected to the server, which receives its
/// replies and the ICMP "port unreachable" that the kernel reports as ECONNREFUSED (so a
/// closed port fails at once instead of after a timeout); and one unconnected, which receives
/// datagrams from any other address, so that a server answering from the wrong source is seen
/// and reported.
///
/// The port is picked by binding the unconnected socket without any reuse option, and only
/// then allowing reuse (SO_REUSEADDR) for its connected twin: another probe's port-0 bind,
/// made without the option, can never be given the same port, so replies never stray between
/// probes.
fn udp_sockets(server: SocketAddr) -> std::io::Result<(UdpSocket, Option<UdpSocket>)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let (domain, any): (Domain, SocketAddr) = if server.is_ipv4() {
        (Domain::IPV4, (Ipv4Addr::UNSPECIFIED, 0).into())
    } else {
        (Domain::IPV6, (Ipv6Addr::UNSPECIFIED, 0).into())
    };
    let other = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    other.set_nonblocking(true)?;
    other.bind(&any.into())?;
    let port = other.local_addr()?.as_socket().map_or(0, |a| a.port());
    let connected = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    connected.set_nonblocking(true)?;
    let paired = other.set_reuse_address(true).and_then(|()| {
        connected.set_reuse_address(true)?;
        let mut local = any;
        local.set_port(port);
        connected.bind(&local.into())
    });
    connected.connect(&server.into())?;
    let connected = UdpSocket::from_std(std::net::UdpSocket::from(connected))?;
    // Without the twin the probe still works; it only cannot see wrong-source replies.
    let other = match paired {
        Ok(()) => UdpSocket::from_std(std::net::UdpSocket::from(other)).ok(),
        Err(_) => None,
    };
    Ok((connected, other))
}

async fn tcp(address: SocketAddr, spec: &QuerySpec, end: Instant) -> Outcome {
    let msg = spec.message();
    let bytes = msg
        .to_vec()
        .map_err(|e| ProbeError::Io(format!("cannot encode query: {e}")))?;
    let start = Instant::now();
    let timeout = || ProbeError::Timeout(millis(end - start));
    let mut stream = match timeout_at(end, TcpStream::connect(address)).await {
        Err(_) => return Err(timeout()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(ProbeError::Refused)
        }
        Ok(Err(e)) => return Err(io_error(&e)),
        Ok(Ok(s)) => s,
    };
    let len = u16::try_from(bytes.len()).map_err(|_| ProbeError::Io("query too long".into()))?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&bytes);
    let exchange = async {
        stream.write_all(&framed).await?;
        let n = stream.read_u16().await?;
        let mut buf = vec![0u8; usize::from(n)];
        stream.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = match timeout_at(end, exchange).await {
        Err(_) => return Err(timeout()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(ProbeError::Io("connection closed without a reply".into()))
        }
        Ok(Err(e)) => return Err(ProbeError::Io(e.to_string())),
        Ok(Ok(buf)) => buf,
    };
    let reply = Message::from_vec(&buf).map_err(|e| ProbeError::Malformed(e.to_string()))?;
    if !matches_query(&msg, &reply) {
        return Err(ProbeError::Malformed(
            "the reply's id or question does not match the query".into(),
        ));
    }
    Ok(Answer {
        message: reply,
        from: address,
        rtt: start.elapsed(),
    })
}

/// A reply belongs to a query when it is a response with the same id and, if it carries a
/// question, the same one (FORMERR replies may omit it).
fn matches_query(query: &Message, reply: &Message) -> bool {
    if reply.metadata.id != query.metadata.id
        || reply.metadata.message_type != MessageType::Response
    {
        return false;
    }
    match (reply.queries.first(), query.queries.first()) {
        (Some(r), Some(q)) => {
            r.query_type() == q.query_type() && r.name().to_lowercase() == q.name().to_lowercase()
        }
        (None, _) => reply.metadata.response_code != ResponseCode::NoError,
        _ => false,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The mnemonic of a response code, as dig prints it (`NOERROR`, `REFUSED`, ...).
pub fn rcode_name(rc: ResponseCode) -> Cow<'static, str> {
    match u16::from(rc) {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        7 => "YXRRSET".into(),
        8 => "NXRRSET".into(),
        9 => "NOTAUTH".into(),
        10 => "NOTZONE".into(),
        16 => "BADVERS".into(),
        n => Cow::Owned(format!("RCODE{n}")),
    }
}

/// Socket addresses as report text: the bare IP address for port 53 (the DNS port, as in
/// every delegation), `ip:port` or `[ip]:port` for the other ports labs use.
pub mod address_text {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    /// `192.0.2.1`, `2001:db8::1`, `127.0.0.1:5300`, `[::1]:5300`.
    pub fn format(address: &SocketAddr) -> String {
        if address.port() == 53 {
            address.ip().to_string()
        } else {
            address.to_string()
        }
    }

    pub fn serialize<S: Serializer>(address: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(address))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        let text = String::deserialize(d)?;
        crate::check::proposal::parse_address(&text).map_err(serde::de::Error::custom)
    }

    /// The same for optional addresses.
    pub mod option {
        use std::net::SocketAddr;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            address: &Option<SocketAddr>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match address {
                Some(a) => super::serialize(a, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<SocketAddr>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(text) => crate::check::proposal::parse_address(&text)
                    .map(Some)
                    .map_err(serde::de::Error::custom),
                None => Ok(None),
            }
        }
    }
}

/// A record type's mnemonic (`SOA`), without an allocation for the known types.
fn record_type_name(rtype: RecordType) -> Cow<'static, str> {
    match rtype {
        RecordType::Unknown(_) => Cow::Owned(rtype.to_string()),
        known => Cow::Borrowed(<&'static str>::from(known)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> QuerySpec {
        QuerySpec::plain(&Name::from_ascii("xa.").expect("name"), RecordType::SOA)
    }

    /// The log names record types as before it stopped allocating for them: as hickory
    /// prints them, known or not.
    #[test]
    fn record_type_names_are_those_hickory_prints() {
        for code in [1u16, 2, 6, 15, 28, 43, 46, 48, 51, 59, 60, 65, 255, 65280] {
            let rtype = RecordType::from(code);
            assert_eq!(record_type_name(rtype), rtype.to_string(), "type {code}");
        }
    }

    /// A reply that arrives before its query waits for it is kept, and the order kept.
    #[tokio::test]
    async fn a_mailbox_keeps_what_arrives_before_anyone_waits() {
        let mailbox = Mailbox::default();
        mailbox.send(Delivery::Garbage);
        mailbox.send(Delivery::Unreachable);
        assert!(matches!(mailbox.recv().await, Delivery::Garbage));
        assert!(matches!(mailbox.recv().await, Delivery::Unreachable));
        let waiting = tokio::time::timeout(Duration::from_millis(50), mailbox.recv()).await;
        assert!(waiting.is_err(), "an empty mailbox has nothing to give");
    }

    /// RFC 5452: queries to one server do not all leave from one port; after
    /// [`PORT_USES`] queries a channel is replaced by one on a port of its own.
    #[tokio::test]
    async fn a_channel_gives_way_to_a_new_port_after_its_share_of_queries() {
        let server: SocketAddr = "127.0.0.1:9".parse().expect("address");
        let pool = UdpPool::new(4);
        let first = pool.lease(server).expect("channel");
        let port = first.inner.connected.local_addr().expect("port").port();
        for _ in 0..PORT_USES - 1 {
            drop(first.register().expect("an id"));
        }
        let same = pool.lease(server).expect("channel");
        assert!(Arc::ptr_eq(&first, &same), "reused below its share");
        drop(same.register().expect("an id"));
        let next = pool.lease(server).expect("channel");
        assert!(
            !Arc::ptr_eq(&first, &next),
            "a spent channel is not leased again"
        );
        let new_port = next.inner.connected.local_addr().expect("port").port();
        assert_ne!(port, new_port, "the new channel has another port");
    }

    #[tokio::test]
    async fn garbage_over_udp_is_not_silence() {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = server.local_addr().expect("addr");
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((_, from)) = server.recv_from(&mut buf).await {
                let _ = server.send_to(b"\xff\xffnot dns", from).await;
            }
        });
        let prober = Prober::new(4, Duration::from_millis(300), 0, Duration::from_secs(5))
            .allowing(vec!["127.0.0.0/8".parse().expect("block")]);
        let name = Name::from_ascii("ns1.nic.xa.").expect("name");
        let outcome = prober.query(&name, addr, Transport::Udp, &spec()).await;
        assert!(
            matches!(outcome, Err(ProbeError::Garbage { count, .. }) if count >= 1),
            "{outcome:?}"
        );
        let text = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!text.starts_with("no reply within"), "{text}");
    }

    #[tokio::test]
    async fn queries_past_the_budget_are_not_sent() {
        let prober = Prober::new(4, Duration::from_millis(300), 0, Duration::ZERO)
            .allowing(vec!["127.0.0.0/8".parse().expect("block")]);
        let name = Name::from_ascii("ns1.nic.xa.").expect("name");
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        let outcome = prober.query(&name, addr, Transport::Udp, &spec()).await;
        assert_eq!(outcome.err(), Some(ProbeError::BudgetSpent));
        let log = prober.take_log();
        let error = log
            .first()
            .and_then(|r| r.error.clone())
            .unwrap_or_default();
        assert!(error.starts_with("not sent (budget)"), "{error}");
    }
}
