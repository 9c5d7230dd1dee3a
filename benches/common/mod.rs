//! What the peer benches share: settings from the environment, finding Java and Kafka's
//! tools (the peer), running one of Kafka's tools as a child JVM tied to the bench, and
//! medians.
//!
//! ```text
//!   find_peer ──provision (broker's Java) + kafka-tools jars──> Peer
//!   tool_command(peer, class) ──die_with_the_bench──> run_child ──> status, stdout lines, stderr
//! ```
//!
//! Each bench uses part of it, so what one leaves unused is not dead code.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use kafka_harness::ClusterError;
use kafka_harness::cluster::embedded::provision::{self, ProvisionRequest};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The newest kafka-tools release seen on Maven Central when `benches/peer.rs` was written
/// (4.4.0's kafka-tools was not published there then, although its broker was).
pub const TOOLS_FALLBACK: &str = "4.3.1";

/// The environment variable `name` parsed, or `default` when unset or blank; panics,
/// naming it, on a value that does not parse.
pub fn env_var<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a valid value")),
        _ => default,
    }
}

/// Warnings only, on stderr, `RUST_LOG` to change it.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,librdkafka=error")),
        )
        .init();
}

/// Where the peer comes from.
pub struct Peer {
    /// The Java that runs the broker.
    pub java: PathBuf,
    /// The folder of kafka-tools' jars.
    pub libs: PathBuf,
    /// Their release.
    pub tools_version: String,
    /// Why the tools are not of the cluster's version, if they are not.
    pub note: Option<String>,
    /// The tools' log configuration (warnings on stderr).
    pub log_config: PathBuf,
    /// The tools' major version (log4j 2 from 4.x).
    pub major: u32,
}

/// Finds Java and the kafka-tools jars (KAFKA_HOME's if it has them, else Maven's), of the
/// release named by the environment variable `tools_var` if set, else of `kafka_version`,
/// else [`TOOLS_FALLBACK`]. `label` prefixes what it prints.
pub fn find_peer(kafka_version: &str, scratch: &Path, tools_var: &str, label: &str) -> Peer {
    let dist = provision::provision(&ProvisionRequest {
        version: Some(kafka_version.to_owned()),
        ..ProvisionRequest::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let wanted = std::env::var(tools_var)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let home_has_tools = dist
        .libs
        .join(format!("kafka-tools-{kafka_version}.jar"))
        .exists();
    let (libs, tools_version, note) = match wanted {
        Some(v) => (
            provision::provision_tools(&v).unwrap_or_else(|e| panic!("{e}")),
            v,
            Some(tools_var.to_owned()),
        ),
        None if home_has_tools => (dist.libs.clone(), kafka_version.to_owned(), None),
        None => match provision::provision_tools(kafka_version) {
            Ok(libs) => (libs, kafka_version.to_owned(), None),
            Err(ClusterError::ProvisionFailed { hint, .. }) if kafka_version != TOOLS_FALLBACK => {
                eprintln!(
                    "{label}: kafka-tools {kafka_version} could not be provisioned ({hint}); \
                     using kafka-tools {TOOLS_FALLBACK}"
                );
                (
                    provision::provision_tools(TOOLS_FALLBACK).unwrap_or_else(|e| panic!("{e}")),
                    TOOLS_FALLBACK.to_owned(),
                    Some(format!(
                        "kafka-tools {kafka_version} is not on Maven Central"
                    )),
                )
            }
            Err(e) => panic!("{e}"),
        },
    };
    let major: u32 = tools_version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(4);
    // What kafka-run-class.sh gives the tools: warnings only, on stderr.
    let log_config = scratch.join("tools-log.properties");
    let text = if major >= 4 {
        "rootLogger.level = WARN\n\
         rootLogger.appenderRef.stderr.ref = STDERR\n\
         appender.stderr.type = Console\n\
         appender.stderr.name = STDERR\n\
         appender.stderr.target = SYSTEM_ERR\n\
         appender.stderr.layout.type = PatternLayout\n\
         appender.stderr.layout.pattern = [%d] %p %m (%c)%n\n"
    } else {
        "log4j.rootLogger=WARN, stderr\n\
         log4j.appender.stderr=org.apache.log4j.ConsoleAppender\n\
         log4j.appender.stderr.Target=System.err\n\
         log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n\
         log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
    };
    std::fs::write(&log_config, text).expect("writing the tools' log config");
    Peer {
        java: dist.java,
        libs,
        tools_version,
        note,
        log_config,
        major,
    }
}

/// Puts the child where the kernel kills it if this thread (the bench's main thread, which
/// runs `block_on`) ends, even by SIGKILL.
#[allow(unsafe_code)]
pub fn die_with_the_bench(command: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: runs in the forked child before exec; two raw syscalls, no allocation.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)?;
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return Err(std::io::Error::other(
                    "the bench exited before the peer started",
                ));
            }
            Ok(())
        });
    }
}

/// `java ... <class>` for one of Kafka's tools, with the JVM options its shell script runs
/// it with (KAFKA_HEAP_OPTS `-Xmx512M` and kafka-run-class.sh's
/// KAFKA_JVM_PERFORMANCE_OPTS), tied to the bench, killed when dropped; arguments follow.
pub fn tool_command(peer: &Peer, class: &str) -> tokio::process::Command {
    let logging = if peer.major >= 4 {
        format!("-Dlog4j2.configurationFile={}", peer.log_config.display())
    } else {
        format!("-Dlog4j.configuration=file:{}", peer.log_config.display())
    };
    let mut command = tokio::process::Command::new(&peer.java);
    command
        .args([
            "-Xmx512M",
            "-server",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-Djava.awt.headless=true",
        ])
        .arg(logging)
        .arg("-cp")
        .arg(format!("{}/*", peer.libs.display()))
        .arg(class)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Killed if the future running it is dropped: on a timeout, or when the bench panics.
        .kill_on_drop(true);
    die_with_the_bench(&mut command);
    command
}

/// What a child printed and how it ended.
pub struct ChildOutput {
    /// How it ended.
    pub status: ExitStatus,
    /// Its standard output, by line.
    pub stdout: Vec<String>,
    /// Its standard error.
    pub stderr: String,
}

/// Runs `command` to its end, reading both outputs; panics (and the child is killed) if it
/// takes longer than `timeout`. `what` names it in the panic.
pub async fn run_child(
    mut command: tokio::process::Command,
    timeout: Duration,
    what: &str,
) -> ChildOutput {
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let work = async {
        let err = tokio::spawn(async move {
            let mut text = String::new();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        let mut out = Vec::new();
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            out.push(line);
        }
        let status = child
            .wait()
            .await
            .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
        ChildOutput {
            status,
            stdout: out,
            stderr: err.await.unwrap_or_default(),
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| panic!("{what} took over {timeout:?}; killed"))
}

/// The median of `values` (not empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The smallest and the largest of `values` (not empty).
pub fn spread(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

/// CPU seconds (user + system) a process has used, and those of its children it has waited
/// for, from `/proc/<pid>/stat` (`self` for this process).
pub fn cpu_seconds(pid: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/stat: {e}"));
    // The fields after the command name (which may hold spaces) start with the state (3rd).
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime, stime, cutime, cstime are the 14th to 17th fields, in USER_HZ (100 on Linux).
    let ticks = |i: usize| fields.get(i - 4).copied().unwrap_or(0) as f64 / 100.0;
    (ticks(14) + ticks(15), ticks(16) + ticks(17))
}
