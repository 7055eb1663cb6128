//! `--verify-audit`: the fail-closed verdict (docs/architecture.md) over a file or a directory of
//! segments, and its human and `--json` renderings.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::json::{Json, Key};
use super::progress::Progress;
use super::segments::{SeamFinding, segment_files, verify_files};
use super::verify::{SegmentReport, TornLine, verify_file_with};

const NO_RECORDS: &str = "no chained records found — is RELAY_SHELL_AUDIT_CHAIN enabled, and has the server logged anything?";
const NOT_ANCHORED: &str = " — refusing a non-genesis start without --segment (possible head-truncation; pass --segment for a rotation segment)";

/// The outcome of `--verify-audit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Final verdict after the fail-closed policy.
    pub ok: bool,
    /// Structural result: no break, no seam problem.
    pub chain_ok: bool,
    /// The file (or at least one segment) exists.
    pub present: bool,
    /// The chain starts at seq 0 from genesis.
    pub anchored: bool,
    /// `--segment` was given.
    pub segment_mode: bool,
    /// The path as given.
    pub path: String,
    /// Chained records verified.
    pub records: u64,
    /// First `seq`.
    pub start_seq: Option<i64>,
    /// 1-based line of the break or seam problem.
    pub broken_at: Option<u64>,
    /// The file `broken_at` refers to (directory mode).
    pub broken_file: Option<String>,
    /// One sentence.
    pub reason: String,
    /// Torn lines, with their file.
    pub torn: Vec<(String, TornLine)>,
    /// Per-segment reports in chain order (directory mode only).
    pub segments: Vec<SegmentReport>,
    /// Seam problems (directory mode only).
    pub findings: Vec<SeamFinding>,
    /// Whether `path` was a directory.
    pub directory: bool,
}

impl Verdict {
    fn fail(mut self, reason: String) -> Self {
        self.ok = false;
        self.reason = reason;
        self
    }
}

/// Verify `path` (a file, a `.gz` file, or a directory of segments) and apply the
/// fail-closed policy: missing, unchained, broken, or — without `segment` — not anchored at
/// genesis all fail.
pub fn verify_audit(path: &Path, segment: bool) -> Verdict {
    verify_audit_with(path, segment, &Progress::hidden())
}

/// [`verify_audit`], reporting its progress to `progress`.
pub fn verify_audit_with(path: &Path, segment: bool, progress: &Progress) -> Verdict {
    if path.is_dir() {
        return verify_directory(path, segment, progress);
    }
    let rep = verify_file_with(path, progress);
    let v = Verdict {
        ok: true,
        chain_ok: rep.ok,
        present: rep.present,
        anchored: rep.anchored,
        segment_mode: segment,
        path: path.display().to_string(),
        records: rep.records,
        start_seq: rep.start_seq(),
        broken_at: rep.broken_at,
        broken_file: None,
        reason: rep.reason.clone(),
        torn: rep.torn.iter().map(|t| (rep.path.clone(), *t)).collect(),
        segments: Vec::new(),
        findings: Vec::new(),
        directory: false,
    };
    if !rep.present {
        let p = v.path.clone();
        return v.fail(format!("audit file not found or unreadable: {p}"));
    }
    if !rep.ok {
        let r = rep.reason;
        return v.fail(r);
    }
    if rep.records == 0 {
        return v.fail(NO_RECORDS.to_string());
    }
    if !rep.anchored && !segment {
        let r = format!("{}{NOT_ANCHORED}", rep.reason);
        return v.fail(r);
    }
    v
}

fn verify_directory(dir: &Path, segment: bool, progress: &Progress) -> Verdict {
    let label = dir.display().to_string();
    let mut v = Verdict {
        ok: true,
        chain_ok: true,
        present: true,
        anchored: false,
        segment_mode: segment,
        path: label.clone(),
        records: 0,
        start_seq: None,
        broken_at: None,
        broken_file: None,
        reason: String::new(),
        torn: Vec::new(),
        segments: Vec::new(),
        findings: Vec::new(),
        directory: true,
    };
    let (segments, findings) = match segment_files(dir).and_then(|f| verify_files(&f, progress)) {
        Ok(x) => x,
        Err(e) => {
            v.present = false;
            v.chain_ok = false;
            return v.fail(format!("audit file not found or unreadable: {label} ({e})"));
        }
    };
    if segments.is_empty() {
        v.present = false;
        return v.fail(format!(
            "audit file not found or unreadable: no audit segments (*.jsonl, *.jsonl.N, *.jsonl-YYYYMMDD, optionally .gz) in {label}"
        ));
    }
    let chained: Vec<&SegmentReport> = segments.iter().filter(|s| s.head.is_some()).collect();
    v.records = chained.iter().map(|s| s.records).sum();
    v.start_seq = chained.first().and_then(|s| s.start_seq());
    v.anchored = chained.first().is_some_and(|s| s.anchored);
    v.torn = segments
        .iter()
        .flat_map(|s| s.torn.iter().map(|t| (s.path.clone(), *t)))
        .collect();
    let broken = segments.iter().find(|s| !s.ok).cloned();
    let n = chained.len();
    let first_seq = v.start_seq.unwrap_or(0);
    v.findings = findings;
    v.segments = segments;
    if let Some(b) = broken {
        v.chain_ok = false;
        v.broken_at = b.broken_at;
        v.broken_file = Some(b.path.clone());
        return v.fail(format!("{}: {}", b.path, b.reason));
    }
    if let Some(f) = v.findings.first().cloned() {
        v.chain_ok = false;
        v.broken_at = Some(f.line);
        v.broken_file = Some(f.file.clone());
        return v.fail(f.message);
    }
    if n == 0 {
        return v.fail(NO_RECORDS.to_string());
    }
    if v.anchored {
        v.reason = format!(
            "chain intact and genesis-anchored across {n} segment(s): {} record(s) from seq {first_seq}",
            v.records
        );
    } else {
        v.reason = format!(
            "chain internally consistent across {n} segment(s): {} record(s) from seq {first_seq}, but NOT genesis-anchored (leading records removed, or older segments missing)",
            v.records
        );
        if !segment {
            let r = format!("{}{NOT_ANCHORED}", v.reason);
            return v.fail(r);
        }
    }
    v
}

fn opt_int<T: Into<i64>>(v: Option<T>) -> Json {
    v.map(|x| Json::Int(x.into())).unwrap_or(Json::Null)
}

fn uint(v: u64) -> Json {
    Json::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn opt_u64(v: Option<u64>) -> Json {
    v.map(uint).unwrap_or(Json::Null)
}

impl Verdict {
    /// The `--json` document: the Python implementation's keys in the Python implementation's order, then ours.
    pub fn to_json(&self) -> Json {
        let mut f: Vec<(Key, Json)> = vec![
            ("ok".into(), Json::Bool(self.ok)),
            ("chain_ok".into(), Json::Bool(self.chain_ok)),
            ("present".into(), Json::Bool(self.present)),
            ("anchored".into(), Json::Bool(self.anchored)),
            ("segment_mode".into(), Json::Bool(self.segment_mode)),
            ("path".into(), Json::Str(self.path.clone())),
            ("records".into(), uint(self.records)),
            ("start_seq".into(), opt_int(self.start_seq)),
            ("broken_at".into(), opt_u64(self.broken_at)),
            ("reason".into(), Json::Str(self.reason.clone())),
            (
                "torn_lines".into(),
                Json::Arr(
                    self.torn
                        .iter()
                        .map(|(file, t)| {
                            Json::Obj(vec![
                                ("file".into(), Json::Str(file.clone())),
                                ("line".into(), uint(t.line)),
                                ("tail".into(), Json::Bool(t.tail)),
                            ])
                        })
                        .collect(),
                ),
            ),
        ];
        if self.directory {
            f.push((
                "broken_file".into(),
                self.broken_file
                    .clone()
                    .map(Json::Str)
                    .unwrap_or(Json::Null),
            ));
            f.push((
                "segments".into(),
                Json::Arr(
                    self.segments
                        .iter()
                        .map(|s| {
                            Json::Obj(vec![
                                ("path".into(), Json::Str(s.path.clone())),
                                ("ok".into(), Json::Bool(s.ok)),
                                ("records".into(), uint(s.records)),
                                ("start_seq".into(), opt_int(s.start_seq())),
                                ("end_seq".into(), opt_int(s.tip.as_ref().map(|t| t.seq))),
                                ("broken_at".into(), opt_u64(s.broken_at)),
                                ("reason".into(), Json::Str(s.reason.clone())),
                            ])
                        })
                        .collect(),
                ),
            ));
            f.push((
                "findings".into(),
                Json::Arr(
                    self.findings
                        .iter()
                        .map(|x| {
                            Json::Obj(vec![
                                ("kind".into(), Json::Str(x.kind.as_str().into())),
                                ("file".into(), Json::Str(x.file.clone())),
                                ("line".into(), uint(x.line)),
                                ("message".into(), Json::Str(x.message.clone())),
                            ])
                        })
                        .collect(),
                ),
            ));
        }
        Json::Obj(f)
    }

    /// The human report for stdout: the reason, then one line per segment, finding and
    /// torn line.
    pub fn to_text(&self) -> String {
        let mut out = self.reason.clone();
        out.push('\n');
        for s in &self.segments {
            let range = match (s.start_seq(), s.tip.as_ref()) {
                (Some(a), Some(t)) => format!("seq {a}..{}", t.seq),
                _ => "no chained records".to_string(),
            };
            let state = if s.ok { "ok" } else { "BROKEN" };
            out.push_str(&format!(
                "  {}: {state}, {range}, {} record(s)\n",
                s.path, s.records
            ));
        }
        for f in self.findings.iter().skip(1) {
            out.push_str(&format!("  {}\n", f.message));
        }
        for (file, t) in &self.torn {
            let what = if t.tail {
                "torn last line (incomplete write, e.g. a crash mid-write); not tampering"
            } else {
                "torn record (a write failed part-way and was retried); the chain continues past it"
            };
            out.push_str(&format!("  note: {file} line {}: {what}\n", t.line));
        }
        out
    }

    /// The stderr summary line.
    pub fn summary(&self) -> String {
        if self.ok {
            return "relay-shell: verify-audit OK".to_string();
        }
        match (self.broken_at, &self.broken_file) {
            (Some(n), Some(f)) => format!("relay-shell: verify-audit FAILED ({f} line {n})"),
            (Some(n), None) => format!("relay-shell: verify-audit FAILED (line {n})"),
            _ => "relay-shell: verify-audit FAILED".to_string(),
        }
    }
}

/// How many files and on-disk bytes verifying `path` will read (for the progress display).
fn planned(path: &Path) -> (u64, u64) {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    if path.is_dir() {
        let files = segment_files(path).unwrap_or_default();
        let bytes = files.iter().map(|f| size(f)).sum();
        (files.len() as u64, bytes)
    } else {
        (1, size(path))
    }
}

/// Run `--verify-audit`: the report on stdout (`--json`: two-space-indented JSON), the
/// OK/FAILED line on stderr; exit 0 on pass, 2 on fail.
pub fn run_verify_cli(path: &Path, segment: bool, json: bool) -> ExitCode {
    let (files, bytes) = planned(path);
    let progress = Progress::on_stderr(files, bytes);
    let v = verify_audit_with(path, segment, &progress);
    progress.finish();
    let body = if json {
        let mut s = v.to_json().to_pretty();
        s.push('\n');
        s
    } else {
        v.to_text()
    };
    let _ = std::io::stdout().lock().write_all(body.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = writeln!(std::io::stderr().lock(), "{}", v.summary());
    if v.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
