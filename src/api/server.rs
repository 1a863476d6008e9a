//! Serving the API: plain HTTP or TLS (rustls), connection bounds and graceful shutdown. The
//! daemon's scheduled work runs beside it ([`crate::daemon`]), started and stopped here.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Extension;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::{router, Peer};
use crate::desk::Desk;

/// How the daemon serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Certificate chain and private key (PEM) for HTTPS; plain HTTP when absent.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub max_body_bytes: usize,
    /// How often pending checks are looked for.
    pub check_poll: Duration,
    /// How often reminders and expiry are swept.
    pub sweep_interval: Duration,
    /// How often a checkpoint is signed, with the key (None: never).
    pub checkpoints: Option<(Duration, ed25519_dalek::SigningKey)>,
    /// Bounds on what unauthenticated peers can hold open.
    pub limits: ConnectionLimits,
    /// How often every published delegation is swept, and how much at once (None: never).
    pub delegation_sweep: Option<(Duration, crate::check::SweepLimits)>,
}

/// Bounds on connections, so that idle or half-open peers cannot starve the daemon.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionLimits {
    /// A connection must deliver a request's headers within this time (also between
    /// keep-alive requests), or it is closed.
    pub header_read_timeout: Duration,
    /// A TLS handshake must complete within this time.
    pub tls_handshake_timeout: Duration,
    /// Connections open at once, in all; more are closed on accept.
    pub max_connections: usize,
    /// Connections open at once from one source address.
    pub max_per_source: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_per_source: 32,
        }
    }
}

/// A running daemon.
pub struct Server {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds and starts serving in the background.
    pub async fn start(desk: Arc<Desk>, options: ServeOptions) -> std::io::Result<Server> {
        let listener = TcpListener::bind(options.listen).await?;
        Server::start_on(desk, options, listener).await
    }

    /// Starts serving on a listener already bound (`options.listen` is not used).
    pub async fn start_on(
        desk: Arc<Desk>,
        options: ServeOptions,
        listener: TcpListener,
    ) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        let acceptor = match &options.tls {
            Some((cert, key)) => Some(tls_acceptor(cert, key)?),
            None => None,
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(desk, options, listener, acceptor, stopped));
        Ok(Server { addr, stop, task })
    }

    /// Stops accepting, lets open requests finish, stops the background work.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Stops at once, as a crash would (for restart tests): nothing is drained.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Serves until `shutdown` completes.
pub async fn serve(
    desk: Arc<Desk>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let server = Server::start(desk, options).await?;
    tracing::info!(addr = %server.addr, "rootdesk is serving");
    shutdown.await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> std::io::Result<TlsAcceptor> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}: {e}"))
    };
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(std::fs::File::open(cert)?))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&cert.display().to_string(), &e))?;
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(std::fs::File::open(key)?))
        .map_err(|e| invalid(&key.display().to_string(), &e))?
        .ok_or_else(|| invalid(&key.display().to_string(), &"no private key in the file"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid("TLS certificate", &e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn run(
    desk: Arc<Desk>,
    options: ServeOptions,
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let app = router(desk.clone(), options.max_body_bytes);
    // notify: the outbox sender, when a relay is configured.
    let sender = crate::daemon::sender::spawn(desk.clone(), stopped.clone());
    let schedule = crate::daemon::Schedule {
        check_poll: options.check_poll,
        sweep_interval: options.sweep_interval,
        checkpoints: options.checkpoints.clone(),
        delegation_sweep: options.delegation_sweep,
    };
    let background = tokio::spawn(crate::daemon::run(desk, schedule, stopped.clone()));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = options.limits.clone();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let sources: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    let mut accept_log = RateLimited::new(Duration::from_secs(10));
    let mut refused_log = RateLimited::new(Duration::from_secs(10));
    let mut backoff = Duration::ZERO;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff = Duration::ZERO;
                    a
                }
                Err(e) => {
                    // Out of descriptors (EMFILE) and the like: retrying at once would spin.
                    backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                    if let Some(suppressed) = accept_log.allow() {
                        tracing::warn!(error = %e, suppressed, "accept failed; backing off");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stopped.changed() => break,
                    }
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        // Over a bound the connection is closed at once (dropped), before any byte is read.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if let Some(suppressed) = refused_log.allow() {
                tracing::warn!(%peer, suppressed, "connection refused: too many connections");
            }
            continue;
        };
        let Some(source) = SourceSlot::take(&sources, peer.ip(), limits.max_per_source) else {
            if let Some(suppressed) = refused_log.allow() {
                tracing::warn!(%peer, suppressed, "connection refused: too many from this address");
            }
            continue;
        };
        let mut conn_app = app.clone().layer(Extension(Peer(peer)));
        if acceptor.is_some() {
            // The portal marks its cookies Secure on TLS connections.
            conn_app = conn_app.layer(Extension(crate::portal::Https));
        }
        let service = TowerToHyperService::new(conn_app);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        let handshake_timeout = limits.tls_handshake_timeout;
        tokio::spawn(async move {
            let _held = (slot, source);
            let result =
                match acceptor {
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        watcher.watch(conn).await
                    }
                    Some(acceptor) => {
                        let stream =
                            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(error = %e, %peer, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        watcher.watch(conn).await
                    }
                };
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    background.abort();
    let _ = background.await;
    // notify: the sender finishes the message in hand (it watches `stopped`).
    if let Some(mut sender) = sender {
        if tokio::time::timeout(Duration::from_secs(10), &mut sender)
            .await
            .is_err()
        {
            // A message in hand stays marked `sending`: the next start sends it again.
            tracing::warn!("the sender did not stop in time");
            sender.abort();
        }
    }
}

/// One connection's share of its source address's bound; released on drop.
struct SourceSlot {
    sources: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl SourceSlot {
    fn take(sources: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<Self> {
        let mut map = sources.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max.max(1) {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            sources: sources.clone(),
            ip,
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut map = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// At most one log line per period; counts the lines it held back.
struct RateLimited {
    period: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimited {
    fn new(period: Duration) -> Self {
        RateLimited {
            period,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(lines held back since the last one)` when a line may be logged now.
    fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < self.period)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}
