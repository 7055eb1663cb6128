//! The OAuth state directory: registered clients, and the hashes of codes, tokens and initial
//! access tokens.
//!
//! `clients.json` and `grants.json` in `RELAY_SHELL_AUTH_STATE_DIR` (0700, owned by the
//! server's user; each file 0600). Codes and tokens are stored under the SHA-256 of their
//! text, never the text. Every change holds an exclusive `flock` on `lock` in the directory
//! (the server and `relay-shell auth …` share it), re-reads both files, applies the change,
//! sweeps expired entries, enforces the bounds and writes each changed file whole: a temporary
//! file, `fsync`, `rename`, then `fsync` of the directory. Reads are cached and re-read when a
//! file's inode, size, mtime or ctime changes, so the operator's `auth approve` or `auth
//! reject` takes effect on the next request. A directory or file open to group or others, or
//! owned by someone else, is refused at start and, while serving, refuses every OAuth token
//! until it is fixed (fail closed).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Most clients kept; the oldest pending one goes first, then a registration is refused.
pub(crate) const MAX_CLIENTS: usize = 256;
/// Most clients waiting for approval; a new registration drops the oldest pending one.
pub(crate) const MAX_PENDING: usize = 32;
/// Most codes and tokens kept; past it the ones that expire soonest are dropped.
const MAX_GRANTS: usize = 20_000;
/// Largest state file read.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// Seconds since the epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// SHA-256 of a secret's text, hex: the key it is stored under.
pub(crate) fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `prefix` and 32 bytes from the OS generator, base64url: codes, tokens, secrets.
pub(crate) fn random_secret(prefix: &str) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Whether a client may be authorized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    /// Registered, waiting for `relay-shell auth approve`.
    Pending,
    /// May be authorized.
    Approved,
}

/// One registered client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Client {
    /// Display name (from registration or `auth client add`), sanitised.
    pub name: String,
    /// Registered redirect URIs, matched exactly (loopback: any port).
    pub redirect_uris: Vec<String>,
    /// Pending or approved.
    pub status: Status,
    /// How it came: `register`, `token` (initial access token), `open`, `cli`.
    pub via: String,
    /// Registration time, seconds since the epoch.
    pub created_at: u64,
    /// SHA-256 of the client secret for a confidential client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_hash: Option<String>,
}

/// `clients.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Clients {
    /// By client id.
    pub clients: BTreeMap<String, Client>,
}

/// An authorization code, stored under its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Code {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI of the authorization request (the token request must repeat it).
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub challenge: String,
    /// The resource the tokens will be bound to.
    pub resource: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
    /// The token family its exchange starts; set once exchanged (a replay revokes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent: Option<String>,
}

/// Access or refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// Presented to `/mcp`.
    Access,
    /// Presented to `/token` once.
    Refresh,
}

/// An access or refresh token, stored under its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Token {
    /// Access or refresh.
    pub kind: Kind,
    /// The client it was issued to.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The audience: the only resource that accepts it.
    pub resource: String,
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
    /// Every token descending from one authorization code shares this id.
    pub family: String,
    /// A refresh token already exchanged: presenting it again revokes the family.
    #[serde(default)]
    pub rotated: bool,
}

/// An initial access token for RFC 7591 registration, stored under its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RegistrationToken {
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
    /// Deleted by its first use.
    pub single_use: bool,
}

/// `grants.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Grants {
    /// Authorization codes by hash.
    #[serde(default)]
    pub codes: BTreeMap<String, Code>,
    /// Access and refresh tokens by hash.
    #[serde(default)]
    pub tokens: BTreeMap<String, Token>,
    /// Initial access tokens by hash.
    #[serde(default)]
    pub registration_tokens: BTreeMap<String, RegistrationToken>,
}

impl Grants {
    /// Remove every code and token of `family`; returns how many went.
    pub(crate) fn revoke_family(&mut self, family: &str) -> usize {
        let before = self.tokens.len() + self.codes.len();
        self.tokens.retain(|_, t| t.family != family);
        self.codes.retain(|_, c| c.spent.as_deref() != Some(family));
        before - self.tokens.len() - self.codes.len()
    }

    /// Remove every code and token of `client_id`.
    pub(crate) fn revoke_client(&mut self, client_id: &str) {
        self.tokens.retain(|_, t| t.client_id != client_id);
        self.codes.retain(|_, c| c.client_id != client_id);
    }

    /// Drop what has expired, then the soonest-expiring entries past [`MAX_GRANTS`].
    fn sweep(&mut self, now: u64) {
        self.codes.retain(|_, c| c.expires_at > now);
        self.tokens.retain(|_, t| t.expires_at > now);
        self.registration_tokens.retain(|_, r| r.expires_at > now);
        let over = (self.codes.len() + self.tokens.len()).saturating_sub(MAX_GRANTS);
        if over > 0 {
            let mut by_expiry: Vec<(u64, String)> = self
                .tokens
                .iter()
                .map(|(k, t)| (t.expires_at, k.clone()))
                .collect();
            by_expiry.sort_unstable();
            for (_, k) in by_expiry.into_iter().take(over) {
                self.tokens.remove(&k);
            }
        }
    }
}

impl Clients {
    /// Keep at most [`MAX_PENDING`] pending clients (the oldest go) and [`MAX_CLIENTS`] in all.
    fn bound(&mut self) {
        let mut pending: Vec<(u64, String)> = self
            .clients
            .iter()
            .filter(|(_, c)| c.status == Status::Pending)
            .map(|(id, c)| (c.created_at, id.clone()))
            .collect();
        pending.sort_unstable();
        let over = pending
            .len()
            .saturating_sub(MAX_PENDING)
            .max(self.clients.len().saturating_sub(MAX_CLIENTS));
        for (_, id) in pending.into_iter().take(over) {
            self.clients.remove(&id);
        }
    }
}

/// What identifies a file's version: inode, size, mtime, ctime.
type Stamp = (u64, u64, i64, i64, i64, i64);

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    (
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    )
}

/// A path that must be ours and closed to group and others.
fn check_private(path: &Path, meta: &std::fs::Metadata, want_dir: bool) -> Result<(), String> {
    let kind_ok = if want_dir {
        meta.is_dir()
    } else {
        meta.is_file()
    };
    if !kind_ok {
        return Err(format!(
            "{} is not a {}",
            path.display(),
            if want_dir {
                "directory"
            } else {
                "regular file"
            }
        ));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(format!(
            "{} is owned by uid {}, not by the server's user",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is group/other-accessible (mode {:o}); expected {}. Refusing to use an exposed \
             token store",
            path.display(),
            meta.mode() & 0o777,
            if want_dir { "0700" } else { "0600" }
        ));
    }
    Ok(())
}

/// The stamps of the directory, `clients.json` and `grants.json` (`None`: missing).
type Stamps = (Option<Stamp>, Option<Stamp>, Option<Stamp>);

#[derive(Default)]
struct Cache {
    stamps: Stamps,
    clients: Clients,
    grants: Grants,
    loaded: bool,
}

/// The state directory, shared by the HTTP handlers and the CLI.
pub(crate) struct Store {
    dir: PathBuf,
    cache: Mutex<Cache>,
}

impl Store {
    /// Open (and, with `create`, make) the state directory; refuse one that is not private.
    pub(crate) fn open(dir: &Path, create: bool) -> Result<Store, String> {
        if create && !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let meta = std::fs::metadata(dir).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!("OAuth state directory not found: {}", dir.display())
            } else {
                format!("{}: {e}", dir.display())
            }
        })?;
        check_private(dir, &meta, true)?;
        let store = Store {
            dir: dir.to_path_buf(),
            cache: Mutex::new(Cache::default()),
        };
        store.read(|_, _| ())?;
        Ok(store)
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Stat the directory and both files: their stamps, or why they cannot be trusted.
    fn stamps(&self) -> Result<Stamps, String> {
        let dmeta =
            std::fs::metadata(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        check_private(&self.dir, &dmeta, true)?;
        let one = |name: &str| -> Result<Option<Stamp>, String> {
            let p = self.path(name);
            match std::fs::symlink_metadata(&p) {
                Ok(m) => {
                    check_private(&p, &m, false)?;
                    if m.size() > MAX_FILE_BYTES {
                        return Err(format!(
                            "{} is larger than {MAX_FILE_BYTES} bytes",
                            p.display()
                        ));
                    }
                    Ok(Some(stamp(&m)))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", p.display())),
            }
        };
        Ok((
            Some(stamp(&dmeta)),
            one("clients.json")?,
            one("grants.json")?,
        ))
    }

    fn load<T: Default + for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, String> {
        let p = self.path(name);
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("{name} exists but is unreadable: {e}")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(format!("{name} exists but is unreadable: {e}")),
        }
    }

    /// Bring the cache up to date with the files (a `stat` each when nothing changed).
    fn refresh(&self, cache: &mut Cache) -> Result<(), String> {
        let stamps = self.stamps()?;
        if cache.loaded && stamps.1 == cache.stamps.1 && stamps.2 == cache.stamps.2 {
            return Ok(());
        }
        cache.clients = self.load("clients.json")?;
        cache.grants = self.load("grants.json")?;
        cache.stamps = stamps;
        cache.loaded = true;
        Ok(())
    }

    /// Read the current state.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Clients, &Grants) -> R) -> Result<R, String> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| "state lock poisoned".to_string())?;
        if let Err(e) = self.refresh(&mut cache) {
            cache.loaded = false;
            return Err(e);
        }
        Ok(f(&cache.clients, &cache.grants))
    }

    /// Change the state under the directory's lock: re-read, apply `f`, sweep, bound, write
    /// what changed. `f` gets the time it should use.
    pub(crate) fn update<R>(
        &self,
        f: impl FnOnce(&mut Clients, &mut Grants, u64) -> R,
    ) -> Result<R, String> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| "state lock poisoned".to_string())?;
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.path("lock"))
            .map_err(|e| format!("{}: {e}", self.path("lock").display()))?;
        lock.lock()
            .map_err(|e| format!("cannot lock {}: {e}", self.dir.display()))?;
        cache.loaded = false;
        self.refresh(&mut cache)?;
        let (before_c, before_g) = (cache.clients.clone(), cache.grants.clone());
        let now = now();
        let (clients, grants) = {
            let Cache {
                clients, grants, ..
            } = &mut *cache;
            (clients, grants)
        };
        let out = f(clients, grants, now);
        grants.sweep(now);
        clients.bound();
        let clients_changed = *clients != before_c;
        let grants_changed = *grants != before_g;
        let written = (|| {
            if clients_changed {
                self.write_atomic("clients.json", &*clients)?;
            }
            if grants_changed {
                self.write_atomic("grants.json", &*grants)?;
            }
            Ok::<(), String>(())
        })();
        // Re-stat after our own writes so the next read does not reload needlessly.
        cache.loaded = false;
        let refreshed = self.refresh(&mut cache);
        drop(lock);
        written?;
        refreshed?;
        Ok(out)
    }

    fn write_atomic<T: Serialize>(&self, name: &str, value: &T) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
        let target = self.path(name);
        let tmp = self.path(&format!(".{name}.{}.tmp", std::process::id()));
        let result = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&text).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &target))
            .and_then(|()| File::open(&self.dir).and_then(|d| d.sync_all()));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("cannot write {}: {e}", target.display()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn client(status: Status, at: u64) -> Client {
        Client {
            name: "c".into(),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            status,
            via: "register".into(),
            created_at: at,
            secret_hash: None,
        }
    }

    #[test]
    fn private_directory_and_files_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("oauth");
        let store = Store::open(&dir, true).expect("create");
        let mode = std::fs::metadata(&dir).expect("meta").mode() & 0o777;
        assert_eq!(mode, 0o700);
        store
            .update(|c, _, now| {
                c.clients.insert("a".into(), client(Status::Approved, now));
            })
            .expect("update");
        let fmode = std::fs::metadata(dir.join("clients.json"))
            .expect("meta")
            .mode()
            & 0o777;
        assert_eq!(fmode, 0o600);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        let e = store.read(|_, _| ()).unwrap_err();
        assert!(
            e.contains("group/other-accessible (mode 750); expected 0700"),
            "{e}"
        );
        assert!(Store::open(&dir, false).is_err());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::fs::set_permissions(
            dir.join("clients.json"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        assert!(
            store.read(|_, _| ()).is_err(),
            "fail closed on an exposed file"
        );
    }

    #[test]
    fn pending_clients_are_bounded_oldest_first() {
        let mut c = Clients::default();
        c.clients.insert("real".into(), client(Status::Approved, 0));
        for i in 0..(MAX_PENDING as u64 + 5) {
            c.clients
                .insert(format!("p{i}"), client(Status::Pending, i + 1));
        }
        c.bound();
        assert_eq!(c.clients.len(), MAX_PENDING + 1);
        assert!(c.clients.contains_key("real"));
        assert!(!c.clients.contains_key("p0") && c.clients.contains_key("p36"));
    }

    #[test]
    fn families_are_revoked_together() {
        let mut g = Grants::default();
        let tok = |family: &str| Token {
            kind: Kind::Access,
            client_id: "c".into(),
            scopes: vec![],
            resource: "r".into(),
            expires_at: u64::MAX,
            family: family.into(),
            rotated: false,
        };
        g.tokens.insert("1".into(), tok("f1"));
        g.tokens.insert("2".into(), tok("f1"));
        g.tokens.insert("3".into(), tok("f2"));
        assert_eq!(g.revoke_family("f1"), 2);
        assert_eq!(g.tokens.len(), 1);
    }
}
