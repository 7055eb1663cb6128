//! The tool table. A tool is declared once, in its family's file, by implementing [`Tool`]:
//! its name, description, parameters (a struct whose doc comments become the JSON Schema),
//! MCP annotations and policy class, and `call`, which turns parsed parameters into a
//! [`ToolCall`] for the gate. The table below lists each tool once; everything else — the MCP
//! tool list, the `readOnlyHint` annotation, the tier floor the policy applies, argument
//! parsing and the audited `InvalidArgument` for malformed arguments — is derived from the
//! declaration. Adding a tool touches its family file and one line of [`table`].

mod audit_tail;
mod confirm;
mod fleet;
mod forward;
mod info;
mod params;
mod session;
mod shell;
mod ssh;
mod transfer;

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{JsonObject, Tool as McpTool, ToolAnnotations};
use rmcp::schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::gate::{Caller, Plan, Processes, ToolCall};
use crate::policy::{PolicyClass, Probe};
use crate::server::State;

/// A tool's declaration. Implemented by a unit type per tool in its family's file.
pub trait Tool {
    /// The parameters, parsed strictly (unknown fields and wrong types are an
    /// `InvalidArgument`); their doc comments are the schema clients see.
    type Params: DeserializeOwned + JsonSchema + 'static;
    /// Name clients call.
    const NAME: &'static str;
    /// What the tool does and when to use it (shown to the model).
    const DESCRIPTION: &'static str;
    /// One line for the server instructions.
    const SUMMARY: &'static str;
    /// How the policy treats the tool; also decides the `readOnlyHint` annotation.
    const CLASS: PolicyClass;
    /// Annotation hint: may destroy data.
    const DESTRUCTIVE: bool;
    /// What processes the work starts; `Local` plans are confined by the gate's profile.
    const PROCESSES: Processes;
    /// Parsed parameters (and who is calling: sessions belong to a principal) → a call for
    /// the gate. Never fails: a bad argument found here becomes [`Plan::fail`], so it is
    /// classified and audited like everything else.
    fn call(cx: &Context<'_>, params: Self::Params) -> ToolCall;

    /// What the audit record holds when the arguments do not parse: by default all of them
    /// (redacted by the gate like any argument).
    fn unparsed_args(raw: &JsonObject) -> Vec<(&'static str, serde_json::Value)> {
        vec![("arguments", serde_json::Value::Object(raw.clone()))]
    }
}

/// What a tool's `call` may use.
pub struct Context<'a> {
    /// Settings, the gate and the session registry.
    pub state: &'a Arc<State>,
    /// Who is calling.
    pub caller: &'a Caller,
    tool: &'static str,
    class: PolicyClass,
    processes: Processes,
}

impl Context<'_> {
    /// A plan for this tool recording `args` (the tool's documented audit arguments, in
    /// order); a tool that starts local processes gets the gate's kernel profile.
    pub fn plan(&self, args: Vec<(&'static str, serde_json::Value)>) -> Plan {
        let plan = Plan::new(self.tool, self.class, args);
        match self.processes {
            Processes::Local => plan.confined(),
            Processes::None | Processes::Session | Processes::Ssh => plan,
        }
    }

    /// An empty probe for this tool.
    pub fn probe(&self) -> Probe {
        Probe::new(self.tool, self.class)
    }
}

/// One row of the tool table, derived from a [`Tool`] by [`def`].
pub struct ToolDef {
    /// Name clients call.
    pub name: &'static str,
    /// What the tool does and when to use it.
    pub description: &'static str,
    /// One line for the server instructions.
    pub summary: &'static str,
    /// How the policy treats the tool.
    pub class: PolicyClass,
    /// Annotation hint: may destroy data.
    pub destructive: bool,
    /// What processes the work starts (for `explain`'s `confinement`).
    pub processes: Processes,
    /// JSON Schema of the parameters.
    pub schema: fn() -> Arc<JsonObject>,
    /// Raw arguments → a call for the gate (never fails; see [`Tool::call`]).
    pub build: fn(&Arc<State>, &Caller, &JsonObject) -> ToolCall,
}

impl ToolDef {
    /// The MCP tool description.
    pub fn to_tool(&self) -> McpTool {
        McpTool::new(self.name, self.description, (self.schema)()).with_annotations(
            ToolAnnotations::new()
                .read_only(self.class.read_only())
                .destructive(self.destructive),
        )
    }
}

/// The table row of tool `T`.
pub const fn def<T: Tool>() -> ToolDef {
    ToolDef {
        name: T::NAME,
        description: T::DESCRIPTION,
        summary: T::SUMMARY,
        class: T::CLASS,
        destructive: T::DESTRUCTIVE,
        processes: T::PROCESSES,
        schema: schema_for_type::<T::Params>,
        build: build::<T>,
    }
}

/// The one argument-parsing prologue: parse, or record the raw arguments with the error.
fn build<T: Tool>(state: &Arc<State>, caller: &Caller, raw: &JsonObject) -> ToolCall {
    let cx = Context {
        state,
        caller,
        tool: T::NAME,
        class: T::CLASS,
        processes: T::PROCESSES,
    };
    match params::parse::<T::Params>(T::NAME, raw) {
        Ok(p) => T::call(&cx, p),
        Err(e) => cx.plan(T::unparsed_args(raw)).fail(e),
    }
}

/// Every tool, in the order they are listed.
pub fn table() -> &'static [ToolDef] {
    static TABLE: &[ToolDef] = &[
        def::<shell::ShellExec>(),
        def::<shell::ShellScript>(),
        def::<session::ShellSpawn>(),
        def::<session::SessionSend>(),
        def::<session::SessionRecv>(),
        def::<session::SessionResize>(),
        def::<session::SessionKill>(),
        def::<session::SessionList>(),
        def::<ssh::SshExec>(),
        def::<ssh::SshSpawn>(),
        def::<fleet::SshHosts>(),
        def::<fleet::SshCheck>(),
        def::<fleet::SshFanout>(),
        def::<fleet::SshKeyscan>(),
        def::<transfer::SshUpload>(),
        def::<transfer::SshDownload>(),
        def::<forward::SshForward>(),
        def::<forward::SshForwardList>(),
        def::<forward::SshForwardClose>(),
        def::<info::ServerInfo>(),
        def::<audit_tail::AuditTail>(),
        def::<confirm::OperationConfirm>(),
    ];
    TABLE
}

/// Look a tool up by name.
pub fn find(name: &str) -> Option<&'static ToolDef> {
    table().iter().find(|t| t.name == name)
}
