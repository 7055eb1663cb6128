//! `operation_confirm`: arm a tier-3 confirmation token (docs/tools.md).

use rmcp::model::JsonObject;
use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::{Context, Tool};
use crate::gate::{Output, Processes, ToolCall};
use crate::policy::PolicyClass;
use crate::policy::broker::token_digest;

/// Parameters of `operation_confirm`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfirmParams {
    /// The token from a `[CONFIRM REQUIRED …]` result.
    pub token: String,
}

/// `operation_confirm`: the second step of a tier-3 call.
pub(super) struct OperationConfirm;

impl Tool for OperationConfirm {
    type Params = ConfirmParams;
    const NAME: &'static str = "operation_confirm";
    const DESCRIPTION: &'static str = "Arm a confirmation token returned by a \
        `[CONFIRM REQUIRED …]` result; then re-issue exactly the same tier-3 call to run it. Only \
        active when the operator enabled RELAY_SHELL_CONFIRM_TIER3.";
    const SUMMARY: &'static str =
        "arm a token from a [CONFIRM REQUIRED …] result, then repeat the exact call";
    const CLASS: PolicyClass = PolicyClass::ReadOnly;
    const DESTRUCTIVE: bool = false;
    const PROCESSES: Processes = Processes::None;

    fn call(cx: &Context<'_>, p: ConfirmParams) -> ToolCall {
        let state = cx.state.clone();
        let principal = cx.caller.principal.clone();
        cx.plan(vec![("token_sha256", json!(token_digest(&p.token)))])
            .budget(1024)
            .work(move |_| async move {
                let text = match state.gate.broker() {
                    None => "[confirmation broker disabled (RELAY_SHELL_CONFIRM_TIER3 is off)]",
                    Some(b) if b.arm(&p.token, &principal) => {
                        "[armed: re-issue the exact Tier-3 call now to execute it]"
                    }
                    Some(_) => "[invalid or expired confirmation token]",
                };
                Ok(Output::text(text))
            })
    }

    /// Never record a raw token, even a malformed call's.
    fn unparsed_args(raw: &JsonObject) -> Vec<(&'static str, serde_json::Value)> {
        if raw.contains_key("token") {
            vec![("arguments", json!("<not recorded: may carry a token>"))]
        } else {
            vec![("arguments", serde_json::Value::Object(raw.clone()))]
        }
    }
}
