//! A relay-shell started over stdio with its own audit log in a temporary directory and,
//! optionally, a real file-size limit (RLIMIT_FSIZE) standing in for a full disk: shared by
//! the audit tests that need the sink to fail for real.

use std::path::PathBuf;

use rmcp::ServiceExt;
use rmcp::model::ClientConfig;
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};

/// A served binary, its pid, and its audit log (removed with the value).
pub struct Served {
    pub client: RunningService<rmcp::RoleClient, ClientConfig>,
    pub pid: i32,
    pub _dir: tempfile::TempDir,
    pub audit: PathBuf,
}

/// Start the server with `envs`; with `fsize`, its file-size limit is that many bytes
/// (SIGXFSZ ignored, so writes beyond it fail with EFBIG, as on a full disk).
pub async fn serve(envs: &[(&str, &str)], fsize: Option<u64>) -> Served {
    let dir = tempfile::tempdir().expect("tmp");
    let audit = dir.path().join("audit.jsonl");
    let audit_s = audit.display().to_string();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cmd = tokio::process::Command::new(super::bin()).configure(|c| {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "HOME",
                std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
            )
            .env("LANG", "C.UTF-8")
            .env("RELAY_SHELL_LOG", "warn")
            .env("RELAY_SHELL_AUDIT_PATH", &audit_s);
        for (k, v) in &envs {
            c.env(k, v);
        }
        if let Some(limit) = fsize {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let lim = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: libc::RLIM_INFINITY,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
    });
    // The server prints every record it cannot write to stderr: keep test output quiet.
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = transport.id().expect("pid") as i32;
    let client = ClientConfig::default()
        .serve(transport)
        .await
        .expect("initialize");
    Served {
        client,
        pid,
        _dir: dir,
        audit,
    }
}
