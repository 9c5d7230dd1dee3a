//! No broker outlives its owner: not after a drop, a panic, Ctrl-C, SIGTERM, or SIGKILL of
//! the process that started it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{alive, children_of, wait_gone};
use kafka_harness::EmbeddedCluster;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[tokio::test]
async fn dropping_the_handle_kills_every_jvm_and_removes_the_folder() {
    let cluster = EmbeddedCluster::builder().start().await.unwrap();
    let pid = cluster.pid(1).unwrap().unwrap();
    let dir = cluster.data_dir().to_owned();
    assert!(alive(pid));
    drop(cluster);
    assert!(!alive(pid), "JVM {pid} outlived its cluster handle");
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

#[test]
fn a_panic_kills_every_jvm() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let cluster = runtime
            .block_on(EmbeddedCluster::builder().start())
            .unwrap();
        tx.send(cluster.pid(1).unwrap().unwrap()).unwrap();
        panic!("a test failed while it owned a cluster");
    })
    .join();
    assert!(result.is_err());
    let pid = rx.recv().unwrap();
    assert!(!alive(pid), "JVM {pid} outlived a panic");
}

/// `kafka-harness cluster up`, started and read until it prints its bootstrap line.
struct ClusterUp {
    child: Child,
    bootstrap: String,
    jvms: Vec<u32>,
    data_dir: String,
    /// Held open: the harness's stderr stays a live pipe.
    _stderr: BufReader<std::process::ChildStderr>,
}

fn cluster_up(args: &[&str]) -> ClusterUp {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-harness"))
        .args(["cluster", "up"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let bootstrap = line
        .trim()
        .strip_prefix("bootstrap=")
        .unwrap_or_else(|| panic!("first stdout line was {line:?}"))
        .to_owned();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let data_dir = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "stderr ended early"
        );
        if let Some((_, rest)) = line.split_once("data in ") {
            break rest.split(". Ctrl-C").next().unwrap().to_owned();
        }
    };
    let jvms = children_of(child.id());
    ClusterUp {
        child,
        bootstrap,
        jvms,
        data_dir,
        _stderr: stderr,
    }
}

#[test]
fn cluster_up_prints_one_bootstrap_line_and_stops_on_sigint_and_sigterm() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let mut up = cluster_up(&["--brokers", "1"]);
        let (host, port) = up.bootstrap.rsplit_once(':').unwrap();
        assert_eq!(host, "127.0.0.1");
        assert!(port.parse::<u16>().is_ok());
        assert_eq!(
            up.jvms.len(),
            1,
            "expected one JVM child, found {:?}",
            up.jvms
        );
        kill(Pid::from_raw(up.child.id() as i32), signal).unwrap();
        let status = up.child.wait().unwrap();
        assert!(status.success(), "{signal}: exit status {status}");
        assert_eq!(
            wait_gone(&up.jvms, Duration::from_secs(1)),
            Vec::<u32>::new()
        );
        assert!(
            !std::path::Path::new(&up.data_dir).exists(),
            "{signal}: {} not removed",
            up.data_dir
        );
    }
}

#[test]
fn sigkill_of_the_owner_kills_its_jvms_within_seconds() {
    let mut up = cluster_up(&["--brokers", "2"]);
    assert_eq!(
        up.jvms.len(),
        2,
        "expected two JVM children, found {:?}",
        up.jvms
    );
    up.child.kill().unwrap();
    up.child.wait().unwrap();
    let left = wait_gone(&up.jvms, Duration::from_secs(5));
    assert!(left.is_empty(), "JVMs {left:?} outlived a SIGKILLed owner");
    // Its folder is abandoned; the next cluster sweeps it.
    let dir = std::path::PathBuf::from(&up.data_dir);
    assert!(dir.exists());
    let next = EmbeddedCluster::builder()
        .work_root(dir.parent().unwrap())
        .start();
    let next = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(next)
        .unwrap();
    assert!(
        !dir.exists(),
        "abandoned folder {} not swept",
        dir.display()
    );
    drop(next);
}
