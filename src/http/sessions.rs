//! MCP sessions over HTTP: rmcp's in-memory session manager, bounded, with idle expiry, and
//! each session bound to the principal that opened it.
//!
//! rmcp keeps one worker per session and ends it after `RELAY_SHELL_HTTP_SESSION_IDLE_TIMEOUT`
//! without a request; this wrapper counts sessions (refusing a new one past
//! `RELAY_SHELL_HTTP_MAX_SESSIONS`) and records the owner when the session is initialised, so
//! the transport can answer another principal's use of the id with the 404 an unknown id gets.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_core::Stream;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};

use crate::server::Principal;

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum SessionsError {
    /// rmcp's session manager failed.
    #[error(transparent)]
    Inner(#[from] LocalSessionManagerError),
    /// `RELAY_SHELL_HTTP_MAX_SESSIONS` sessions are open.
    #[error("{0} MCP sessions are open (RELAY_SHELL_HTTP_MAX_SESSIONS)")]
    Full(usize),
}

/// Who owns a session id, as far as this server knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Owner {
    /// Not a session of this server (rmcp answers 404).
    Unknown,
    /// Created, but its `initialize` has not been seen: nobody may use it yet.
    Unclaimed,
    /// Opened by this principal.
    Principal(String),
}

#[derive(Default)]
struct Table {
    owners: HashMap<SessionId, Option<String>>,
    /// Sessions being created (counted against the limit before they exist).
    reserved: usize,
}

/// The bounded session manager handed to rmcp's `StreamableHttpService`.
pub(super) struct McpSessions {
    inner: LocalSessionManager,
    max: usize,
    table: Mutex<Table>,
}

impl McpSessions {
    /// At most `max` sessions; each expires after `idle` without a request.
    pub(super) fn new(max: usize, idle: Duration) -> McpSessions {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(idle);
        McpSessions {
            inner,
            max: max.max(1),
            table: Mutex::new(Table::default()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sessions open (or being opened).
    pub(super) fn len(&self) -> usize {
        let t = self.table();
        t.owners.len() + t.reserved
    }

    /// Whether a new session would be refused.
    pub(super) fn is_full(&self) -> bool {
        self.len() >= self.max
    }

    /// The limit.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// Who owns `id`.
    pub(super) fn owner(&self, id: &str) -> Owner {
        match self.table().owners.get(id) {
            None => Owner::Unknown,
            Some(None) => Owner::Unclaimed,
            Some(Some(p)) => Owner::Principal(p.clone()),
        }
    }
}

fn principal_of(message: &ClientJsonRpcMessage) -> Option<String> {
    let ClientJsonRpcMessage::Request(req) = message else {
        return None;
    };
    req.request
        .extensions()
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<Principal>())
        .map(|p| p.name.clone())
}

impl SessionManager for McpSessions {
    type Error = SessionsError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        {
            let mut t = self.table();
            if t.owners.len() + t.reserved >= self.max {
                return Err(SessionsError::Full(self.max));
            }
            t.reserved += 1;
        }
        let created = self.inner.create_session().await;
        let mut t = self.table();
        t.reserved -= 1;
        let (id, transport) = created?;
        t.owners.insert(id.clone(), None);
        Ok((id, transport))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        if let Some(owner) = self.table().owners.get_mut(id) {
            *owner = principal_of(&message);
        }
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        let closed = self.inner.close_session(id).await;
        self.table().owners.remove(id);
        Ok(closed?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.resume(id, last_event_id).await?)
    }
}
