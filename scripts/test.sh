#!/usr/bin/env bash
# Run every check relay-shell has: install what the tests need, then fmt, clippy and the test
# suite. This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v bash >/dev/null 2>&1 || need+=(bash)
command -v ps >/dev/null 2>&1 || need+=(procps)
# The confinement tests (tests/confine_e2e.rs) attack a network namespace with ip, run git
# hooks, and try `pip config set`.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v git >/dev/null 2>&1 || need+=(git)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
command -v curl >/dev/null 2>&1 || need+=(curl)
# The MCP conformance suite (scripts/conformance.sh) runs on npm's own Node 22 package; npm
# itself comes from the machine.
command -v npm >/dev/null 2>&1 || need+=(npm)
# The SSH tests start real OpenSSH daemons on 127.0.0.1.
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 && command -v ssh-keyscan >/dev/null 2>&1 || need+=(openssh-client)
# The policy oracle (tests/policy_oracle.rs) runs commands in namespaces under strace.
command -v strace >/dev/null 2>&1 || need+=(strace)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v diff >/dev/null 2>&1 || need+=(diffutils)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v git >/dev/null 2>&1 || need+=(git)
# The deploy tests check each shipped artefact with its own tool, and run Caddy, logrotate
# and two rsyslog daemons against the server.
command -v caddy >/dev/null 2>&1 || need+=(caddy)
[ -x /usr/sbin/logrotate ] || need+=(logrotate)
[ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v man >/dev/null 2>&1 || need+=(man-db)
python3 -c 'import yaml' >/dev/null 2>&1 || need+=(python3-yaml)
command -v script >/dev/null 2>&1 || need+=(bsdutils)
# The OAuth consent page is tested in headless Chromium over WebDriver (tests/oauth_browser.rs).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# CI runs the property tests with a fixed seed so a failure there is reproducible; local runs
# explore new random inputs each time (failures are saved in tests/*.proptest-regressions).
if [ "${CI:-}" = "true" ]; then
  export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261123}"
fi
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# The conformance scenarios run before the test suite so that cargo test's summary is the
# last thing printed.
cargo build --locked
scripts/conformance.sh target/debug/relay-shell
cargo test --locked
