//! The operator passphrase that approves authorizations on the consent page: an Argon2id PHC
//! string in `<state dir>/passphrase` (0600). The passphrase itself is never stored or logged.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Shortest passphrase accepted by `relay-shell auth passphrase`.
pub(crate) const MIN_LEN: usize = 12;

fn path(dir: &Path) -> PathBuf {
    dir.join("passphrase")
}

/// Whether a passphrase is set.
pub(crate) fn exists(dir: &Path) -> bool {
    path(dir).is_file()
}

/// The stored hash, if a passphrase is set and the file is private.
pub(crate) fn load(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let p = path(dir);
    let meta = std::fs::symlink_metadata(&p).ok()?;
    if !meta.is_file() || meta.mode() & 0o077 != 0 || meta.uid() != nix::unistd::geteuid().as_raw()
    {
        tracing::error!(
            "{} is not a private file; the consent page refuses every approval",
            p.display()
        );
        return Some(String::new());
    }
    std::fs::read_to_string(&p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Whether `given` matches the PHC string `stored` (an unparsable one matches nothing).
pub(crate) fn verify(stored: &str, given: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(h) => Argon2::default()
            .verify_password(given.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// Hash `passphrase` with Argon2id (default parameters, random salt) and store it.
pub(crate) fn set(dir: &Path, passphrase: &str) -> Result<(), String> {
    if passphrase.chars().count() < MIN_LEN {
        return Err(format!(
            "the passphrase must have at least {MIN_LEN} characters"
        ));
    }
    let phc = Argon2::default()
        .hash_password(passphrase.as_bytes())
        .map_err(|e| format!("cannot hash the passphrase: {e}"))?
        .to_string();
    let target = path(dir);
    let tmp = dir.join(format!(".passphrase.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(format!("{phc}\n").as_bytes())
                .and_then(|()| f.sync_all())
        })
        .and_then(|()| std::fs::rename(&tmp, &target))
        .and_then(|()| std::fs::File::open(dir).and_then(|d| d.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("cannot write {}: {e}", target.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_nothing_else_does() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(set(dir.path(), "short").is_err());
        set(dir.path(), "correct horse battery").expect("set");
        let stored = load(dir.path()).expect("stored");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct"));
        assert!(verify(&stored, "correct horse battery"));
        assert!(!verify(&stored, "correct horse battery "));
        assert!(!verify("", "x"));
    }
}
