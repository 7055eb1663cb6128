//! Bearer tokens for machines: the token file, its checks, lookup in constant time, and
//! re-reading when the file changes.
//!
//! The file (`RELAY_SHELL_AUTH_TOKENS_FILE`) holds one `name:sha256hex[:mode]` per line; blank
//! lines and `#` comments are allowed. Only hashes are stored: a token is shown once, by
//! `relay-shell token new`. The file must be a regular file owned by the server's user and
//! closed to group and others (0600), or it is refused — at start (exit 2) and, if it changes
//! to that state while serving, by refusing every token until it is fixed (fail closed).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::policy::Mode;
use crate::server::Principal;

/// Tokens start with this, so a leaked one is recognisable in a log or a paste.
pub(super) const TOKEN_PREFIX: &str = "rst_";

/// The largest token file read (a line is about 100 bytes).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Principal names the server uses itself; no token may take them.
const RESERVED_NAMES: [&str; 2] = ["stdio", "anonymous"];

/// One line of the token file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenEntry {
    /// The principal the token authenticates.
    pub name: String,
    /// SHA-256 of the token text.
    pub hash: [u8; 32],
    /// The token's mode ceiling, if any.
    pub mode: Option<Mode>,
}

impl TokenEntry {
    /// The line as written to the file.
    pub fn line(&self) -> String {
        match self.mode {
            Some(m) => format!("{}:{}:{}", self.name, hex::encode(self.hash), m.as_str()),
            None => format!("{}:{}", self.name, hex::encode(self.hash)),
        }
    }
}

/// SHA-256 of a token's text.
pub(super) fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token: the prefix and 32 bytes from the OS generator, base64url.
pub(super) fn generate_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Whether `name` may name a token: 1–64 of `A-Z a-z 0-9 . _ -`, not a reserved name.
pub(super) fn valid_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if name.is_empty() || name.len() > 64 || !ok_chars {
        return Err(format!(
            "invalid token name {name:?} (expected 1-64 letters, digits, '.', '_' or '-')"
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!("the token name {name:?} is reserved"));
    }
    Ok(())
}

/// Parse the file's text. Errors name the line; they never quote a hash.
pub(super) fn parse(text: &str) -> Result<Vec<TokenEntry>, String> {
    let mut entries: Vec<TokenEntry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let n = i + 1;
        let mut parts = line.split(':');
        let (Some(name), Some(hash)) = (parts.next(), parts.next()) else {
            return Err(format!("line {n}: expected name:sha256hex[:mode]"));
        };
        let mode = parts.next();
        if parts.next().is_some() {
            return Err(format!("line {n}: expected name:sha256hex[:mode]"));
        }
        valid_name(name).map_err(|e| format!("line {n}: {e}"))?;
        let mut digest = [0u8; 32];
        if hash.len() != 64 || hex::decode_to_slice(hash, &mut digest).is_err() {
            return Err(format!(
                "line {n}: the hash must be 64 hexadecimal digits (SHA-256)"
            ));
        }
        let mode = match mode {
            None => None,
            Some(m) => Some(
                m.parse::<Mode>()
                    .map_err(|e| format!("line {n}: mode {e}"))?,
            ),
        };
        if entries.iter().any(|e| e.name == name) {
            return Err(format!("line {n}: the name {name:?} appears twice"));
        }
        entries.push(TokenEntry {
            name: name.to_string(),
            hash: digest,
            mode,
        });
    }
    Ok(entries)
}

/// Refuse a token file others could read or replace.
pub(super) fn check_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    let p = path.display();
    if !meta.is_file() {
        return Err(format!("{p} is not a regular file"));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{p} has mode {mode:04o}: it must not be accessible by group or others (chmod 600 {p})"
        ));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != euid {
        return Err(format!(
            "{p} is owned by uid {}, not by the server's uid {euid}",
            meta.uid()
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{p} is larger than {MAX_FILE_BYTES} bytes"));
    }
    Ok(())
}

/// Read, check and parse the token file, with the stamp of exactly what was read.
pub(super) fn load(path: &Path) -> Result<(Vec<TokenEntry>, Stamp), String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    check_file(path, &meta)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let entries = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((entries, Stamp::of(&meta)))
}

/// Look a presented token up: hash it, then compare with every entry in constant time, so
/// the time taken says nothing about which entry (or how much of one) matched.
pub(super) fn find<'a>(entries: &'a [TokenEntry], presented: &str) -> Option<&'a TokenEntry> {
    let digest = hash_token(presented);
    let mut found = None;
    for e in entries {
        if bool::from(e.hash.ct_eq(&digest)) {
            found = Some(e);
        }
    }
    found
}

/// What identifies one version of the file: a rewrite (new inode), an edit in place (mtime,
/// ctime, size) or a permission change (ctime) all change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

struct Cache {
    stamp: Option<Stamp>,
    entries: Result<Arc<Vec<TokenEntry>>, String>,
}

/// The token file as the server sees it: re-read whenever its stamp changes, so a revoked
/// token is refused from the next request on, without a restart.
pub struct TokenStore {
    path: PathBuf,
    cache: Mutex<Cache>,
}

impl TokenStore {
    /// Load the file; an unusable file is a start-up error.
    pub fn open(path: &Path) -> Result<TokenStore, String> {
        let (entries, stamp) = load(path)?;
        Ok(TokenStore {
            path: path.to_path_buf(),
            cache: Mutex::new(Cache {
                stamp: Some(stamp),
                entries: Ok(Arc::new(entries)),
            }),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entries now in force (one `stat` per call; a re-read when the file changed). An
    /// unreadable or unsafe file yields `Err` and no token is accepted.
    pub fn current(&self) -> Result<Arc<Vec<TokenEntry>>, String> {
        let now = std::fs::metadata(&self.path).ok().map(|m| Stamp::of(&m));
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if now.is_none() || now != cache.stamp {
            let (entries, stamp) = match load(&self.path) {
                Ok((e, s)) => (Ok(Arc::new(e)), Some(s)),
                Err(e) => (Err(e), now),
            };
            match &entries {
                Ok(e) => tracing::info!(
                    tokens = e.len(),
                    "relay-shell re-read {}",
                    self.path.display()
                ),
                Err(e) if cache.entries.is_ok() || cache.stamp != stamp => {
                    tracing::error!("relay-shell refuses every bearer token: {e}")
                }
                Err(_) => {}
            }
            *cache = Cache { stamp, entries };
        }
        cache.entries.clone()
    }

    /// The principal a presented token authenticates, if any.
    pub fn authenticate(&self, presented: &str) -> Option<Principal> {
        let entries = self.current().ok()?;
        find(&entries, presented).map(|e| Principal {
            name: e.name.clone(),
            ceiling: crate::policy::Ceiling::mode(e.mode),
            client_id: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn entry_line(name: &str, token: &str, mode: Option<&str>) -> String {
        let h = hex::encode(hash_token(token));
        match mode {
            Some(m) => format!("{name}:{h}:{m}"),
            None => format!("{name}:{h}"),
        }
    }

    #[test]
    fn parses_names_hashes_and_modes() {
        let text = format!(
            "# tokens\n\n{}\n  {}  \n",
            entry_line("ci", "a", None),
            entry_line("ro.bot", "b", Some("readonly"))
        );
        let e = parse(&text).expect("valid");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name, "ci");
        assert_eq!(e[0].mode, None);
        assert_eq!(e[1].mode, Some(Mode::Readonly));
        assert_eq!(e[1].line(), entry_line("ro.bot", "b", Some("readonly")));
        assert_eq!(find(&e, "b").map(|x| x.name.as_str()), Some("ro.bot"));
        assert_eq!(find(&e, "c"), None);
        assert_eq!(find(&e, ""), None);
    }

    #[test]
    fn bad_lines_are_named_without_their_hash() {
        let h = hex::encode(hash_token("x"));
        for (text, want) in [
            (
                "justaname".to_string(),
                "line 1: expected name:sha256hex[:mode]",
            ),
            (
                format!("a:{h}:open:x"),
                "line 1: expected name:sha256hex[:mode]",
            ),
            (
                "a:abcd".to_string(),
                "line 1: the hash must be 64 hexadecimal digits (SHA-256)",
            ),
            (format!("a b:{h}"), "line 1: invalid token name \"a b\""),
            (
                format!("stdio:{h}"),
                "line 1: the token name \"stdio\" is reserved",
            ),
            (
                format!("a:{h}:strict"),
                "line 1: mode strict (expected open, guarded or readonly)",
            ),
            (
                format!("a:{h}\n\na:{h}"),
                "line 3: the name \"a\" appears twice",
            ),
        ] {
            let e = parse(&text).expect_err("invalid");
            assert!(e.starts_with(want), "{e}");
            assert!(!e.contains(&h), "{e}");
        }
    }

    #[test]
    fn generated_tokens_are_distinct_and_prefixed() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
    }

    #[test]
    fn the_file_must_be_private_and_changes_are_seen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, entry_line("ci", "one", None) + "\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = TokenStore::open(&path).err().expect("0644 is refused");
        assert!(e.contains("has mode 0644"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let store = TokenStore::open(&path).expect("0600 is accepted");
        assert_eq!(store.authenticate("one").map(|p| p.name), Some("ci".into()));
        // Rewritten with another token: the old one stops working at once.
        let tmp = dir.path().join("tokens.new");
        std::fs::write(&tmp, entry_line("ci", "two", Some("readonly")) + "\n").expect("write");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::rename(&tmp, &path).expect("rename");
        assert_eq!(store.authenticate("one"), None);
        let p = store.authenticate("two").expect("new token");
        assert_eq!(p.ceiling.mode, Some(Mode::Readonly));
        // Opened to others while serving: every token is refused until it is fixed.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        assert_eq!(store.authenticate("two"), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(store.authenticate("two").is_some());
        // Deleted: fail closed.
        std::fs::remove_file(&path).expect("rm");
        assert_eq!(store.authenticate("two"), None);
    }
}
