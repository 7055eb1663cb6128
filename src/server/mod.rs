//! The MCP server: turns MCP requests into gate calls.
//!
//! The tool list and dispatch come from one table ([`tools::table`]); every call is built into
//! a [`crate::gate::ToolCall`] and run by the gate on its own task, so a client that goes away
//! mid-call cannot cut off the completion record.

mod resources;
pub mod tools;

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    Prompt, PromptMessage, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    ResourceContents, Role, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::gate::{Caller, Gate, Outcome};
use crate::session::Registry;

/// Everything tools share: settings and the gate (with policy, redactor, audit, metrics).
pub struct State {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The one gate.
    pub gate: Gate,
    /// In-flight calls, so shutdown can let them finish and record their completion.
    pub calls: TaskTracker,
    /// Interactive PTY sessions of every principal; shut down when the server stops.
    pub sessions: Registry,
    /// Inventory and the pool of OpenSSH masters; shut down when the server stops.
    pub ssh: Arc<crate::ssh::Ssh>,
}

/// The identity the HTTP transport proved for a request (a bearer token's name and mode, or
/// an OAuth client and its token's scope), attached to the request's `http::request::Parts`
/// extensions by its authentication layer. Over stdio there is none and the handler's own
/// principal applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Recorded in every audit record; owns sessions (`oauth:<client id> (<client name>)`
    /// for an OAuth client).
    pub name: String,
    /// The token's ceiling on the server's policy.
    pub ceiling: crate::policy::Ceiling,
    /// The OAuth client id the access token was issued to (empty for bearer tokens): the
    /// audit record's `client_id`, never taken from the request's `_meta` then.
    pub client_id: String,
}

/// The rmcp handler. Cheap to clone (one per HTTP session or request).
#[derive(Clone)]
pub struct RelayServer {
    state: Arc<State>,
    principal: String,
}

/// The `instructions` sent at initialize: how to choose a tool, then every tool by name.
pub fn instructions() -> String {
    let mut text = String::from(
        "relay-shell runs shell commands on this host for you, with tiered authority. \
         Use shell_exec for a command that runs and exits by itself, shell_script for several \
         statements or a python3 script, shell_spawn for anything interactive (a REPL, a \
         prompt, a long job; then session_send, session_recv, session_kill), server_info to \
         see the configuration, limits and audit health, and audit_tail to read recent audit records (filter by tool, tier or \
         denied). On remote hosts: ssh_exec runs one command, ssh_spawn starts an interactive \
         remote program driven by the same session_* tools; before fleet work use ssh_hosts \
         and ssh_check, then ssh_fanout; ssh_keyscan fetches host keys to verify and record; \
         ssh_upload and ssh_download copy files and trees over SFTP; ssh_forward opens a port \
         forward (list and close them with ssh_forward_list and ssh_forward_close). Every call is classified into a tier (0 read-only, 1 reversible, 2 \
         stateful, 3 irreversible), admitted or refused by the operator's policy, bounded in \
         time and output, and recorded in a hash-chained audit log that stores a hash of the \
         output, never the output. Results read `[exit N]` + output, `[DENIED …]`, \
         `[TIMEOUT after Ns]`, `[ERROR: Kind: message]`, and may end with a `[TRUNCATED …]` \
         marker. When the operator enables tier-3 confirmation, an irreversible command \
         first returns `[CONFIRM REQUIRED …]` with a token: arm it with operation_confirm, then \
         re-issue exactly the same call.\n\nTools:",
    );
    for t in tools::table() {
        text.push_str(&format!("\n- {}: {}", t.name, t.summary));
    }
    text
}

impl RelayServer {
    /// A handler serving `state` to calls made by `principal`.
    pub fn new(state: Arc<State>, principal: impl Into<String>) -> Self {
        Self {
            state,
            principal: principal.into(),
        }
    }

    /// Who makes this request: the [`Principal`] the HTTP transport proved for it, else this
    /// handler's own principal (stdio) with no ceiling.
    fn who(&self, context: &RequestContext<RoleServer>) -> Principal {
        let proven = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<Principal>());
        match proven {
            Some(p) => p.clone(),
            None => Principal {
                name: self.principal.clone(),
                ceiling: crate::policy::Ceiling::NONE,
                client_id: String::new(),
            },
        }
    }

    /// Run a resource or prompt read through the gate on a tracked task; its bounded text.
    async fn gate_read(
        &self,
        call: crate::gate::ToolCall,
        context: &RequestContext<RoleServer>,
    ) -> Result<String, McpError> {
        let who = self.who(context);
        let caller = Caller {
            request_id: context.id.to_string(),
            client_id: who.client_id,
            principal: who.name,
            ceiling: who.ceiling,
        };
        let state = self.state.clone();
        let task = self
            .state
            .calls
            .spawn(async move { state.gate.call(&caller, call).await });
        task.await
            .map(|r| r.text)
            .map_err(|e| McpError::internal_error(format!("read task failed: {e}"), None))
    }
}

impl ServerHandler for RelayServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new(
            "relay-shell",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(instructions())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            tools::table().iter().map(|t| t.to_tool()).collect(),
        ))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(resources::list()))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let Some(call) = resources::read_call(&self.state, &request.uri) else {
            return Err(McpError::resource_not_found(
                format!("no such resource: {}", request.uri),
                None,
            ));
        };
        let text = self.gate_read(call, &context).await?;
        let contents = match ResourceContents::text(text, request.uri.clone()) {
            ResourceContents::TextResourceContents {
                uri, text, meta, ..
            } => ResourceContents::TextResourceContents {
                uri,
                mime_type: Some("application/json".into()),
                text,
                meta,
            },
            other => other,
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let mut p = Prompt::new(
            resources::GUIDE_NAME,
            Some("How to use relay-shell's tools, sessions and fleet tools, and read results"),
            None,
        );
        p.title = Some("relay-shell operating guide".into());
        Ok(ListPromptsResult::with_all_items(vec![p]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if request.name != resources::GUIDE_NAME {
            return Err(McpError::invalid_params(
                format!("no such prompt: {}", request.name),
                None,
            ));
        }
        let text = self
            .gate_read(resources::guide_call(&self.state), &context)
            .await?;
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description("relay-shell operating guide")
                .into(),
        )
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let who = self.who(&context);
        let principal = who.name;
        let Some(def) = tools::find(&request.name) else {
            // Not a tool call: nothing is classified or run, so there is no audit record; MCP
            // answers an unknown tool with a protocol error. The attempt is logged.
            tracing::warn!(
                tool = %self.state.gate.redactor().scrub_str(&request.name, 120),
                principal = %principal,
                "call to an unknown tool refused"
            );
            return Err(McpError::invalid_params(
                format!("unknown tool: {}", request.name),
                None,
            ));
        };
        let caller = Caller {
            request_id: context.id.to_string(),
            // The client id of a verified OAuth access token, as the Python relay-shell v0.5
            // records it: never taken from the request's own `_meta`, which the client
            // writes. Empty on stdio and with bearer tokens (omitted from the record).
            client_id: who.client_id,
            principal,
            ceiling: who.ceiling,
        };
        let args = request.arguments.unwrap_or_default();
        let call = (def.build)(&self.state, &caller, &args);
        let state = self.state.clone();
        let cancel = context.ct.clone();
        // The gate runs on its own task: if this request future is dropped, the call still
        // ends in a completion record (cancellation is handed to the gate instead).
        let task = self
            .state
            .calls
            .spawn(async move { state.gate.call_cancellable(&caller, call, cancel).await });
        let reply = task
            .await
            .map_err(|e| McpError::internal_error(format!("tool task failed: {e}"), None))?;
        let mut result = CallToolResult::success(vec![ContentBlock::text(reply.text.clone())]);
        result.structured_content = Some(reply.structured());
        if matches!(
            reply.outcome,
            Outcome::Denied | Outcome::Error | Outcome::Busy
        ) {
            result.is_error = Some(true);
        }
        Ok(result.into())
    }
}
