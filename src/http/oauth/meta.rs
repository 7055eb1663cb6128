//! Discovery documents: RFC 8414 authorization-server metadata and RFC 9728
//! protected-resource metadata (at the root and at the resource's path suffix).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use super::{OAuth, Registration, SCOPES, json_response};

/// `GET /.well-known/oauth-authorization-server`.
pub(super) async fn authorization_server(State(oauth): State<Arc<OAuth>>) -> Response {
    let i = &oauth.issuer;
    let mut doc = json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "revocation_endpoint": format!("{i}/revoke"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
    });
    if oauth.registration != Registration::Closed
        && let Some(obj) = doc.as_object_mut()
    {
        obj.insert(
            "registration_endpoint".into(),
            json!(format!("{i}/register")),
        );
    }
    json_response(StatusCode::OK, &doc)
}

fn resource_document(oauth: &OAuth) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "resource": oauth.resource,
            "authorization_servers": [oauth.issuer],
            "scopes_supported": SCOPES,
            "bearer_methods_supported": ["header"],
            "resource_name": "relay-shell",
        }),
    )
}

/// `GET /.well-known/oauth-protected-resource`: the document for this server's resource.
pub(super) async fn protected_resource(State(oauth): State<Arc<OAuth>>) -> Response {
    resource_document(&oauth)
}

/// `GET /.well-known/oauth-protected-resource/<path>`: the same document when `<path>` is
/// the resource's path (`mcp` by default), else 404.
pub(super) async fn protected_resource_path(
    State(oauth): State<Arc<OAuth>>,
    Path(path): Path<String>,
) -> Response {
    let want = oauth.resource_metadata_url();
    if want.ends_with(&format!(
        "/oauth-protected-resource/{}",
        path.trim_end_matches('/')
    )) {
        resource_document(&oauth)
    } else {
        super::error_json(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such protected resource",
        )
    }
}
