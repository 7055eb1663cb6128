//! The per-call scratch directory: the confined child's `TMPDIR`, the one place a read-only
//! command may write (`sort` spilling to disk, a tool's lock file). Mode 0700, a random name
//! created exclusively, removed with everything in it when the call (or session) is over.

use std::io;
use std::path::{Path, PathBuf};

/// A scratch directory that removes itself when dropped.
#[derive(Debug)]
pub struct ScratchDir {
    /// Its absolute path.
    path: PathBuf,
}

impl ScratchDir {
    /// Create a fresh directory under `base`.
    pub fn create(base: &Path) -> io::Result<ScratchDir> {
        use std::os::unix::fs::DirBuilderExt;
        let mut last = io::Error::new(io::ErrorKind::AlreadyExists, "no free name");
        for _ in 0..4 {
            let name = format!("relay-shell-{:016x}", rand::random::<u64>());
            let path = base.join(name);
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(ScratchDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // std's remove_dir_all does not follow symbolic links planted inside.
        if let Err(e) = std::fs::remove_dir_all(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "scratch directory not removed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_and_removed_with_its_content() {
        let base = tempfile::tempdir().expect("tempdir"); // ok: test
        let path = {
            let s = ScratchDir::create(base.path()).expect("create"); // ok: test
            let mode = std::fs::metadata(s.path())
                .expect("stat")
                .permissions()
                .mode(); // ok: test
            assert_eq!(mode & 0o777, 0o700);
            std::fs::create_dir(s.path().join("d")).expect("mkdir"); // ok: test
            std::fs::write(s.path().join("d/f"), b"x").expect("write"); // ok: test
            std::os::unix::fs::symlink(base.path(), s.path().join("link")).expect("symlink"); // ok: test
            s.path().to_path_buf()
        };
        assert!(!path.exists());
        assert!(base.path().exists(), "a planted link is not followed");
    }
}
