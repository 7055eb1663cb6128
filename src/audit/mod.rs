//! The audit log: records, their on-disk form, the writer.
//!
//! Architecture invariant: this module knows records, files and hashes — not the protocol,
//! not requests, not the gate. Only `gate.rs` writes tool records.

pub mod config;
pub mod json;
pub mod record;
pub mod tail;
pub mod writer;

pub use config::{Format, FsyncPolicy, OnFailure};
pub use json::Json;
pub use record::{Args, Record, StartRecord, ToolRecord, now_iso};
pub use writer::{AuditConfig, AuditError, AuditLog, AuditStatus};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
