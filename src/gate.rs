//! The gate: the one path every tool call takes.
//!
//! identify → classify + admit → (confirm) → reserve a slot → start record → run under a
//! deadline → bound → completion record → count.
//!
//! Architecture invariants kept here (see `docs/architecture.md`):
//! 1. every call that reaches the gate yields exactly one completion record, and a call whose
//!    work starts has a start record written before the work;
//! 2. the output body never reaches the audit log — only its SHA-256 and length;
//! 4. every failure becomes a bounded, audited `[ERROR: …]` string, never a panic or a
//!    protocol error;
//! 6. a refused call runs nothing: its `work` future is dropped unpolled.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::audit::{self, AuditLog, Json, Record, StartRecord, ToolRecord};
use crate::confine::{self, Confinement, Confiner};
use crate::error::{ErrorKind, ToolError};
use crate::metrics::Metrics;
use crate::policy::broker::{Broker, OperationKey};
use crate::policy::{Decision, Policy, Tier};
use crate::redact::{ARG_MAX_CHARS, Redactor};
use crate::text;

/// The work of one call: runs only if the gate admits it.
pub type Work = Pin<Box<dyn Future<Output = Result<Output, ToolError>> + Send>>;

/// How long a call waits for a free slot before it is answered `Busy`.
pub const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// Grace added to a call's own deadline before the gate's backstop fires.
const BACKSTOP_GRACE: Duration = Duration::from_secs(15);

/// What the work produced, before bounding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// The body (decoded text; for processes, their captured output).
    pub body: String,
    /// Exit status when a process completed; adds the `[exit N]` prefix.
    pub exit_code: Option<i64>,
    /// The work hit its deadline; `body` is then the `[TIMEOUT after Ns]` marker.
    pub timed_out: bool,
    /// True size of the output when bytes were dropped before `body` was built.
    pub total_bytes: Option<usize>,
}

impl Output {
    /// Informational text with no exit status.
    pub fn text(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }
}

/// One tool call, as a table entry produced it: everything the gate needs.
pub struct ToolCall {
    /// Tool name as listed to clients.
    pub tool: &'static str,
    /// Arguments to record, in the tool's documented order (redacted by the gate).
    pub args: Vec<(&'static str, serde_json::Value)>,
    /// Every byte the executor will see, for classification and the deny/allow regexes.
    pub probe: String,
    /// Output budget in bytes for the returned string (already clamped).
    pub budget: usize,
    /// Whether the work runs something (a process, a write): it then gets a start record.
    pub runs: bool,
    /// The call's own deadline, if any; the gate adds a backstop after it.
    pub deadline: Option<Duration>,
    /// The work.
    pub work: Work,
    /// Where the gate offers the work its kernel profile, for work that starts local
    /// processes (see [`ToolCall::confined`]).
    pub confine: Option<confine::Slot>,
}

impl ToolCall {
    /// Assemble a call from its parts (the work is boxed here).
    pub fn new(
        tool: &'static str,
        args: Vec<(&'static str, serde_json::Value)>,
        probe: String,
        budget: usize,
        deadline: Option<Duration>,
        runs: bool,
        work: impl Future<Output = Result<Output, ToolError>> + Send + 'static,
    ) -> Self {
        Self {
            tool,
            args,
            probe,
            budget,
            runs,
            deadline,
            work: Box::pin(work),
            confine: None,
        }
    }

    /// This call's work starts local processes: the gate offers it a profile through `slot`.
    pub fn confined(mut self, slot: confine::Slot) -> Self {
        self.confine = Some(slot);
        self
    }

    /// A call that fails validation before any work exists: audited, runs nothing.
    pub fn invalid(
        tool: &'static str,
        args: Vec<(&'static str, serde_json::Value)>,
        err: ToolError,
    ) -> Self {
        Self {
            tool,
            args,
            probe: String::new(),
            budget: 4096,
            runs: false,
            deadline: None,
            work: Box::pin(async move { Err(err) }),
            confine: None,
        }
    }
}

/// Who is calling, as identified by the transport.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// JSON-RPC request id rendered as text.
    pub request_id: String,
    /// `client_id` from the request's `_meta`, if any.
    pub client_id: String,
    /// The authenticated principal (`stdio` on the stdio transport).
    pub principal: String,
}

/// How a call ended, for metrics and structured content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The work ran and returned.
    Ok,
    /// Refused by policy.
    Denied,
    /// The work failed with a contained error.
    Error,
    /// The work hit its deadline.
    Timeout,
    /// No slot was free in time.
    Busy,
    /// Tier-3 confirmation required.
    ConfirmRequired,
}

impl Outcome {
    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Busy => "busy",
            Outcome::ConfirmRequired => "confirm_required",
        }
    }
}

/// What the client gets back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The final, bounded result string.
    pub text: String,
    /// How the call ended.
    pub outcome: Outcome,
    /// Classified tier.
    pub tier: Tier,
    /// Exit status of a completed process.
    pub exit_code: Option<i64>,
    /// Whether the work hit its deadline.
    pub timed_out: bool,
    /// Whether the body was truncated.
    pub truncated: bool,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Bytes of output the work produced (before truncation).
    pub output_bytes: usize,
}

impl Reply {
    /// Structured content returned next to the text.
    pub fn structured(&self) -> serde_json::Value {
        serde_json::json!({
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "truncated": self.truncated,
            "duration_ms": self.duration_ms,
            "output_bytes": self.output_bytes,
            "tier": self.tier.as_u8(),
            "outcome": self.outcome.as_str(),
        })
    }
}

/// The gate and everything it consults.
pub struct Gate {
    policy: Policy,
    redactor: Redactor,
    audit: Arc<AuditLog>,
    metrics: Arc<Metrics>,
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    broker: Option<Broker>,
    confiner: Arc<Confiner>,
}

impl Gate {
    /// Build the gate around its collaborators.
    pub fn new(
        policy: Policy,
        redactor: Redactor,
        audit: Arc<AuditLog>,
        metrics: Arc<Metrics>,
        max_concurrent: usize,
        broker: Option<Broker>,
    ) -> Self {
        Self {
            policy,
            redactor,
            audit,
            metrics,
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            max_concurrent: max_concurrent.max(1),
            broker,
            confiner: Arc::new(Confiner::default()),
        }
    }

    /// Confine the processes of admitted calls with `confiner` (default: off).
    pub fn with_confiner(mut self, confiner: Arc<Confiner>) -> Self {
        self.confiner = confiner;
        self
    }

    /// The confinement engine.
    pub fn confiner(&self) -> &Arc<Confiner> {
        &self.confiner
    }

    /// The kernel profile for a call (issue 11): chosen from the decision, offered to the
    /// work's slot, and returned as the label its records carry. A call whose work starts no
    /// local process runs under nothing: `none`.
    fn offer_confinement(&self, decision: &Decision, slot: Option<&confine::Slot>) -> String {
        let Some(slot) = slot else {
            return confine::Profile::None.as_str().into();
        };
        let profile = confine::choose(
            self.policy.mode(),
            decision.tier,
            decision.allowed_by_rule,
            self.confiner.setting(),
        );
        let chosen = Confinement {
            profile,
            confiner: self.confiner.clone(),
        };
        let label = chosen.label();
        slot.offer(chosen);
        label
    }

    /// The tier-3 confirmation broker, when `RELAY_SHELL_CONFIRM_TIER3` is on.
    pub fn broker(&self) -> Option<&Broker> {
        self.broker.as_ref()
    }

    /// The admission policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The redactor used for every egress.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The audit log.
    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    fn redact_args(&self, args: &[(&'static str, serde_json::Value)]) -> audit::Args {
        args.iter()
            .map(|(k, v)| {
                (
                    (*k).into(),
                    Json::from_serde(&self.redactor.scrub_value(v, ARG_MAX_CHARS)),
                )
            })
            .collect()
    }

    /// Run one call; if `cancel` fires first, the work is dropped (its process group is
    /// killed by the executor) and the call is recorded as `Cancelled`.
    pub async fn call_cancellable(
        &self,
        caller: &Caller,
        mut call: ToolCall,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Reply {
        let work = std::mem::replace(&mut call.work, Box::pin(async { Ok(Output::default()) }));
        call.work = Box::pin(async move {
            tokio::select! {
                r = work => r,
                _ = cancel.cancelled() => Err(ToolError::new(
                    ErrorKind::Cancelled,
                    "the client cancelled the request; the work was stopped",
                )),
            }
        });
        self.call(caller, call).await
    }

    /// Run one call through every step and return the bounded reply.
    pub async fn call(&self, caller: &Caller, call: ToolCall) -> Reply {
        let started = Instant::now();
        let ToolCall {
            tool,
            args,
            probe,
            budget,
            runs,
            deadline,
            work,
            confine,
        } = call;
        let decision = self.policy.check(tool, &probe);
        let tier = decision.tier;
        let confinement = self.offer_confinement(&decision, confine.as_ref());
        // The confirmation binding covers the raw (unredacted) arguments: a redacted secret
        // must not let a token armed for one value be spent on another.
        let operation = (self.broker.is_some() && tier == Tier::Irreversible).then(|| {
            let raw = Json::Obj(
                args.iter()
                    .map(|(k, v)| ((*k).into(), Json::from_serde(v)))
                    .collect(),
            );
            OperationKey::new(tool, &caller.principal, &probe, &raw.to_canonical())
        });
        let args = self.redact_args(&args);
        let mut action = "";
        // A call whose work never ran ran under nothing.
        let mut worked = false;
        let finish = |text: String, outcome, exit_code, timed_out, truncated, output_bytes| {
            (text, outcome, exit_code, timed_out, truncated, output_bytes)
        };
        // A call stopped before its work ran: only the rendered error goes back.
        let stopped =
            |err: ToolError, outcome| (self.render_error(&err), outcome, None, false, false, 0);

        let (text, outcome, exit_code, timed_out, truncated, output_bytes) = 'run: {
            if !decision.admitted {
                drop(work);
                let body = format!(
                    "[DENIED tier {} ({}): {}]",
                    tier.as_u8(),
                    tier.name(),
                    decision.reason
                );
                break 'run finish(body, Outcome::Denied, None, false, false, 0);
            }
            if let (Some(broker), Some(op)) = (&self.broker, &operation) {
                if broker.consume(op) {
                    action = "confirm_execute";
                } else {
                    drop(work);
                    action = "confirm_plan";
                    let token = broker.plan(op);
                    let body = format!(
                        "[CONFIRM REQUIRED tier 3 (IRREVERSIBLE): this irreversible operation \
                         needs a second step. Call operation_confirm(token=\"{token}\") then \
                         re-issue this exact call within {}s.]",
                        broker.ttl().as_secs()
                    );
                    break 'run finish(body, Outcome::ConfirmRequired, None, false, false, 0);
                }
            }
            // Tier-0 calls that run nothing (server_info, audit_tail, session_recv, …) stay
            // available while the sink fails, so an operator can see why calls are refused.
            let observes_only = !runs && tier == Tier::ReadOnly;
            if let Err(e) = self
                .audit
                .admit()
                .or_else(|e| if observes_only { Ok(()) } else { Err(e) })
            {
                drop(work);
                break 'run stopped(
                    ToolError::new(ErrorKind::AuditUnavailable, e.to_string()),
                    Outcome::Error,
                );
            }
            let permit = match tokio::time::timeout(QUEUE_WAIT, self.slots.clone().acquire_owned())
                .await
            {
                Ok(Ok(p)) => p,
                _ => {
                    drop(work);
                    let err = ToolError::new(
                        ErrorKind::Busy,
                        format!(
                            "{} calls already running; none finished within {}s (RELAY_SHELL_MAX_CONCURRENT)",
                            self.max_concurrent,
                            QUEUE_WAIT.as_secs()
                        ),
                    );
                    break 'run stopped(err, Outcome::Busy);
                }
            };
            if runs {
                let start = Record::Start(StartRecord {
                    ts: audit::now_iso(),
                    tool: tool.to_string(),
                    tier: tier.as_u8(),
                    principal: caller.principal.clone(),
                    request_id: caller.request_id.clone(),
                    args: args.clone(),
                    confinement: confinement.clone(),
                });
                if let Err(e) = self.audit.append(start).await {
                    self.metrics.count_audit_failure();
                    tracing::error!(error = %e, "audit start record not written");
                    if self.audit.admit().is_err() {
                        drop(work);
                        drop(permit);
                        break 'run stopped(
                            ToolError::new(ErrorKind::AuditUnavailable, e.to_string()),
                            Outcome::Error,
                        );
                    }
                }
            }
            worked = true;
            let result = match deadline {
                Some(d) => match tokio::time::timeout(d + BACKSTOP_GRACE, work).await {
                    Ok(r) => r,
                    Err(_) => Ok(Output {
                        body: format!("[TIMEOUT after {}s]", d.as_secs()),
                        timed_out: true,
                        ..Output::default()
                    }),
                },
                None => work.await,
            };
            drop(permit);
            match result {
                Ok(out) => {
                    let produced = out
                        .total_bytes
                        .unwrap_or(out.body.len())
                        .max(out.body.len());
                    let (body, truncated) = text::truncate(&out.body, budget, out.total_bytes);
                    let text = match out.exit_code {
                        Some(code) => format!("[exit {code}]\n{body}"),
                        None => body,
                    };
                    let outcome = if out.timed_out {
                        Outcome::Timeout
                    } else {
                        Outcome::Ok
                    };
                    finish(
                        text,
                        outcome,
                        out.exit_code,
                        out.timed_out,
                        truncated,
                        produced,
                    )
                }
                Err(err) => {
                    let rendered = self.render_error(&err);
                    let (body, truncated) = text::truncate(&rendered, budget, None);
                    finish(body, Outcome::Error, None, false, truncated, rendered.len())
                }
            }
        };

        let duration_ms = started.elapsed().as_millis() as u64;
        let record = Record::Tool(ToolRecord {
            ts: audit::now_iso(),
            tool: tool.to_string(),
            tier: tier.as_u8(),
            denied: outcome == Outcome::Denied,
            args,
            output_sha256: audit::sha256_hex(text.as_bytes()),
            output_len: text.len() as u64,
            exit_code,
            request_id: caller.request_id.clone(),
            client_id: caller.client_id.clone(),
            action: action.to_string(),
            principal: caller.principal.clone(),
            duration_ms: Some(duration_ms),
            confinement: match confine.as_ref().and_then(confine::Slot::reported) {
                _ if !worked => confine::Profile::None.as_str().into(),
                Some(reported) => reported,
                None => confinement,
            },
        });
        let mut text = text;
        if let Err(e) = self.audit.append(record).await {
            self.metrics.count_audit_failure();
            tracing::error!(error = %e, tool, "audit completion record not written");
            // A result is never returned before its completion record is written: under
            // `refuse` the client learns the call ran but is not yet on record (the record
            // stays queued and is written first once the sink recovers).
            if self.audit.admit().is_err() && outcome != Outcome::Denied {
                let err = ToolError::new(
                    ErrorKind::AuditUnavailable,
                    format!(
                        "the call completed but its audit record could not be written ({e}); \
                         the record is queued and new calls are refused until the audit log \
                         is writable again"
                    ),
                );
                text = self.render_error(&err);
            }
        }
        self.metrics
            .count_call(tool, tier.as_u8(), outcome.as_str());
        Reply {
            text,
            outcome,
            tier,
            exit_code,
            timed_out,
            truncated,
            duration_ms,
            output_bytes,
        }
    }

    /// Render an error string, scrubbed: a failed command's text can carry a secret.
    fn render_error(&self, err: &ToolError) -> String {
        self.redactor.redact(&err.render()).into_owned()
    }
}
