//! The consent page in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `scripts/test.sh`) driven over WebDriver with `fantoccini`.
//! Open the authorization URL, see the client's name, type a wrong passphrase (the error,
//! no code), the right one (the client's loopback redirect receives a code), and Deny
//! (`error=access_denied`). A screenshot of the consent page is saved as
//! `<target tmp>/oauth-consent.png`.

mod http_support;
mod oauth_support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use oauth_support::{OAuthServer, free_port, pkce, query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSPHRASE: &str = "correct horse battery";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `chromedriver` on a free port, once it accepts connections.
async fn chromedriver() -> (Driver, u16) {
    let port = free_port();
    let driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; scripts/test.sh installs it)"),
    );
    for _ in 0..3000 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, port);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("chromedriver did not listen");
}

/// The client's redirect target: answers every request with a small page.
async fn callback_listener() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let body = "<!doctype html><title>callback</title><p>client callback</p>";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    port
}

async fn browser(port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=900,900"]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session")
}

/// Wait until the browser's URL starts with `prefix`.
async fn wait_url(b: &Client, prefix: &str) -> String {
    for _ in 0..3000 {
        let url = b.current_url().await.expect("url").to_string();
        if url.starts_with(prefix) {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the browser never reached {prefix}");
}

/// Wait until the page has an element matching `css`.
async fn wait_for(b: &Client, css: &str) -> fantoccini::elements::Element {
    for _ in 0..500 {
        if let Ok(e) = b.find(Locator::Css(css)).await {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let src = b.source().await.unwrap_or_default();
    let url = b
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    panic!("the page never showed {css}: at {url}: {src}");
}

async fn submit(b: &Client, passphrase: Option<&str>, button: &str) {
    if let Some(p) = passphrase {
        let field = b
            .find(Locator::Id("passphrase"))
            .await
            .expect("passphrase field");
        field.send_keys(p).await.expect("type");
    }
    b.find(Locator::Id(button))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_approves_and_denies_in_a_real_browser() {
    let s = OAuthServer::start(&[]).await;
    let (code, _, e) = s.cli(
        &["auth", "passphrase"],
        &format!("{PASSPHRASE}\n{PASSPHRASE}\n"),
    );
    assert_eq!(code, 0, "{e}");
    let cb = callback_listener().await;
    let redirect = format!("http://127.0.0.1:{cb}/cb");
    let client_id = s.approved_client(&redirect).await;
    let (_driver, port) = chromedriver().await;
    let b = browser(port).await;
    let (verifier, challenge) = pkce();

    b.goto(&s.authorize_url(&client_id, &redirect, &challenge, &[]))
        .await
        .expect("open the authorization URL");
    let name = b
        .find(Locator::Id("client-name"))
        .await
        .expect("client name");
    assert_eq!(name.text().await.expect("text"), "test client");
    let png = b.screenshot().await.expect("screenshot");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("oauth-consent.png");
    std::fs::write(&shot, &png).expect("save the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");

    // A wrong passphrase: the error is shown, the browser stays on the server, no code.
    submit(&b, Some("not the passphrase"), "approve").await;
    let alert = wait_for(&b, ".err").await;
    assert_eq!(
        alert.text().await.expect("text"),
        "Not approved. Check what you typed and try again."
    );
    let url = b.current_url().await.expect("url").to_string();
    assert!(url.starts_with(&s.url("/authorize")), "{url}");

    // The right one: the client's loopback redirect receives a code, which works.
    submit(&b, Some(PASSPHRASE), "approve").await;
    let landed = wait_url(&b, &redirect).await;
    let q = query(&landed);
    assert_eq!(q["iss"], s.issuer);
    assert_eq!(q["state"], "st-1");
    let (status, doc) = s
        .exchange(&client_id, &q["code"], &redirect, &verifier)
        .await;
    assert_eq!(status, 200, "{doc}");

    // Deny.
    b.goto(&s.authorize_url(&client_id, &redirect, &challenge, &[]))
        .await
        .expect("open again");
    submit(&b, None, "deny").await;
    let landed = wait_url(&b, &redirect).await;
    let q = query(&landed);
    assert_eq!(q["error"], "access_denied");
    assert!(!q.contains_key("code"));
    b.close().await.expect("close the browser");
}
