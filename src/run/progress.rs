//! The progress line of a running scenario: on a terminal a live spinner line, elsewhere (CI
//! logs) a plain line on stderr every second.

use std::io::IsTerminal;
use std::time::Instant;

use super::engine::RunCounts;

/// Shows the run's figures once a second.
pub(super) struct Progress {
    started: Instant,
    last_acked: u64,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// Starts the display (its clock starts now).
    pub fn new() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar
        });
        Progress {
            started: Instant::now(),
            last_acked: 0,
            bar,
        }
    }

    /// One update: totals, the last second's acknowledgement rate and its p99 (µs).
    pub fn show(&mut self, l: RunCounts, ack_p99_us: u64) {
        let line = format!(
            "{:>4.0} s  sent {:>9}  acked {:>9} ({:>7}/s)  consumed {:>9}  ack p99 {:>7.1} ms  failed/indeterminate {}",
            self.started.elapsed().as_secs_f64(),
            l.attempted,
            l.acked,
            l.acked - self.last_acked,
            l.consumed,
            ack_p99_us as f64 / 1000.0,
            l.failed + l.indeterminate
        );
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => crate::note(line),
        }
        self.last_acked = l.acked;
    }

    /// Clears the live line.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
