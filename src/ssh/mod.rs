//! SSH on OpenSSH's own terms: the inventory, the pool of OpenSSH masters, remote commands,
//! PTY sessions over a master, fan-out and key scanning.
//!
//! Architecture invariant: runs things and returns outcomes; never writes audit records and
//! knows nothing about MCP. It may use `session/` (an `ssh -tt` session is a PTY session).
//!
//! The flow of one call: [`Ssh::prepare`] validates what the caller said (host, user, port,
//! key, jump, host-key policy) against the inventory without starting anything;
//! [`Ssh::connect`] resolves the request with `ssh -G` (cached until a config file changes)
//! and leases the master for its identity from the [`pool::Pool`]; [`exec::run`] runs the
//! command over the master's control socket.

pub mod exec;
pub mod failure;
pub mod fanout;
pub mod forward;
pub mod inventory;
pub mod keyscan;
pub mod pool;
pub mod resolve;
pub mod runtime;
pub mod transfer;
pub mod validate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::config::KnownHosts;
use crate::error::{ErrorKind, ToolError};
use inventory::{HostSpec, Inventory};
use pool::{Lease, Pool, PoolLimits};
use resolve::{Request, Resolved};
use runtime::{ConfigOptions, Runtime};

/// Everything the SSH layer takes from the server's settings.
#[derive(Clone, Debug)]
pub struct SshSettings {
    /// The operator's ssh_config (`RELAY_SHELL_SSH_CONFIG`).
    pub ssh_config: PathBuf,
    /// The JSON inventory path, "" = none (`RELAY_SHELL_INVENTORY`).
    pub inventory: String,
    /// Default host-key policy (`RELAY_SHELL_SSH_KNOWN_HOSTS`).
    pub default_mode: KnownHosts,
    /// Whether a call may ask for a weaker policy than the default.
    pub allow_weaker: bool,
    /// Dial timeout, seconds.
    pub connect_timeout: u64,
    /// Keepalive interval, seconds (0 = off).
    pub keepalive: u64,
    /// Idle master eviction, seconds (0 = off).
    pub idle_timeout: u64,
    /// Most masters.
    pub max_conns: usize,
    /// Forward cap and listen-address rule.
    pub forwards: forward::ForwardLimits,
}

/// What a caller said about where to connect (raw tool arguments).
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// Inventory alias, `[user@]host[:port]`, name or address.
    pub host: String,
    /// Login user ("" = from the host string or the config).
    pub user: String,
    /// Port (0 = from the host string or the config).
    pub port: i64,
    /// Identity file ("" = from the config or the agent).
    pub key_path: String,
    /// Jump chain ("" = from the config).
    pub jump: String,
    /// Host-key policy ("" = inventory entry, else the server default).
    pub known_hosts: String,
}

/// A validated target, ready to connect.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// What is handed to `ssh`.
    pub request: Request,
    /// The inventory spec (or an explicit one).
    pub spec: HostSpec,
}

impl Prepared {
    /// The effective host-key policy.
    pub fn mode(&self) -> KnownHosts {
        self.request.mode
    }
}

/// The SSH layer: inventory, generated configs, resolution cache and pool. Shared by all calls.
#[derive(Debug)]
pub struct Ssh {
    settings: SshSettings,
    runtime: Arc<Runtime>,
    pool: Pool,
    forwards: forward::Forwards,
    inventory: Mutex<Arc<Inventory>>,
    resolved: Mutex<HashMap<Request, Resolved>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ssh {
    /// Create the runtime directory, read the inventory and write the generated configs.
    /// Must be called inside a tokio runtime (the pool starts its sweeper).
    pub fn new(settings: SshSettings) -> std::io::Result<Ssh> {
        let runtime = Arc::new(Runtime::create()?);
        let inv = Inventory::load(&settings.ssh_config, &settings.inventory);
        runtime.write_configs(&config_options(&settings), &inv)?;
        let pool = Pool::new(
            runtime.clone(),
            PoolLimits {
                max_conns: settings.max_conns,
                idle_timeout: (settings.idle_timeout > 0)
                    .then(|| Duration::from_secs(settings.idle_timeout)),
            },
        );
        Ok(Ssh {
            forwards: forward::Forwards::new(settings.forwards),
            settings,
            runtime,
            pool,
            inventory: Mutex::new(Arc::new(inv)),
            resolved: Mutex::new(HashMap::new()),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &SshSettings {
        &self.settings
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The live port forwards.
    pub fn forwards(&self) -> &forward::Forwards {
        &self.forwards
    }

    /// The current inventory, re-read (and the generated configs rewritten, and the
    /// resolution cache cleared) when any of its files changed.
    pub fn inventory(&self) -> Arc<Inventory> {
        let cur = lock(&self.inventory).clone();
        if !cur.is_stale() {
            return cur;
        }
        let fresh = Arc::new(Inventory::load(
            &self.settings.ssh_config,
            &self.settings.inventory,
        ));
        if let Err(e) = self
            .runtime
            .write_configs(&config_options(&self.settings), &fresh)
        {
            tracing::error!(error = %e, "cannot rewrite the generated ssh configs");
        }
        lock(&self.resolved).clear();
        *lock(&self.inventory) = fresh.clone();
        tracing::info!(hosts = fresh.len(), "ssh inventory reloaded");
        fresh
    }

    /// The effective host-key policy for `host` with a per-call value of `known_hosts`, as
    /// recorded in audit arguments (an invalid value shows as given).
    pub fn effective_mode_name(&self, host: &str, known_hosts: &str) -> String {
        match inventory::parse_mode(known_hosts) {
            Some(m) => m.as_str().to_string(),
            None if !known_hosts.trim().is_empty() => known_hosts.trim().to_ascii_lowercase(),
            None => {
                let inv = self.inventory();
                inv.get(host)
                    .or_else(|| {
                        validate::destination(host)
                            .ok()
                            .and_then(|d| inv.get(&d.host))
                    })
                    .and_then(|s| s.known_hosts)
                    .unwrap_or(self.settings.default_mode)
                    .as_str()
                    .to_string()
            }
        }
    }

    /// Validate `t` against the inventory; starts nothing.
    pub fn prepare(&self, t: &Target) -> Result<Prepared, ToolError> {
        let inv = self.inventory();
        let (spec, dest) = match inv.get(&t.host) {
            Some(spec) => (
                spec.clone(),
                validate::Destination {
                    user: None,
                    host: t.host.clone(),
                    port: None,
                },
            ),
            None => {
                let d = validate::destination(&t.host)?;
                // `root@web01` or `web01:2222`: an inventory host with a user or port given.
                let spec = match inv.get(&d.host) {
                    Some(spec) => spec.clone(),
                    None => {
                        let mut spec = HostSpec::explicit(&t.host);
                        spec.hostname = d.host.clone();
                        spec.port = d.port;
                        spec
                    }
                };
                (spec, d)
            }
        };
        validate::user(&t.user)?;
        let user = (!t.user.is_empty())
            .then(|| t.user.clone())
            .or(dest.user.clone());
        let port = validate::port(t.port)?.or(dest.port);
        let key = validate::key_path(&t.key_path)?;
        let hops = validate::jump(&t.jump)?;
        validate::jump_avoids_target(
            &hops,
            &validate::Destination {
                user: None,
                host: spec.hostname.clone(),
                port: port.or(spec.port),
            },
        )?;
        let per_call = match t.known_hosts.trim() {
            "" => None,
            k => Some(inventory::parse_mode(k).ok_or_else(|| {
                ToolError::invalid(format!(
                    "known_hosts must be one of 'accept-new', 'ignore', 'strict' (got {k:?})"
                ))
            })?),
        };
        let mode = pool::effective_mode(
            per_call,
            spec.known_hosts,
            self.settings.default_mode,
            self.settings.allow_weaker,
        )?;
        Ok(Prepared {
            request: Request {
                dest: dest.host,
                user,
                port,
                key,
                jump: (!t.jump.is_empty()).then(|| t.jump.clone()),
                mode,
            },
            spec,
        })
    }

    /// Resolve `p` through `ssh -G` (cached) and lease its master, dialling if needed.
    pub async fn connect(
        &self,
        p: &Prepared,
        connect_timeout: Option<u64>,
    ) -> Result<Lease, ToolError> {
        let _ = self.inventory();
        let cached = lock(&self.resolved).get(&p.request).cloned();
        let resolved = match cached {
            Some(r) => r,
            None => {
                let config = self.runtime.config_path(p.request.mode);
                let r = resolve::resolve(&p.request, &config).await?;
                lock(&self.resolved).insert(p.request.clone(), r.clone());
                r
            }
        };
        self.pool
            .acquire(
                &p.request,
                &resolved,
                connect_timeout.unwrap_or(self.settings.connect_timeout),
            )
            .await
            .map_err(|e| match &p.request.key {
                Some(k)
                    if e.kind == ErrorKind::AuthenticationFailed
                        && validate::key_is_encrypted(k) =>
                {
                    ToolError::new(
                        ErrorKind::AuthenticationFailed,
                        format!(
                            "identity file {} is protected by a passphrase, and no prompt is \
                             possible (BatchMode): load it into the ssh-agent of the server's \
                             user, or use a key without one ({})",
                            k.display(),
                            e.message
                        ),
                    )
                }
                _ => e,
            })
    }

    /// Run `command` on `p`'s master; if the master's socket fails before the command
    /// starts, the master is replaced once and the command sent again.
    pub async fn exec(
        &self,
        p: &Prepared,
        command: &str,
        timeout: Duration,
        capture_limit: usize,
        connect_timeout: Option<u64>,
        mark_pid: bool,
    ) -> Result<exec::RemoteOutcome, ToolError> {
        let mark_pid = mark_pid && p.spec.posix_shell;
        let lease = self.connect(p, connect_timeout).await?;
        let started = tokio::time::Instant::now();
        match exec::run(lease.master(), command, timeout, capture_limit, mark_pid).await {
            Ok(o) => Ok(o),
            Err(exec::ExecError::Failed(e)) => Err(e),
            Err(exec::ExecError::NotStarted(e)) => {
                tracing::info!(error = %e, "ssh master failed; dialling a new one");
                self.pool.discard(lease.master());
                drop(lease);
                let lease = self.connect(p, connect_timeout).await?;
                let left = timeout.saturating_sub(started.elapsed());
                exec::run(lease.master(), command, left, capture_limit, mark_pid)
                    .await
                    .map_err(|e| match e {
                        exec::ExecError::Failed(e) | exec::ExecError::NotStarted(e) => e,
                    })
            }
        }
    }

    /// The argv of an interactive client over `lease`'s master: `ssh -S <ctl> -tt … -- host
    /// [command]`, run in a local PTY by the session registry.
    pub fn pty_argv(&self, lease: &Lease, command: &str) -> Vec<String> {
        let m = lease.master();
        let mut argv = vec![
            "ssh".to_string(),
            "-S".into(),
            m.control_path().display().to_string(),
            "-o".into(),
            "ControlMaster=no".into(),
            "-tt".into(),
        ];
        argv.extend(
            m.request()
                .options(m.config_path())
                .into_iter()
                .map(|o| o.to_string_lossy().into_owned()),
        );
        argv.push("--".into());
        argv.push(m.request().dest.clone());
        if !command.trim().is_empty() {
            argv.push(command.to_string());
        }
        argv
    }

    /// Close every forward, stop every master and remove the runtime directory.
    pub async fn shutdown(&self) {
        self.forwards.shutdown().await;
        self.pool.shutdown().await;
    }
}

fn config_options(s: &SshSettings) -> ConfigOptions {
    ConfigOptions {
        connect_timeout: s.connect_timeout,
        keepalive: s.keepalive,
        ssh_config: s.ssh_config.clone(),
    }
}
