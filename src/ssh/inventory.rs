//! The host inventory: aliases from the ssh_config (following `Include`) and entries of the
//! JSON inventory file, merged by name (the inventory wins). This listing is for display
//! (`ssh_hosts`, the inventory resources) and for the policy probe; connections are resolved
//! by OpenSSH itself (`ssh -G`, see `resolve.rs`), which applies `Match`, `Host *`, `Include`
//! and everything else exactly as `ssh` would.
//!
//! Reload: [`Inventory::is_stale`] re-reads the metadata of every file the inventory was
//! built from (the ssh_config, each included file, the directories of `Include` globs, the
//! inventory file); any change in size, inode or modification time makes it stale.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::audit::Json;
use crate::config::KnownHosts;
use crate::ssh::validate;

/// Deepest `Include` nesting followed (OpenSSH's own limit).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Where a host spec came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A `Host` alias in the ssh_config.
    SshConfig,
    /// An entry of the JSON inventory file.
    Inventory,
    /// Not in either: the caller's own string.
    Explicit,
}

impl Source {
    /// `ssh_config`, `inventory` or `explicit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::SshConfig => "ssh_config",
            Source::Inventory => "inventory",
            Source::Explicit => "explicit",
        }
    }
}

/// One host as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSpec {
    /// The name callers use.
    pub name: String,
    /// The address connected to (`HostName`, else the name).
    pub hostname: String,
    /// Login user, when set.
    pub user: Option<String>,
    /// Port, when set.
    pub port: Option<u16>,
    /// Identity file, when set.
    pub identity_file: Option<String>,
    /// Jump chain (`ProxyJump`), when set.
    pub jump: Option<String>,
    /// Where it came from.
    pub source: Source,
    /// Per-host host-key policy (inventory file only).
    pub known_hosts: Option<KnownHosts>,
    /// The login shell is POSIX-family (default): remote commands get the pid preamble that
    /// lets a deadline stop them. `"posix_shell": false` in the inventory file turns it off
    /// (PowerShell or cmd targets).
    pub posix_shell: bool,
}

impl HostSpec {
    /// A spec for a string that is not in the inventory.
    pub fn explicit(name: &str) -> HostSpec {
        let (user, host) = match name.rsplit_once('@') {
            Some((u, h)) => ((!u.is_empty()).then(|| u.to_string()), h),
            None => (None, name),
        };
        HostSpec {
            name: name.to_string(),
            hostname: host.to_string(),
            user,
            port: None,
            identity_file: None,
            jump: None,
            source: Source::Explicit,
            known_hosts: None,
            posix_shell: true,
        }
    }

    /// The listing JSON: `name, hostname, user, port, identity_file, jump, source`.
    pub fn to_json(&self) -> Json {
        let opt = |v: &Option<String>| v.clone().map_or(Json::Null, Json::Str);
        Json::Obj(
            vec![
                ("name", Json::Str(self.name.clone())),
                ("hostname", Json::Str(self.hostname.clone())),
                ("user", opt(&self.user)),
                (
                    "port",
                    self.port.map_or(Json::Null, |p| Json::Int(p.into())),
                ),
                ("identity_file", opt(&self.identity_file)),
                ("jump", opt(&self.jump)),
                ("source", Json::Str(self.source.as_str().into())),
            ]
            .into_iter()
            .map(|(k, v)| (k.into(), v))
            .collect(),
        )
    }
}

/// Identity of one file's contents, cheap to compare.
type Stamp = Option<(i64, i64, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.mtime(), m.mtime_nsec(), m.len(), m.ino()))
}

/// The merged host list and the files it came from.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// Every host by name.
    hosts: BTreeMap<String, HostSpec>,
    /// Non-wildcard `Host` aliases of the ssh_config, sorted, including overridden ones.
    config_aliases: Vec<String>,
    /// The ssh_config path, if the file exists.
    config_path: Option<PathBuf>,
    /// Every file and directory read, with its stamp at read time.
    files: Vec<(PathBuf, Stamp)>,
    /// Inventory entries skipped because a value was unsafe to hand to ssh.
    pub rejected: Vec<String>,
}

impl Inventory {
    /// Read the ssh_config at `ssh_config` and the JSON inventory at `inventory` ("" = none).
    /// Never fails: a missing or malformed file contributes nothing.
    pub fn load(ssh_config: &Path, inventory: &str) -> Inventory {
        let mut inv = Inventory::default();
        let mut found = Found::default();
        inv.files
            .push((ssh_config.to_path_buf(), stamp(ssh_config)));
        if ssh_config.is_file() {
            inv.config_path = Some(ssh_config.to_path_buf());
            read_config(ssh_config, 0, &mut found, &mut inv.files);
        }
        inv.add_config_hosts(found);
        if !inventory.is_empty() {
            let path = crate::config::expand_tilde(inventory);
            inv.files.push((path.clone(), stamp(&path)));
            inv.read_inventory(&path);
        }
        inv
    }

    /// The inventory of one ssh_config text alone, its `Include` lines ignored: what the fuzz
    /// target `inventory` feeds arbitrary bytes (it must not read the machine's files).
    pub(crate) fn from_config_text(text: &str) -> Inventory {
        let mut inv = Inventory::default();
        let mut found = Found::default();
        parse_config(text, MAX_INCLUDE_DEPTH, &mut found, &mut inv.files);
        inv.add_config_hosts(found);
        inv
    }

    /// Add the `Host` aliases read from the ssh_config (their first values win).
    fn add_config_hosts(&mut self, found: Found) {
        let inv = self;
        let mut aliases: std::collections::BTreeSet<String> =
            std::mem::take(&mut inv.config_aliases)
                .into_iter()
                .collect();
        for (alias, b) in found.blocks {
            aliases.insert(alias.clone());
            if !inv.hosts.contains_key(&alias) && validate::host(&alias).is_ok() {
                inv.hosts.insert(
                    alias.clone(),
                    HostSpec {
                        hostname: b.hostname.unwrap_or_else(|| alias.clone()),
                        name: alias,
                        user: b.user,
                        port: b.port.and_then(|p| p.parse().ok()).filter(|p| *p > 0),
                        identity_file: b.identity_file,
                        jump: b.jump,
                        source: Source::SshConfig,
                        known_hosts: None,
                        posix_shell: true,
                    },
                );
            }
        }
        inv.config_aliases = aliases.into_iter().collect();
    }

    /// Whether any file this inventory was read from has changed since.
    pub fn is_stale(&self) -> bool {
        self.files.iter().any(|(p, s)| stamp(p) != *s)
    }

    /// The spec for `name` if it is an inventory or ssh_config host.
    pub fn get(&self, name: &str) -> Option<&HostSpec> {
        self.hosts.get(name)
    }

    /// Every host, sorted by name.
    pub fn hosts(&self) -> impl Iterator<Item = &HostSpec> {
        self.hosts.values()
    }

    /// Every host spec as JSON, sorted by name (`ssh_hosts` and the inventory resource).
    pub fn to_json(&self) -> Json {
        Json::Arr(self.hosts().map(HostSpec::to_json).collect())
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether there are no hosts.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The ssh_config path, when it exists.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// Sorted non-wildcard aliases of the ssh_config.
    pub fn config_aliases(&self) -> &[String] {
        &self.config_aliases
    }

    /// The spec for a `host` argument: an inventory entry, else an explicit one.
    pub fn lookup(&self, host: &str) -> HostSpec {
        self.get(host)
            .cloned()
            .unwrap_or_else(|| HostSpec::explicit(host))
    }

    fn read_inventory(&mut self, path: &Path) {
        let Some(text) = read_bounded(path) else {
            return;
        };
        let Ok(serde_json::Value::Object(top)) = serde_json::from_str::<serde_json::Value>(&text)
        else {
            tracing::warn!(path = %path.display(), "inventory is not a JSON object; ignored");
            return;
        };
        for (name, entry) in top {
            let serde_json::Value::Object(e) = entry else {
                continue;
            };
            let text = |keys: &[&str]| {
                keys.iter().find_map(|k| match e.get(*k) {
                    Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    _ => None,
                })
            };
            let port = match e.get("port") {
                Some(serde_json::Value::Number(n)) => n.as_u64(),
                Some(serde_json::Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            let spec = HostSpec {
                hostname: text(&["hostname", "host"]).unwrap_or_else(|| name.clone()),
                user: text(&["user"]),
                port: port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0),
                identity_file: text(&["identity_file", "identityfile"]),
                jump: text(&["jump", "proxyjump"]),
                source: Source::Inventory,
                known_hosts: text(&["known_hosts"]).and_then(|k| parse_mode(&k)),
                posix_shell: e
                    .get("posix_shell")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(true),
                name,
            };
            match check_entry(&spec, &e) {
                Ok(()) => {
                    self.hosts.insert(spec.name.clone(), spec);
                }
                Err(why) => {
                    tracing::warn!(host = %spec.name, "inventory entry skipped: {why}");
                    self.rejected.push(format!("{}: {why}", spec.name));
                }
            }
        }
    }
}

/// Parse a host-key policy name.
pub fn parse_mode(s: &str) -> Option<KnownHosts> {
    match s.trim().to_ascii_lowercase().as_str() {
        "strict" => Some(KnownHosts::Strict),
        "accept-new" => Some(KnownHosts::AcceptNew),
        "ignore" => Some(KnownHosts::Ignore),
        _ => None,
    }
}

/// Inventory values are written into a generated ssh_config: each must be safe there.
fn check_entry(
    s: &HostSpec,
    raw: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), String> {
    validate::host(&s.name).map_err(|e| e.message)?;
    if s.name.contains(['%', '[', ']']) {
        return Err("a name may not contain '%', '[' or ']'".into());
    }
    validate::host(&s.hostname).map_err(|e| e.message)?;
    validate::user(s.user.as_deref().unwrap_or_default()).map_err(|e| e.message)?;
    if let Some(j) = &s.jump {
        validate::jump(j).map_err(|e| e.message)?;
    }
    if let Some(k) = &s.identity_file
        && k.contains(['\0', '\n', '\r', '"'])
    {
        return Err("identity_file contains a quote or a control character".into());
    }
    if raw.contains_key("port") && s.port.is_none() {
        return Err("port must be 1..65535".into());
    }
    if raw.contains_key("known_hosts") && s.known_hosts.is_none() {
        return Err("known_hosts must be strict, accept-new or ignore".into());
    }
    Ok(())
}

/// The five values the listing shows, first value wins (as in OpenSSH).
#[derive(Clone, Debug, Default)]
struct Block {
    hostname: Option<String>,
    user: Option<String>,
    port: Option<String>,
    identity_file: Option<String>,
    jump: Option<String>,
}

/// The non-wildcard `Host` aliases read so far, in first-seen order, with an index by name
/// (a config with many aliases stays linear).
#[derive(Default)]
struct Found {
    blocks: Vec<(String, Block)>,
    index: std::collections::HashMap<String, usize>,
}

/// Split one ssh_config line into a lower-cased keyword and its arguments (quotes removed).
pub(crate) fn split_line(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let key = line[..end].to_ascii_lowercase();
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in rest.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    args.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        args.push(cur);
    }
    Some((key, args))
}

/// Read one config file, appending `(alias, values)` for each non-wildcard `Host` alias.
fn read_config(path: &Path, depth: usize, out: &mut Found, files: &mut Vec<(PathBuf, Stamp)>) {
    let Some(text) = read_bounded(path) else {
        return;
    };
    parse_config(&text, depth, out, files);
}

/// Largest ssh_config, included file or JSON inventory read: far beyond any real one. A
/// longer file, or one that is not a regular file (`Include /dev/zero`, a FIFO), contributes
/// nothing instead of blocking or exhausting memory.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// The text of a regular file of at most [`MAX_CONFIG_BYTES`], invalid UTF-8 replaced.
fn read_bounded(path: &Path) -> Option<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_CONFIG_BYTES {
        tracing::warn!(path = %path.display(), "not a regular file of at most 16 MiB; ignored");
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES).read_to_end(&mut bytes).ok()?;
    Some(
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

/// Read the lines of one config file's `text` (`Include` at `depth`, see [`read_config`]).
fn parse_config(text: &str, depth: usize, out: &mut Found, files: &mut Vec<(PathBuf, Stamp)>) {
    let mut current: Vec<usize> = Vec::new();
    // Which of the five keys the current `Host` line's blocks have been offered: the first
    // value wins, so a repeated key is a no-op (and the work stays linear in the text).
    let mut offered = [false; 5];
    for line in text.lines() {
        let Some((key, args)) = split_line(line) else {
            continue;
        };
        match key.as_str() {
            "host" => {
                current.clear();
                offered = [false; 5];
                for alias in &args {
                    if alias.contains(['*', '?', '!']) {
                        continue;
                    }
                    let next = out.blocks.len();
                    let idx = *out.index.entry(alias.clone()).or_insert(next);
                    if idx == next {
                        out.blocks.push((alias.clone(), Block::default()));
                    }
                    current.push(idx);
                }
                current.sort_unstable();
                current.dedup();
            }
            "match" => current.clear(),
            "include" if depth < MAX_INCLUDE_DEPTH => {
                for pattern in &args {
                    for file in expand_include(pattern, files) {
                        read_config(&file, depth + 1, out, files);
                    }
                }
            }
            _ => {
                let k = match key.as_str() {
                    "hostname" => 0,
                    "user" => 1,
                    "port" => 2,
                    "identityfile" => 3,
                    "proxyjump" => 4,
                    _ => continue,
                };
                if std::mem::replace(&mut offered[k], true) {
                    continue;
                }
                let first = args.first();
                for &i in &current {
                    let b = &mut out.blocks[i].1;
                    let slot = match k {
                        0 => &mut b.hostname,
                        1 => &mut b.user,
                        2 => &mut b.port,
                        3 => &mut b.identity_file,
                        _ => &mut b.jump,
                    };
                    if slot.is_none() {
                        slot.clone_from(&first.cloned());
                    }
                }
            }
        }
    }
}

/// The files an `Include` pattern names: relative paths are under `~/.ssh`, and `*`/`?` may
/// appear in the last component. The directory is stamped too, so a file added there makes
/// the inventory stale.
fn expand_include(pattern: &str, files: &mut Vec<(PathBuf, Stamp)>) -> Vec<PathBuf> {
    let path = if pattern.starts_with('~') {
        crate::config::expand_tilde(pattern)
    } else if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        crate::config::expand_tilde("~/.ssh").join(pattern)
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        files.push((path.clone(), stamp(&path)));
        return vec![path];
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    files.push((dir.clone(), stamp(&dir)));
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| wild_match(&name, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    for f in &found {
        files.push((f.clone(), stamp(f)));
    }
    found
}

/// `*` and `?` wildcard match (no character classes) of a file name. Hidden names never
/// match. Linear backtracking to the last `*` only: O(pattern × name) at worst, where the
/// recursive form was exponential in the number of stars (`*a*a*a*…b` against `aaaa…`).
pub(crate) fn wild_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') {
        return false;
    }
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    // After the last `*` seen: the pattern index after it, and the name index it matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi + 1, ni));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
#[path = "inventory_tests.rs"]
mod tests;
