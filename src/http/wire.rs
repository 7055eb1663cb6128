//! What `/mcp` checks on the wire before rmcp sees a request (after Host/Origin and
//! authentication): shutdown, session ownership, content type, body size and read time,
//! JSON-RPC well-formedness, and the session limit.
//!
//! rmcp answers a body that is not JSON with a plain-text 415; a JSON-RPC client expects a
//! JSON-RPC error, so the body is parsed here first: bad JSON is a `-32700` parse error, JSON
//! that is not a JSON-RPC message a `-32600` invalid request, both HTTP 400.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use tokio_util::task::TaskTracker;

use super::sessions::{McpSessions, Owner};
use crate::server::Principal;

/// The header that names an MCP session.
const SESSION_HEADER: &str = "mcp-session-id";

/// Shared state of the `/mcp` wire checks.
pub(super) struct Wire {
    /// The bounded session manager (also handed to rmcp).
    pub sessions: Arc<McpSessions>,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Time allowed to receive a request body.
    pub body_timeout: Duration,
    /// Set when shutdown starts: new requests are refused with 503.
    pub draining: Arc<AtomicBool>,
    /// POSTs whose response has not been sent in full: shutdown waits for them before it
    /// ends the MCP sessions, so no finished call loses its reply.
    pub requests: TaskTracker,
}

/// A JSON-RPC error response with a null id.
pub(super) fn jsonrpc_error(status: StatusCode, code: i64, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

fn too_large(max: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Payload Too Large: the request body exceeds {max} bytes (RELAY_SHELL_HTTP_MAX_BODY_BYTES)"),
    )
        .into_response()
}

fn json_content_type(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .is_some_and(|essence| essence.eq_ignore_ascii_case("application/json"))
}

/// Middleware on `/mcp`.
pub(super) async fn check(State(w): State<Arc<Wire>>, req: Request, next: Next) -> Response {
    if w.draining.load(Ordering::Acquire) {
        return jsonrpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            -32000,
            "the server is shutting down",
        );
    }
    let session = match req.headers().get(SESSION_HEADER).map(|v| v.to_str()) {
        None => None,
        Some(Ok(id)) => Some(id.to_string()),
        // rmcp would read an undecodable id as no id at all (a new session).
        Some(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                "Bad Request: invalid Mcp-Session-Id header",
            )
                .into_response();
        }
    };
    if let Some(id) = &session {
        let me = req.extensions().get::<Principal>().map(|p| p.name.as_str());
        let mine = match w.sessions.owner(id) {
            Owner::Unknown => true, // rmcp answers 404 itself
            Owner::Unclaimed => false,
            Owner::Principal(p) => Some(p.as_str()) == me,
        };
        if !mine {
            return (StatusCode::NOT_FOUND, "Not Found: Session not found").into_response();
        }
    }
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    if !json_content_type(req.headers()) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type: Content-Type must be application/json",
        )
            .into_response();
    }
    let (parts, body) = req.into_parts();
    let bytes = match tokio::time::timeout(w.body_timeout, axum::body::to_bytes(body, w.max_body))
        .await
    {
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                "Request Timeout: the body did not arrive in time (RELAY_SHELL_HTTP_HEADER_TIMEOUT)",
            )
                .into_response();
        }
        Ok(Err(e)) => {
            let inner = e.into_inner();
            if is_length_limit(inner.as_ref()) {
                return too_large(w.max_body);
            }
            return (
                StatusCode::BAD_REQUEST,
                "Bad Request: the body could not be read",
            )
                .into_response();
        }
        Ok(Ok(b)) => b,
    };
    let message = match serde_json::from_slice::<ClientJsonRpcMessage>(&bytes) {
        Ok(m) => m,
        Err(e) if e.is_syntax() || e.is_eof() => {
            return jsonrpc_error(StatusCode::BAD_REQUEST, -32700, "Parse error");
        }
        Err(_) => {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                -32600,
                "Invalid Request: not a JSON-RPC 2.0 message MCP knows",
            );
        }
    };
    let opens_session = session.is_none()
        && matches!(&message, ClientJsonRpcMessage::Request(r)
            if matches!(r.request, ClientRequest::InitializeRequest(_)));
    if opens_session && w.sessions.is_full() {
        tracing::warn!(
            "relay-shell refused a new MCP session: {} are open",
            w.sessions.max()
        );
        let mut resp = jsonrpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            -32000,
            "too many MCP sessions are open (RELAY_SHELL_HTTP_MAX_SESSIONS); retry later",
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return resp;
    }
    let in_flight = w.requests.token();
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
        .map(|body| {
            Body::new(body.map_frame(move |frame| {
                let _held_until_the_body_ends = &in_flight;
                frame
            }))
        })
}
