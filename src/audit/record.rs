//! Audit records: what one line of `audit.jsonl` says, in the Python implementation's field order (docs/compatibility.md).

use super::json::{Json, Key};

/// Ordered, already-redacted audit arguments of one call.
pub type Args = Vec<(Key, Json)>;

/// The current time as UTC ISO-8601 with microseconds and a `+00:00` offset.
///
/// Python's `isoformat()` drops the fraction when microseconds are exactly zero; so do we,
/// byte for byte.
pub fn now_iso() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    iso_from_unix(now.as_secs() as i64, now.subsec_micros())
}

/// Format seconds since the epoch plus microseconds like Python's `isoformat()` in UTC.
pub fn iso_from_unix(secs: i64, micros: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    if micros == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}+00:00")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{micros:06}+00:00")
    }
}

/// The completion record of one tool call (or a resource read / prompt fetch).
#[derive(Clone, Debug, PartialEq)]
pub struct ToolRecord {
    /// When the call completed.
    pub ts: String,
    /// Tool name, or `resource:<name>` / `prompt:<name>`.
    pub tool: String,
    /// Classified tier 0..3.
    pub tier: u8,
    /// Whether policy refused the call.
    pub denied: bool,
    /// Redacted audit arguments in the tool's documented order.
    pub args: Args,
    /// SHA-256 hex of the exact string returned to the client.
    pub output_sha256: String,
    /// Byte length of that string.
    pub output_len: u64,
    /// Exit status when a process completed, else `None` (`null`).
    pub exit_code: Option<i64>,
    /// JSON-RPC request id; omitted when empty.
    pub request_id: String,
    /// The `_meta` client id; omitted when empty.
    pub client_id: String,
    /// `confirm_plan` / `confirm_execute`; omitted when empty.
    pub action: String,
    /// Who made the call (`stdio`, a token name, an OAuth client); omitted when empty.
    pub principal: String,
    /// Wall time of the call in milliseconds, when measured.
    pub duration_ms: Option<u64>,
    /// The kernel profile the call's processes ran under (`none`, `read-only`, …); omitted
    /// when empty (ADR 0006: added after every other field).
    pub confinement: String,
    /// How the call ended, one of a closed set (`ok`, `denied`, `error`, `timeout`, `busy`,
    /// `audit_unavailable`, `confirm_required`, `cancelled`: docs/compatibility.md); omitted
    /// when empty (an `intent` record, which is written before the call ends). Added last
    /// (ADR 0024), inside the chain's canonical form like every other field.
    pub outcome: String,
}

impl ToolRecord {
    /// The record as ordered JSON, without chain fields.
    pub fn to_json(&self) -> Json {
        self.clone().into_json()
    }

    /// [`ToolRecord::to_json`] without copying the strings.
    pub fn into_json(self) -> Json {
        let mut f: Vec<(Key, Json)> = vec![
            ("ts".into(), Json::Str(self.ts)),
            ("tool".into(), Json::Str(self.tool)),
            ("tier".into(), Json::Int(self.tier.into())),
            ("denied".into(), Json::Bool(self.denied)),
            ("args".into(), Json::Obj(self.args)),
            ("output_sha256".into(), Json::Str(self.output_sha256)),
            ("output_len".into(), Json::Int(self.output_len as i64)),
            (
                "exit_code".into(),
                self.exit_code.map(Json::Int).unwrap_or(Json::Null),
            ),
        ];
        for (k, v) in [
            ("request_id", self.request_id),
            ("client_id", self.client_id),
            ("action", self.action),
            ("principal", self.principal),
        ] {
            if !v.is_empty() {
                f.push((k.into(), Json::Str(v)));
            }
        }
        if let Some(ms) = self.duration_ms {
            f.push(("duration_ms".into(), Json::Int(ms as i64)));
        }
        if !self.confinement.is_empty() {
            f.push(("confinement".into(), Json::Str(self.confinement)));
        }
        if !self.outcome.is_empty() {
            f.push(("outcome".into(), Json::Str(self.outcome)));
        }
        Json::Obj(f)
    }
}

/// Written before the work of a call that runs something, so a crash mid-command leaves a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct StartRecord {
    /// When the work started.
    pub ts: String,
    /// Tool name.
    pub tool: String,
    /// Classified tier.
    pub tier: u8,
    /// Who made the call.
    pub principal: String,
    /// JSON-RPC request id; omitted when empty.
    pub request_id: String,
    /// Redacted audit arguments.
    pub args: Args,
    /// The kernel profile the work will run under; omitted when empty.
    pub confinement: String,
}

impl StartRecord {
    /// The record as ordered JSON, without chain fields.
    pub fn to_json(&self) -> Json {
        self.clone().into_json()
    }

    /// [`StartRecord::to_json`] without copying the strings.
    pub fn into_json(self) -> Json {
        let mut f: Vec<(Key, Json)> = vec![
            ("ts".into(), Json::Str(self.ts)),
            ("event".into(), Json::Str("start".into())),
            ("tool".into(), Json::Str(self.tool)),
            ("tier".into(), Json::Int(self.tier.into())),
            ("principal".into(), Json::Str(self.principal)),
        ];
        if !self.request_id.is_empty() {
            f.push(("request_id".into(), Json::Str(self.request_id)));
        }
        f.push(("args".into(), Json::Obj(self.args)));
        if !self.confinement.is_empty() {
            f.push(("confinement".into(), Json::Str(self.confinement)));
        }
        Json::Obj(f)
    }
}

/// Anything the audit log records.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A call's completion record.
    Tool(ToolRecord),
    /// A call's start record.
    Start(StartRecord),
}

impl Record {
    /// The record as ordered JSON, without chain fields.
    pub fn to_json(&self) -> Json {
        self.clone().into_json()
    }

    /// [`Record::to_json`] without copying the strings.
    pub fn into_json(self) -> Json {
        match self {
            Record::Tool(r) => r.into_json(),
            Record::Start(r) => r.into_json(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_python() {
        assert_eq!(iso_from_unix(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(
            iso_from_unix(1_786_615_872, 123_456),
            "2026-08-13T10:11:12.123456+00:00"
        );
    }
}
