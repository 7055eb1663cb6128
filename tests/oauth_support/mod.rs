//! Helpers for the OAuth tests: start the built binary with OAuth on a known loopback port
//! (the issuer names the port, so it is chosen before start), run `relay-shell auth …`, and
//! speak the OAuth endpoints with a raw HTTP client that does not follow redirects.
#![allow(dead_code)]

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::http_support::{HttpServer, command};

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A server with OAuth on.
pub struct OAuthServer {
    /// The running binary.
    pub http: HttpServer,
    /// `http://127.0.0.1:PORT`.
    pub issuer: String,
    /// The state directory.
    pub state: PathBuf,
    /// The resource tokens are bound to.
    pub resource: String,
}

impl OAuthServer {
    /// Start with OAuth on, the state directory `<dir>/oauth`, and `envs` on top.
    pub async fn start(envs: &[(&str, &str)]) -> OAuthServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("oauth");
        Self::start_with(dir, &state, envs).await
    }

    /// Start in `dir` with the state directory `state` (which may be shared).
    pub async fn start_with(
        dir: tempfile::TempDir,
        state: &Path,
        envs: &[(&str, &str)],
    ) -> OAuthServer {
        let port = free_port().to_string();
        let issuer = format!("http://127.0.0.1:{port}");
        let state_s = state.display().to_string();
        let mut all: Vec<(&str, &str)> = vec![
            ("RELAY_SHELL_HTTP_PORT", &port),
            ("RELAY_SHELL_AUTH_ENABLED", "true"),
            ("RELAY_SHELL_AUTH_ISSUER", &issuer),
            ("RELAY_SHELL_AUTH_STATE_DIR", &state_s),
            ("RELAY_SHELL_AUTH_SINGLE_CLIENT", "false"),
            ("RELAY_SHELL_LOG", "warn,relay_shell::http=info"),
        ];
        all.extend_from_slice(envs);
        let resource = envs
            .iter()
            .find(|(k, _)| *k == "RELAY_SHELL_AUTH_RESOURCE_URL")
            .map_or_else(|| format!("{issuer}/mcp"), |(_, v)| v.to_string());
        let http = HttpServer::start_in(dir, &all).await;
        OAuthServer {
            http,
            issuer: issuer.clone(),
            state: state.to_path_buf(),
            resource,
        }
    }

    /// `issuer + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The resource (`<issuer>/mcp` unless configured).
    pub fn resource(&self) -> String {
        self.resource.clone()
    }

    /// The MCP endpoint of this server.
    pub fn mcp(&self) -> String {
        self.url("/mcp")
    }

    /// Wait until the server's log contains `needle` (its stderr is read by a thread).
    pub async fn wait_log(&self, needle: &str) {
        for _ in 0..6000 {
            if self.http.log().contains(needle) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the log never said {needle:?}: {}", self.http.log());
    }

    /// Run `relay-shell <args>` against this state directory: (status, stdout, stderr).
    pub fn cli(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        cli(&self.state, args, stdin)
    }

    /// Register a public client; the response document.
    pub async fn register(&self, name: &str, redirect: &str) -> serde_json::Value {
        let r = raw()
            .post(self.url("/register"))
            .header("content-type", "application/json")
            .body(
                serde_json::json!({
                    "client_name": name, "redirect_uris": [redirect],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "token_endpoint_auth_method": "none"
                })
                .to_string(),
            )
            .send()
            .await
            .expect("POST /register");
        assert_eq!(r.status(), 201);
        r.json().await.expect("json")
    }

    /// Register and approve a public client; its id.
    pub async fn approved_client(&self, redirect: &str) -> String {
        let doc = self.register("test client", redirect).await;
        let id = doc["client_id"].as_str().expect("client_id").to_string();
        let (code, out, _) = self.cli(&["auth", "approve", &id], "");
        assert_eq!(
            (code, out.as_str()),
            (0, format!("approved {id}\n").as_str())
        );
        id
    }

    /// The authorization URL for `client` with `challenge`, plus `extra` parameters.
    pub fn authorize_url(
        &self,
        client: &str,
        redirect: &str,
        challenge: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", client)
            .append_pair("redirect_uri", redirect)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", "st-1")
            .append_pair("resource", &self.resource());
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        format!("{}?{}", self.url("/authorize"), q.finish())
    }

    /// Authorize (no passphrase set): the code from the redirect.
    pub async fn code(
        &self,
        client: &str,
        redirect: &str,
        challenge: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let r = raw()
            .get(self.authorize_url(client, redirect, challenge, extra))
            .send()
            .await
            .expect("GET /authorize");
        assert_eq!(r.status(), 303);
        let loc = location(&r);
        let q = query(&loc);
        assert_eq!(
            q.get("iss").map(String::as_str),
            Some(self.issuer.as_str()),
            "{loc}"
        );
        assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
        q.get("code")
            .cloned()
            .unwrap_or_else(|| panic!("no code: {loc}"))
    }

    /// POST a form to `path`: (status, JSON body).
    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        let r = raw()
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(q.finish())
            .send()
            .await
            .expect("POST");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// Exchange a code: (status, body).
    pub async fn exchange(
        &self,
        client: &str,
        code: &str,
        redirect: &str,
        verifier: &str,
    ) -> (u16, serde_json::Value) {
        self.form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
                ("resource", &self.resource()),
            ],
        )
        .await
    }

    /// A full grant for `client`: (access, refresh).
    pub async fn grant(
        &self,
        client: &str,
        redirect: &str,
        extra: &[(&str, &str)],
    ) -> (String, String) {
        let (verifier, challenge) = pkce();
        let code = self.code(client, redirect, &challenge, extra).await;
        let (status, body) = self.exchange(client, &code, redirect, &verifier).await;
        assert_eq!(status, 200, "{body}");
        (
            body["access_token"].as_str().expect("access").to_string(),
            body["refresh_token"].as_str().expect("refresh").to_string(),
        )
    }

    /// The status of an MCP `initialize` with `token`.
    pub async fn mcp_status(&self, token: &str) -> u16 {
        crate::http_support::mcp_post(&raw(), &self.mcp())
            .header("authorization", format!("Bearer {token}"))
            .body(crate::http_support::initialize_body())
            .send()
            .await
            .expect("POST /mcp")
            .status()
            .as_u16()
    }

    /// Rewrite `grants.json` with `f` applied (0600, atomically, as the server writes it).
    pub fn edit_grants(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let path = self.state.join("grants.json");
        let mut doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read grants")).expect("json");
        f(&mut doc);
        let tmp = self.state.join(".edit.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&doc).expect("json")).expect("write");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::rename(&tmp, &path).expect("rename");
    }
}

/// Run `relay-shell <args>` with the state directory `state`.
pub fn cli(state: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let state_s = state.display().to_string();
    let mut child = command(&[("RELAY_SHELL_AUTH_STATE_DIR", &state_s)])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn relay-shell");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An HTTP client that does not follow redirects.
pub fn raw() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A PKCE pair made by the `oauth2` client library: (verifier, S256 challenge), checked
/// against RFC 7636's definition.
pub fn pkce() -> (String, String) {
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let (challenge, verifier) = (
        challenge.as_str().to_string(),
        verifier.secret().to_string(),
    );
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    assert_eq!(challenge, expected);
    (verifier, challenge)
}

/// The `Location` header.
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default()
}

/// The query parameters of a URL.
pub fn query(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
