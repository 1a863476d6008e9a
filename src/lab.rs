//! Lab name servers: hickory-server answering authoritatively for zones given as master-file
//! text, on a loopback address. `serve --demo` runs them so that a proposed change can pass
//! the technical checks on a machine with no network; the tests use them too.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordSet, RrKey};
use hickory_proto::serialize::txt::Parser;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// A running lab server; it serves until [`LabServer::stop`] or the runtime ends.
pub struct LabServer {
    pub addr: SocketAddr,
    server: hickory_server::Server<Catalog>,
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

impl LabServer {
    /// Serves the zone `origin` from master-file text on `ip` (UDP and TCP on one port; a
    /// free port when `port` is 0).
    pub async fn start(
        ip: IpAddr,
        port: u16,
        origin: &str,
        zone_text: &str,
    ) -> std::io::Result<LabServer> {
        let origin =
            Name::from_ascii(origin).map_err(|e| invalid(format!("zone name {origin:?}: {e}")))?;
        let (_, records) = Parser::new(zone_text, None, Some(origin.clone()))
            .parse()
            .map_err(|e| invalid(format!("zone {origin}: {e}")))?;
        let records: BTreeMap<RrKey, RecordSet> = records;
        let handler = InMemoryZoneHandler::<TokioRuntimeProvider>::new(
            origin.clone(),
            records,
            ZoneType::Primary,
            AxfrPolicy::Deny,
            None,
        )
        .map_err(invalid)?;
        let mut catalog = Catalog::new();
        catalog.upsert(origin.into(), vec![Arc::new(handler)]);
        let mut server = hickory_server::Server::new(catalog);
        let (udp, tcp) = bind_pair(ip, port).await?;
        let addr = udp.local_addr()?;
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 65535);
        Ok(LabServer { addr, server })
    }

    pub async fn stop(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }
}

/// UDP and TCP on the same port of `ip`.
async fn bind_pair(ip: IpAddr, port: u16) -> std::io::Result<(UdpSocket, TcpListener)> {
    if port != 0 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, port)).await?;
        let tcp = TcpListener::bind(SocketAddr::new(ip, port)).await?;
        return Ok((udp, tcp));
    }
    let mut last = None;
    for _ in 0..50 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| invalid(format!("no free UDP and TCP port pair on {ip}"))))
}

/// A small healthy zone for `tld` served by the given name servers and addresses.
pub fn healthy_zone(tld: &str, servers: &[(&str, IpAddr)]) -> String {
    let mut text = format!(
        "$ORIGIN {tld}.\n$TTL 3600\n@ IN SOA {} hostmaster.nic.{tld}. 2026112301 14400 3600 1209600 3600\n",
        servers.first().map(|(n, _)| format!("{n}.")).unwrap_or_else(|| format!("ns.{tld}."))
    );
    for (name, _) in servers {
        text.push_str(&format!("@ IN NS {name}.\n"));
    }
    for (name, ip) in servers {
        let rtype = if ip.is_ipv4() { "A" } else { "AAAA" };
        text.push_str(&format!("{name}. IN {rtype} {ip}\n"));
    }
    text.push_str(&format!("www.{tld}. IN A 192.0.2.80\n"));
    text
}
