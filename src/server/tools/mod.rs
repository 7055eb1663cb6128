//! The tool table. A tool is a table entry — name, description, parameter schema, and a
//! `build` function that turns raw arguments into a [`ToolCall`] for the gate (audit args,
//! policy probe, budget, work). Adding a tool touches one family file and one line here.

pub mod audit_tail;
pub mod confirm;
pub mod fleet;
pub mod info;
pub mod params;
pub mod session;
pub mod shell;
pub mod ssh;

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};

use crate::gate::{Caller, ToolCall};
use crate::server::State;

/// One row of the tool table.
pub struct ToolDef {
    /// Name clients call.
    pub name: &'static str,
    /// What the tool does and when to use it (shown to the model).
    pub description: &'static str,
    /// One line for the server instructions.
    pub summary: &'static str,
    /// Annotation hint: never changes anything.
    pub read_only: bool,
    /// Annotation hint: may destroy data.
    pub destructive: bool,
    /// JSON Schema of the parameters.
    pub schema: fn() -> Arc<JsonObject>,
    /// Raw arguments (and who is calling: sessions belong to a principal) → a call for the
    /// gate. Never fails: bad arguments become a call whose work is an `InvalidArgument`
    /// error, so they are audited like everything else.
    pub build: fn(&Arc<State>, &Caller, &JsonObject) -> ToolCall,
}

impl ToolDef {
    /// The MCP tool description.
    pub fn to_tool(&self) -> Tool {
        Tool::new(self.name, self.description, (self.schema)()).with_annotations(
            ToolAnnotations::new()
                .read_only(self.read_only)
                .destructive(self.destructive),
        )
    }
}

/// Every tool, in the order they are listed.
pub fn table() -> &'static [ToolDef] {
    static TABLE: &[ToolDef] = &[
        shell::SHELL_EXEC,
        shell::SHELL_SCRIPT,
        session::SHELL_SPAWN,
        session::SESSION_SEND,
        session::SESSION_RECV,
        session::SESSION_RESIZE,
        session::SESSION_KILL,
        session::SESSION_LIST,
        ssh::SSH_EXEC,
        ssh::SSH_SPAWN,
        fleet::SSH_HOSTS,
        fleet::SSH_CHECK,
        fleet::SSH_FANOUT,
        fleet::SSH_KEYSCAN,
        info::SERVER_INFO,
        audit_tail::AUDIT_TAIL,
        confirm::OPERATION_CONFIRM,
    ];
    TABLE
}

/// Look a tool up by name.
pub fn find(name: &str) -> Option<&'static ToolDef> {
    table().iter().find(|t| t.name == name)
}

/// Record the raw arguments of a call whose arguments did not parse (redacted by the gate).
pub fn raw_args(args: &JsonObject) -> Vec<(&'static str, serde_json::Value)> {
    vec![("arguments", serde_json::Value::Object(args.clone()))]
}

/// Join the non-empty parts of a policy probe with newlines (spec §5: every byte the
/// executor will see).
pub fn probe(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}
