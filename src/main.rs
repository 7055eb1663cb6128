//! The `relay-shell` binary: parse the command line, pick a verb, run it.
//!
//! Verbs: serve (default; stdio or HTTP), `--check-config`, `--verify-audit`, `explain`,
//! `redact`, `token`.
//! Exit codes: 0 ok, 2 refused or invalid configuration (and 1 for `explain` refusals).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use rmcp::ServiceExt;
use tracing_subscriber::filter::Targets;

use relay_shell::audit::{AuditConfig, AuditLog};
use relay_shell::cli::{Cli, Verb};
use relay_shell::config::{ConfigError, Settings, Transport};
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

/// Build the shared state: policy, redactor, audit log, gate.
fn build_state(settings: Settings) -> Result<Arc<State>, ConfigError> {
    let policy = Policy::new(
        settings.policy_mode,
        &settings.policy_deny,
        &settings.policy_allow,
    )
    .map_err(|e| ConfigError(e.to_string()))?;
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
    );
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

async fn serve(state: Arc<State>, http: Option<relay_shell::http::Prepared>) -> ExitCode {
    tracing::info!(
        "relay-shell {} starting ({})",
        env!("CARGO_PKG_VERSION"),
        summary(&state)
    );
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
    let policy = match Policy::new(mode, &settings.policy_deny, &settings.policy_allow) {
        Ok(p) => p,
        Err(e) => return fail_config(e),
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
    let (doc, admitted) = relay_shell::policy::explain::explain_json(&policy, &probe);
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

fn main() -> ExitCode {
    relay_shell::memory::limit_allocator_arenas();
    let cli = Cli::parse();
    let settings = match Settings::from_args(&cli.settings) {
        Ok(s) => s,
        Err(e) => return fail_config(e),
    };
    match redactor_for(&settings) {
        Ok(r) => init_logging(r, &settings.log),
        Err(e) => return fail_config(e),
    }
    match &cli.verb {
        Some(Verb::Explain { tool, mode, text }) => {
            return explain(&settings, tool, mode.as_deref(), text.as_deref());
        }
        Some(Verb::Token { action }) => {
            return relay_shell::http::token_cli::run(settings.auth_tokens_file.as_deref(), action);
        }
        Some(Verb::Redact { json }) => {
            return match redactor_for(&settings) {
                Ok(r) => relay_shell::redact::run_cli(*json, &r),
                Err(e) => fail_config(e),
            };
        }
        None => {}
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
            eprintln!("relay-shell: config OK ({})", summary(&state));
            state.ssh.shutdown().await;
            return ExitCode::SUCCESS;
        }
        relay_shell::memory::settle_after_startup();
        serve(state, http).await
    })
}
