//! The command line: `kafka-harness cluster up`, with the exit codes of the contract.
//!
//! Exit codes: 0 success; 2 bad input (usage, settings); 3 infrastructure (Java, Maven,
//! a broker that will not start).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kafka_harness::cluster::embedded::security::Security;
use kafka_harness::{Cluster, ClusterError, EmbeddedCluster};
use tokio::signal::unix::{SignalKind, signal};

/// Exit code when a check failed.
const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code for bad input: usage, scenario or settings.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for infrastructure failures: brokers, Java, Maven.
const EXIT_INFRA: u8 = 3;
/// Exit code when a verdict is unknown.
const EXIT_UNKNOWN: u8 = 4;

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
    /// Run scenarios: produce, consume, read the log back, check, report.
    Run(RunArgs),
    /// Capacity planning: run a scenario at many rates on one cluster ([sweep] table, or
    /// --from/--to) and find the highest total rate that passes every check and SLO.
    Sweep(SweepArgs),
    /// Check scenario files without touching a broker.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Manage an embedded cluster of real Kafka brokers.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Render report.html beside each result.json; with several, an index page too.
    Report {
        /// result.json files.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Where the index page goes (default: index.html in the folder holding the runs'
        /// folders; written when there are several results or this is given).
        #[arg(long)]
        index: Option<PathBuf>,
    },
    /// Compare a result with a baseline: exit 1 when throughput or latency regressed.
    Compare {
        /// The baseline result.json.
        baseline: PathBuf,
        /// The current result.json.
        current: PathBuf,
        /// The largest regression allowed for metrics the current result sets no limit
        /// for, as a percentage.
        #[arg(long, default_value_t = 10.0)]
        max_regression: f64,
    },
}

/// Where `run` gets its brokers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ClusterChoice {
    /// Real Apache Kafka started by the harness (default).
    Embedded,
    /// librdkafka's in-process mock cluster (not a real broker).
    Mock,
    /// An existing cluster at --bootstrap.
    External,
    /// A broker in a container (feature `containers`, needs Docker).
    Container,
}

impl ClusterChoice {
    fn kind(self) -> kafka_harness::ClusterKind {
        use kafka_harness::ClusterKind;
        match self {
            ClusterChoice::Embedded => ClusterKind::Embedded,
            ClusterChoice::Mock => ClusterKind::Mock,
            ClusterChoice::External => ClusterKind::External,
            ClusterChoice::Container => ClusterKind::Container,
        }
    }
}

/// Where a command gets its brokers.
#[derive(Debug, clap::Args)]
struct Target {
    /// Where the brokers come from.
    #[arg(long, value_enum, default_value = "embedded")]
    cluster: ClusterChoice,
    /// Bootstrap servers of an external cluster (H:P,H:P).
    #[arg(long, required_if_eq("cluster", "external"))]
    bootstrap: Option<String>,
    /// A properties file of client settings (`key=value` lines, as `kcat -F` and Kafka's
    /// `--command-config` take them: SASL, TLS) given to every client of the external
    /// cluster, so credentials live in one file outside the scenarios.
    #[arg(long, value_name = "FILE")]
    client_config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Scenario files.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    #[command(flatten)]
    target: Target,
    /// Report folder; each run writes DIR/<run-id>/.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Seed for every random choice (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// How long producers send after warm-up, e.g. "20s" (overrides the scenario's).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<std::time::Duration>,
    /// A baseline result.json: after the run, compare with it (as `compare` does) and exit 1
    /// on a regression.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// With --baseline: the largest regression allowed, as a percentage.
    #[arg(long, default_value_t = 10.0)]
    max_regression: f64,
}

#[derive(Debug, clap::Args)]
struct SweepArgs {
    /// The scenario file: its load, checks and SLOs, at each rate.
    scenario: PathBuf,
    #[command(flatten)]
    target: Target,
    /// Report folder; the sweep writes DIR/<sweep-id>/ with a run folder per step.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Seed for every random choice (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Search from this total rate (must pass), e.g. "1000/s"; with --to, replaces the
    /// scenario's [sweep] mode.
    #[arg(long, requires = "to", value_parser = parse_rate)]
    from: Option<f64>,
    /// Search up to this total rate.
    #[arg(long, requires = "from", value_parser = parse_rate)]
    to: Option<f64>,
    /// The search's precision: stop when the bracket is within this fraction (0.05: 5 %).
    #[arg(long)]
    precision: Option<f64>,
    /// Each step's length after its warm-up (overrides the scenario's).
    #[arg(long, value_parser = parse_duration)]
    step: Option<std::time::Duration>,
    /// Exit 1 when the highest passing rate is below this one (a CI gate), e.g. "5000/s".
    #[arg(long, value_parser = parse_rate)]
    min_rate: Option<f64>,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match kafka_harness::scenario::units::rate(s)? {
        kafka_harness::scenario::Rate::PerSecond(r) if r > 0.0 => Ok(r),
        _ => Err("expected a rate in messages per second like \"5000/s\"".into()),
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    kafka_harness::scenario::units::duration(s)
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
    /// Secure the client listener; then also print `client.properties=PATH` (librdkafka
    /// keys) and `client-java.properties=PATH` (Java client keys), see docs/security.md.
    #[arg(long, value_enum, default_value_t = SecurityChoice::Plaintext)]
    security: SecurityChoice,
    /// The SASL mechanism of the cluster's super user `kafka-harness` (sasl_* only).
    #[arg(long, value_enum, default_value_t = MechanismChoice::ScramSha512)]
    mechanism: MechanismChoice,
    /// Require a client certificate (ssl and sasl_ssl only).
    #[arg(long)]
    mutual_tls: bool,
}

/// `cluster up --security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SecurityChoice {
    /// No authentication, no encryption.
    Plaintext,
    /// SASL (SCRAM or PLAIN) without TLS.
    #[value(name = "sasl_plaintext")]
    SaslPlaintext,
    /// TLS.
    Ssl,
    /// SASL over TLS.
    #[value(name = "sasl_ssl")]
    SaslSsl,
}

/// `cluster up --mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MechanismChoice {
    /// SCRAM-SHA-256.
    #[value(name = "SCRAM-SHA-256", alias = "scram-sha-256")]
    ScramSha256,
    /// SCRAM-SHA-512.
    #[value(name = "SCRAM-SHA-512", alias = "scram-sha-512")]
    ScramSha512,
    /// PLAIN.
    #[value(name = "PLAIN", alias = "plain")]
    Plain,
}

impl UpArgs {
    /// The security the flags ask for.
    fn security(&self) -> Security {
        use kafka_harness::cluster::embedded::security::{Mechanism, Protocol};
        Security {
            protocol: match self.security {
                SecurityChoice::Plaintext => Protocol::Plaintext,
                SecurityChoice::SaslPlaintext => Protocol::SaslPlaintext,
                SecurityChoice::Ssl => Protocol::Ssl,
                SecurityChoice::SaslSsl => Protocol::SaslSsl,
            },
            mechanism: match self.mechanism {
                MechanismChoice::ScramSha256 => Mechanism::ScramSha256,
                MechanismChoice::ScramSha512 => Mechanism::ScramSha512,
                MechanismChoice::Plain => Mechanism::Plain,
            },
            mutual_tls: self.mutual_tls,
            ..Security::default()
        }
    }
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
    // librdkafka's own log lines (a refused connection to a broker the nemesis killed, say)
    // are off by default: what they mean for the run is in the History (every failed or
    // indeterminate send keeps its reason). `RUST_LOG=warn,librdkafka=info` shows them.
    tracing_subscriber::fmt()
        .with_writer(|| kafka_harness::stderr::Scrubbed)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,librdkafka=off,rdkafka::client=off")
            }),
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
            Command::Cluster(ClusterCommand::Up(up)) => cluster_up(up).await.map(|()| 0),
            Command::Validate { scenarios } => Ok(validate(&scenarios)),
            Command::Compare {
                baseline,
                current,
                max_regression,
            } => Ok(compare(&baseline, &current, max_regression / 100.0)),
            Command::Report { results, index } => Ok(report(&results, index)),
            Command::Run(run) => Ok(run_scenarios(run).await),
            Command::Sweep(sweep) => Ok(sweep_scenario(sweep).await),
        }
    });
    // Do not wait for a blocking task left behind by an interrupt (a Maven download): its
    // child dies with this process.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => ExitCode::from(code),
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
        .keep_data(up.keep_data)
        .security(up.security());
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
    if let Some((librdkafka, java)) = cluster.client_properties() {
        let _ = writeln!(stdout, "client.properties={}", librdkafka.display());
        let _ = writeln!(stdout, "client-java.properties={}", java.display());
    }
    let _ = stdout.flush();
    kafka_harness::note(format!(
        "Kafka {} ready in {:.1} s: {} node(s), {} listener, data in {}. Ctrl-C stops it.",
        cluster.kafka_version().unwrap_or_default(),
        cluster.startup_time().as_secs_f64(),
        up.brokers,
        cluster.security_protocol(),
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

/// Validates every file; prints one line per file; exit 0 or 2.
fn validate(files: &[PathBuf]) -> u8 {
    let mut code = 0;
    for file in files {
        match kafka_harness::scenario::load(file) {
            Ok(plan) => println!("{}: ok ({})", file.display(), plan.name),
            Err(e) => {
                kafka_harness::note(format!("error: {e}"));
                code = EXIT_BAD_INPUT;
            }
        }
    }
    code
}

/// Validates all scenarios first, then runs each; the exit code is the worst outcome.
/// Reads a result.json, or says why not.
fn read_result(path: &std::path::Path) -> Result<kafka_harness::report::RunResult, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| {
        format!(
            "{}:{}:{}: not a kafka-harness result: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })
}

/// Re-renders report.html beside each result, and an index when asked or when there are
/// several; exit 2 when a file is not a result (nothing is written then).
fn report(files: &[PathBuf], index: Option<PathBuf>) -> u8 {
    let mut results = Vec::new();
    for file in files {
        match read_result(file) {
            Ok(r) => results.push((r, file.parent().unwrap_or(Path::new(".")).to_path_buf())),
            Err(e) => {
                kafka_harness::note(format!("error: {e}"));
                return EXIT_BAD_INPUT;
            }
        }
    }
    for (result, dir) in &results {
        match kafka_harness::report::html::write(result, dir) {
            Ok(path) => println!("{}", path.display()),
            Err(e) => {
                kafka_harness::note(format!(
                    "error: could not write the report in {}: {e}",
                    dir.display()
                ));
                return EXIT_INFRA;
            }
        }
    }
    let index = index.or_else(|| (results.len() > 1).then(|| default_index(&results)));
    if let Some(index) = index {
        if let Err(e) = kafka_harness::report::html::write_index(&index, &results) {
            kafka_harness::note(format!("error: could not write {}: {e}", index.display()));
            return EXIT_INFRA;
        }
        println!("{}", index.display());
    }
    0
}

/// `index.html` in the folder holding the first run's folder (`reports/` for
/// `reports/<run-id>/result.json`).
fn default_index(results: &[(kafka_harness::report::RunResult, PathBuf)]) -> PathBuf {
    let first = results.first().map_or(Path::new("."), |(_, d)| d.as_path());
    first
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("index.html")
}

fn compare(baseline: &std::path::Path, current: &std::path::Path, max_regression: f64) -> u8 {
    let (b, c) = match (read_result(baseline), read_result(current)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => {
            kafka_harness::note(format!("error: {e}"));
            return EXIT_BAD_INPUT;
        }
    };
    if !(max_regression >= 0.0 && max_regression.is_finite()) {
        kafka_harness::note("error: --max-regression must be a percentage of 0 or more");
        return EXIT_BAD_INPUT;
    }
    let rows = kafka_harness::report::compare::compare(&b, &c, max_regression);
    let mut stdout = std::io::stdout();
    let _ = write!(
        stdout,
        "{} {} vs {}\n{}",
        c.scenario,
        b.run_id,
        c.run_id,
        kafka_harness::report::compare::table(&rows)
    );
    if rows.iter().any(|r| r.regressed()) {
        EXIT_CHECK_FAILED
    } else {
        0
    }
}

async fn run_scenarios(args: RunArgs) -> u8 {
    use kafka_harness::check::Verdict;
    if let Some(baseline) = &args.baseline
        && let Err(e) = read_result(baseline)
    {
        kafka_harness::note(format!("error: --baseline {e}"));
        return EXIT_BAD_INPUT;
    }
    let Prepared {
        plans,
        client_config,
        interrupt,
        mut abort,
        _signals,
    } = match prepare(&args.scenarios, &args.target, &args.out) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut worst = 0u8;
    let mut finished = Vec::new();
    for plan in &plans {
        let cluster = match attach(&args.target, plan, &client_config, &interrupt).await {
            Ok(c) => c,
            Err(code) => return code,
        };
        kafka_harness::note(format!(
            "running {} on the {} cluster ({})",
            plan.name,
            cluster.kind(),
            cluster.bootstrap_servers()
        ));
        let options = kafka_harness::run::engine::RunOptions {
            seed: args.seed,
            duration: args.duration,
            progress: true,
            topic_suffix: String::new(),
            run_dir: None,
            interrupt: interrupt.clone(),
        };
        let executed = tokio::select! {
            executed = kafka_harness::run::execute(plan, cluster.as_ref(), options, &args.out) => executed,
            // A second signal: drop the run (its clients and processes die with it) and the
            // cluster (its brokers are stopped and its folder removed).
            code = abort.wait_for(Option::is_some) => {
                drop(cluster);
                return code.ok().and_then(|c| *c).unwrap_or(EXIT_INFRA);
            }
        };
        let stop_after = interrupt.is_raised();
        match executed {
            Ok((result, dir)) => {
                let mut stdout = std::io::stdout();
                let _ = write!(stdout, "{}", kafka_harness::report::summary(&result));
                let _ = writeln!(stdout, "\n  result: {}", dir.join("result.json").display());
                match kafka_harness::report::html::write(&result, &dir) {
                    Ok(path) => {
                        let _ = writeln!(stdout, "  report: {}", path.display());
                    }
                    Err(e) => kafka_harness::note(format!("could not write report.html: {e}")),
                }
                match kafka_harness::report::junit::render(&[&result]) {
                    Ok(xml) => {
                        if let Err(e) = std::fs::write(dir.join("junit.xml"), xml) {
                            kafka_harness::note(format!("could not write junit.xml: {e}"));
                        }
                    }
                    Err(e) => kafka_harness::note(format!("could not render junit.xml: {e}")),
                }
                if let Some(baseline) = &args.baseline {
                    let current = dir.join("result.json");
                    worst = worse(
                        worst,
                        compare(baseline, &current, args.max_regression / 100.0),
                    );
                }
                let code = match result.verdict {
                    Verdict::Pass => 0,
                    Verdict::Fail => EXIT_CHECK_FAILED,
                    Verdict::Unknown => EXIT_UNKNOWN,
                };
                worst = worse(worst, code);
                finished.push((result, dir));
            }
            Err(e) => {
                kafka_harness::note(format!("error: {e}"));
                let code = if e.is_bad_input() {
                    EXIT_BAD_INPUT
                } else {
                    EXIT_INFRA
                };
                worst = worse(worst, code);
            }
        }
        if stop_after {
            // The run was interrupted: the scenarios after it are not started.
            break;
        }
    }
    if finished.len() > 1 {
        let index = args.out.join("index.html");
        match kafka_harness::report::html::write_index(&index, &finished) {
            Ok(()) => println!("\n  index: {}", index.display()),
            Err(e) => kafka_harness::note(format!("could not write {}: {e}", index.display())),
        }
    }
    worst
}

async fn sweep_scenario(args: SweepArgs) -> u8 {
    use kafka_harness::scenario::sweep::{SweepMode, SweepPlan};
    let Prepared {
        mut plans,
        client_config,
        interrupt,
        mut abort,
        _signals,
    } = match prepare(
        std::slice::from_ref(&args.scenario),
        &args.target,
        &args.out,
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Some(mut plan) = plans.pop() else {
        return EXIT_BAD_INPUT;
    };
    // The command line's search replaces the scenario's [sweep]; its step, the step.
    let sweep = match (args.from, args.to, plan.sweep.take()) {
        (Some(from), Some(to), given) => {
            if to <= from {
                kafka_harness::note("error: --to must be above --from");
                return EXIT_BAD_INPUT;
            }
            let precision = args.precision.unwrap_or(0.05);
            if !(0.001..=1.0).contains(&precision) {
                kafka_harness::note("error: --precision must be from 0.001 to 1, like 0.05");
                return EXIT_BAD_INPUT;
            }
            SweepPlan {
                mode: SweepMode::Search {
                    from,
                    to,
                    precision,
                },
                step: given
                    .as_ref()
                    .map(|g| g.step)
                    .or(plan.duration)
                    .unwrap_or(std::time::Duration::from_secs(20)),
                warmup: given.as_ref().map_or(plan.warmup, |g| g.warmup),
                grid: given.map_or_else(|| vec![Default::default()], |g| g.grid),
            }
        }
        (_, _, Some(given)) => given,
        _ => {
            kafka_harness::note(format!(
                "error: {} has no [sweep] table: add one (see `[sweep]` in docs/scenarios.md) or give \
                 --from and --to",
                args.scenario.display()
            ));
            return EXIT_BAD_INPUT;
        }
    };
    if plan
        .producers
        .iter()
        .any(|p| p.rate == kafka_harness::scenario::Rate::Max)
    {
        kafka_harness::note("error: a sweep scales every producer's rate: none may be \"max\"");
        return EXIT_BAD_INPUT;
    }
    plan.sweep = Some(SweepPlan {
        step: args.step.unwrap_or(sweep.step),
        ..sweep
    });
    let cluster = match attach(&args.target, &plan, &client_config, &interrupt).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    kafka_harness::note(format!(
        "sweeping {} on the {} cluster ({})",
        plan.name,
        cluster.kind(),
        cluster.bootstrap_servers()
    ));
    let options = kafka_harness::run::engine::RunOptions {
        seed: args.seed,
        progress: true,
        interrupt: interrupt.clone(),
        ..Default::default()
    };
    let labels: Vec<String> = plan
        .sweep
        .as_ref()
        .map(|s| s.grid.iter().map(|p| p.label()).collect())
        .unwrap_or_default();
    let mut warmups = 0;
    let on_step = |step: &kafka_harness::report::SweepStep,
                   seen: &[kafka_harness::run::sweep::Observation]| {
        let point = match labels.get(step.point) {
            Some(label) if labels.len() > 1 => {
                format!(" of point {}/{} ({label})", step.point + 1, labels.len())
            }
            _ => String::new(),
        };
        let what = if step.warmup {
            warmups += 1;
            format!("warm-up step {warmups} (not counted; repeated while it fails)")
        } else {
            format!("step {}{point}", seen.len())
        };
        let answer = kafka_harness::run::sweep::answer(seen);
        kafka_harness::note(format!(
            "sweep {what}: {:.0}/s offered, {:.0}/s achieved, {}{}{}; so far: {}",
            step.offered,
            step.achieved,
            step.verdict,
            if step.generator_limited {
                " (generator-limited)"
            } else {
                ""
            },
            if step.restarted.is_empty() {
                String::new()
            } else {
                format!("; restarted {}", step.restarted.join(", "))
            },
            answer.note
        ));
    };
    let swept = tokio::select! {
        swept = kafka_harness::run::sweep::sweep(&plan, cluster.as_ref(), options, &args.out, on_step) => swept,
        code = abort.wait_for(Option::is_some) => {
            drop(cluster);
            return code.ok().and_then(|c| *c).unwrap_or(EXIT_INFRA);
        }
    };
    let (result, dir) = match swept {
        Ok(done) => done,
        Err(e) => {
            kafka_harness::note(format!("error: {e}"));
            return if e.is_bad_input() {
                EXIT_BAD_INPUT
            } else {
                EXIT_INFRA
            };
        }
    };
    let page = dir.join("sweep.html");
    if let Err(e) = std::fs::write(&page, kafka_harness::report::sweep::html(&result)) {
        kafka_harness::note(format!("could not write {}: {e}", page.display()));
    }
    let mut stdout = std::io::stdout();
    let _ = write!(stdout, "{}", kafka_harness::report::sweep::table(&result));
    let _ = writeln!(stdout, "\n  sweep: {}", dir.join("sweep.json").display());
    let _ = writeln!(stdout, "  chart: {}", page.display());
    if result.interrupted.is_some() {
        return EXIT_UNKNOWN;
    }
    match (args.min_rate, result.answer.highest_passing) {
        (Some(min), best) if best.is_none_or(|b| b < min) => {
            kafka_harness::note(format!(
                "the highest passing rate is below --min-rate {min:.0}/s: {}",
                result.answer.note
            ));
            EXIT_CHECK_FAILED
        }
        _ => 0,
    }
}

/// What a command that runs scenarios has once its input is checked and before any broker
/// starts.
struct Prepared {
    plans: Vec<kafka_harness::scenario::Plan>,
    client_config: BTreeMap<String, String>,
    /// Raised by the first SIGINT or SIGTERM.
    interrupt: kafka_harness::run::interrupt::Interrupt,
    /// The exit code, once a second signal asks to stop at once.
    abort: tokio::sync::watch::Receiver<Option<u8>>,
    _signals: AbortOnDrop,
}

/// Loads and checks the scenarios (for `target`'s backend), `--client-config` and the output
/// folder, hides every secret from stderr and starts listening for signals; the error is
/// the exit code, the reason already said.
fn prepare(files: &[PathBuf], target: &Target, out: &Path) -> Result<Prepared, u8> {
    let fail = |what: String, code: u8| {
        kafka_harness::note(format!("error: {what}"));
        code
    };
    let mut plans = Vec::new();
    for file in files {
        let plan = kafka_harness::scenario::load(file)
            .and_then(|plan| {
                kafka_harness::run::backend::refuse_unsupported(&plan, target.cluster.kind())
                    .map(|()| plan)
            })
            .map_err(|e| fail(e.to_string(), EXIT_BAD_INPUT))?;
        plans.push(plan);
    }
    let client_config = client_config(target).map_err(|e| fail(e.to_string(), EXIT_BAD_INPUT))?;
    // Error text and client logs may quote a setting (librdkafka's do): never on stderr.
    kafka_harness::stderr::hide(plans.iter().flat_map(|p| p.secrets()));
    kafka_harness::stderr::hide(kafka_harness::scenario::secrets::values(&client_config));
    // Before any broker starts: a run that cannot write its evidence should not begin.
    writable(out).map_err(|e| fail(e, EXIT_BAD_INPUT))?;
    // From here on the first SIGINT or SIGTERM stops the run in progress and keeps its
    // evidence; a second one ends at once.
    let interrupt = kafka_harness::run::interrupt::Interrupt::default();
    let (abort_tx, abort) = tokio::sync::watch::channel(None::<u8>);
    let signals = listen_for_signals(interrupt.clone(), abort_tx)
        .map_err(|e| fail(format!("listening for signals: {e}"), EXIT_INFRA))?;
    Ok(Prepared {
        plans,
        client_config,
        interrupt,
        abort,
        _signals: AbortOnDrop(signals),
    })
}

/// The cluster `plan` runs on; the error is the exit code, the reason already said. A
/// signal before or while it starts stops here: nothing ran, nothing to keep.
async fn attach(
    target: &Target,
    plan: &kafka_harness::scenario::Plan,
    client_config: &BTreeMap<String, String>,
    interrupt: &kafka_harness::run::interrupt::Interrupt,
) -> Result<Box<dyn Cluster>, u8> {
    let stopped = |signal: String| {
        kafka_harness::note(format!("{signal}: stopped before running {}", plan.name));
        signal_exit_code(&signal)
    };
    if let Some((signal, _)) = interrupt.raised() {
        return Err(stopped(signal));
    }
    let started = tokio::select! {
        started = start_cluster(target, plan, client_config) => started,
        () = interrupt.wait() => {
            return Err(stopped(interrupt.raised().map(|(s, _)| s).unwrap_or_default()));
        }
    };
    started.map_err(|e| {
        kafka_harness::note(format!("error: {e}"));
        if e.is_bad_input() {
            EXIT_BAD_INPUT
        } else {
            EXIT_INFRA
        }
    })
}

/// A task that is aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Listens for SIGINT and SIGTERM: the first raises `interrupt` (the run winds down and keeps
/// its evidence), the second sends its exit code on `abort` (the run stops at once).
fn listen_for_signals(
    interrupt: kafka_harness::run::interrupt::Interrupt,
    abort: tokio::sync::watch::Sender<Option<u8>>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    Ok(tokio::spawn(async move {
        let mut seen = 0;
        loop {
            let name = tokio::select! {
                Some(()) = sigint.recv() => "SIGINT",
                Some(()) = sigterm.recv() => "SIGTERM",
                else => return,
            };
            seen += 1;
            if seen == 1 {
                kafka_harness::note(format!(
                    "{name}: stopping the producers and the nemesis, then draining, reading \
                     the log back, checking and writing the reports; {name} again stops at once"
                ));
                interrupt.raise(name);
            } else {
                kafka_harness::note(format!("{name} again: stopping at once"));
                let _ = abort.send(Some(signal_exit_code(name)));
                return;
            }
        }
    }))
}

/// The exit code of a run stopped by `signal` before it could keep any evidence: 128 plus
/// the signal's number, as shells report it (130 for SIGINT, 143 for SIGTERM).
fn signal_exit_code(signal: &str) -> u8 {
    if signal == "SIGINT" { 130 } else { 143 }
}

/// Makes the output folder `out` (with its parents) and proves a file can be written in
/// it; the error names the folder, what failed and the fix.
fn writable(out: &Path) -> Result<(), String> {
    let fix = "give a folder you can write to with --out";
    std::fs::create_dir_all(out).map_err(|e| {
        format!(
            "--out {}: the output folder cannot be created ({e}); {fix}",
            out.display()
        )
    })?;
    tempfile::Builder::new()
        .prefix(".kafka-harness-write-test")
        .tempfile_in(out)
        .map(drop)
        .map_err(|e| {
            format!(
                "--out {}: nothing can be written in the output folder ({e}); {fix}",
                out.display()
            )
        })
}

/// The more serious of two exit codes: fail (1) over unknown (4) over bad input (2) over
/// infrastructure (3) over pass (0).
fn worse(a: u8, b: u8) -> u8 {
    let rank = |c: u8| match c {
        EXIT_CHECK_FAILED => 4,
        EXIT_UNKNOWN => 3,
        EXIT_BAD_INPUT => 2,
        EXIT_INFRA => 1,
        _ => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// The settings of `--client-config`, empty without it; refused with another backend than
/// an external cluster (the harness makes its own clusters' settings).
fn client_config(args: &Target) -> Result<BTreeMap<String, String>, ClusterError> {
    let Some(file) = &args.client_config else {
        return Ok(BTreeMap::new());
    };
    if args.cluster != ClusterChoice::External {
        return Err(ClusterError::Invalid(format!(
            "--client-config {} is for --cluster external: the harness makes the settings \
             of the clusters it starts",
            file.display()
        )));
    }
    kafka_harness::cluster::external::read_client_properties(file)
}

async fn start_cluster(
    args: &Target,
    plan: &kafka_harness::scenario::Plan,
    client_config: &BTreeMap<String, String>,
) -> Result<Box<dyn Cluster>, ClusterError> {
    use kafka_harness::cluster::{external::ExternalCluster, mock::MockCluster};
    let needs = &plan.cluster;
    Ok(match args.cluster {
        ClusterChoice::Embedded => {
            let mut builder = EmbeddedCluster::builder().brokers(needs.brokers);
            if let Some(v) = &needs.kafka_version {
                builder = builder.kafka_version(v.clone());
            }
            for (k, v) in &needs.broker_config {
                builder = builder.broker_config(k.clone(), v.clone());
            }
            builder = builder.security(kafka_harness::run::backend::embedded_security(
                &needs.security,
            ));
            Box::new(builder.start().await?)
        }
        ClusterChoice::Mock => Box::new(MockCluster::start(needs.brokers as i32)?),
        ClusterChoice::External => {
            let bootstrap = args.bootstrap.clone().unwrap_or_default();
            let cluster = ExternalCluster::new(bootstrap, client_config.clone())?;
            cluster.check_reachable().await?;
            Box::new(cluster)
        }
        ClusterChoice::Container => container_cluster().await?,
    })
}

#[cfg(feature = "containers")]
async fn container_cluster() -> Result<Box<dyn Cluster>, ClusterError> {
    use kafka_harness::cluster::container::{ContainerCluster, ContainerImage};
    Ok(Box::new(
        ContainerCluster::start(ContainerImage::ApacheKafka("3.8.0".into())).await?,
    ))
}

#[cfg(not(feature = "containers"))]
async fn container_cluster() -> Result<Box<dyn Cluster>, ClusterError> {
    Err(ClusterError::Invalid(
        "this kafka-harness was built without the `containers` feature; rebuild with \
         `cargo build --features containers`"
            .into(),
    ))
}
