//! Class-data sharing: the classes a broker (and the storage formatter) loads, dumped once per
//! Kafka version and Java build into archives that every later JVM maps instead of reading,
//! parsing and verifying its jars. On a 2-core machine 1 node is ready in 1.7 s instead of
//! 3.0, 3 nodes in 5.4 s instead of 8.0 (`cargo bench --bench startup`, medians of 5).
//!
//! ```text
//!   start ─ archives of (Kafka jars, Java build) cached? ─ yes ─> -XX:SharedArchiveFile=...
//!                                                      └─ no ──> train: a 1-node cluster with
//!                                                                -XX:ArchiveClassesAtExit,
//!                                                                stopped gracefully (the JVM
//!                                                                dumps on exit); files moved
//!                                                                into place
//! ```
//!
//! Nothing here can stop a cluster from starting: the JVM ignores an archive it cannot use
//! (`-Xshare:auto`, its default), a process that finds another one training starts without
//! archives, and a training that fails is remembered (a `failed` file) and not tried again.

use std::collections::hash_map::DefaultHasher;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use super::provision::KafkaDist;

/// The JVMs of a cluster, each with an archive of its own.
#[derive(Debug, Clone, Copy)]
pub enum Jvm {
    /// A node (`kafka.Kafka`).
    Broker,
    /// The storage formatter (`StorageTool`).
    Format,
}

impl Jvm {
    fn file(self) -> &'static str {
        match self {
            Jvm::Broker => "broker.jsa",
            Jvm::Format => "format.jsa",
        }
    }
}

/// What the JVMs of one cluster do with archives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sharing {
    /// Start without archives.
    Off,
    /// Map the archives in this folder.
    Use(PathBuf),
    /// Dump archives into this folder at exit, under names ending in this suffix.
    Train(PathBuf, String),
}

impl Sharing {
    /// The JVM flags for `jvm`.
    pub fn args(&self, jvm: Jvm) -> Vec<String> {
        match self {
            Sharing::Off => Vec::new(),
            Sharing::Use(dir) => vec![format!(
                "-XX:SharedArchiveFile={}",
                dir.join(jvm.file()).display()
            )],
            Sharing::Train(dir, suffix) => vec![format!(
                "-XX:ArchiveClassesAtExit={}",
                training_file(dir, jvm, suffix).display()
            )],
        }
    }
}

/// What a start should do, for the archives in `root` of `dist`.
#[derive(Debug)]
pub enum Plan {
    /// Archives are there: use them.
    Use(PathBuf),
    /// None yet, and this process holds the folder's lock (kept while it lives): train.
    Train(PathBuf, File),
    /// No archives for now: another process is training, an earlier training failed, or
    /// the cache cannot be written.
    Without,
}

/// Looks for the archives of `dist` under `root`.
pub fn plan(root: &Path, dist: &KafkaDist) -> Plan {
    let dir = root.join(format!("{}-{:016x}", dist.version, build_key(dist)));
    if ready(&dir) {
        return Plan::Use(dir);
    }
    if dir.join("failed").exists() || fs::create_dir_all(&dir).is_err() {
        return Plan::Without;
    }
    let Ok(lock) = File::create(dir.join(".lock")) else {
        return Plan::Without;
    };
    if lock.try_lock().is_err() {
        return Plan::Without;
    }
    // Another process may have finished while this one looked.
    if ready(&dir) {
        return Plan::Use(dir);
    }
    // Half-written archives of a training whose process died (the lock is free again).
    for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
    Plan::Train(dir, lock)
}

/// Moves a training's archives into place; on failure, remembers `why` so no later start
/// trains again. Returns whether the archives are ready.
pub fn install(dir: &Path, suffix: &str, stopped_cleanly: bool) -> bool {
    let dumped = |jvm| {
        let file = training_file(dir, jvm, suffix);
        fs::metadata(&file)
            .is_ok_and(|m| m.len() > 0)
            .then_some(file)
    };
    let outcome = match (stopped_cleanly, dumped(Jvm::Broker), dumped(Jvm::Format)) {
        (true, Some(broker), Some(format)) => fs::rename(broker, dir.join(Jvm::Broker.file()))
            .and_then(|()| fs::rename(format, dir.join(Jvm::Format.file())))
            .map_err(|e| format!("moving the archives into place: {e}")),
        (false, ..) => Err("the training node did not stop by itself".to_owned()),
        _ => Err("the JVMs wrote no archive".to_owned()),
    };
    for jvm in [Jvm::Broker, Jvm::Format] {
        let _ = fs::remove_file(training_file(dir, jvm, suffix));
    }
    match outcome {
        Ok(()) => true,
        Err(why) => {
            tracing::debug!("no class-data archive in {}: {why}", dir.display());
            let _ = fs::write(dir.join("failed"), format!("{why}\n"));
            false
        }
    }
}

/// Both archives are in `dir`.
fn ready(dir: &Path) -> bool {
    [Jvm::Broker, Jvm::Format]
        .iter()
        .all(|jvm| dir.join(jvm.file()).is_file())
}

fn training_file(dir: &Path, jvm: Jvm, suffix: &str) -> PathBuf {
    dir.join(format!("{}.{suffix}", jvm.file()))
}

/// A key that changes with anything an archive depends on: the Java build (its binary and
/// its `libjvm.so`) and every jar (name, size, time), so an update makes new archives.
fn build_key(dist: &KafkaDist) -> u64 {
    let mut hasher = DefaultHasher::new();
    let java = fs::canonicalize(&dist.java).unwrap_or_else(|_| dist.java.clone());
    let stamp = |path: &Path, hasher: &mut DefaultHasher| {
        path.hash(hasher);
        if let Ok(m) = fs::metadata(path) {
            m.len().hash(hasher);
            m.modified().ok().hash(hasher);
        }
    };
    stamp(&java, &mut hasher);
    if let Some(home) = java.parent().and_then(Path::parent) {
        stamp(&home.join("lib/server/libjvm.so"), &mut hasher);
    }
    let mut jars: Vec<PathBuf> = fs::read_dir(&dist.libs)
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    jars.sort();
    for jar in &jars {
        stamp(jar, &mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(libs: &Path) -> KafkaDist {
        KafkaDist {
            version: "4.4.0".into(),
            libs: libs.to_owned(),
            java: PathBuf::from("/nonexistent/bin/java"),
        }
    }

    #[test]
    fn a_first_start_trains_and_a_second_process_does_not_wait_for_it() {
        let root = tempfile::tempdir().unwrap();
        let libs = tempfile::tempdir().unwrap();
        let Plan::Train(dir, _lock) = plan(root.path(), &dist(libs.path())) else {
            panic!("no archives yet: train")
        };
        assert!(matches!(
            plan(root.path(), &dist(libs.path())),
            Plan::Without
        ));
        let args = Sharing::Train(dir.clone(), "7".into()).args(Jvm::Broker);
        assert_eq!(
            args,
            [format!(
                "-XX:ArchiveClassesAtExit={}/broker.jsa.7",
                dir.display()
            )]
        );
        for jvm in [Jvm::Broker, Jvm::Format] {
            fs::write(training_file(&dir, jvm, "7"), b"archive").unwrap();
        }
        assert!(install(&dir, "7", true));
        assert!(matches!(plan(root.path(), &dist(libs.path())), Plan::Use(d) if d == dir));
    }

    #[test]
    fn a_dead_trainings_files_are_removed_by_the_next() {
        let root = tempfile::tempdir().unwrap();
        let libs = tempfile::tempdir().unwrap();
        let Plan::Train(dir, lock) = plan(root.path(), &dist(libs.path())) else {
            panic!("train")
        };
        let left = training_file(&dir, Jvm::Broker, "99.tmp");
        fs::write(&left, b"half").unwrap();
        drop(lock);
        assert!(matches!(
            plan(root.path(), &dist(libs.path())),
            Plan::Train(..)
        ));
        assert!(!left.exists());
    }

    #[test]
    fn a_failed_training_is_not_tried_again_and_new_jars_get_new_archives() {
        let root = tempfile::tempdir().unwrap();
        let libs = tempfile::tempdir().unwrap();
        let Plan::Train(dir, lock) = plan(root.path(), &dist(libs.path())) else {
            panic!("train")
        };
        fs::write(training_file(&dir, Jvm::Broker, "1"), b"half").unwrap();
        assert!(
            !install(&dir, "1", true),
            "the formatter's archive is missing"
        );
        assert!(!training_file(&dir, Jvm::Broker, "1").exists());
        drop(lock);
        assert!(matches!(
            plan(root.path(), &dist(libs.path())),
            Plan::Without
        ));
        fs::write(libs.path().join("kafka-clients-4.4.1.jar"), b"jar").unwrap();
        assert!(matches!(
            plan(root.path(), &dist(libs.path())),
            Plan::Train(other, _) if other != dir
        ));
    }
}
