//! Stopping a run early and keeping its evidence: the first SIGINT or SIGTERM raises the
//! run's [`Interrupt`]; producers stop sending, the nemesis undoes its faults, consumers
//! drain for at most [`DRAIN_LIMIT`], the log is read back and checked, and every output is
//! written with `interrupted` in `result.json` (such a run is never a pass).
//!
//! ```text
//!   cli: first signal ──raise("SIGTERM")──> Interrupt ──> producers stop (feed loop, verifiable)
//!                                               └──> engine: drain ≤ DRAIN_LIMIT ──> Evidence.interrupted
//!   cli: second signal ──> the run is dropped at once (brokers and processes killed)
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// The longest an interrupted run drains its consumers.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// A run's stop request, shared by whoever may raise it and the tasks that obey it. The
/// default is never raised.
#[derive(Debug, Clone)]
pub struct Interrupt(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// Read once per record by producers: cheaper than the channel.
    raised: AtomicBool,
    signal: watch::Sender<Option<(String, Instant)>>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt(Arc::new(Inner {
            raised: AtomicBool::new(false),
            signal: watch::channel(None).0,
        }))
    }
}

impl Interrupt {
    /// Asks the run to stop because of `signal` (`SIGTERM`, `SIGINT`); later calls change
    /// nothing.
    pub fn raise(&self, signal: &str) {
        self.0.signal.send_if_modified(|now| {
            if now.is_some() {
                return false;
            }
            *now = Some((signal.to_owned(), Instant::now()));
            true
        });
        self.0.raised.store(true, Ordering::Release);
    }

    /// True once raised.
    pub fn is_raised(&self) -> bool {
        self.0.raised.load(Ordering::Acquire)
    }

    /// The signal and when it came, once raised.
    pub fn raised(&self) -> Option<(String, Instant)> {
        self.0.signal.borrow().clone()
    }

    /// Returns once raised (at once if it already is).
    pub async fn wait(&self) {
        let mut rx = self.0.signal.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_signal_counts_and_wakes_every_waiter() {
        let i = Interrupt::default();
        assert!(i.raised().is_none() && !i.is_raised());
        let waiter = tokio::spawn({
            let i = i.clone();
            async move { i.wait().await }
        });
        i.raise("SIGTERM");
        i.raise("SIGINT");
        waiter.await.unwrap();
        assert_eq!(i.raised().unwrap().0, "SIGTERM");
        assert!(i.is_raised());
        // Raised already: returns at once.
        tokio::time::timeout(Duration::from_secs(1), i.wait())
            .await
            .unwrap();
    }
}
