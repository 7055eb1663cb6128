use super::*;
use serde_json::json;

fn reply(line: &[u8]) -> Value {
    match judge(line) {
        Verdict::Reply(v) => v,
        other => panic!(
            "expected a reply for {:?}, got {other:?}",
            String::from_utf8_lossy(line)
        ),
    }
}

fn code_and_id(v: &Value) -> (i64, Value) {
    (v["error"]["code"].as_i64().unwrap(), v["id"].clone())
}

#[test]
fn parse_errors_are_minus_32700_with_the_id_when_it_comes_first() {
    let cases: Vec<(Vec<u8>, Value)> = vec![
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"x\":\"\xff\"}".to_vec(),
            json!(7),
        ),
        (
            br#"{"jsonrpc":"2.0","id":"a","method":"ping","x":"\ud800"}"#.to_vec(),
            json!("a"),
        ),
        (
            br#"{"jsonrpc":"2.0","id":3,"method":"ping","params":{"n":NaN}}"#.to_vec(),
            json!(3),
        ),
        (
            br#"{"jsonrpc":"2.0","id":4,"method":"ping"} trailing"#.to_vec(),
            json!(4),
        ),
        (br#"{"x":"\ud800","id":5}"#.to_vec(), json!(5)),
        (b"\xff\xfe".to_vec(), Value::Null),
        (br#"{"params":{"id":9},"x":NaN}"#.to_vec(), Value::Null),
        (br#"{"id":1.5,"x":NaN}"#.to_vec(), Value::Null),
        (br#"{"id":{"a":1},NaN}"#.to_vec(), Value::Null),
    ];
    for (line, id) in cases {
        assert_eq!(
            code_and_id(&reply(&line)),
            (-32700, id),
            "{}",
            String::from_utf8_lossy(&line)
        );
    }
}

#[test]
fn deep_nesting_is_a_parse_error_not_a_stack_overflow() {
    let mut line = br#"{"jsonrpc":"2.0","id":11,"method":"ping","params":{"x":"#.to_vec();
    line.extend(std::iter::repeat_n(b'[', 100_000));
    line.extend(std::iter::repeat_n(b']', 100_000));
    line.extend_from_slice(b"}}");
    assert_eq!(code_and_id(&reply(&line)), (-32700, json!(11)));
    let opens = vec![b'{'; 100_000];
    assert_eq!(code_and_id(&reply(&opens)), (-32700, Value::Null));
}

#[test]
fn malformed_json_rpc_keeps_the_id() {
    let cases: Vec<(&str, i64, Value)> = vec![
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            -32600,
            json!(1),
        ),
        (r#"{"id":2,"method":"ping"}"#, -32600, json!(2)),
        (r#"{"jsonrpc":"2.0","id":3,"method":7}"#, -32600, json!(3)),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            -32600,
            Value::Null,
        ),
        (
            r#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#,
            -32600,
            Value::Null,
        ),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            -32600,
            Value::Null,
        ),
        (r#"42"#, -32600, Value::Null),
        (r#"{"jsonrpc":"2.0","id":4}"#, -32600, json!(4)),
        (
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x","arguments":"s"}}"#,
            -32602,
            json!(5),
        ),
        (
            r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":"s"}"#,
            -32602,
            json!(6),
        ),
        (
            r#"{"jsonrpc":"2.0","id":"q","method":"tools/call","params":{"name":7}}"#,
            -32602,
            json!("q"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":8,"method":"resources/read","params":{"uri":[]}}"#,
            -32602,
            json!(8),
        ),
        (
            r#"{"jsonrpc":"2.0","id":9,"method":"initialize","params":{"protocolVersion":1}}"#,
            -32602,
            json!(9),
        ),
    ];
    for (line, code, id) in cases {
        assert_eq!(code_and_id(&reply(line.as_bytes())), (code, id), "{line}");
    }
}

#[test]
fn good_messages_are_forwarded_with_their_kind() {
    let forwarded = |line: &str| match judge(line.as_bytes()) {
        Verdict::Forward(_, kind) => kind,
        other => panic!("{line}: {other:?}"),
    };
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"server_info","arguments":{}}}"#;
    // One value, plus 6 `:`, 4 `,` and 3 `{`.
    assert_eq!(
        forwarded(call),
        Kind::Request {
            id: json!(1),
            method: "tools/call".into(),
            weight: call.len() + 48 * 14
        }
    );
    // An unknown method goes to rmcp, which answers "method not found".
    assert!(matches!(
        forwarded(r#"{"jsonrpc":"2.0","id":"x","method":"no/such","params":{"a":1}}"#),
        Kind::Request { id, method, .. } if id == json!("x") && method == "no/such"
    ));
    assert_eq!(
        forwarded(
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4}}"#
        ),
        Kind::Notification {
            method: "notifications/cancelled".into(),
            cancels: Some(json!(4))
        }
    );
    assert_eq!(
        forwarded(r#"{"jsonrpc":"2.0","id":3,"result":{}}"#),
        Kind::Response
    );
    assert!(matches!(
        judge(br#"{"jsonrpc":"2.0","error":{"code":1,"message":"m"}}"#),
        Verdict::Drop(_)
    ));
    assert!(matches!(
        judge(br#"{"method":"notifications/initialized"}"#),
        Verdict::Drop(_)
    ));
}

#[tokio::test]
async fn lines_are_bounded_and_the_rest_is_discarded() {
    let input = b"abc\n0123456789\nxy".to_vec();
    let mut r = tokio::io::BufReader::with_capacity(4, &input[..]);
    let mut buf = vec![];
    assert_eq!(
        read_line(&mut r, &mut buf, 5).await.unwrap(),
        Line::Complete
    );
    assert_eq!(buf, b"abc");
    assert_eq!(read_line(&mut r, &mut buf, 5).await.unwrap(), Line::TooLong);
    assert_eq!(buf, b"01234");
    assert_eq!(
        read_line(&mut r, &mut buf, 5).await.unwrap(),
        Line::Complete
    );
    assert_eq!(buf, b"xy");
    assert_eq!(read_line(&mut r, &mut buf, 5).await.unwrap(), Line::Eof);
}

#[test]
fn a_request_weighs_its_parsed_size_not_only_its_text() {
    let request = |n: usize| {
        let zeros = vec!["0"; n].join(",");
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"shell_exec","arguments":{{"command":[{zeros}]}}}}}}"#
        )
    };
    let line = request(100_000);
    let Verdict::Forward(_, Kind::Request { weight, .. }) = judge(line.as_bytes()) else {
        panic!("forwarded");
    };
    assert!(
        weight > line.len() * 20,
        "{weight} for {} bytes",
        line.len()
    );
    // 2 M values (4 MiB of text) would take ~100 MB parsed: refused unparsed, with the id.
    let v = reply(request(2_000_000).as_bytes());
    assert_eq!(code_and_id(&v), (-32600, json!(1)));
    assert_eq!(count_values(br#"{"a":"x,y:[{","b":[1,2]}"#), 7);
}
