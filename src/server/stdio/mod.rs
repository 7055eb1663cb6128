//! MCP over a byte stream (stdin/stdout): our own framing between the raw pipe and rmcp.
//!
//! rmcp's stdio transport reads unbounded lines, drops what it cannot parse without a reply,
//! exits on a notification sent before `initialize` and spawns a task per request with no
//! limit, so a flood grew memory without bound. This layer (docs/adr/0023-stdio-framing.md):
//!
//! - reads lines of at most `RELAY_SHELL_STDIO_MAX_LINE_BYTES`; a longer one is discarded up to
//!   its newline and answered `-32700`;
//! - parses each line once (serde_json, recursion limit 128) and answers parse errors
//!   (`-32700`), malformed JSON-RPC (`-32600`) and a known method's bad params (`-32602`)
//!   itself, with the request's id whenever one can be recovered;
//! - ignores notifications and responses sent before the session starts;
//! - admits at most [`MAX_IN_FLIGHT`] requests (weighing at most
//!   [`MAX_IN_FLIGHT_REQUEST_BYTES`] parsed) whose reply has not been written yet; a request past that is answered
//!   "Server overloaded" (`-32000`) at once;
//! - queues at most [`OUTBOX_BYTES`] (or [`OUTBOX_MESSAGES`]) of replies for stdout; while the
//!   queue is full it stops reading the input: a client that does not read its replies is
//!   slowed down by its own pipe, not served from memory.
//!
//! Everything else goes to rmcp through a [`Transport`] whose `receive` is fed by the reader.

mod frame;

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{ClientJsonRpcMessage, JsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::ServerInitializeError;
use rmcp::transport::Transport;
use rmcp::{RoleServer, ServiceExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use self::frame::{Kind, Line, Verdict};
use super::{RelayServer, State};

/// Requests handed to the server whose reply has not been written yet. One more is answered
/// `-32000` ("overloaded") without being run. Four times the default
/// `RELAY_SHELL_MAX_CONCURRENT`, so the gate's own queue (and its `Busy` answer) still works.
pub const MAX_IN_FLIGHT: usize = 128;
/// Bytes of requests in flight, each weighed as its line plus 48 bytes per parsed JSON value
/// (in 4 KiB units; one heavier than this takes the whole budget): bounds the memory held by
/// large requests that wait for a gate slot, however they nest.
pub const MAX_IN_FLIGHT_REQUEST_BYTES: usize = 64 << 20;
/// Bytes of replies queued for the output. While full, no input is read.
pub const OUTBOX_BYTES: usize = 4 << 20;
/// Replies queued for the output (each reply counts at least one 4 KiB unit).
pub const OUTBOX_MESSAGES: usize = OUTBOX_BYTES / UNIT;
/// How long the replies still queued when the input ends may take to be written.
pub const FLUSH_GRACE: Duration = Duration::from_secs(5);
/// [`FLUSH_GRACE`] when serving ends because `stop` was cancelled.
pub const STOP_FLUSH_GRACE: Duration = Duration::from_secs(1);
/// The accounting unit of the byte budgets.
const UNIT: usize = 4096;
/// Messages handed to rmcp but not yet taken by its loop.
const INBOX: usize = 16;
/// A line buffer grown past this is released after its line.
const KEEP_BUFFER: usize = 1 << 20;

/// Serve MCP on `reader`/`writer` until the input ends (or the output breaks). Replies are
/// written one JSON-RPC message per line.
pub async fn serve<R, W>(state: Arc<State>, reader: R, writer: W) -> io::Result<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    serve_until(state, reader, writer, CancellationToken::new()).await
}

/// [`serve`], ending as well when `stop` is cancelled (the binary cancels it on SIGTERM or
/// SIGINT): the input is no longer read, running requests are cancelled by rmcp (each gate
/// call still writes its completion record) and what is queued is written for at most
/// [`STOP_FLUSH_GRACE`]. An error means rmcp could not serve (not a bad message: those are
/// answered).
pub async fn serve_until<R, W>(
    state: Arc<State>,
    reader: R,
    writer: W,
    stop: CancellationToken,
) -> io::Result<()>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let cap = state.settings.stdio_max_line_bytes;
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::new(out_tx));
    let ct = stop.child_token();
    let finish = CancellationToken::new();
    let writer_task = tokio::spawn(write_loop(writer, out_rx, finish.clone(), ct.clone()));
    let (in_tx, in_rx) = mpsc::channel(INBOX);
    let reader_task = tokio::spawn(read_loop(reader, in_tx, shared.clone(), cap));
    let transport = Framed {
        inbox: in_rx,
        shared,
    };
    let server = RelayServer::new(state, "stdio");
    let result = match server.serve_with_ct(transport, ct.clone()).await {
        Ok(running) => running
            .waiting()
            .await
            .map(|_| ())
            .map_err(io::Error::other),
        // Input closed or a stop before any session began: nothing went wrong.
        Err(ServerInitializeError::ConnectionClosed(_)) => Ok(()),
        Err(_) if ct.is_cancelled() => Ok(()),
        Err(e) => Err(io::Error::other(e)),
    };
    reader_task.abort();
    finish.cancel();
    // After a signal the whole stop is on a deadline: queued replies get less time.
    let grace = if stop.is_cancelled() {
        STOP_FLUSH_GRACE
    } else {
        FLUSH_GRACE
    };
    match tokio::time::timeout(grace, writer_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::info!("stdio: output closed: {e}"),
        Ok(Err(e)) => tracing::warn!("stdio: writer task failed: {e}"),
        Err(_) => tracing::warn!("stdio: replies still queued after {grace:?} were dropped"),
    }
    result
}

/// What the reader, rmcp's sends and the writer share: the in-flight table and the budgets.
struct Shared {
    /// Requests in flight by id (its JSON text, so `1` and `"1"` differ).
    slots: Mutex<HashMap<String, Slot>>,
    calls: Arc<Semaphore>,
    request_units: Arc<Semaphore>,
    out_units: Arc<Semaphore>,
    out_tx: mpsc::UnboundedSender<Outgoing>,
    /// The MCP session has begun (rmcp left its initialize loop): notifications and responses
    /// are passed on from now on.
    started: AtomicBool,
    refused: AtomicU64,
}

/// A request's place in flight, released when its reply has been written.
struct Slot {
    _call: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
    /// A successful reply to it means the session began (not `ping` or `server/discover`).
    opens: bool,
}

/// One reply line waiting for the output, with the budget it holds.
struct Outgoing {
    bytes: Vec<u8>,
    _units: OwnedSemaphorePermit,
    _slot: Option<Slot>,
}

fn units(len: usize, max: usize) -> u32 {
    u32::try_from((len / UNIT + 1).min(max)).unwrap_or(u32::MAX)
}

impl Shared {
    fn new(out_tx: mpsc::UnboundedSender<Outgoing>) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            calls: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            request_units: Arc::new(Semaphore::new(MAX_IN_FLIGHT_REQUEST_BYTES / UNIT)),
            out_units: Arc::new(Semaphore::new(OUTBOX_MESSAGES)),
            out_tx,
            started: AtomicBool::new(false),
            refused: AtomicU64::new(0),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take a place in flight for request `id`, or the error reply that refuses it.
    fn admit(&self, id: &Value, method: &str, weight: usize) -> Result<(), Value> {
        let mut slots = self.slots();
        let key = id.to_string();
        if slots.contains_key(&key) {
            return Err(frame::error_reply(
                id.clone(),
                frame::INVALID_REQUEST,
                "Invalid Request: a request with this id is still in progress",
            ));
        }
        let overloaded = || {
            frame::error_reply(
                id.clone(),
                frame::OVERLOADED,
                &format!(
                    "Server overloaded: {MAX_IN_FLIGHT} requests (or {} MiB of them) are in \
                     progress or their replies unread; retry after reading replies",
                    MAX_IN_FLIGHT_REQUEST_BYTES >> 20
                ),
            )
        };
        let call = self
            .calls
            .clone()
            .try_acquire_owned()
            .map_err(|_| overloaded())?;
        let bytes = self
            .request_units
            .clone()
            .try_acquire_many_owned(units(weight, MAX_IN_FLIGHT_REQUEST_BYTES / UNIT))
            .map_err(|_| overloaded())?;
        slots.insert(
            key,
            Slot {
                _call: call,
                _bytes: bytes,
                opens: !matches!(method, "ping" | "server/discover"),
            },
        );
        Ok(())
    }

    /// Queue one line for the output, waiting while the queue is full.
    async fn enqueue(&self, bytes: Vec<u8>, slot: Option<Slot>) -> io::Result<()> {
        let permit = self
            .out_units
            .clone()
            .acquire_many_owned(units(bytes.len(), OUTBOX_MESSAGES))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        self.out_tx
            .send(Outgoing {
                bytes,
                _units: permit,
                _slot: slot,
            })
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    /// A message from rmcp: a reply frees its request's slot once written.
    async fn send(&self, item: ServerJsonRpcMessage) -> io::Result<()> {
        let (id, ok) = match &item {
            JsonRpcMessage::Response(r) => (Some(&r.id), true),
            JsonRpcMessage::Error(e) => (e.id.as_ref(), false),
            _ => (None, false),
        };
        let slot = id.and_then(|id| {
            let key = serde_json::to_string(id).ok()?;
            self.slots().remove(&key)
        });
        if ok && slot.as_ref().is_some_and(|s| s.opens) {
            self.started.store(true, Ordering::Release);
        }
        let bytes = serde_json::to_vec(&item).map_err(io::Error::other)?;
        self.enqueue(bytes, slot).await
    }

    /// An error reply of our own.
    async fn reply(&self, reply: Value, why: &str) -> io::Result<()> {
        self.note_refusal(why, &reply);
        let bytes = serde_json::to_vec(&reply).map_err(io::Error::other)?;
        self.enqueue(bytes, None).await
    }

    /// Log refusals at a falling rate (the 1st, 2nd, 4th, 8th, …): a flood cannot flood the log.
    fn note_refusal(&self, why: &str, reply: &Value) {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            let code = reply["error"]["code"].as_i64().unwrap_or_default();
            tracing::warn!("stdio: {why} (JSON-RPC error {code}; {n} refused or ignored so far)");
        }
    }
}

/// The transport rmcp serves: messages the reader accepted in, replies through the outbox.
struct Framed {
    inbox: mpsc::Receiver<ClientJsonRpcMessage>,
    shared: Arc<Shared>,
}

impl Transport<RoleServer> for Framed {
    type Error = io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        let shared = self.shared.clone();
        async move { shared.send(item).await }
    }

    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        self.inbox.recv()
    }

    async fn close(&mut self) -> io::Result<()> {
        self.inbox.close();
        Ok(())
    }
}

/// Read lines, judge each, answer or ignore the bad ones and pass the rest to rmcp. Returns at
/// the end of the input (dropping `inbox`, which ends rmcp's loop).
async fn read_loop<R: AsyncRead + Unpin>(
    reader: R,
    inbox: mpsc::Sender<ClientJsonRpcMessage>,
    shared: Arc<Shared>,
    cap: usize,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut buf = Vec::new();
    loop {
        let line = match frame::read_line(&mut reader, &mut buf, cap).await {
            Ok(l) => l,
            Err(e) => {
                tracing::info!("stdio: input failed: {e}");
                break;
            }
        };
        let verdict = match line {
            Line::Eof => break,
            Line::TooLong => Verdict::Reply(frame::error_reply(
                frame::recover_id(&buf).unwrap_or(Value::Null),
                frame::PARSE_ERROR,
                &format!("Parse error: a message is at most {cap} bytes (one line)"),
            )),
            Line::Complete if buf.iter().all(u8::is_ascii_whitespace) => continue,
            Line::Complete => frame::judge(&buf),
        };
        if buf.capacity() > KEEP_BUFFER {
            buf = Vec::new();
        }
        let message = match verdict {
            Verdict::Reply(reply) => {
                if shared.reply(reply, "answered a bad message").await.is_err() {
                    break;
                }
                continue;
            }
            Verdict::Drop(why) => {
                shared.note_refusal(&format!("ignored {why}"), &Value::Null);
                continue;
            }
            Verdict::Forward(message, kind) => match pass(&shared, kind) {
                Ok(()) => message,
                Err(None) => continue,
                Err(Some(reply)) => {
                    if shared.reply(reply, "refused a request").await.is_err() {
                        break;
                    }
                    continue;
                }
            },
        };
        if inbox.send(*message).await.is_err() {
            break;
        }
    }
}

/// Whether a well-formed message goes on to rmcp: `Err(Some(reply))` refuses a request,
/// `Err(None)` ignores a notification or response sent before the session began.
fn pass(shared: &Shared, kind: Kind) -> Result<(), Option<Value>> {
    let started = shared.started.load(Ordering::Acquire);
    match kind {
        Kind::Request { id, method, weight } => {
            shared.admit(&id, &method, weight).map_err(Some)?;
            if method == "initialize" {
                shared.started.store(true, Ordering::Release);
            }
            Ok(())
        }
        Kind::Notification { method, cancels } => {
            if !started {
                shared.note_refusal(
                    &format!("ignored notification {method:?} sent before initialize"),
                    &Value::Null,
                );
                return Err(None);
            }
            // rmcp sends no reply to a cancelled request: its slot is free now.
            if let Some(id) = cancels {
                shared.slots().remove(&id.to_string());
            }
            Ok(())
        }
        Kind::Response if !started => {
            shared.note_refusal("ignored a response sent before initialize", &Value::Null);
            Err(None)
        }
        Kind::Response => Ok(()),
    }
}

/// Write queued lines; flush whenever the queue is empty. After `finish`, write what is queued
/// and return. A write error (the client closed its end) stops the session (`ct`).
async fn write_loop<W: AsyncWrite + Unpin>(
    writer: W,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    finish: CancellationToken,
    ct: CancellationToken,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, writer);
    let result = async {
        loop {
            let next = tokio::select! {
                biased;
                m = rx.recv() => m,
                _ = finish.cancelled() => rx.try_recv().ok(),
            };
            let Some(m) = next else { break };
            out.write_all(&m.bytes).await?;
            out.write_all(b"\n").await?;
            drop(m);
            if rx.is_empty() {
                out.flush().await?;
            }
        }
        out.flush().await
    }
    .await;
    if result.is_err() {
        ct.cancel();
    }
    result
}
