//! The command line: `kafka-harness cluster up`, with the exit codes of the contract.
//!
//! Exit codes: 0 success; 2 bad input (usage, settings); 3 infrastructure (Java, Maven,
//! a broker that will not start).

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kafka_harness::{Cluster, ClusterError, EmbeddedCluster};
use tokio::signal::unix::{SignalKind, signal};

/// Exit code for bad input: usage, scenario or settings.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for infrastructure failures: brokers, Java, Maven.
const EXIT_INFRA: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "kafka-harness",
    version,
    about = "Test harness and load tester for Apache Kafka: real brokers on your machine."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage an embedded cluster of real Kafka brokers.
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Start an embedded cluster in the foreground; print `bootstrap=H:P,...` when ready;
    /// stop and clean up on Ctrl-C or SIGTERM.
    Up(UpArgs),
}

#[derive(Debug, clap::Args)]
struct UpArgs {
    /// Number of nodes (each broker and controller), 1 to 5.
    #[arg(long, default_value_t = 1)]
    brokers: usize,
    /// Apache Kafka version, fetched from Maven Central on first use
    /// [default: KAFKA_HOME's version, else the built-in default]
    #[arg(long, value_name = "V", help_heading = None)]
    kafka_version: Option<String>,
    /// A broker config for every node, e.g. `--broker-config log.retention.ms=60000`.
    #[arg(long = "broker-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    broker_configs: Vec<(String, String)>,
    /// Maximum JVM heap per node, in MiB.
    #[arg(long, default_value_t = 512)]
    heap_mb: u32,
    /// First of the ports to use (two per node) instead of free ones chosen at random.
    #[arg(long)]
    base_port: Option<u16>,
    /// Keep the cluster's data folder when it stops.
    #[arg(long)]
    keep_data: bool,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!(
            "`{s}`: expected KEY=VALUE, like log.retention.ms=60000"
        )),
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_BAD_INPUT)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            kafka_harness::note(format!("error: could not start the async runtime: {e}"));
            return ExitCode::from(EXIT_INFRA);
        }
    };
    let result = runtime.block_on(async {
        match args.command {
            Command::Cluster(ClusterCommand::Up(up)) => cluster_up(up).await,
        }
    });
    // Do not wait for a blocking task left behind by an interrupt (a Maven download): its
    // child dies with this process.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            kafka_harness::note(format!("error: {e}"));
            ExitCode::from(if e.is_bad_input() {
                EXIT_BAD_INPUT
            } else {
                EXIT_INFRA
            })
        }
    }
}

async fn cluster_up(up: UpArgs) -> Result<(), ClusterError> {
    // Listen before starting so a signal during start-up is not lost.
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ClusterError::io("SIGINT"))?;
    let mut terminate = signal(SignalKind::terminate()).map_err(ClusterError::io("SIGTERM"))?;
    let mut builder = EmbeddedCluster::builder()
        .brokers(up.brokers)
        .heap_mb(up.heap_mb)
        .keep_data(up.keep_data);
    if let Some(version) = up.kafka_version {
        builder = builder.kafka_version(version);
    }
    if let Some(port) = up.base_port {
        builder = builder.base_port(port);
    }
    for (key, value) in up.broker_configs {
        builder = builder.broker_config(key, value);
    }
    kafka_harness::note(format!("starting {} Kafka node(s)...", up.brokers));
    let cluster = tokio::select! {
        started = builder.start() => started?,
        _ = interrupt.recv() => return Ok(()),
        _ = terminate.recv() => return Ok(()),
    };
    // A closed stdout (the reader took its line and left) must not stop the cluster.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "bootstrap={}", cluster.bootstrap_servers());
    let _ = stdout.flush();
    kafka_harness::note(format!(
        "Kafka {} ready in {:.1} s: {} node(s), data in {}. Ctrl-C stops it.",
        cluster.kafka_version().unwrap_or_default(),
        cluster.startup_time().as_secs_f64(),
        up.brokers,
        cluster.data_dir().display()
    ));
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    kafka_harness::note("stopping the cluster...");
    cluster.shutdown().await;
    kafka_harness::note("stopped.");
    Ok(())
}
