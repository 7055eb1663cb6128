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
//! 3. the work is built from the probe the policy judged, so what runs is what was judged;
//! 6. a refused call runs nothing: its work is never built;
//! 7. the kernel profile of the processes a call starts is chosen here, once, from the same
//!    decision (`confine::choose`), handed to the work in [`Judged::confinement`], and
//!    recorded in the call's records (`confinement`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::audit::{self, AuditLog, Json, Record, StartRecord, ToolRecord};
use crate::confine::{self, Confinement, Confiner, Profile};
use crate::error::{ErrorKind, ToolError};
use crate::metrics::Metrics;
use crate::notices;
use crate::policy::broker::{Broker, OperationKey};
use crate::policy::{Policy, PolicyClass, Probe, Tier};
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
    /// Fields only the finished work knows (files and bytes moved, a digest, the id and port
    /// of a new forward): appended to the completion record's `args`, after the call's own
    /// arguments, and redacted like them. The start record does not have them.
    pub record: Vec<(&'static str, serde_json::Value)>,
    /// Something the work keeps until the call's completion record is written (the
    /// processes a command left running, which may run on only once a record names them).
    pub hold: Hold,
}

/// Something a finished work keeps alive until its completion record is written, then
/// drops. Not part of the output's value: every hold compares equal, and clones share one.
#[derive(Clone, Default)]
pub struct Hold(Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>);

impl Hold {
    /// Holds `value` (nothing for `None`).
    pub fn new<T: std::any::Any + Send + Sync>(value: Option<T>) -> Self {
        Self(value.map(|v| std::sync::Arc::new(v) as _))
    }
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Hold(held)"
        } else {
            "Hold(none)"
        })
    }
}

impl PartialEq for Hold {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Hold {}

impl Output {
    /// Informational text with no exit status.
    pub fn text(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }
}

/// What the work of an admitted call receives: the probe the policy judged — its payload,
/// standard input and environment are what the executor runs, so nothing reaches a child
/// that the policy did not see — the verdict, and the kernel profile that verdict calls for.
#[derive(Debug)]
pub struct Judged {
    /// The probe as judged.
    pub probe: Probe,
    /// The tier the policy gave it.
    pub tier: Tier,
    /// The kernel profile the local processes this work starts must run under (the
    /// executors apply it before exec). `None` when the plan did not declare local
    /// processes ([`Plan::confined`]).
    pub confinement: Option<Confinement>,
    /// Where the work reports a profile other than the one chosen here (a `session_send`
    /// runs in its session's profile, chosen when the session was spawned).
    pub applied: confine::Applied,
}

/// What processes a tool's work starts, which decides the kernel profile its calls run under
/// and record (`confinement`). Every tool declares it next to its policy class
/// (`server::tools::Tool::PROCESSES`), so a new tool cannot start processes unconfined because
/// a list elsewhere was not updated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Processes {
    /// None (observers, controls, signals to existing sessions): recorded `none`.
    None,
    /// Processes on this host: the gate chooses their profile from its decision
    /// ([`Plan::confined`]) and the executor applies it.
    Local,
    /// Input typed into a session started earlier: it runs in that session's profile, which
    /// the work reports ([`Judged::applied`]).
    Session,
    /// Work on other hosts through the local OpenSSH client (`ssh`, `ssh-keyscan`). A remote
    /// command cannot be confined from here; the client runs unconfined (it needs the pool's
    /// control sockets and `known_hosts`), recorded `none`. Readonly over SSH rests on the
    /// classifier alone.
    Ssh,
}

impl Processes {
    /// How `explain` describes the profile of an admitted call of a tool that does not start
    /// local processes (`Local` is the gate's choice, named by the caller).
    pub fn explained(self) -> &'static str {
        match self {
            Processes::None => "none",
            Processes::Local => "chosen by the gate from the decision",
            Processes::Session => "the session's profile (chosen when shell_spawn started it)",
            Processes::Ssh => {
                "none (the local ssh client is not confined; the remote command rests on the \
                 classifier alone)"
            }
        }
    }
}

/// Builds a call's work from its judged probe; runs only when the gate admits the call.
pub type WorkFn = Box<dyn FnOnce(Judged) -> Work + Send>;

/// One tool call, as a table entry produced it: everything the gate needs. Built with
/// [`Plan`].
pub struct ToolCall {
    /// Tool name as listed to clients.
    pub tool: &'static str,
    /// Arguments to record, in the tool's documented order (redacted by the gate).
    pub args: Vec<(&'static str, serde_json::Value)>,
    /// Everything the executor will see, field by field, for classification and the
    /// deny/allow regexes.
    pub probe: Probe,
    /// Output budget in bytes for the returned string (already clamped).
    pub budget: usize,
    /// Whether the work runs something (a process, a write): it then gets a start record.
    pub runs: bool,
    /// The call's own deadline, if any; the gate adds a backstop after it.
    pub deadline: Option<Duration>,
    /// The work, built from the judged probe.
    pub work: WorkFn,
    /// Notices the tool declared (SSH without host-key verification), appended after the
    /// result of an admitted call when `RELAY_SHELL_UNSAFE_NOTICES` is on.
    pub notices: Vec<String>,
    /// The result is one JSON object: notices go in its final `"notices"` key.
    pub json_notices: bool,
    /// The work starts local processes: the gate chooses their kernel profile.
    pub confined: bool,
}

/// A call being described by its tool: named settings instead of positional arguments.
/// Finish it with [`Plan::work`] (the call does something) or [`Plan::fail`] (its arguments
/// are bad: it is classified and recorded, and runs nothing).
pub struct Plan {
    tool: &'static str,
    args: Vec<(&'static str, serde_json::Value)>,
    probe: Probe,
    budget: usize,
    runs: bool,
    deadline: Option<Duration>,
    notices: Vec<String>,
    json_notices: bool,
    confined: bool,
}

/// Output budget of a call that does not set one.
const DEFAULT_BUDGET: usize = 4096;

impl Plan {
    /// A plan for `tool` of policy class `class`, recording `args`.
    pub fn new(
        tool: &'static str,
        class: PolicyClass,
        args: Vec<(&'static str, serde_json::Value)>,
    ) -> Self {
        Self {
            tool,
            args,
            probe: Probe::new(tool, class),
            budget: DEFAULT_BUDGET,
            runs: false,
            deadline: None,
            notices: Vec::new(),
            json_notices: false,
            confined: false,
        }
    }

    /// One more audit argument, after those given to [`Plan::new`].
    pub fn arg(mut self, name: &'static str, value: serde_json::Value) -> Self {
        self.args.push((name, value));
        self
    }

    /// A notice for the result of this call if it is admitted (see [`crate::notices`]).
    pub fn notice(mut self, text: impl Into<String>) -> Self {
        self.notices.push(text.into());
        self
    }

    /// The result is one JSON object: notices become its final `"notices"` key.
    pub fn notices_in_json(mut self) -> Self {
        self.json_notices = true;
        self
    }

    /// The probe: what will run, as the policy must judge it.
    pub fn probe(mut self, probe: Probe) -> Self {
        self.probe = probe;
        self
    }

    /// The output budget of the returned string, bytes (already clamped).
    pub fn budget(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self
    }

    /// The call's own deadline (the gate adds a backstop after it).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The call runs something (a process, a write, a signal): it gets a start record.
    pub fn runs(mut self) -> Self {
        self.runs = true;
        self
    }

    /// The work starts processes on this host: the gate chooses their kernel profile from its
    /// decision and hands it over in [`Judged::confinement`]; the work must apply it.
    pub fn confined(mut self) -> Self {
        self.confined = true;
        self
    }

    /// Finish with the work, built from the judged probe when the call is admitted.
    pub fn work<F, Fut>(self, work: F) -> ToolCall
    where
        F: FnOnce(Judged) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Output, ToolError>> + Send + 'static,
    {
        ToolCall {
            tool: self.tool,
            args: self.args,
            probe: self.probe,
            budget: self.budget,
            runs: self.runs,
            deadline: self.deadline,
            work: Box::new(move |judged| Box::pin(work(judged))),
            notices: self.notices,
            json_notices: self.json_notices,
            confined: self.confined,
        }
    }

    /// Finish with an error found before anything could run (bad arguments): the call is
    /// still classified, admitted or refused, and recorded; it runs nothing.
    pub fn fail(mut self, err: ToolError) -> ToolCall {
        self.runs = false;
        self.deadline = None;
        self.confined = false;
        self.work(move |_| async move { Err(err) })
    }
}

/// Who is calling, as identified by the transport.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caller {
    /// JSON-RPC request id rendered as text.
    pub request_id: String,
    /// The OAuth client the access token was issued to, if any (never the request's own
    /// `_meta`, which the client writes).
    pub client_id: String,
    /// The authenticated principal (`stdio` on the stdio transport).
    pub principal: String,
    /// The principal's ceiling (a bearer token's `:mode`, an OAuth token's scope): the call
    /// is judged under the stricter of it and the server's mode.
    pub ceiling: crate::policy::Ceiling,
}

/// How a call ended: the closed set recorded as `outcome` in every completion record, used as
/// the metric label and returned in structured content (docs/tools.md, ADR 0024). `Denied`,
/// `Busy`, `AuditUnavailable` and `ConfirmRequired` mean the work never ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The work ran and returned (a process's own status is in `exit_code`).
    Ok,
    /// Refused by policy (or over `RELAY_SHELL_MAX_INPUT`): nothing ran.
    Denied,
    /// The work failed with a contained error (bad arguments included).
    Error,
    /// The work hit its deadline.
    Timeout,
    /// No slot was free in time: nothing ran.
    Busy,
    /// The audit log could not take the call's records under `on_failure=refuse`: nothing ran.
    AuditUnavailable,
    /// Tier-3 confirmation required: nothing ran yet.
    ConfirmRequired,
    /// The client cancelled the call (or went away, or the server stopped) while it ran.
    Cancelled,
}

impl Outcome {
    /// Every outcome, in the order docs/tools.md lists them.
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::Error,
        Outcome::Timeout,
        Outcome::Cancelled,
        Outcome::Denied,
        Outcome::ConfirmRequired,
        Outcome::Busy,
        Outcome::AuditUnavailable,
    ];

    /// The recorded value and metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Busy => "busy",
            Outcome::AuditUnavailable => "audit_unavailable",
            Outcome::ConfirmRequired => "confirm_required",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// Whether the call's work started (so its effects may exist).
    pub fn ran(self) -> bool {
        matches!(
            self,
            Outcome::Ok | Outcome::Error | Outcome::Timeout | Outcome::Cancelled
        )
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
    /// Bytes of output the work produced, as the program wrote them (before decoding and
    /// truncation), when the work counted them; else the length of its result body.
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

/// Waits the gate imposes, injectable so tests can run them on a paused clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateTimes {
    /// How long a call waits for a free slot before it is answered `Busy`.
    pub queue_wait: Duration,
    /// Grace added to a call's own deadline before the gate's backstop fires.
    pub backstop_grace: Duration,
}

/// What the gate enforces and adds on the operator's behalf (the v0.5 settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateOptions {
    /// `RELAY_SHELL_MAX_INPUT`: most characters of policy text a call may carry.
    pub max_input: usize,
    /// `RELAY_SHELL_UNSAFE_NOTICES`: append `[NOTICE …]` lines to risky calls' results.
    pub notices: bool,
    /// `RELAY_SHELL_AUDIT_INTENT`: an `intent` record before each admitted call's work.
    pub intent: bool,
}

impl Default for GateOptions {
    fn default() -> Self {
        Self {
            max_input: 2_097_152,
            notices: true,
            intent: false,
        }
    }
}

/// The `[CANCELLED]` result recorded for a call whose work was interrupted.
pub const CANCELLED: &str = "[CANCELLED]";

impl Default for GateTimes {
    fn default() -> Self {
        Self {
            queue_wait: QUEUE_WAIT,
            backstop_grace: BACKSTOP_GRACE,
        }
    }
}

/// How a call ended before its completion record: what the client will read and what the
/// record and the metrics say.
#[derive(Clone, Debug, PartialEq)]
struct Finished {
    /// The result string (bounded).
    text: String,
    outcome: Outcome,
    exit_code: Option<i64>,
    timed_out: bool,
    truncated: bool,
    output_bytes: usize,
    /// The record's `action` (`confirm_plan`, `confirm_execute`, `cancelled` or empty).
    action: &'static str,
    /// Notices for the client, appended after the result (never hashed).
    notices: Vec<String>,
    /// The result is one JSON object: notices go in its `"notices"` key.
    json_notices: bool,
    /// The record's `confinement`: the profile the call's processes ran under (`none` when
    /// its work never ran).
    confinement: String,
    /// Fields the work added to the completion record's `args` (already redacted).
    extra: audit::Args,
    /// A tier-0 call that runs nothing (`server_info`, `audit_tail`): it answers even while
    /// the audit log refuses, so an operator can see why other calls are refused.
    observer: bool,
    /// Kept until the completion record is written ([`Output::hold`]).
    hold: Hold,
}

impl Finished {
    /// A call that ended with a fixed text and no output of its own.
    fn plain(text: String, outcome: Outcome) -> Self {
        Self {
            text,
            outcome,
            exit_code: None,
            timed_out: false,
            truncated: false,
            output_bytes: 0,
            action: "",
            notices: Vec::new(),
            json_notices: false,
            confinement: Profile::None.as_str().into(),
            extra: Vec::new(),
            observer: false,
            hold: Hold::default(),
        }
    }
}

/// The admission step's answer.
enum Admission {
    /// The call may run (`action` names a consumed confirmation) under `profile`;
    /// `notice` is the tier notice its result gets.
    Run {
        action: &'static str,
        notice: Option<String>,
        profile: Profile,
    },
    /// The call ends here, its work unpolled.
    Stop(Finished),
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
    times: GateTimes,
    opts: GateOptions,
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
            times: GateTimes::default(),
            opts: GateOptions::default(),
            confiner: Arc::new(Confiner::default()),
        }
    }

    /// The same gate with the operator's input limit, notice and intent settings.
    pub fn with_options(mut self, opts: GateOptions) -> Self {
        self.opts = opts;
        self
    }

    /// The input limit, notice and intent settings in force.
    pub fn options(&self) -> GateOptions {
        self.opts
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

    /// The same gate with other waits (tests use short ones on a paused clock).
    pub fn with_times(mut self, times: GateTimes) -> Self {
        self.times = times;
        self
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
        let work = std::mem::replace(
            &mut call.work,
            Box::new(|_| Box::pin(async { Ok(Output::default()) })),
        );
        call.work = Box::new(move |judged| {
            let work = work(judged);
            Box::pin(async move {
                tokio::select! {
                    r = work => r,
                    _ = cancel.cancelled() => Err(ToolError::new(
                        ErrorKind::Cancelled,
                        "the client cancelled the request; the work was stopped",
                    )),
                }
            })
        });
        self.call(caller, call).await
    }

    /// Run one call through every step and return the bounded reply:
    /// admit → execute → record.
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
            notices: declared,
            json_notices,
            confined,
        } = call;
        let raw_args = &args;
        let args = self.redact_args(&args);
        let (tier, admission) = self.admit(caller, &probe, raw_args, runs);
        let runs_something = runs;
        let mut finished = match admission {
            Admission::Stop(finished) => finished,
            Admission::Run {
                action,
                notice,
                profile,
            } => {
                let judged = Judged {
                    probe,
                    tier,
                    confinement: confined.then(|| Confinement {
                        profile,
                        confiner: self.confiner.clone(),
                    }),
                    applied: confine::Applied::default(),
                };
                let mut finished = self
                    .execute(
                        caller, tool, tier, &args, budget, runs, deadline, work, judged,
                    )
                    .await;
                if finished.action.is_empty() {
                    finished.action = action;
                }
                // Notices go on what ran and came back (an error or a timeout included),
                // never on a call that was cancelled or found no slot.
                let ran = matches!(
                    finished.outcome,
                    Outcome::Ok | Outcome::Error | Outcome::Timeout
                );
                if self.opts.notices && ran {
                    finished.notices = notice.into_iter().chain(declared).collect();
                    finished.json_notices = json_notices;
                }
                finished
            }
        };
        finished.observer = !runs_something && tier == Tier::ReadOnly;
        self.record(caller, tool, tier, args, started, finished)
            .await
    }

    /// Admission: the policy's decision (under the stricter of the server's mode and the
    /// caller's ceiling), then the tier-3 confirmation, then whether the audit log can take
    /// records. Returns the classified tier with the answer; a call stopped here runs nothing.
    fn admit(
        &self,
        caller: &Caller,
        probe: &Probe,
        raw_args: &[(&'static str, serde_json::Value)],
        runs: bool,
    ) -> (Tier, Admission) {
        // Over RELAY_SHELL_MAX_INPUT: refused before anything reads the text, under the
        // tool's base tier (0 observers, 2 transfers and forwards, 1 the rest).
        let chars = probe.input_chars();
        if chars > self.opts.max_input {
            let base = match probe.class() {
                PolicyClass::ReadOnly => Tier::ReadOnly,
                PolicyClass::Stateful => Tier::Stateful,
                _ => Tier::Reversible,
            };
            let body = format!(
                "[DENIED tier {} ({}): input is {chars} characters, over RELAY_SHELL_MAX_INPUT ({})]",
                base.as_u8(),
                base.name(),
                self.opts.max_input
            );
            return (
                base,
                Admission::Stop(Finished::plain(body, Outcome::Denied)),
            );
        }
        let decision = self.policy.check_capped(probe, caller.ceiling);
        let tier = decision.tier;
        if !decision.admitted {
            let body = format!(
                "[DENIED tier {} ({}): {}]",
                tier.as_u8(),
                tier.name(),
                decision.reason
            );
            return (
                tier,
                Admission::Stop(Finished::plain(body, Outcome::Denied)),
            );
        }
        let mut action = "";
        if let (Some(broker), Tier::Irreversible) = (&self.broker, tier) {
            // The binding covers the raw (unredacted) arguments: a redacted secret must not
            // let a token armed for one value be spent on another.
            let raw = Json::Obj(
                raw_args
                    .iter()
                    .map(|(k, v)| ((*k).into(), Json::from_serde(v)))
                    .collect(),
            );
            let op = OperationKey::new(
                probe.tool(),
                &caller.principal,
                probe.text(),
                &raw.to_canonical(),
            );
            if broker.consume(&op) {
                action = "confirm_execute";
            } else {
                let token = broker.plan(&op);
                let body = format!(
                    "[CONFIRM REQUIRED tier 3 (IRREVERSIBLE): this irreversible operation \
                     needs a second step. Call operation_confirm(token=\"{token}\") then \
                     re-issue this exact call within {}s.]",
                    broker.ttl().as_secs()
                );
                let mut finished = Finished::plain(body, Outcome::ConfirmRequired);
                finished.action = "confirm_plan";
                return (tier, Admission::Stop(finished));
            }
        }
        let profile = confine::choose(
            decision.mode,
            tier,
            decision.allowed_by_rule,
            self.confiner.setting(),
        );
        // Tier-0 calls that run nothing (server_info, audit_tail, session_recv, …) stay
        // available while the sink fails, so an operator can see why calls are refused.
        let observes_only = !runs && tier == Tier::ReadOnly;
        if !observes_only && let Err(e) = self.audit.admit() {
            return (tier, Admission::Stop(self.not_run_unaudited(&e)));
        }
        let notice = notices::tier_notice(tier, probe.class(), &decision.classification.reasons);
        (
            tier,
            Admission::Run {
                action,
                notice,
                profile,
            },
        )
    }

    /// Execution: a slot (or `Busy`), the start record, the work under its deadline and the
    /// backstop, and the bounded result.
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        caller: &Caller,
        tool: &'static str,
        tier: Tier,
        args: &audit::Args,
        budget: usize,
        runs: bool,
        deadline: Option<Duration>,
        work: WorkFn,
        judged: Judged,
    ) -> Finished {
        let slot = tokio::time::timeout(self.times.queue_wait, self.slots.clone().acquire_owned());
        let Ok(Ok(permit)) = slot.await else {
            let err = ToolError::new(
                ErrorKind::Busy,
                format!(
                    "the call was not run: all {} call slots (RELAY_SHELL_MAX_CONCURRENT) stayed \
                     taken for the {}s it waited in the queue of calls; retry later",
                    self.max_concurrent,
                    self.times.queue_wait.as_secs()
                ),
            );
            return Finished::plain(self.render_error(&err), Outcome::Busy);
        };
        // A work that starts no local process runs under nothing.
        let label = judged
            .confinement
            .as_ref()
            .map_or_else(|| Profile::None.as_str().into(), Confinement::label);
        let applied = judged.applied.clone();
        // The intent record: the call is admitted and its work is about to run (resource
        // and prompt reads, named `resource:…`/`prompt:…`, get none).
        if self.opts.intent && !tool.contains(':') {
            let intent = Record::Tool(ToolRecord {
                ts: audit::now_iso(),
                tool: tool.to_string(),
                tier: tier.as_u8(),
                denied: false,
                args: args.clone(),
                output_sha256: audit::sha256_hex(b""),
                output_len: 0,
                exit_code: None,
                request_id: caller.request_id.clone(),
                client_id: caller.client_id.clone(),
                action: "intent".to_string(),
                principal: caller.principal.clone(),
                duration_ms: None,
                confinement: label.clone(),
                outcome: String::new(),
            });
            if let Err(e) = self.audit.append(intent).await {
                self.metrics.count_audit_failure();
                tracing::error!(error = %e, "audit intent record not written");
                if self.audit.admit().is_err() {
                    return self.not_run_unaudited(&e);
                }
            }
        }
        if runs {
            let start = Record::Start(StartRecord {
                ts: audit::now_iso(),
                tool: tool.to_string(),
                tier: tier.as_u8(),
                principal: caller.principal.clone(),
                request_id: caller.request_id.clone(),
                args: args.clone(),
                confinement: label.clone(),
            });
            if let Err(e) = self.audit.append(start).await {
                self.metrics.count_audit_failure();
                tracing::error!(error = %e, "audit start record not written");
                if self.audit.admit().is_err() {
                    return self.not_run_unaudited(&e);
                }
            }
        }
        let work = work(judged);
        let result = match deadline {
            Some(d) => match tokio::time::timeout(d + self.times.backstop_grace, work).await {
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
        let confinement = applied.reported().unwrap_or(label);
        match result {
            Ok(out) => {
                // The bytes the program wrote when the work counted them (undecoded: 1,000
                // bytes of `\xff` are 1,000, not the 3,000 of their replacement characters),
                // else the body's length.
                let produced = out.total_bytes.unwrap_or(out.body.len());
                let (body, truncated) = text::truncate(&out.body, budget, out.total_bytes);
                let text = match out.exit_code {
                    Some(code) => format!("[exit {code}]\n{body}"),
                    None => body,
                };
                Finished {
                    text,
                    outcome: if out.timed_out {
                        Outcome::Timeout
                    } else {
                        Outcome::Ok
                    },
                    exit_code: out.exit_code,
                    timed_out: out.timed_out,
                    truncated,
                    output_bytes: produced,
                    action: "",
                    notices: Vec::new(),
                    json_notices: false,
                    confinement,
                    extra: self.redact_args(&out.record),
                    observer: false,
                    hold: out.hold,
                }
            }
            Err(err) if err.kind == ErrorKind::Cancelled => Finished {
                action: "cancelled",
                confinement,
                ..Finished::plain(CANCELLED.to_string(), Outcome::Cancelled)
            },
            Err(err) => {
                let rendered = self.render_error(&err);
                let (body, truncated) = text::truncate(&rendered, budget, None);
                Finished {
                    truncated,
                    output_bytes: rendered.len(),
                    confinement,
                    ..Finished::plain(body, Outcome::Error)
                }
            }
        }
    }

    /// Recording: the completion record (a result is never returned before it is written),
    /// then the metrics.
    async fn record(
        &self,
        caller: &Caller,
        tool: &'static str,
        tier: Tier,
        mut args: audit::Args,
        started: Instant,
        finished: Finished,
    ) -> Reply {
        let Finished {
            mut text,
            outcome,
            exit_code,
            timed_out,
            truncated,
            output_bytes,
            action,
            notices,
            json_notices,
            confinement,
            extra,
            observer,
            hold,
        } = finished;
        args.extend(extra);
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
            confinement,
            outcome: outcome.as_str().to_string(),
        });
        if let Err(e) = self.audit.append(record).await {
            self.metrics.count_audit_failure();
            tracing::error!(error = %e, tool, "audit completion record not written");
            // Under `refuse` the client of a call whose work ran learns it is not yet on
            // record (the record stays queued and is written first once the sink recovers).
            // A call that ran nothing keeps its own answer (denied, busy, not run), and so
            // does an observer that runs nothing (`server_info` must explain the refusals).
            if self.audit.admit().is_err() && outcome.ran() && !observer {
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
        // What the call left running may run on now that a record names it.
        drop(hold);
        // Notices follow the recorded result: they are not part of its hash or length.
        let text = notices::place(&text, &notices, json_notices);
        self.metrics.count_call(
            tool,
            tier.as_u8(),
            self.policy.mode().capped(caller.ceiling.mode).as_str(),
            outcome.as_str(),
            started.elapsed().as_secs_f64(),
            text.len(),
        );
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

    /// The answer of a call stopped because the audit log cannot take its records (under
    /// `on_failure=refuse`): its work never ran, and the text says so.
    fn not_run_unaudited(&self, e: &audit::AuditError) -> Finished {
        let err = ToolError::new(
            ErrorKind::AuditUnavailable,
            format!(
                "the call was not run: its audit record cannot be written ({e}); calls are \
                 refused until the audit log is writable again"
            ),
        );
        Finished::plain(self.render_error(&err), Outcome::AuditUnavailable)
    }

    /// Render an error string, scrubbed: a failed command's text can carry a secret.
    fn render_error(&self, err: &ToolError) -> String {
        self.redactor.redact(&err.render()).into_owned()
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
