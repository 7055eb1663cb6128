//! `relay-shell auth …` and the v0.5.0 flags `--auth-list`, `--auth-approve ID`,
//! `--auth-reject ID`: the operator's side of OAuth. They use only
//! `RELAY_SHELL_AUTH_STATE_DIR` (OAuth need not be enabled) and change the state under the
//! same lock as a running server, which sees the change on its next request.
//!
//! Exit codes: 0 done; 2 with one line on stderr (`relay-shell: no such client: ID`, `OAuth
//! state directory not found: PATH`, an unusable state file, bad input).

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use super::operator as passphrase;
use super::register::{clean_name, new_client_id};
use super::store::{self, Client, RegistrationToken, Status, Store};
use super::valid_redirect_uri;
use crate::cli::{AuthAction, ClientAction};

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("relay-shell: {msg}");
    ExitCode::from(2)
}

fn open(dir: &Path, create: bool) -> Result<Store, ExitCode> {
    Store::open(dir, create).map_err(fail)
}

/// Run one `auth` action against the state directory `dir`.
pub fn run(dir: &Path, action: &AuthAction, json: bool) -> ExitCode {
    let result = match action {
        AuthAction::List => list(dir, json),
        AuthAction::Approve { client_id } => approve(dir, client_id),
        AuthAction::Reject { client_id } => reject(dir, client_id),
        AuthAction::Passphrase => set_passphrase(dir),
        AuthAction::RegistrationToken { ttl, reusable } => registration_token(dir, *ttl, *reusable),
        AuthAction::Client {
            action:
                ClientAction::Add {
                    name,
                    redirect_uri,
                    secret,
                },
        } => add_client(dir, name, redirect_uri, *secret),
    };
    result.unwrap_or_else(|code| code)
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Approved => "approved",
        Status::Pending => "pending",
    }
}

fn list(dir: &Path, json: bool) -> Result<ExitCode, ExitCode> {
    let store = open(dir, false)?;
    let clients = store.read(|c, _| c.clone()).map_err(fail)?;
    if json {
        let doc: Vec<serde_json::Value> = clients
            .clients
            .iter()
            .map(|(id, c)| {
                serde_json::json!({
                    "client_id": id,
                    "status": status_word(c.status),
                    "redirect_uris": c.redirect_uris,
                    "legacy": false,
                    "name": c.name,
                    "via": c.via,
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "[]".into());
        println!("{text}");
    } else if clients.clients.is_empty() {
        println!("no clients registered");
    } else {
        for (id, c) in &clients.clients {
            println!(
                "{id}  {}  {}",
                status_word(c.status),
                c.redirect_uris.join(" ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn approve(dir: &Path, id: &str) -> Result<ExitCode, ExitCode> {
    let store = open(dir, false)?;
    let found = store
        .update(|c, _, _| match c.clients.get_mut(id) {
            Some(client) => {
                client.status = Status::Approved;
                true
            }
            None => false,
        })
        .map_err(fail)?;
    if !found {
        return Err(fail(format!("no such client: {id}")));
    }
    println!("approved {id}");
    Ok(ExitCode::SUCCESS)
}

fn reject(dir: &Path, id: &str) -> Result<ExitCode, ExitCode> {
    let store = open(dir, false)?;
    let found = store
        .update(|c, g, _| {
            let had = c.clients.remove(id).is_some();
            g.revoke_client(id);
            had
        })
        .map_err(fail)?;
    if !found {
        return Err(fail(format!("no such client: {id}")));
    }
    println!("rejected {id}");
    Ok(ExitCode::SUCCESS)
}

/// Read a line without echo from the terminal.
fn prompt_hidden(prompt: &str) -> Result<String, String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let saved = tcgetattr(&stdin).map_err(|e| format!("cannot read the terminal: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet)
        .map_err(|e| format!("cannot set the terminal: {e}"))?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    read.map_err(|e| format!("cannot read the passphrase: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn set_passphrase(dir: &Path) -> Result<ExitCode, ExitCode> {
    let store = open(dir, true)?;
    let (first, second) = if std::io::stdin().is_terminal() {
        (
            prompt_hidden("New operator passphrase: ").map_err(fail)?,
            prompt_hidden("Repeat it: ").map_err(fail)?,
        )
    } else {
        let mut lines = std::io::stdin().lock().lines();
        let mut next = || {
            lines
                .next()
                .and_then(Result::ok)
                .map(|l| l.trim_end_matches('\r').to_string())
                .ok_or_else(|| fail("expected the passphrase twice, one per line, on stdin"))
        };
        (next()?, next()?)
    };
    if first != second {
        return Err(fail("the two passphrases differ; nothing changed"));
    }
    passphrase::set(store.dir(), &first).map_err(fail)?;
    eprintln!("relay-shell: operator passphrase set; /authorize now asks for it on a consent page");
    Ok(ExitCode::SUCCESS)
}

fn registration_token(dir: &Path, ttl: u64, reusable: bool) -> Result<ExitCode, ExitCode> {
    let store = open(dir, true)?;
    let token = store::random_secret("rsi_");
    let key = store::hash(&token);
    store
        .update(|_, g, now| {
            g.registration_tokens.insert(
                key,
                RegistrationToken {
                    expires_at: now.saturating_add(ttl),
                    single_use: !reusable,
                },
            );
        })
        .map_err(fail)?;
    println!("{token}");
    eprintln!(
        "relay-shell: initial access token for /register ({}, valid {ttl} s); it is shown only \
         this once",
        if reusable { "reusable" } else { "single use" }
    );
    Ok(ExitCode::SUCCESS)
}

fn add_client(dir: &Path, name: &str, uris: &[String], secret: bool) -> Result<ExitCode, ExitCode> {
    if uris.is_empty() {
        return Err(fail(
            "auth client add: at least one --redirect-uri is required",
        ));
    }
    for u in uris {
        valid_redirect_uri(u).map_err(|why| fail(format!("--redirect-uri {u}: {why}")))?;
    }
    let store = open(dir, true)?;
    let id = new_client_id();
    let secret = secret.then(|| store::random_secret("rss_"));
    let record = Client {
        name: clean_name(Some(name)),
        redirect_uris: uris.to_vec(),
        status: Status::Approved,
        via: "cli".into(),
        created_at: store::now(),
        secret_hash: secret.as_deref().map(store::hash),
    };
    let key = id.clone();
    store
        .update(move |c, _, _| {
            c.clients.insert(key, record);
        })
        .map_err(fail)?;
    println!("{id}");
    if let Some(s) = secret {
        println!("{s}");
        eprintln!("relay-shell: client {id} added (approved); its secret is shown only this once");
    } else {
        eprintln!("relay-shell: client {id} added (approved, public: PKCE only)");
    }
    Ok(ExitCode::SUCCESS)
}
