//! `relay-shell token new|list|revoke`: manage the bearer-token file.
//!
//! `new` prints the token once on stdout and appends only its hash; `revoke` rewrites the file
//! without the line (a new file renamed over the old one, so a running server sees a new
//! inode and re-reads it on its next request). Both hold an exclusive `flock` on the file so
//! two invocations do not lose each other's change. Exit codes: 0 done, 1 no such token,
//! 2 bad usage or an unusable file.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::process::ExitCode;

use super::tokens::{self, TokenEntry};
use crate::cli::TokenAction;
use crate::policy::Mode;

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("relay-shell: token: {msg}");
    ExitCode::from(2)
}

/// Run one `token` action against `path` (`RELAY_SHELL_AUTH_TOKENS_FILE`).
pub fn run(path: Option<&Path>, action: &TokenAction) -> ExitCode {
    let Some(path) = path else {
        return fail("set RELAY_SHELL_AUTH_TOKENS_FILE (or --auth-tokens-file) to the token file");
    };
    let result = match action {
        TokenAction::New { name, mode } => new(path, name, mode.as_deref()),
        TokenAction::List => list(path),
        TokenAction::Revoke { name } => revoke(path, name),
    };
    result.unwrap_or_else(|code| code)
}

/// Open the file for update and lock it; retry if it was replaced while we waited, so the
/// lock we hold is on the file the path names.
fn open_locked(path: &Path, create: bool) -> Result<std::fs::File, ExitCode> {
    for _ in 0..10 {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(create)
            .mode(0o600)
            .open(path)
            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
        file.lock()
            .map_err(|e| fail(format!("cannot lock {}: {e}", path.display())))?;
        let held = file.metadata().map(|m| m.ino()).ok();
        let named = std::fs::metadata(path).map(|m| m.ino()).ok();
        if held.is_some() && held == named {
            return Ok(file);
        }
    }
    Err(fail(format!("{} keeps being replaced", path.display())))
}

fn read_checked(path: &Path, file: &std::fs::File) -> Result<String, ExitCode> {
    use std::io::Read;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    tokens::check_file(path, &meta).map_err(fail)?;
    let mut text = String::new();
    (&*file)
        .read_to_string(&mut text)
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    tokens::parse(&text).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    Ok(text)
}

fn new(path: &Path, name: &str, mode: Option<&str>) -> Result<ExitCode, ExitCode> {
    tokens::valid_name(name).map_err(fail)?;
    let mode = match mode.map(str::parse::<Mode>) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => return Err(fail(format!("--mode {e}"))),
    };
    let mut file = open_locked(path, true)?;
    let text = read_checked(path, &file)?;
    let existing = tokens::parse(&text).map_err(fail)?;
    if existing.iter().any(|e| e.name == name) {
        return Err(fail(format!(
            "a token named {name:?} exists; revoke it first"
        )));
    }
    let token = tokens::generate_token();
    let entry = TokenEntry {
        name: name.to_string(),
        hash: tokens::hash_token(&token),
        mode,
    };
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    file.write_all(format!("{sep}{}\n", entry.line()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
    println!("{token}");
    eprintln!(
        "relay-shell: token {name:?} (mode {}) added to {}; it is shown only this once",
        mode.map_or("of the server", Mode::as_str),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn list(path: &Path) -> Result<ExitCode, ExitCode> {
    let (entries, _) = tokens::load(path).map_err(fail)?;
    for e in entries {
        println!("{}\t{}", e.name, e.mode.map_or("-", Mode::as_str));
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke(path: &Path, name: &str) -> Result<ExitCode, ExitCode> {
    let file = open_locked(path, false)?;
    let text = read_checked(path, &file)?;
    let mut found = false;
    let mut kept = String::with_capacity(text.len());
    for line in text.lines() {
        let is_it = tokens::parse(line)
            .ok()
            .and_then(|e| e.into_iter().next())
            .is_some_and(|e| e.name == name);
        if is_it {
            found = true;
        } else {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    if !found {
        eprintln!("relay-shell: token: no token named {name:?}");
        return Ok(ExitCode::from(1));
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut t| t.write_all(kept.as_bytes()).and_then(|()| t.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path))
        .and_then(|()| std::fs::File::open(dir).and_then(|d| d.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(format!("cannot rewrite {}: {e}", path.display())));
    }
    drop(file);
    eprintln!("relay-shell: token {name:?} revoked");
    Ok(ExitCode::SUCCESS)
}
