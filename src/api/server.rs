//! Serving the API: plain HTTP or TLS (rustls), graceful shutdown, and the daemon's
//! background work (checks, reminders and expiry, audit checkpoints, the outbox sender).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
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
    let sender = crate::notify::sender::spawn(desk.clone(), stopped.clone());
    let background = tokio::spawn(background(desk, options.clone(), stopped.clone()));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let service = TowerToHyperService::new(app.clone().layer(Extension(Peer(peer))));
        let builder = auto::Builder::new(TokioExecutor::new());
        match &acceptor {
            None => {
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let stream = match acceptor.accept(stream).await {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::debug!(error = %e, %peer, "TLS handshake failed");
                            return;
                        }
                    };
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
        }
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

/// The daemon's own work: run pending checks (also those a previous run left unfinished),
/// sweep reminders and expiry, sign checkpoints.
async fn background(desk: Arc<Desk>, options: ServeOptions, mut stopped: watch::Receiver<bool>) {
    let mut check_tick = tokio::time::interval(options.check_poll);
    let mut sweep_tick = tokio::time::interval(options.sweep_interval);
    let checkpoint_every = options
        .checkpoints
        .as_ref()
        .map(|(every, _)| *every)
        .unwrap_or(Duration::from_secs(3600));
    let mut checkpoint_tick = tokio::time::interval(checkpoint_every);
    loop {
        tokio::select! {
            _ = check_tick.tick() => {
                let d = desk.clone();
                match tokio::task::spawn_blocking(move || d.start_pending_checks()).await {
                    Ok(Err(e)) => tracing::error!(error = %e, "starting checks failed"),
                    Err(e) => tracing::error!(error = %e, "starting checks panicked"),
                    Ok(Ok(_)) => {}
                }
            }
            _ = sweep_tick.tick() => {
                let d = desk.clone();
                match tokio::task::spawn_blocking(move || d.sweep()).await {
                    Ok(Ok(acted)) => for (ticket, event) in acted {
                        tracing::info!(%ticket, event = event.kind(), "swept");
                    },
                    Ok(Err(e)) => tracing::error!(error = %e, "sweep failed"),
                    Err(e) => tracing::error!(error = %e, "sweep panicked"),
                }
            }
            _ = checkpoint_tick.tick() => {
                if let Some((_, key)) = &options.checkpoints {
                    let d = desk.clone();
                    let key = key.clone();
                    let signed = tokio::task::spawn_blocking(move || {
                        let now = d.clock.now();
                        d.with_store(|s| crate::audit::sign_checkpoint(s, &key, now)
                            .map_err(|e| crate::desk::DeskError::Store(crate::store::StoreError::Conflict(e.to_string()))))
                    }).await;
                    if let Ok(Err(e)) = signed {
                        tracing::error!(error = %e, "checkpoint failed");
                    }
                }
            }
            _ = stopped.changed() => break,
        }
    }
}
