//! One line of stdio input, judged before rmcp sees it: bounded reading, JSON-RPC shape checks
//! and the error replies the framing layer answers itself (docs/compatibility.md lists them).
//!
//! Everything here is linear in the line's length: the JSON parser is serde_json's, whose
//! recursion limit (128) turns deep nesting into an error instead of a stack overflow, and the
//! id of an unparsable line is recovered by a flat scan that keeps no stack.

use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use serde_json::{Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// JSON-RPC "Parse error": the line is not one JSON value.
pub(crate) const PARSE_ERROR: i32 = -32700;
/// JSON-RPC "Invalid Request": a JSON value that is not a JSON-RPC 2.0 message.
pub(crate) const INVALID_REQUEST: i32 = -32600;
/// JSON-RPC "Invalid params": a known method whose `params` do not fit it.
pub(crate) const INVALID_PARAMS: i32 = -32602;
/// Implementation-defined server error: refused because too many requests are in progress.
pub(crate) const OVERLOADED: i32 = -32000;

/// Every request method rmcp's server side knows. A request naming one of these whose
/// `params` do not deserialize lands in rmcp's catch-all variant (and would be answered
/// "method not found"): it is "invalid params" instead.
const KNOWN_METHODS: &[&str] = &[
    "ping",
    "initialize",
    "server/discover",
    "completion/complete",
    "logging/setLevel",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "resources/directory/read",
    "subscriptions/listen",
    "tools/call",
    "tools/list",
    "tasks/get",
    "tasks/update",
    "tasks/cancel",
    "skills/list",
    "skills/get",
];

/// What reading one line produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// Input closed with nothing pending.
    Eof,
    /// A whole line (without its newline) is in the buffer.
    Complete,
    /// The line was longer than the cap: the buffer holds its first `cap` bytes, the rest was
    /// read and discarded up to the newline.
    TooLong,
}

/// Read one line into `buf` (cleared first), keeping at most `cap` bytes of it. The bytes of a
/// longer line are consumed and dropped up to its newline, so memory stays at `cap` whatever the
/// client sends. A last line without a newline counts as a line.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut seen_any = false;
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (seen_any, too_long) {
                (false, _) => Line::Eof,
                (true, false) => Line::Complete,
                (true, true) => Line::TooLong,
            });
        }
        seen_any = true;
        let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        let room = cap.saturating_sub(buf.len());
        if chunk.len() > room {
            too_long = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        reader.consume(used);
        if done {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

/// What to do with one line.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Hand this message to rmcp.
    Forward(Box<ClientJsonRpcMessage>, Kind),
    /// Answer this error ourselves (`id` is JSON `null` when none could be recovered).
    Reply(Value),
    /// Nothing to answer (a notification or response that cannot be used); logged.
    Drop(&'static str),
}

/// The kind of a forwarded message, as the framing layer tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A request with this id, by method.
    Request {
        /// The id, as it came (validated: a string or an integer).
        id: Value,
        /// The method.
        method: String,
        /// What the request costs in memory once parsed ([`weight`]), for the in-flight budget.
        weight: usize,
    },
    /// A notification; `cancels` is the id of the request `notifications/cancelled` names.
    Notification {
        /// The method.
        method: String,
        /// For `notifications/cancelled`, its `requestId`.
        cancels: Option<Value>,
    },
    /// A response or error from the client.
    Response,
}

/// A JSON-RPC error reply.
pub(crate) fn error_reply(id: Value, code: i32, message: &str) -> Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    })
}

/// Judge one line: parse errors and malformed JSON-RPC become replies, the rest is forwarded.
pub(crate) fn judge(line: &[u8]) -> Verdict {
    // Parsed, a value costs far more than its text (`[0,0,0,…]`: 2 bytes each as text, a
    // 32-byte node and more parsed): too many values is refused before parsing.
    let weight = line
        .len()
        .saturating_add(NODE_BYTES.saturating_mul(count_values(line)));
    if weight > super::MAX_IN_FLIGHT_REQUEST_BYTES {
        let id = recover_id(line).unwrap_or(Value::Null);
        return Verdict::Reply(error_reply(
            id,
            INVALID_REQUEST,
            "Invalid Request: the message holds too many JSON values",
        ));
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            let id = recover_id(line).unwrap_or(Value::Null);
            return Verdict::Reply(error_reply(id, PARSE_ERROR, &parse_message(&e)));
        }
    };
    let mut object = match value {
        Value::Object(o) => o,
        Value::Array(_) => {
            return Verdict::Reply(error_reply(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: batches are not supported",
            ));
        }
        _ => {
            return Verdict::Reply(error_reply(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: a message is a JSON object",
            ));
        }
    };
    let id = match object.get("id") {
        None => None,
        Some(v) if valid_id(v) => Some(v.clone()),
        Some(_) => {
            return Verdict::Reply(error_reply(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: `id` must be a string or an integer",
            ));
        }
    };
    let reply_id = || id.clone().unwrap_or(Value::Null);
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return match id {
            Some(id) => Verdict::Reply(error_reply(
                id,
                INVALID_REQUEST,
                "Invalid Request: `jsonrpc` must be \"2.0\"",
            )),
            None => Verdict::Drop("a message without `jsonrpc: \"2.0\"` and without an id"),
        };
    }
    let method = match object.get("method") {
        Some(Value::String(m)) => Some(m.clone()),
        Some(_) => {
            return Verdict::Reply(error_reply(
                reply_id(),
                INVALID_REQUEST,
                "Invalid Request: `method` must be a string",
            ));
        }
        None => None,
    };
    match (method, id) {
        (Some(method), Some(id)) => judge_request(object, method, id, weight),
        (Some(method), None) => {
            let cancels = (method == "notifications/cancelled")
                .then(|| {
                    object
                        .get("params")
                        .and_then(|p| p.get("requestId"))
                        .cloned()
                })
                .flatten();
            match decode(&mut object) {
                Some(m) => Verdict::Forward(m, Kind::Notification { method, cancels }),
                None => Verdict::Drop("a notification whose params do not fit its method"),
            }
        }
        (None, Some(id)) => {
            if !object.contains_key("result") && !object.contains_key("error") {
                return Verdict::Reply(error_reply(
                    id,
                    INVALID_REQUEST,
                    "Invalid Request: no `method`, `result` or `error`",
                ));
            }
            match decode(&mut object) {
                Some(m) => Verdict::Forward(m, Kind::Response),
                None => Verdict::Drop("a response that is not a JSON-RPC response"),
            }
        }
        (None, None) => match object.contains_key("error") {
            // An id-less error is a client's answer to a message it could not parse.
            true => Verdict::Drop("an error without an id"),
            false => Verdict::Reply(error_reply(
                Value::Null,
                INVALID_REQUEST,
                "Invalid Request: no `method` and no `id`",
            )),
        },
    }
}

/// Bytes a parsed JSON value takes besides its text, at least (serde_json's `Value` is 32
/// bytes, plus map and vector overhead).
const NODE_BYTES: usize = 48;

/// An upper bound on the number of JSON values in `line`, by a flat scan (no parse): one, plus
/// one per `,`, `:`, `[` and `{` outside strings.
pub(crate) fn count_values(line: &[u8]) -> usize {
    let mut count = 1usize;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'"' => {
                i = string_end(line, i).unwrap_or(line.len());
                continue;
            }
            b',' | b':' | b'[' | b'{' => count += 1,
            _ => {}
        }
        i += 1;
    }
    count
}

fn judge_request(
    mut object: Map<String, Value>,
    method: String,
    id: Value,
    weight: usize,
) -> Verdict {
    let known = KNOWN_METHODS.contains(&method.as_str());
    let invalid_params = || {
        Verdict::Reply(error_reply(
            id.clone(),
            INVALID_PARAMS,
            &format!("Invalid params for {}", bounded(&method, 64)),
        ))
    };
    if let Some(p) = object.get("params")
        && !p.is_object()
    {
        // JSON-RPC allows an array; no MCP method takes one.
        return invalid_params();
    }
    let Some(message) = decode(&mut object) else {
        return invalid_params();
    };
    // rmcp's catch-all variant takes any method whose typed params failed: for a method it
    // knows, that means the params were wrong.
    if known
        && let ClientJsonRpcMessage::Request(r) = message.as_ref()
        && matches!(r.request, ClientRequest::CustomRequest(_))
    {
        return invalid_params();
    }
    Verdict::Forward(message, Kind::Request { id, method, weight })
}

/// rmcp's typed message, or `None` when the object does not fit it.
fn decode(object: &mut Map<String, Value>) -> Option<Box<ClientJsonRpcMessage>> {
    serde_json::from_value(Value::Object(std::mem::take(object)))
        .ok()
        .map(Box::new)
}

/// JSON-RPC ids the server accepts: a string, or an integer (MCP forbids `null`).
fn valid_id(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Number(n) => n.is_i64(),
        _ => false,
    }
}

/// The parse error's text without the offending input (serde's messages name a position).
fn parse_message(e: &serde_json::Error) -> String {
    bounded(&format!("Parse error: {e}"), 200)
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The id of a line that does not parse, when it can be found: a flat scan (no recursion) for a
/// key `"id"` at the top level of an object, followed by a value that parses on its own as a
/// valid id. The scan stops at the first byte it cannot follow, so a cut or broken line yields
/// the id only when it came before the damage.
pub(crate) fn recover_id(line: &[u8]) -> Option<Value> {
    let mut depth = 0usize;
    let mut i = 0;
    let n = line.len();
    // Whether the string just closed at depth 1 was a key named "id".
    let mut key_is_id = false;
    let mut expect_key = false;
    while i < n {
        match line[i] {
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1 && line[i] == b'{';
                key_is_id = false;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            b'"' => {
                let end = string_end(line, i)?;
                key_is_id = depth == 1 && expect_key && &line[i..end] == b"\"id\"";
                i = end;
            }
            b':' => {
                i += 1;
                if depth == 1 && key_is_id {
                    let start = skip_ws(line, i);
                    let stop = token_end(line, start)?;
                    let v: Value = serde_json::from_slice(&line[start..stop]).ok()?;
                    return valid_id(&v).then_some(v);
                }
                expect_key = false;
            }
            b',' => {
                expect_key = depth == 1;
                key_is_id = false;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// Index just past the string starting at `start` (a `"`), or `None` if it does not end.
fn string_end(line: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while i < line.len() && matches!(line[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// The end of the scalar token at `start`: a string, or a run of number characters.
fn token_end(line: &[u8], start: usize) -> Option<usize> {
    match line.get(start)? {
        b'"' => string_end(line, start),
        _ => {
            let mut i = start;
            while i < line.len()
                && matches!(line[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            {
                i += 1;
            }
            (i > start).then_some(i)
        }
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
