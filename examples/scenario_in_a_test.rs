//! A scenario from Rust: parsed from a string (the same validation and errors as the CLI),
//! run against a real broker the test owns, and its result asserted; a failing result prints
//! as the terminal summary does, naming each check that failed.
//!
//! Run it: `cargo run --example scenario_in_a_test`; as a test (CI does):
//! `cargo test --example scenario_in_a_test`.
//!
//! ```text
//!   text ──scenario::parse──> Plan ──run::execute(plan, &cluster, options, out)──> RunResult
//!   EmbeddedCluster (yours, dropped at the end: its JVM is killed, its folder removed)
//! ```

use std::path::Path;

use kafka_harness::EmbeddedCluster;
use kafka_harness::report::RunResult;
use kafka_harness::run::{self, engine::RunOptions};
use kafka_harness::scenario;

/// Payments keyed by account, read by a group: nothing acknowledged may be lost, and each
/// account's events must stay in order.
const SCENARIO: &str = r#"
name = "payments-in-a-test"
seed = 7
duration = "3s"

[[topics]]
name = "payments"
partitions = 3

[[producers]]
name = "ledger"
driver = "rdkafka"
topic = "payments"
template = "invoice"
size = "300B"
keys = { count = 20, distribution = "uniform" }
rate = "200/s"

[producers.client]
acks = "all"
"enable.idempotence" = "true"

[[consumers]]
name = "billing"
driver = "rdkafka"
topic = "payments"
group = "billing"

[checks]
anomalies = ["lost_write", "duplicate_write", "order_violation", "lost_delivery"]
duplicate_delivery = "allowed"
"#;

/// Starts a broker, runs the scenario on it, writes the run folder under `out`.
async fn run_payments(out: &Path) -> Result<RunResult, Box<dyn std::error::Error>> {
    let cluster = EmbeddedCluster::builder().start().await?;
    // The path only names the scenario in error messages.
    let plan = scenario::parse(Path::new("payments-in-a-test.toml"), SCENARIO)?;
    let (result, _folder) = run::execute(&plan, &cluster, RunOptions::default(), out).await?;
    Ok(result)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = tempfile::tempdir()?;
    let result = run_payments(out.path()).await?;
    println!("{result}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn payments_lose_nothing_and_keep_each_accounts_order() {
        let out = tempfile::tempdir().unwrap();
        let result = run_payments(out.path()).await.unwrap();
        assert!(result.passed(), "{result}");
        assert!(result.counts.acked > 0, "{result}");
    }

    #[test]
    fn a_typo_is_refused_with_its_line_and_the_fix() {
        let text = SCENARIO.replace("duration = ", "duraton = ");
        let err = scenario::parse(Path::new("payments-in-a-test.toml"), &text).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("payments-in-a-test.toml:") && message.contains("duraton"),
            "{message}"
        );
    }
}
