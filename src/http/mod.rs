//! The streamable HTTP transport: rmcp's `StreamableHttpService` in an axum router, served by
//! hyper with a header-read timeout and a connection cap.
//!
//! ```text
//! TCP ─ hyper (header timeout, ≤ MAX_CONNECTIONS) ─ trace ─ body limit ─┬─ /healthz
//!                                                                       └─ guard (Host, Origin)
//!                                   ├─ /metrics (optional token)
//!                                   └─ /mcp: auth (bearer → Principal) ─ wire checks ─ rmcp
//! ```
//!
//! **Architecture Invariant:** this module supplies the principal and protects the socket; it
//! never audits, decides policy or runs tools — every call still goes through `server/` and
//! the gate.

mod auth;
mod guard;
pub mod oauth;
mod sessions;
pub mod token_cli;
mod tokens;
mod wire;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::{ConfigError, Settings};
use crate::metrics::Live;
use crate::server::{RelayServer, State};
use sessions::McpSessions;
use tokens::TokenStore;

/// How long running calls get to finish after SIGTERM before they are cancelled.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long cancelled calls get to write their records, and connections to close.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// What the HTTP transport needs beyond the shared state, validated before serving (and by
/// `--check-config`).
pub struct Prepared {
    /// The bearer-token file, when one is configured.
    pub tokens: Option<Arc<TokenStore>>,
    /// The OAuth authorization server, when `RELAY_SHELL_AUTH_ENABLED=true`.
    pub oauth: Option<Arc<oauth::OAuth>>,
}

/// Load what the HTTP transport needs beyond the settings (which `Settings::servable` has
/// checked): the token file, which must load and be private, and the OAuth state directory,
/// which must be private too.
pub fn prepare(settings: &Settings) -> Result<Prepared, ConfigError> {
    let tokens = match &settings.auth_tokens_file {
        None => None,
        Some(path) => {
            Some(Arc::new(TokenStore::open(path).map_err(|e| {
                ConfigError(format!("RELAY_SHELL_AUTH_TOKENS_FILE: {e}"))
            })?))
        }
    };
    let oauth = if settings.auth_enabled {
        Some(Arc::new(oauth::OAuth::prepare(settings)?))
    } else {
        None
    };
    Ok(Prepared { tokens, oauth })
}

fn metrics_response(state: &State, sessions: &McpSessions) -> Response {
    let metrics = state.gate.metrics();
    metrics.set_live(Live {
        pty_sessions: state.sessions.live(),
        ssh_masters: state.ssh.pool().stats().0,
        mcp_sessions: sessions.len(),
        audit_degraded: state.gate.audit().status().degraded,
        forwards: state.ssh.forwards().live(),
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        metrics.render(),
    )
        .into_response()
}

/// The whole router: `/mcp`, `/metrics`, `/healthz` and their layers.
fn router(
    state: &Arc<State>,
    prepared: &Prepared,
    sessions: Arc<McpSessions>,
    draining: Arc<AtomicBool>,
    requests: TaskTracker,
    ct: &CancellationToken,
) -> Router {
    let st = &state.settings;
    let (mut hosts, mut origins) = (
        st.http_allowed_hosts.clone(),
        st.http_allowed_origins.clone(),
    );
    if let Some(o) = &prepared.oauth {
        // The issuer's and the resource's own names: the browser and clients use them.
        let (h, or) = o.allowed();
        hosts.extend(h);
        origins.extend(or);
    }
    let allow = Arc::new(guard::Allowlist::new(&hosts, &origins));
    let config = StreamableHttpServerConfig::default()
        .with_cancellation_token(ct.child_token())
        .with_allowed_hosts(allow.hosts())
        .with_allowed_origins(allow.origins())
        .with_max_request_body_bytes(st.http_max_body_bytes);
    let prototype = RelayServer::new(state.clone(), auth::ANONYMOUS);
    let mcp = StreamableHttpService::new(move || Ok(prototype.clone()), sessions.clone(), config);
    let wire = Arc::new(wire::Wire {
        sessions: sessions.clone(),
        max_body: st.http_max_body_bytes,
        body_timeout: Duration::from_secs(st.http_header_timeout),
        draining: draining.clone(),
        requests,
    });
    let metrics_token: Option<[u8; 32]> = st
        .metrics_token
        .as_ref()
        .map(|t| Sha256::digest(t.0.as_bytes()).into());
    let metrics_state = state.clone();
    let metrics = move |headers: HeaderMap| {
        let reply = if auth::metrics_token_ok(metrics_token.as_ref(), &headers) {
            metrics_response(&metrics_state, &sessions)
        } else {
            auth::unauthorized("relay-shell-metrics", auth::bearer(&headers).is_some())
        };
        std::future::ready(reply)
    };
    let healthz = move || {
        std::future::ready(if draining.load(Ordering::Acquire) {
            (StatusCode::SERVICE_UNAVAILABLE, "stopping\n")
        } else {
            (StatusCode::OK, "ok\n")
        })
    };
    let credentials = Arc::new(auth::Credentials {
        tokens: prepared.tokens.clone(),
        oauth: prepared.oauth.clone(),
    });
    let mut app = Router::new()
        .route_service("/mcp", mcp)
        .route_layer(axum::middleware::from_fn_with_state(wire, wire::check))
        .route_layer(axum::middleware::from_fn_with_state(
            credentials,
            auth::require,
        ))
        .route("/metrics", get(metrics));
    if let Some(o) = &prepared.oauth {
        app = app.merge(o.routes());
    }
    app.layer(axum::middleware::from_fn_with_state(allow, guard::check))
        .route("/healthz", get(healthz))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            st.http_max_body_bytes,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

async fn bind(settings: &Settings) -> std::io::Result<tokio::net::TcpListener> {
    let host = settings
        .http_host
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']');
    tokio::net::TcpListener::bind((host, settings.http_port)).await
}

/// Resolve when SIGTERM or SIGINT arrives.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Serve MCP over HTTP until SIGTERM/SIGINT, then shut down gracefully: stop accepting, refuse
/// new requests, let running calls finish for [`SHUTDOWN_GRACE`], cancel the rest (each is
/// recorded as cancelled), end the MCP sessions and close the connections. The caller then
/// closes the PTY sessions and syncs the audit log.
pub async fn serve(state: Arc<State>, prepared: Prepared) -> ExitCode {
    let st = state.settings.clone();
    let listener = match bind(&st).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "relay-shell: cannot listen on {}:{}: {e}",
                st.http_host.trim(),
                st.http_port
            );
            return ExitCode::from(1);
        }
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a: SocketAddr| a.to_string());
    let mut methods = Vec::new();
    if let Some(t) = &prepared.tokens {
        methods.push(format!("bearer tokens from {}", t.path().display()));
    }
    if let Some(o) = &prepared.oauth {
        methods.push(format!(
            "OAuth, issuer {}, resource {}",
            o.issuer(),
            o.resource()
        ));
        for w in o.warnings() {
            tracing::warn!("unsafe setting: {w}");
        }
    }
    tracing::info!(
        "relay-shell listening on http://{addr}/mcp ({})",
        if methods.is_empty() {
            "no authentication".to_string()
        } else {
            methods.join("; ")
        }
    );
    if prepared.tokens.is_none() && prepared.oauth.is_none() {
        tracing::warn!(
            "HTTP transport without authentication: any client that reaches the port can run \
             commands as the service user"
        );
    }
    let sessions = Arc::new(McpSessions::new(
        st.http_max_sessions,
        Duration::from_secs(st.http_session_idle_timeout),
    ));
    let draining = Arc::new(AtomicBool::new(false));
    let rmcp_ct = CancellationToken::new();
    let requests = TaskTracker::new();
    let app = router(
        &state,
        &prepared,
        sessions,
        draining.clone(),
        requests.clone(),
        &rmcp_ct,
    );

    let connections = Arc::new(Semaphore::new(st.http_max_connections));
    let header_timeout = Duration::from_secs(st.http_header_timeout);
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop_signal());
    loop {
        // Take a connection slot before accepting: past the cap, clients wait in the
        // kernel's listen queue instead of costing us a descriptor and a task.
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p,
            _ = &mut stop => break,
        };
        let Ok(permit) = permit else { break };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!("relay-shell accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone().map_request(
            move |r: Request<hyper::body::Incoming>| {
                let mut r = r.map(axum::body::Body::new);
                r.extensions_mut().insert(oauth::Peer(peer));
                r
            },
        ));
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("relay-shell connection ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!("relay-shell stopping (signal): no new connections or requests");
    draining.store(true, Ordering::Release);
    let closed = tokio::spawn(graceful.shutdown());
    state.calls.close();
    requests.close();
    // A call's reply is sent after the call ends: wait for the replies, not just the calls.
    let replies = async {
        state.calls.wait().await;
        requests.wait().await;
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, replies).await.is_err() {
        tracing::warn!(
            "relay-shell: {} call(s) still running after {}s; cancelling them",
            state.calls.len(),
            SHUTDOWN_GRACE.as_secs()
        );
    }
    // Ends every MCP session and SSE stream; calls still running see their request
    // cancelled, stop their work and write their completion records.
    rmcp_ct.cancel();
    let _ = tokio::time::timeout(CANCEL_WAIT, state.calls.wait()).await;
    let _ = tokio::time::timeout(CANCEL_WAIT, closed).await;
    ExitCode::SUCCESS
}
