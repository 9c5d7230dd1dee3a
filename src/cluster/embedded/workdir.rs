//! A fresh folder per cluster, and the removal of folders whose owner died.
//!
//! Each cluster gets `TMP/kafka-harness/cluster-PID-RANDOM/` and holds an exclusive lock on
//! its `owner.lock` for its whole life. The kernel drops the lock when the owner dies, even
//! by SIGKILL, so the next cluster to start can tell an abandoned folder (lock free) from a
//! live one (lock held) and remove it.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::cluster::ClusterError;

/// A cluster's folder, removed on drop unless kept.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    keep: bool,
    _lock: File,
}

impl WorkDir {
    /// Creates a fresh folder under `root` (default: the system temp folder), after removing
    /// abandoned ones there.
    pub fn create(root: Option<&Path>, keep: bool) -> Result<WorkDir, ClusterError> {
        let root = root.map_or_else(
            || std::env::temp_dir().join("kafka-harness"),
            Path::to_path_buf,
        );
        fs::create_dir_all(&root)
            .map_err(ClusterError::io(format!("creating {}", root.display())))?;
        sweep_abandoned(&root);
        let dir = tempfile::Builder::new()
            .prefix(&format!("cluster-{}-", std::process::id()))
            .tempdir_in(&root)
            .map_err(ClusterError::io(format!(
                "creating a cluster folder in {}",
                root.display()
            )))?
            .keep();
        let lock_path = dir.join("owner.lock");
        let lock = File::create(&lock_path).map_err(ClusterError::io(format!(
            "creating {}",
            lock_path.display()
        )))?;
        lock.try_lock().map_err(|e| ClusterError::Io {
            what: format!("locking {}", lock_path.display()),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(WorkDir {
            path: dir,
            keep,
            _lock: lock,
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the folder after all (its logs explain a failure).
    pub fn keep_on_drop(&mut self) {
        self.keep = true;
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            crate::note(format!("kept cluster data in {}", self.path.display()));
        } else if let Err(e) = fs::remove_dir_all(&self.path) {
            tracing::warn!("could not remove {}: {e}", self.path.display());
        }
    }
}

/// Removes `cluster-*` folders under `root` whose `owner.lock` nobody holds.
fn sweep_abandoned(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_cluster = entry.file_name().to_string_lossy().starts_with("cluster-");
        // A folder without a lock file may be one being created right now: leave it.
        let Ok(lock) = File::open(path.join("owner.lock")) else {
            continue;
        };
        if is_cluster && lock.try_lock().is_ok() {
            tracing::info!("removing abandoned cluster folder {}", path.display());
            let _ = fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_on_drop_unless_kept() {
        let root = tempfile::tempdir().unwrap();
        let dir = WorkDir::create(Some(root.path()), false).unwrap();
        let path = dir.path().to_owned();
        assert!(path.exists());
        drop(dir);
        assert!(!path.exists());

        let kept = WorkDir::create(Some(root.path()), true).unwrap();
        let path = kept.path().to_owned();
        drop(kept);
        assert!(path.exists());
    }

    #[test]
    fn abandoned_folders_are_swept_and_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let live = WorkDir::create(Some(root.path()), false).unwrap();
        let abandoned = root.path().join("cluster-1-dead");
        fs::create_dir(&abandoned).unwrap();
        File::create(abandoned.join("owner.lock")).unwrap();
        let creating = root.path().join("cluster-2-new");
        fs::create_dir(&creating).unwrap();

        let _another = WorkDir::create(Some(root.path()), false).unwrap();
        assert!(!abandoned.exists(), "abandoned folder not removed");
        assert!(live.path().exists(), "a live cluster's folder was removed");
        assert!(creating.exists(), "a folder without a lock was removed");
    }
}
