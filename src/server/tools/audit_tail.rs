//! `audit_tail`: the last records of the audit log, optionally filtered (docs/tools.md).

use rmcp::schemars::{self, JsonSchema};
use serde::Deserialize;
use serde_json::json;

use super::{Context, Tool, params};
use crate::error::{ErrorKind, ToolError};
use crate::gate::{Output, Processes, ToolCall};
use crate::policy::PolicyClass;
use crate::text;

/// Parameters of `audit_tail`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditTailParams {
    /// How many of the newest lines to scan (default 50, clamped to 1..1000).
    #[serde(default = "default_lines", deserialize_with = "params::int")]
    pub lines: i64,
    /// Keep only records of this tool.
    #[serde(default)]
    pub tool: String,
    /// Keep only records of this tier (negative = any).
    #[serde(default = "any_tier", deserialize_with = "params::int")]
    pub tier: i64,
    /// Keep only denied (true) or admitted (false) records; null = any.
    #[serde(default, deserialize_with = "params::opt_boolean")]
    pub denied: Option<bool>,
}

fn default_lines() -> i64 {
    50
}

fn any_tier() -> i64 {
    -1
}

/// `audit_tail`: read the newest audit records.
pub(super) struct AuditTail;

impl Tool for AuditTail {
    type Params = AuditTailParams;
    const NAME: &'static str = "audit_tail";
    const DESCRIPTION: &'static str = "Show the newest audit records (oldest first), optionally \
        filtered by tool, tier or denied. Records hold redacted arguments and a hash of each \
        output, never the output itself.";
    const SUMMARY: &'static str = "read recent audit records (filters: tool, tier, denied)";
    const CLASS: PolicyClass = PolicyClass::ReadOnly;
    const DESTRUCTIVE: bool = false;
    const PROCESSES: Processes = Processes::None;

    fn call(cx: &Context<'_>, p: AuditTailParams) -> ToolCall {
        let lines = text::clamp_i64(p.lines, 1, 1000) as usize;
        let mut args = vec![("lines", json!(lines))];
        let tool = (!p.tool.is_empty()).then(|| p.tool.clone());
        let tier = u8::try_from(p.tier).ok().filter(|t| *t <= 3);
        if let Some(t) = &tool {
            args.push(("tool_filter", json!(t)));
        }
        if p.tier >= 0 {
            args.push(("tier_filter", json!(p.tier)));
        }
        if let Some(d) = p.denied {
            args.push(("denied_filter", json!(d)));
        }
        let settings = &cx.state.settings;
        let path = settings.audit_path.clone();
        let budget = text::clamp_output(settings.max_output as i64, settings.max_output_hard);
        let tier_given = p.tier >= 0;
        let denied = p.denied;
        cx.plan(args).budget(budget).work(move |_| async move {
            if tier_given && tier.is_none() {
                // A tier that cannot exist matches nothing.
                return Ok(Output::text(""));
            }
            let out = tokio::task::spawn_blocking(move || {
                crate::audit::tail::audit_tail(&path, lines, tool.as_deref(), tier, denied)
            })
            .await
            .map_err(|e| {
                ToolError::new(
                    ErrorKind::Internal,
                    format!("audit_tail reader failed: {e}"),
                )
            })?;
            Ok(Output::text(out))
        })
    }
}
