//! The `relay-shell` binary: parse the command line, pick a verb, run it.
//!
//! Verbs: serve (default; stdio or HTTP), `--check-config`, `--verify-deploy`,
//! `--verify-audit`, `explain`, `sandbox`, `redact`, `token`, `auth` (and the
//! `--auth-list|approve|reject` flags), `man`, `completions`.
//! Exit codes: 0 ok, 2 refused or invalid configuration (and 1 for `explain` refusals).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rmcp::ServiceExt;
use tracing_subscriber::filter::Targets;

use relay_shell::audit::{AuditConfig, AuditLog};
use relay_shell::cli::{Cli, Verb};
use relay_shell::config::{ConfigError, DotEnv, Settings, Transport};
use relay_shell::confine::{self, Confiner};
use relay_shell::gate::Gate;
use relay_shell::metrics::Metrics;
use relay_shell::policy::Policy;
use relay_shell::redact::Redactor;
use relay_shell::server::{RelayServer, State};
use relay_shell::session::{Registry, SessionLimits};

/// How long shutdown waits for in-flight calls to finish and be recorded.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

fn fail_config(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("relay-shell: invalid configuration: {e}");
    ExitCode::from(2)
}

/// The log filter when `RELAY_SHELL_LOG` is unset or not a valid filter.
const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";

/// Logs go to stderr (stdout is the MCP channel on stdio), scrubbed by the same redactor as
/// the audit log: a failed command's text can carry a secret. `RELAY_SHELL_LOG` is a list of
/// `level` and `target=level` directives (`debug`, `info,relay_shell::exec=trace`).
fn init_logging(redactor: Redactor, directives: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = directives
        .parse::<Targets>()
        .ok()
        .or_else(|| DEFAULT_LOG_FILTER.parse().ok())
        .unwrap_or_default();
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(relay_shell::redact::RedactingWriter::stderr(redactor))
                .with_ansi(false),
        )
        .try_init();
}

fn redactor_for(settings: &Settings) -> Result<Redactor, ConfigError> {
    match &settings.redact_key_file {
        None => Ok(Redactor::new()),
        Some(path) => Redactor::from_key_file(path).map_err(|e| {
            ConfigError(format!(
                "RELAY_SHELL_REDACT_KEY_FILE={} ({e})",
                path.display()
            ))
        }),
    }
}

/// A policy regex error, named by its field first like every configuration error.
fn policy_error(e: relay_shell::policy::PolicyError) -> ConfigError {
    let relay_shell::policy::PolicyError::BadRegex { name, .. } = &e;
    let field = name.trim_start_matches("RELAY_SHELL_").to_ascii_lowercase();
    ConfigError::field(&field, e)
}

/// The confinement engine for `settings` (probes the kernel unless confinement is off).
fn confiner_for(settings: &Settings, setting: confine::Setting) -> Confiner {
    Confiner::new(
        setting,
        settings.readonly_network,
        settings.writable_roots.clone(),
    )
}

/// Build the shared state: policy, redactor, audit log, gate.
fn build_state(settings: Settings) -> Result<Arc<State>, ConfigError> {
    // `require` on a kernel that cannot enforce every part of the profiles refuses to start
    // (and so does --check-config, which builds the same state).
    let confiner = confiner_for(&settings, settings.confine);
    if let Some(refusal) = confiner.refusal() {
        return Err(ConfigError(refusal));
    }
    let policy = Policy::new(
        settings.policy_mode,
        &settings.policy_deny,
        &settings.policy_allow,
    )
    .map_err(policy_error)?
    .with_confined_sessions(confiner.enforces());
    let redactor = redactor_for(&settings)?;
    let audit = Arc::new(AuditLog::open(AuditConfig {
        path: settings.audit_path.clone(),
        mirror_stderr: settings.audit_stderr,
        format: settings.audit_format,
        chain: settings.audit_chain,
        fsync: settings.audit_fsync,
        on_failure: settings.audit_on_failure,
        start_records: settings.audit_start_records,
    }));
    let metrics = Arc::new(Metrics::new());
    let broker = settings.confirm_tier3.then(|| {
        relay_shell::policy::broker::Broker::new(std::time::Duration::from_secs(
            settings.confirm_ttl,
        ))
    });
    let gate = Gate::new(
        policy,
        redactor,
        audit,
        metrics,
        settings.max_concurrent,
        broker,
    )
    .with_options(relay_shell::gate::GateOptions {
        max_input: settings.max_input,
        notices: settings.unsafe_notices,
        intent: settings.audit_intent,
    })
    .with_confiner(Arc::new(confiner));
    let sessions = Registry::new(SessionLimits {
        max_sessions: settings.max_sessions,
        buffer_bytes: settings.session_buffer_bytes,
        idle_timeout: Duration::from_secs(settings.session_idle_timeout),
        max_lifetime: Duration::from_secs(settings.session_max_lifetime),
    });
    let ssh = relay_shell::ssh::Ssh::new(relay_shell::ssh::SshSettings {
        ssh_config: settings.ssh_config.clone(),
        inventory: settings.inventory.clone(),
        default_mode: settings.ssh_known_hosts,
        allow_weaker: settings.ssh_allow_weaker_known_hosts,
        connect_timeout: settings.ssh_connect_timeout,
        keepalive: settings.ssh_keepalive,
        idle_timeout: settings.ssh_idle_timeout,
        max_conns: settings.max_conns,
        forwards: relay_shell::ssh::forward::ForwardLimits {
            max: settings.max_forwards,
            allow_nonloopback: settings.forward_allow_nonloopback,
        },
    })
    .map_err(|e| ConfigError(format!("cannot create the SSH runtime directory: {e}")))?;
    Ok(Arc::new(State {
        ssh: Arc::new(ssh),
        settings: Arc::new(settings),
        gate,
        calls: tokio_util::task::TaskTracker::new(),
        sessions,
    }))
}

fn summary(state: &State) -> String {
    let s = &state.settings;
    format!(
        "transport={}, policy={}, audit={}",
        s.transport.as_str(),
        s.policy_mode.as_str(),
        s.audit_path.display()
    )
}

/// Serve MCP on stdio until stdin closes or a signal arrives.
async fn serve_stdio(state: &Arc<State>) -> ExitCode {
    let server = RelayServer::new(state.clone(), "stdio");
    let running = match server.serve(rmcp::transport::stdio()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("relay-shell could not start the MCP session: {e}");
            return ExitCode::from(1);
        }
    };
    let ct = running.cancellation_token();
    let signals = tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => return,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("relay-shell stopping (signal)");
        ct.cancel();
    });
    let code = match running.waiting().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("relay-shell exited with error: {e}");
            ExitCode::from(1)
        }
    };
    signals.abort();
    code
}

async fn serve(
    state: Arc<State>,
    http: Option<relay_shell::http::Prepared>,
    dotenv: &DotEnv,
) -> ExitCode {
    tracing::info!(
        "relay-shell {} starting ({})",
        env!("CARGO_PKG_VERSION"),
        summary(&state)
    );
    if let Some(w) = dotenv.warning() {
        tracing::warn!("{w}");
    }
    for w in relay_shell::config::standing_warnings(&state.settings, is_root()) {
        tracing::warn!("unsafe setting: {w}");
    }
    if let Some(warning) = state.gate.confiner().warning() {
        tracing::warn!("{warning}");
    }
    relay_shell::exec::detach_controlling_terminal();
    let code = match http {
        Some(prepared) => relay_shell::http::serve(state.clone(), prepared).await,
        None => serve_stdio(&state).await,
    };
    state.calls.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, state.calls.wait()).await;
    // No session outlives the server: every process group is terminated, then killed.
    state.sessions.shutdown().await;
    // Every OpenSSH master is stopped and the control sockets removed.
    state.ssh.shutdown().await;
    // The launchers and the scratch pool stop; leftover scratch directories are removed.
    state.gate.confiner().shutdown();
    let audit = state.gate.audit().clone();
    let _ = tokio::task::spawn_blocking(move || audit.flush_and_sync()).await;
    tracing::info!("relay-shell stopped");
    code
}

/// `relay-shell explain`: classify text and print the decision under the effective policy.
fn explain(settings: &Settings, tool: &str, mode: Option<&str>, text: Option<&str>) -> ExitCode {
    let mode = match mode.map(str::parse::<relay_shell::policy::Mode>) {
        None => settings.policy_mode,
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            eprintln!("relay-shell: explain: --mode {e}");
            return ExitCode::from(2);
        }
    };
    let text = match text {
        Some(t) if t != "-" => t.to_string(),
        _ => {
            let mut buf = String::new();
            if let Err(e) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf) {
                eprintln!("relay-shell: explain: cannot read the text from stdin: {e}");
                return ExitCode::from(2);
            }
            buf
        }
    };
    let confiner = confiner_for(settings, settings.confine);
    let policy = match Policy::new(mode, &settings.policy_deny, &settings.policy_allow) {
        Ok(p) => p.with_confined_sessions(confiner.enforces()),
        Err(e) => return fail_config(policy_error(e)),
    };
    let redactor = match redactor_for(settings) {
        Ok(r) => r,
        Err(e) => return fail_config(e),
    };
    let Some(def) = relay_shell::server::tools::find(tool) else {
        let known: Vec<&str> = relay_shell::server::tools::table()
            .iter()
            .map(|t| t.name)
            .collect();
        eprintln!(
            "relay-shell: explain: unknown tool {tool:?} (expected one of: {})",
            known.join(", ")
        );
        return ExitCode::from(2);
    };
    let probe = relay_shell::policy::Probe::from_text(def.name, def.class, &text);
    let (mut doc, admitted) = relay_shell::policy::explain::explain_json(&policy, &probe);
    if let Some(fields) = doc.as_object_mut() {
        fields.insert(
            "confinement".into(),
            explain_confinement(&confiner, &policy, def.processes, &probe, admitted).into(),
        );
    }
    // Values are redacted before serialisation: redacting the serialised text could cut
    // through a closing quote and print invalid JSON.
    let doc = redactor.scrub_document(&doc);
    let rendered = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    println!("{rendered}");
    if admitted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Whether the server runs as root (a standing warning).
fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The profile a call would run under, for `explain`: the gate's choice (`confine::choose`
/// on the same decision) for tools that start local processes; what the tool's processes get
/// otherwise; `none` when refused.
fn explain_confinement(
    confiner: &Confiner,
    policy: &Policy,
    processes: relay_shell::gate::Processes,
    probe: &relay_shell::policy::Probe,
    admitted: bool,
) -> String {
    match processes {
        _ if !admitted => confine::Profile::None.as_str().into(),
        relay_shell::gate::Processes::Local => {
            let decision = policy.check(probe);
            let profile = confine::choose(
                decision.mode,
                decision.tier,
                decision.allowed_by_rule,
                confiner.setting(),
            );
            confiner.label(profile)
        }
        other => other.explained().into(),
    }
}

/// `relay-shell sandbox`: confinement is what the operator asked for, so `off` probes too.
fn sandbox(settings: &Settings, profile: &str, command: &[String]) -> ExitCode {
    let profile = match profile.parse::<confine::Profile>() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("relay-shell: sandbox: --profile {e}");
            return ExitCode::from(2);
        }
    };
    let setting = match settings.confine {
        confine::Setting::Require => confine::Setting::Require,
        _ => confine::Setting::Auto,
    };
    confine::run_sandbox_cli(&confiner_for(settings, setting), profile, command)
}

/// Write `bytes` to stdout; exit 1 when stdout cannot take them.
fn print_bytes(bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay-shell: cannot write to stdout: {e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    relay_shell::memory::limit_allocator_arenas();
    let cli = Cli::parse();
    // Generated from the command line alone: no configuration is read.
    match &cli.verb {
        Some(Verb::Man) => return print_bytes(&relay_shell::cli::man_page()),
        Some(Verb::Completions { shell }) => {
            return print_bytes(&relay_shell::cli::completions(*shell));
        }
        _ => {}
    }
    // Flags and exact-case variables came through clap; differently-cased variables and the
    // working directory's `.env` fill what they left unset (docs/configuration.md).
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let dotenv = DotEnv::read_cwd();
    let mut args = cli.settings.clone();
    relay_shell::config::fill_from_sources(&mut args, &env, &dotenv);
    let settings = match Settings::from_args(&args) {
        Ok(s) => s,
        Err(e) => return fail_config(e),
    };
    match redactor_for(&settings) {
        Ok(r) => init_logging(r, &settings.log),
        Err(e) => return fail_config(e),
    }
    let names = relay_shell::config::candidate_names(&env, &dotenv);
    for w in relay_shell::config::unknown_setting_warnings(names) {
        tracing::warn!(target: "relay_shell::config", "{w}");
    }
    match &cli.verb {
        Some(Verb::Explain { tool, mode, text }) => {
            return explain(&settings, tool, mode.as_deref(), text.as_deref());
        }
        Some(Verb::Sandbox { profile, command }) => {
            return sandbox(&settings, profile, command);
        }
        Some(Verb::Token { action }) => {
            return relay_shell::http::token_cli::run(settings.auth_tokens_file.as_deref(), action);
        }
        Some(Verb::Auth { action }) => {
            return relay_shell::http::oauth::cli::run(&settings.auth_state_dir, action, cli.json);
        }
        Some(Verb::Redact { json }) => {
            return match redactor_for(&settings) {
                Ok(r) => relay_shell::redact::run_cli(*json, &r),
                Err(e) => fail_config(e),
            };
        }
        Some(Verb::Man | Verb::Completions { .. }) | None => {}
    }
    if cli.verify_deploy {
        return relay_shell::deploy::run_cli(
            cli.templates_dir.as_deref(),
            cli.install_prefix.as_deref(),
            cli.json,
        );
    }
    {
        use relay_shell::cli::AuthAction;
        let legacy = if let Some(id) = &cli.auth_approve {
            Some(AuthAction::Approve {
                client_id: id.clone(),
            })
        } else if let Some(id) = &cli.auth_reject {
            Some(AuthAction::Reject {
                client_id: id.clone(),
            })
        } else if cli.auth_list {
            Some(AuthAction::List)
        } else {
            None
        };
        if let Some(action) = legacy.filter(|_| !cli.verify_audit) {
            return relay_shell::http::oauth::cli::run(&settings.auth_state_dir, &action, cli.json);
        }
    }
    if cli.verify_audit {
        // The report goes to stdout; verification never serves or writes.
        return relay_shell::audit::run_verify_cli(&settings.audit_path, cli.segment, cli.json);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("relay-shell: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        // What serving would refuse, --check-config refuses too: one check for both (the
        // settings, then the HTTP transport's token file).
        if let Err(e) = settings.servable() {
            return fail_config(e);
        }
        let http = match settings.transport {
            Transport::Http => match relay_shell::http::prepare(&settings) {
                Ok(p) => Some(p),
                Err(e) => return fail_config(e),
            },
            Transport::Stdio => None,
        };
        let state = match build_state(settings) {
            Ok(s) => s,
            Err(e) => return fail_config(e),
        };
        if cli.check_config {
            let audit = state.gate.audit().status();
            if audit.degraded {
                eprintln!(
                    "relay-shell: audit sink degraded ({}); refuse this configuration for production deployment.",
                    audit.reason
                );
                return ExitCode::from(2);
            }
            for w in relay_shell::config::standing_warnings(&state.settings, is_root()) {
                eprintln!("relay-shell: note: {w}");
            }
            if let Some(oauth) = http.as_ref().and_then(|p| p.oauth.as_ref()) {
                for w in oauth.warnings() {
                    eprintln!("relay-shell: note: {w}");
                }
            }
            eprintln!("relay-shell: config OK ({})", summary(&state));
            state.ssh.shutdown().await;
            return ExitCode::SUCCESS;
        }
        relay_shell::memory::settle_after_startup();
        serve(state, http, &dotenv).await
    })
}
