//! Getting a runnable Apache Kafka: a Java runtime and the broker's jars.
//!
//! ```text
//!   KAFKA_HOME set? ──yes──> KAFKA_HOME/libs/*
//!        │ no
//!   cache/<version>/.complete? ──yes──> cache/<version>/libs/*      (offline from now on)
//!        │ no
//!   mvn copy-dependencies of kafka_2.13:<version> + a log binding ──> cache/<version>/libs
//! ```
//!
//! Kafka's own command-line tools (`kafka-tools`: ProducerPerformance, ConsumerPerformance,
//! VerifiableProducer, ...) are provisioned the same way into `cache/<version>-tools/libs`
//! by [`provision_tools`], as peers to measure against and clients to test with.
//!
//! The cache lives under the user's cache directory (`~/.cache/kafka-harness/kafka`, or
//! `KAFKA_HARNESS_CACHE`). Maven writes into a temporary folder that is renamed into place
//! only when complete, under a lock, so two processes provisioning at once neither clash
//! nor leave a half-filled cache behind.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cluster::ClusterError;

/// The Kafka version used when none is asked for: the newest 4.x release on Maven Central
/// that this harness has been tested with.
pub const DEFAULT_KAFKA_VERSION: &str = "4.4.0";

/// A Kafka installation ready to run.
#[derive(Debug, Clone)]
pub struct KafkaDist {
    /// The Kafka version, e.g. `4.1.1`.
    pub version: String,
    /// The folder holding every jar of the broker.
    pub libs: PathBuf,
    /// The `java` executable.
    pub java: PathBuf,
}

impl KafkaDist {
    /// The Kafka major version (3 or 4).
    pub fn major(&self) -> u32 {
        major_of(&self.version)
    }

    /// The `-cp` argument: the JVM expands `DIR/*` to every jar in it.
    pub fn classpath(&self) -> String {
        format!("{}/*", self.libs.display())
    }
}

/// Where the jars should come from.
#[derive(Debug, Clone, Default)]
pub struct ProvisionRequest {
    /// The Kafka version asked for; `None` means `KAFKA_HOME`'s, else the default.
    pub version: Option<String>,
    /// An unpacked Kafka release to use instead of Maven.
    pub kafka_home: Option<PathBuf>,
    /// The `java` executable; `None` means `$JAVA_HOME/bin/java`, else `java` on the PATH.
    pub java: Option<PathBuf>,
}

/// Finds Java and Kafka, downloading Kafka through Maven on first use.
pub fn provision(request: &ProvisionRequest) -> Result<KafkaDist, ClusterError> {
    let kafka_home = request.kafka_home.clone().or_else(|| {
        std::env::var_os("KAFKA_HOME")
            .filter(|home| !home.is_empty())
            .map(PathBuf::from)
    });
    // Decide where the jars come from first, check Java next (a missing Java should not
    // cost a download), fetch last.
    let home_version = kafka_home.as_deref().map(kafka_home_version).transpose()?;
    let (version, home) = match (home_version, &request.version) {
        (Some(found), Some(wanted)) if found != *wanted => {
            tracing::info!(
                "KAFKA_HOME holds Kafka {found}, but {wanted} was asked for: using Maven"
            );
            (wanted.clone(), None)
        }
        (Some(found), _) => (found, kafka_home),
        (None, wanted) => (
            wanted
                .clone()
                .unwrap_or_else(|| DEFAULT_KAFKA_VERSION.to_owned()),
            None,
        ),
    };
    if home.is_none() {
        validate_version(&version)?;
    }
    let java = find_java(request.java.as_deref(), &version)?;
    let libs = match home {
        Some(home) => home.join("libs"),
        None => cached_or_fetched(&version, Bundle::Broker)?,
    };
    Ok(KafkaDist {
        version,
        libs,
        java,
    })
}

/// The folder of jars of Kafka's command-line tools (`org.apache.kafka:kafka-tools:<version>`
/// with its runtime dependencies and the log binding the broker of that version uses),
/// fetched through Maven on first use and cached in `cache_root()/<version>-tools/libs`.
///
/// Run a tool with `java -cp '<folder>/*' org.apache.kafka.tools.ProducerPerformance ...`
/// (Java 17 or newer for 4.x, 11 for 3.x; [`provision`] finds one). `KAFKA_HOME` is not
/// consulted: a release's `libs/` already holds the tools.
pub fn provision_tools(version: &str) -> Result<PathBuf, ClusterError> {
    validate_version(version)?;
    cached_or_fetched(version, Bundle::Tools)
}

/// A Java runtime for Kafka `version`'s tools and the folder of those tools' jars
/// ([`provision_tools`]): what runs Kafka's VerifiableProducer and VerifiableConsumer.
pub fn tools(version: &str) -> Result<(PathBuf, PathBuf), ClusterError> {
    validate_version(version)?;
    let java = find_java(None, version)?;
    Ok((java, provision_tools(version)?))
}

/// A set of Kafka artifacts fetched together into one cached folder of jars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bundle {
    /// A complete broker.
    Broker,
    /// Kafka's command-line tools.
    Tools,
}

impl Bundle {
    /// The `org.apache.kafka` artifacts it is made of (the log binding comes on top).
    fn artifacts(self) -> &'static [&'static str] {
        match self {
            Bundle::Broker => &["kafka_2.13"],
            Bundle::Tools => &["kafka-tools"],
        }
    }

    /// Its folder in the cache (also the stem of its lock and Maven log).
    fn cache_name(self, version: &str) -> String {
        match self {
            Bundle::Broker => version.to_owned(),
            Bundle::Tools => format!("{version}-tools"),
        }
    }

    /// What it is called in progress messages.
    fn label(self, version: &str) -> String {
        match self {
            Bundle::Broker => format!("Apache Kafka {version}"),
            Bundle::Tools => format!("Apache Kafka {version}'s tools"),
        }
    }

    /// The throw-away pom's own artifact id.
    fn project(self) -> &'static str {
        match self {
            Bundle::Broker => "kafka-broker",
            Bundle::Tools => "kafka-tools",
        }
    }
}

/// The root of the jar cache.
pub fn cache_root() -> PathBuf {
    match std::env::var_os("KAFKA_HARNESS_CACHE").filter(|c| !c.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("kafka-harness"),
    }
    .join("kafka")
}

fn major_of(version: &str) -> u32 {
    version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

fn validate_version(version: &str) -> Result<(), ClusterError> {
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok());
    if !numeric || !(3..=4).contains(&major_of(version)) {
        return Err(ClusterError::Invalid(format!(
            "Kafka version `{version}`: expected a 3.x or 4.x release number like \
             \"{DEFAULT_KAFKA_VERSION}\" or \"3.9.1\" (KRaft needs 3.3 or newer)"
        )));
    }
    Ok(())
}

/// The Kafka version of an unpacked release, read from its `libs/kafka_2.1x-V.jar`.
fn kafka_home_version(home: &Path) -> Result<String, ClusterError> {
    let invalid = |reason: String| ClusterError::KafkaHomeInvalid {
        path: home.to_owned(),
        reason,
    };
    let entries = fs::read_dir(home.join("libs"))
        .map_err(|e| invalid(format!("cannot read {}: {e}", home.join("libs").display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let version = name
            .strip_prefix("kafka_2.13-")
            .or_else(|| name.strip_prefix("kafka_2.12-"))
            .and_then(|rest| rest.strip_suffix(".jar"));
        if let Some(version) = version.filter(|v| !v.contains('-')) {
            return Ok(version.to_owned());
        }
    }
    Err(invalid("no libs/kafka_2.13-<version>.jar in it".into()))
}

/// Finds `java` and checks it is new enough for `kafka_version`.
fn find_java(explicit: Option<&Path>, kafka_version: &str) -> Result<PathBuf, ClusterError> {
    let java = match explicit {
        Some(path) => path.to_owned(),
        None => match std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
            Some(home) => PathBuf::from(home).join("bin").join("java"),
            None => PathBuf::from("java"),
        },
    };
    let needed = if major_of(kafka_version) >= 4 { 17 } else { 11 };
    let output = Command::new(&java)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ClusterError::JavaMissing {
            java: java.display().to_string(),
            reason: e.to_string(),
            needed,
        })?;
    let text = String::from_utf8_lossy(&output.stderr);
    let found = parse_java_major(&text).ok_or_else(|| ClusterError::JavaMissing {
        java: java.display().to_string(),
        reason: format!("`java -version` printed no version: {}", text.trim()),
        needed,
    })?;
    if found < needed {
        return Err(ClusterError::JavaTooOld {
            java: java.display().to_string(),
            found,
            needed,
            kafka_version: kafka_version.to_owned(),
        });
    }
    Ok(java)
}

/// The major version in `java -version` output: `"1.8.0_292"` is 8, `"17.0.15"` is 17.
fn parse_java_major(output: &str) -> Option<u32> {
    let quoted = output.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '_', '-', '+']);
    match parts.next()?.parse().ok()? {
        1 => parts.next()?.parse().ok(),
        major => Some(major),
    }
}

/// The cached jars of `bundle` at `version`, fetched through Maven first if they are not
/// there.
fn cached_or_fetched(version: &str, bundle: Bundle) -> Result<PathBuf, ClusterError> {
    let root = cache_root();
    let name = bundle.cache_name(version);
    let dir = root.join(&name);
    let libs = dir.join("libs");
    let complete = dir.join(".complete");
    if complete.exists() {
        return Ok(libs);
    }
    fs::create_dir_all(&root).map_err(ClusterError::io(format!(
        "creating the Kafka cache {}",
        root.display()
    )))?;
    let lock_path = root.join(format!("{name}.lock"));
    let lock = File::create(&lock_path).map_err(ClusterError::io(format!(
        "creating {}",
        lock_path.display()
    )))?;
    lock.lock()
        .map_err(ClusterError::io(format!("locking {}", lock_path.display())))?;
    // Another process may have finished while this one waited for the lock.
    if complete.exists() {
        return Ok(libs);
    }
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(&root)
        .map_err(ClusterError::io("creating a staging folder for Maven"))?;
    fetch_with_maven(version, bundle, staging.path(), &root)?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(ClusterError::io(format!(
            "removing an incomplete {}",
            dir.display()
        )))?;
    }
    let staged = staging.keep();
    fs::rename(&staged, &dir).map_err(ClusterError::io(format!(
        "moving the jars into {}",
        dir.display()
    )))?;
    File::create(&complete).map_err(ClusterError::io(format!(
        "marking {} complete",
        dir.display()
    )))?;
    Ok(libs)
}

/// Runs Maven's dependency plugin to copy the runtime jars of `bundle` into `staging/libs`.
fn fetch_with_maven(
    version: &str,
    bundle: Bundle,
    staging: &Path,
    cache: &Path,
) -> Result<(), ClusterError> {
    let label = bundle.label(version);
    let mvn = std::env::var_os("KAFKA_HARNESS_MVN")
        .filter(|m| !m.is_empty())
        .map_or_else(|| PathBuf::from("mvn"), PathBuf::from);
    let pom = staging.join("pom.xml");
    fs::write(&pom, pom_xml(version, bundle)).map_err(ClusterError::io("writing the Maven pom"))?;
    let log_path = staging.join("maven.log");
    let mut log = File::create(&log_path).map_err(ClusterError::io("creating the Maven log"))?;
    let maven_stderr = log
        .try_clone()
        .map_err(ClusterError::io("duplicating the Maven log handle"))?;
    let started = Instant::now();
    crate::note(format!(
        "provisioning {label} from Maven Central (first use only; cached in {})",
        cache.display()
    ));
    let mut command = Command::new(&mvn);
    // This thread waits for Maven, so Maven dies with the harness and not before.
    crate::child::tie_to_this_thread(&mut command);
    let mut child = command
        .current_dir(staging)
        .args([
            "-B",
            "-Dstyle.color=never",
            "-f",
            "pom.xml",
            "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
            "-DincludeScope=runtime",
            "-DoutputDirectory=libs",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(maven_stderr)
        .spawn()
        .map_err(|e| ClusterError::MavenMissing {
            version: version.to_owned(),
            mvn: mvn.display().to_string(),
            reason: e.to_string(),
            cache: cache.to_owned(),
        })?;
    let progress = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    let mut downloaded = 0usize;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = writeln!(log, "{line}");
            if line.contains("Downloaded from") {
                downloaded += 1;
                progress.set_message(format!("{label}: {downloaded} files downloaded"));
            }
        }
    }
    let status = child
        .wait()
        .map_err(ClusterError::io("waiting for Maven"))?;
    progress.finish_and_clear();
    if !status.success() {
        // Keep the log where the user can read it after the staging folder is gone.
        let kept = cache.join(format!("maven-{}.log", bundle.cache_name(version)));
        let _ = fs::copy(&log_path, &kept);
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        return Err(ClusterError::ProvisionFailed {
            version: version.to_owned(),
            hint: failure_hint(&text, version, bundle),
            log: kept,
            tail: tail_lines(&text, 15),
        });
    }
    let jars = fs::read_dir(staging.join("libs"))
        .map(|d| d.count())
        .unwrap_or(0);
    crate::note(format!(
        "{label} ready ({jars} jars, {downloaded} files downloaded in {:.1} s)",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// A throw-away pom whose runtime dependencies are `bundle` (a complete broker, or the
/// tools) with its log binding.
fn pom_xml(version: &str, bundle: Bundle) -> String {
    // The log binding is not among the broker's (nor the tools') published dependencies.
    let logging = if major_of(version) >= 4 {
        [
            ("org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3"),
            ("org.apache.logging.log4j", "log4j-core", "2.24.3"),
        ]
    } else {
        [
            ("org.slf4j", "slf4j-reload4j", "1.7.36"),
            ("ch.qos.reload4j", "reload4j", "1.2.25"),
        ]
    };
    let kafka = bundle
        .artifacts()
        .iter()
        .map(|artifact| ("org.apache.kafka", *artifact, version));
    let mut deps = String::new();
    for (group, artifact, v) in kafka.chain(logging) {
        deps.push_str(&format!(
            "<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>\
             <version>{v}</version></dependency>"
        ));
    }
    format!(
        "<project xmlns=\"http://maven.apache.org/POM/4.0.0\"><modelVersion>4.0.0</modelVersion>\
         <groupId>kafka-harness</groupId><artifactId>{}</artifactId><version>1</version>\
         <packaging>pom</packaging><dependencies>{deps}</dependencies></project>\n",
        bundle.project()
    )
}

/// What Maven's output says went wrong in fetching `bundle`, in a sentence.
fn failure_hint(log: &str, version: &str, bundle: Bundle) -> String {
    match bundle {
        // Kafka publishes its tools apart from the broker, and not for every release.
        Bundle::Tools if artifact_missing(log) => format!(
            "org.apache.kafka:kafka-tools:{version} is not on Maven Central (the tools are \
             published apart from the broker, not always for the same releases); the tools \
             of another release also work against this broker"
        ),
        _ => maven_hint(log, version),
    }
}

/// Whether Maven's output says an artifact does not exist.
fn artifact_missing(log: &str) -> bool {
    let lower = log.to_lowercase();
    lower.contains("could not find artifact") || lower.contains("was not found in")
}

/// What Maven's output says went wrong, in a sentence.
fn maven_hint(log: &str, version: &str) -> String {
    let lower = log.to_lowercase();
    if artifact_missing(log) {
        format!(
            "Kafka {version} is not on Maven Central; check the version (e.g. \
             \"{DEFAULT_KAFKA_VERSION}\" or \"3.9.1\")"
        )
    } else if [
        "unknown host",
        "could not transfer",
        "connection refused",
        "timed out",
    ]
    .iter()
    .any(|s| lower.contains(s))
    {
        "Maven Central could not be reached (offline, or a proxy Maven does not know of?); \
         set KAFKA_HOME to an unpacked Kafka release to run without it"
            .to_owned()
    } else {
        "Maven failed".to_owned()
    }
}

/// The last `n` lines of `text` that say something (Java stack frames are skipped),
/// indented.
pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !(t.starts_with("at ") || (t.starts_with("...") && t.ends_with("more")))
        })
        .collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_skip_stack_frames() {
        let log = "line 1\nERROR boom (kafka)\njava.lang.Exception: bad\n\tat a.b(C.java:1)\n\t... 3 more\nlast";
        assert_eq!(
            tail_lines(log, 3),
            "    ERROR boom (kafka)\n    java.lang.Exception: bad\n    last"
        );
    }

    #[test]
    fn java_majors() {
        assert_eq!(
            parse_java_major("openjdk version \"17.0.15\" 2025-04-15"),
            Some(17)
        );
        assert_eq!(parse_java_major("java version \"1.8.0_292\""), Some(8));
        assert_eq!(
            parse_java_major("openjdk version \"21\" 2023-09-19"),
            Some(21)
        );
        assert_eq!(parse_java_major("openjdk version \"25-ea\""), Some(25));
        assert_eq!(parse_java_major("no version here"), None);
    }

    #[test]
    fn versions_are_checked() {
        assert!(validate_version("4.1.1").is_ok());
        assert!(validate_version("3.9.1").is_ok());
        for bad in ["4.1", "latest", "2.8.1", "4.1.1-rc1", ""] {
            assert!(
                matches!(validate_version(bad), Err(ClusterError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn pom_has_the_right_log_binding() {
        assert!(pom_xml("4.1.1", Bundle::Broker).contains("log4j-slf4j-impl"));
        assert!(pom_xml("3.9.1", Bundle::Broker).contains("slf4j-reload4j"));
    }

    #[test]
    fn tools_pom_lists_the_tools_and_the_log_binding() {
        let dep = |group: &str, artifact: &str, version: &str| {
            format!(
                "<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>\
                 <version>{version}</version></dependency>"
            )
        };
        let pom = pom_xml("4.1.1", Bundle::Tools);
        assert!(pom.contains(&dep("org.apache.kafka", "kafka-tools", "4.1.1")));
        assert!(pom.contains(&dep(
            "org.apache.logging.log4j",
            "log4j-slf4j-impl",
            "2.24.3"
        )));
        assert!(pom.contains(&dep("org.apache.logging.log4j", "log4j-core", "2.24.3")));
        assert!(
            !pom.contains("kafka_2.13"),
            "the tools need no broker: {pom}"
        );
        assert!(!pom.contains("reload4j"));
        assert_eq!(pom.matches("<dependency>").count(), 3);

        let pom = pom_xml("3.9.1", Bundle::Tools);
        assert!(pom.contains(&dep("org.apache.kafka", "kafka-tools", "3.9.1")));
        assert!(pom.contains(&dep("org.slf4j", "slf4j-reload4j", "1.7.36")));
        assert!(pom.contains(&dep("ch.qos.reload4j", "reload4j", "1.2.25")));
        assert!(!pom.contains("log4j-slf4j-impl"));

        // The broker's pom is unchanged by the generalisation.
        let broker = pom_xml("4.1.1", Bundle::Broker);
        assert!(broker.starts_with("<project "));
        assert!(broker.contains("<artifactId>kafka-broker</artifactId>"));
        assert!(broker.contains(&dep("org.apache.kafka", "kafka_2.13", "4.1.1")));
        assert!(!broker.contains("kafka-tools"));
    }

    #[test]
    fn missing_tools_are_explained() {
        let log = "Could not find artifact org.apache.kafka:kafka-tools:jar:4.4.0 in central";
        assert!(
            failure_hint(log, "4.4.0", Bundle::Tools)
                .starts_with("org.apache.kafka:kafka-tools:4.4.0 is not on Maven Central")
        );
        assert_eq!(
            failure_hint(log, "4.4.0", Bundle::Broker),
            maven_hint(log, "4.4.0")
        );
        let offline = "Could not transfer artifact ... Unknown host";
        assert_eq!(
            failure_hint(offline, "4.4.0", Bundle::Tools),
            maven_hint(offline, "4.4.0")
        );
    }

    #[test]
    fn tools_are_cached_beside_the_broker() {
        assert_eq!(Bundle::Broker.cache_name("4.1.1"), "4.1.1");
        assert_eq!(Bundle::Tools.cache_name("4.1.1"), "4.1.1-tools");
        assert!(matches!(
            provision_tools("latest"),
            Err(ClusterError::Invalid(_))
        ));
    }

    #[test]
    fn maven_failures_are_explained() {
        assert!(
            maven_hint(
                "Could not find artifact org.apache.kafka:kafka_2.13:jar:9.9.9",
                "9.9.9"
            )
            .contains("not on Maven Central")
        );
        assert!(
            maven_hint("Could not transfer artifact ... Unknown host", "4.1.1")
                .contains("could not be reached")
        );
    }

    #[test]
    fn kafka_home_version_is_read_from_the_jar_name() {
        let home = tempfile::tempdir().unwrap();
        fs::create_dir(home.path().join("libs")).unwrap();
        assert!(matches!(
            kafka_home_version(home.path()),
            Err(ClusterError::KafkaHomeInvalid { .. })
        ));
        for jar in [
            "kafka_2.13-3.9.1-test.jar",
            "kafka_2.13-3.9.1.jar",
            "kafka-clients-3.9.1.jar",
        ] {
            File::create(home.path().join("libs").join(jar)).unwrap();
        }
        assert_eq!(kafka_home_version(home.path()).unwrap(), "3.9.1");
    }
}
