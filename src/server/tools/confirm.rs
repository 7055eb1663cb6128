//! `operation_confirm`: arm a tier-3 confirmation token (spec §5.21, §12.1).

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::JsonObject;
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::{ToolDef, params, raw_args};
use crate::gate::{Caller, Output, ToolCall};
use crate::policy::broker::token_digest;
use crate::server::State;

/// Parameters of `operation_confirm`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmParams {
    /// The token from a `[CONFIRM REQUIRED …]` result.
    pub token: String,
}

/// `operation_confirm`: the second step of a tier-3 call.
pub const OPERATION_CONFIRM: ToolDef = ToolDef {
    name: "operation_confirm",
    description: "Arm a confirmation token returned by a `[CONFIRM REQUIRED …]` result; then \
        re-issue exactly the same tier-3 call to run it. Only active when the operator enabled \
        RELAY_SHELL_CONFIRM_TIER3.",
    summary: "arm a token from a [CONFIRM REQUIRED …] result, then repeat the exact call",
    read_only: true,
    destructive: false,
    schema: schema_for_type::<ConfirmParams>,
    build,
};

fn build(state: &Arc<State>, _caller: &Caller, raw: &JsonObject) -> ToolCall {
    let p: ConfirmParams = match params::parse(OPERATION_CONFIRM.name, raw) {
        Ok(p) => p,
        // Never record a raw token, even a malformed call's.
        Err(e) => {
            let mut args = raw_args(raw);
            if raw.contains_key("token") {
                args = vec![("arguments", json!("<not recorded: may carry a token>"))];
            }
            return ToolCall::invalid(OPERATION_CONFIRM.name, args, e);
        }
    };
    let state = state.clone();
    ToolCall::new(
        OPERATION_CONFIRM.name,
        vec![("token_sha256", json!(token_digest(&p.token)))],
        String::new(),
        1024,
        None,
        false,
        async move {
            let text = match state.gate.broker() {
                None => "[confirmation broker disabled (RELAY_SHELL_CONFIRM_TIER3 is off)]",
                Some(b) if b.arm(&p.token) => {
                    "[armed: re-issue the exact Tier-3 call now to execute it]"
                }
                Some(_) => "[invalid or expired confirmation token]",
            };
            Ok(Output::text(text))
        },
    )
}
