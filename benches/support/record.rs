//! The sample completion record the audit benches write (shared by `benches/audit.rs` and
//! `benches/limits.rs`, so their figures are for the same record).

use relay_shell::audit::{Json, Record, ToolRecord, now_iso, sha256_hex};

/// A typical completion record (about 450 bytes on disk).
pub fn record(i: u64) -> Record {
    Record::Tool(ToolRecord {
        ts: now_iso(),
        tool: "shell_exec".into(),
        tier: 1,
        denied: false,
        args: vec![
            (
                "command".into(),
                Json::Str(format!("systemctl status nginx --no-pager # {i}")),
            ),
            ("timeout".into(), Json::Int(60)),
            ("cwd".into(), Json::Str("/srv/app".into())),
            ("use_shell".into(), Json::Bool(true)),
            ("stdin".into(), Json::Str(String::new())),
            ("env_json".into(), Json::Str(String::new())),
        ],
        output_sha256: sha256_hex(&i.to_le_bytes()),
        output_len: 1234,
        exit_code: Some(0),
        request_id: i.to_string(),
        client_id: String::new(),
        action: String::new(),
        principal: "stdio".into(),
        duration_ms: Some(12),
        confinement: String::new(),
        outcome: "ok".into(),
    })
}
