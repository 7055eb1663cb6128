#!/usr/bin/env python3
"""Regenerate the committed seed corpora (fuzz/seeds/<target>/) from the test data.

Run from the repository root: python3 fuzz/seeds/make_corpora.py. Each seed file is named by
the SHA-1 of its content, as libFuzzer names the inputs it adds, so regenerating is stable
and the fuzzer's own additions never collide with a seed.
"""
import hashlib
import json
import os
import random

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CORPUS = os.path.join(ROOT, "fuzz", "seeds")
PER_TARGET = 40
rng = random.Random(20261130)


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def tsv(name, column):
    rows = []
    with open(os.path.join(ROOT, "tests", "data", name), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) > column:
                rows.append(parts)
    return rows


def sample(items, n=PER_TARGET):
    items = list(dict.fromkeys(items))
    if len(items) <= n:
        return items
    return rng.sample(items, n)


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for seed in seeds:
        data = seed.encode("utf-8") if isinstance(seed, str) else seed
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)


def chain_lines():
    lines = []
    for name in ("rust-chain.jsonl", "python-chain.jsonl"):
        with open(os.path.join(ROOT, "tests", "data", name), encoding="utf-8") as f:
            lines += [l.rstrip("\n") for l in f if l.strip()]
    return lines


# redact: texts of the redaction corpus.
write("redact", sample([unescape(r[1]) for r in tsv("redact_corpus.tsv", 1)]))

# classify: selector byte 0 (shell text) or a few others, then a corpus command.
cases = [unescape(r[2]) for r in tsv("policy_corpus.tsv", 2)]
cases += [unescape(r[2]) for r in tsv("policy_redteam.tsv", 2)]
write("classify", [bytes([rng.choice([0, 0, 0, 1, 2, 3, 5, 7, 8, 9])]) + c.encode() for c in sample(cases)])

# canonical: each line of both reference chains, and a few edge cases.
lines = chain_lines()
write("canonical", lines + [
    '{"a": 1E2, "b": -0, "c": 1e400, "d": NaN, "chain": "x"}',
    '{"s": "\\ud800 \\u00e9 \\u0001", "k": {"z": 1, "a": [true, false, null]}}',
    '{"dup": 1, "dup": 2, "seq": 18446744073709551616}',
    "[1, 2, 3]",
    "{}",
])

# verify: the two chains whole, cut at a line, and with a line tampered.
whole = ["\n".join(chain_lines()[:12]) + "\n"]
with open(os.path.join(ROOT, "tests", "data", "python-chain.jsonl"), encoding="utf-8") as f:
    py = f.read()
with open(os.path.join(ROOT, "tests", "data", "rust-chain.jsonl"), encoding="utf-8") as f:
    rs = f.read()
write("verify", [py, rs, rs[: len(rs) // 2], rs.replace('"tier": 0', '"tier": 1', 1),
                 rs + '{"torn": ', "\n\n" + py, "not json\n" + rs])

# words: the splitter's documented cases.
write("words", [
    "", "echo hello world", "  a   b  ", "a\tb\nc\rd", "a#b #c", "a;b|c&&d", "''", '""',
    "a '' b", "'a b' c", '"a b" c', 'a"b c"d', "a\\ b", '"\\$x"', '"a\\"b"', "'it''s'",
    "a\\\nb", '"unclosed', "'unclosed", "trailing\\", 'say "héllo wörld" 日本',
    "ls -la /tmp", "grep -e 'x y' -- file",
])

# inventory: selector 0 ssh_config, 1 JSON inventory, 2 glob/name.
configs = [
    "Host web01 web02 *.x !bad\n  HostName \"10.0.0.1\"\n  Port 2222\nHost web01\n  ProxyJump bastion\n",
    "Include conf.d/*.conf\nHost a\n\tUser=ops\nMatch all\n  User nobody\nHost *\n  User everyone\n",
    "Host=eq\n  HostName=h.example\n  Port=0\n  IdentityFile \"~/.ssh/id key\"\n",
    "# comment\n\nHost -oProxyCommand=x\n  Port 70000\nHost [::1]\n  Port 22\n",
]
inventories = [
    '{"web02": {"host": "192.0.2.2", "port": "22", "known_hosts": "STRICT"}}',
    '{"bad1": {"hostname": "-oProxyCommand=x"}, "bad2": {"port": 70000}, "bad3": {"identity_file": "a\\"b"}, "skip": 3}',
    '{"db": {"hostname": "db.internal", "user": "root", "jump": "bastion", "posix_shell": false}}',
    "[1, 2]",
]
globs = ["*.conf/a.conf", "*.conf/a.conf~", "h?/h1", "*/.hidden", "*a*a*a*b/aaaaaaaaaaaa", "abc/abc"]
write("inventory", [b"\x00" + c.encode() for c in configs] + [b"\x01" + i.encode() for i in inventories]
      + [b"\x02" + g.encode() for g in globs])

# oauth: selector 0 form, 1 scopes, 2 redirect URIs, 3 PKCE, 4 Authorization headers.
verifier = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"
challenge = "E9Melhoa2OwvFrEMTKguCMeXQ1AdxdcJFIbbTT7yWHWM"
write("oauth", [
    b"\x00grant_type=authorization_code&code=abc&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb&code_verifier=" + verifier.encode(),
    b"\x00client_id=x&client_id=y",
    b"\x00response_type=code&client_id=c&code_challenge=" + challenge.encode() + b"&code_challenge_method=S256&state=s+t%20u",
    b"\x00a=%ZZ&b=%E9&=&&c",
    b"\x01shell:read shell:write",
    b"\x01shell:admin  shell:admin mcp:tools",
    b"\x01shell:root",
    b"\x02http://127.0.0.1:8080/cb\nhttp://127.0.0.1:9999/cb",
    b"\x02https://client.example/cb",
    b"\x02http://evil.example/cb",
    b"\x02com.example.app:/cb",
    b"\x02http://user@localhost/cb\nhttp://localhost/cb",
    b"\x02https://a.example/cb#frag",
    b"\x03" + verifier.encode() + b" " + challenge.encode(),
    b"\x03short " + challenge.encode(),
    b"\x04Basic Y2xpZW50OnNlY3JldA==",
    b"\x04Basic Y2xpZW50JTNBaWQ6cyUyNTI=",
    b"\x04Bearer abc.def",
    b"\x04bearer   ",
    b"\x04Basic !!!",
])

# stdio: even first byte = after a valid handshake; odd = raw from the first byte.
def msg(id_, method, params=None):
    m = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        m["params"] = params
    return json.dumps(m)

init = msg(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "0"}})
write("stdio", [
    b"\x00" + (msg(1, "tools/list") + "\n").encode(),
    b"\x00" + (msg(2, "tools/call", {"name": "server_info", "arguments": {}}) + "\n").encode(),
    b"\x00" + (msg(3, "tools/call", {"name": "shell_exec", "arguments": {"command": "id"}}) + "\n").encode(),
    b"\x00" + (msg(4, "tools/call", {"name": "shell_exec", "arguments": "id"}) + "\n").encode(),
    b"\x00" + (msg(5, "tools/call", {"name": "no_such_tool", "arguments": {}}) + "\n").encode(),
    b"\x00" + (msg(6, "resources/list") + "\n" + msg(7, "prompts/list") + "\n").encode(),
    b"\x00" + (msg(8, "resources/read", {"uri": "relay-shell://inventory"}) + "\n").encode(),
    b"\x00" + (msg(9, "ping") + "\n").encode(),
    b"\x00{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/list\"}garbage\n",
    b"\x00\xff\xfe\n[1,2\n{\"jsonrpc\":\"1.0\",\"id\":1}\n",
    b"\x00" + ("[" * 200 + "]" * 200 + "\n").encode(),
    b"\x01" + (init + "\n").encode(),
    b"\x01{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n",
    b"\x01" + (msg(1, "tools/list") + "\n").encode(),
    b"\x01not json at all\n",
])
