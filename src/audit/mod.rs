//! The audit log: records, their on-disk and canonical forms, the writer, the verifier.
//!
//! Architecture invariant: this module knows records, files and hashes — not the protocol,
//! not requests, not the gate. Only `gate.rs` writes tool records.

pub mod canonical;
pub mod chain;
pub mod config;
pub mod format;
pub mod json;
pub mod progress;
pub mod record;
pub mod report;
pub mod segments;
mod sink;
pub mod tail;
pub mod verify;
pub mod writer;

pub use chain::{ChainState, GENESIS};
pub use config::{AuditConfig, Format, FsyncPolicy, OnFailure};
pub use json::{Json, Key};
pub use record::{Args, Record, StartRecord, ToolRecord, now_iso};
pub use sink::{IDENTITY_CHECK_EVERY, LOCK_HOLD};
pub use tail::audit_tail;
pub use verify::{Verdict, run_verify_cli, verify_audit};
pub use writer::{AuditError, AuditLog, AuditStatus};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
