//! The daemon's scheduler: the work that runs by the clock, not by a request. Pending checks
//! (also those a previous run left unfinished), reminders and expiry, the delegation sweep and
//! audit checkpoints, and the outbox [`sender`]. The HTTP module serves and this module
//! schedules.

pub mod sender;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::desk::Desk;

/// How often each kind of scheduled work runs.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// How often pending checks are looked for.
    pub check_poll: Duration,
    /// How often reminders and expiry are swept.
    pub sweep_interval: Duration,
    /// How often a checkpoint is signed, with the key (None: never).
    pub checkpoints: Option<(Duration, ed25519_dalek::SigningKey)>,
    /// How often every published delegation is swept, and how much at once (None: never).
    pub delegation_sweep: Option<(Duration, crate::check::SweepLimits)>,
}

/// The daemon's own work: run pending checks (also those a previous run left unfinished),
/// sweep reminders and expiry, sign checkpoints.
pub async fn run(desk: Arc<Desk>, options: Schedule, mut stopped: watch::Receiver<bool>) {
    let mut check_tick = tokio::time::interval(options.check_poll);
    let mut sweep_tick = tokio::time::interval(options.sweep_interval);
    let checkpoint_every = options
        .checkpoints
        .as_ref()
        .map(|(every, _)| *every)
        .unwrap_or(Duration::from_secs(3600));
    let mut checkpoint_tick = tokio::time::interval(checkpoint_every);
    let mut delegation_tick = tokio::time::interval(
        options
            .delegation_sweep
            .map(|(every, _)| every)
            .unwrap_or(Duration::from_secs(3600)),
    );
    // One delegation sweep at a time: a tick while one runs is skipped.
    let sweeping = Arc::new(std::sync::atomic::AtomicBool::new(false));
    loop {
        tokio::select! {
            _ = delegation_tick.tick(), if options.delegation_sweep.is_some() => {
                let limits = options.delegation_sweep.map(|(_, l)| l).unwrap_or_default();
                if !sweeping.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    let (d, flag) = (desk.clone(), sweeping.clone());
                    tokio::spawn(async move {
                        match d.sweep_delegations(limits).await {
                            Ok(s) => tracing::info!(tlds = s.tlds, pass = s.pass, warn = s.warn, fail = s.fail, not_run = s.not_run, queries = s.queries, elapsed_ms = s.elapsed_ms, "delegations swept"),
                            Err(e) => tracing::error!(error = %e, "delegation sweep failed"),
                        }
                        flag.store(false, std::sync::atomic::Ordering::SeqCst);
                    });
                }
            }
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
                    let signed = tokio::task::spawn_blocking(move || d.sign_checkpoint(&key)).await;
                    if let Ok(Err(e)) = signed {
                        tracing::error!(error = %e, "checkpoint failed");
                    }
                }
            }
            _ = stopped.changed() => break,
        }
    }
}
