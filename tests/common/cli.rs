//! Running the built `kafka-harness` binary and reading what it wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Runs the binary with `args` and waits for it.
pub fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-harness"))
        .args(args)
        .env_remove("KAFKA_HOME")
        .output()
        .unwrap()
}

/// Fails with both output streams unless the process exited with `code`.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "{}\n{}", stdout(o), stderr(o));
}

/// Standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The run folders under `out`: those holding a result.json.
pub fn run_dirs(out: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|run| run.path())
        .filter(|run| run.join("result.json").exists())
        .collect()
}

/// The result.json files under `out`, parsed.
pub fn results(out: &Path) -> Vec<Value> {
    run_dirs(out)
        .into_iter()
        .map(|run| {
            serde_json::from_slice(&std::fs::read(run.join("result.json")).unwrap()).unwrap()
        })
        .collect()
}

/// Writes a scenario into `dir` and returns its path.
pub fn scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The check named `name` in a result.
#[track_caller]
pub fn check<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {}", result["checks"]))
}

/// Runs `kafka-harness run FILE --cluster external --bootstrap <the shared cluster> --out
/// OUT` from `cwd` (the test's own folder when `None`) and waits for it.
pub async fn run_on_shared(file: &Path, out: &Path, cwd: Option<&Path>) -> Output {
    on_shared_in("run", file, out, &[], cwd).await
}

/// Runs `kafka-harness SUBCOMMAND FILE --cluster external --bootstrap <the shared cluster>
/// --out OUT EXTRA...` and waits for it.
pub async fn on_shared(subcommand: &str, file: &Path, out: &Path, extra: &[&str]) -> Output {
    on_shared_in(subcommand, file, out, extra, None).await
}

async fn on_shared_in(
    subcommand: &str,
    file: &Path,
    out: &Path,
    extra: &[&str],
    cwd: Option<&Path>,
) -> Output {
    let bootstrap = kafka_harness::Cluster::bootstrap_servers(super::shared_cluster().await);
    let mut command = Command::new(env!("CARGO_BIN_EXE_kafka-harness"));
    command
        .arg(subcommand)
        .arg(file)
        .args(["--cluster", "external", "--bootstrap", &bootstrap, "--out"])
        .arg(out)
        .args(extra)
        .env_remove("KAFKA_HOME");
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}
