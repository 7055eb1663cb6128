#!/usr/bin/env bash
# Install relay-shell as a systemd service on this host (Debian or alike), or preview it.
#
#   deploy/install.sh [--dry-run] [--scoped] [--edge DOMAIN CIDRS] [--binary PATH]
#                     [--install-prefix DIR] [--no-start]
#
# It creates the service account, its directories and an environment file, installs the
# binary, the unit with its drop-ins, the logrotate file, the man page and shell completions,
# and (with --edge) the Caddy edge. Running it again changes nothing that is already as it
# should be; files an operator edits (the environment files, the token file) are created once
# and never overwritten. Afterwards `relay-shell --verify-deploy` compares what is installed
# with the templates.
#
# --dry-run             print what would be done; change nothing
# --scoped              also install the stricter drop-in (scoped.conf: no sudo, read-only system)
# --edge DOMAIN CIDRS   install deploy/Caddyfile as /etc/caddy/Caddyfile for DOMAIN, with /mcp
#                       and /metrics reachable from CIDRS only (quoted, space-separated)
# --binary PATH         the relay-shell binary (default: target/release/relay-shell, then PATH)
# --install-prefix DIR  install under DIR as if it were / (no account, no ownership, no
#                       systemctl): for packaging and for tests
# --no-start            do not enable and start the service
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"

dry_run=0
scoped=0
edge=0
edge_domain=""
edge_cidrs=""
start=1
prefix=""
binary=""
account="relay-shell"
changed=0
marker="# relay-shell:install-edge:managed"

usage() {
  sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
  echo "install.sh: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --scoped) scoped=1 ;;
    --edge)
      [ $# -ge 3 ] || die "--edge needs DOMAIN and CIDRS"
      edge=1
      edge_domain="$2"
      edge_cidrs="$3"
      shift 2
      ;;
    --binary)
      [ $# -ge 2 ] || die "--binary needs a path"
      binary="$2"
      shift
      ;;
    --install-prefix)
      [ $# -ge 2 ] || die "--install-prefix needs a directory"
      prefix="${2%/}"
      shift
      ;;
    --no-start) start=0 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

# Caddy substitutes these values into the Caddyfile before parsing it: anything but a host
# name and address ranges could add directives, so nothing else is accepted.
if [ "$edge" -eq 1 ]; then
  [[ "$edge_domain" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$ ]] ||
    die "--edge DOMAIN must be one host name (letters, digits, dots, hyphens)"
  [[ "$edge_cidrs" =~ ^[0-9A-Fa-f:./\ ]+$ ]] ||
    die "--edge CIDRS must be address ranges separated by spaces"
  n=0
  for c in $edge_cidrs; do
    [[ "$c" =~ ^[0-9A-Fa-f:.]+/[0-9]{1,3}$ ]] || die "--edge CIDRS: $c is not a range (address/bits)"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || die "--edge CIDRS must name at least one range"
fi

if [ -z "$binary" ]; then
  if [ -x "$repo/target/release/relay-shell" ]; then
    binary="$repo/target/release/relay-shell"
  elif command -v relay-shell >/dev/null 2>&1; then
    binary="$(command -v relay-shell)"
  else
    die "no relay-shell binary: build it (cargo build --release --locked) or pass --binary PATH"
  fi
fi
[ -x "$binary" ] || die "$binary is not an executable file"

# Without a prefix this changes the system: root only.
if [ -z "$prefix" ] && [ "$dry_run" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root (or use --dry-run, or --install-prefix DIR)"
fi

say() {
  if [ "$dry_run" -eq 1 ]; then
    echo "would $*"
  else
    echo "$*"
  fi
}

# chown only on a real install: under a prefix the account may not exist.
own() {
  if [ -z "$prefix" ] && [ "$dry_run" -eq 0 ]; then
    chown "$1" "$2"
  fi
}

# ensure_dir PATH MODE OWNER
ensure_dir() {
  local dest="$prefix$1"
  if [ -d "$dest" ]; then
    echo "unchanged $1"
    return
  fi
  say "create $1 (mode $2, owner $3)"
  if [ "$dry_run" -eq 0 ]; then
    mkdir -p "$dest"
    chmod "$2" "$dest"
    own "$3" "$dest"
  fi
}

# install_file SRC PATH MODE OWNER: replace PATH when its content differs from SRC.
install_file() {
  local src="$1" dest="$prefix$2"
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    echo "unchanged $2"
    return
  fi
  say "install $2"
  changed=1
  if [ "$dry_run" -eq 0 ]; then
    mkdir -p "$(dirname "$dest")"
    install -m "$3" "$src" "$dest.tmp.$$"
    own "$4" "$dest.tmp.$$"
    mv -f "$dest.tmp.$$" "$dest"
  fi
}

# create_once SRC PATH MODE OWNER: create PATH from SRC only when it does not exist.
create_once() {
  local dest="$prefix$2"
  if [ -e "$dest" ]; then
    echo "kept $2 (exists; never overwritten)"
    return
  fi
  say "create $2"
  if [ "$dry_run" -eq 0 ]; then
    mkdir -p "$(dirname "$dest")"
    install -m "$3" "$1" "$dest"
    own "$4" "$dest"
  fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. The service account: a system user whose home is the state directory.
if [ -n "$prefix" ]; then
  echo "skip account $account (--install-prefix)"
elif getent passwd "$account" >/dev/null; then
  echo "unchanged account $account"
else
  say "create account $account"
  if [ "$dry_run" -eq 0 ]; then
    useradd --system --user-group --home-dir /var/lib/relay-shell --no-create-home \
      --shell /usr/sbin/nologin --comment "relay-shell MCP server" "$account"
  fi
fi

# 2. Directories. systemd creates the state and log directories too (StateDirectory=,
# LogsDirectory=); creating them here lets `relay-shell token new` run before the first start.
ensure_dir /etc/relay-shell 0755 root:root
ensure_dir /var/lib/relay-shell 0700 "$account:$account"
ensure_dir /var/log/relay-shell 0700 "$account:$account"

# 3. The binary, the unit and its drop-ins, logrotate.
install_file "$binary" /usr/local/bin/relay-shell 0755 root:root
install_file "$here/systemd/relay-shell.service" /etc/systemd/system/relay-shell.service 0644 root:root
install_file "$here/systemd/relay-shell.service.d/hardening.conf" \
  /etc/systemd/system/relay-shell.service.d/hardening.conf 0644 root:root
if [ "$scoped" -eq 1 ]; then
  install_file "$here/systemd/relay-shell.service.d/scoped.conf" \
    /etc/systemd/system/relay-shell.service.d/scoped.conf 0644 root:root
fi
install_file "$here/logrotate/relay-shell" /etc/logrotate.d/relay-shell 0644 root:root

# 4. The environment file: operator settings, created once. It never sets the transport,
# which the unit does (an EnvironmentFile= value would override it).
cat >"$work/relay-shell.env" <<'EOF'
# relay-shell settings for the systemd service (RELAY_SHELL_* variables, one per line).
# The unit sets the transport (http), the loopback bind, the audit path and the token file;
# set here only what you change. `relay-shell --help` and docs/configuration.md list them all.
#RELAY_SHELL_POLICY_MODE=guarded
#RELAY_SHELL_POLICY_DENY=
#RELAY_SHELL_POLICY_ALLOW=
#RELAY_SHELL_CONFIRM_TIER3=true
# The public name the edge forwards (Caddy keeps the Host header):
#RELAY_SHELL_HTTP_ALLOWED_HOSTS=relay.example.com
EOF
create_once "$work/relay-shell.env" /etc/relay-shell/relay-shell.env 0600 root:root
if [ -f "$prefix/etc/relay-shell/relay-shell.env" ] &&
  grep -Eq '^[[:space:]]*(export[[:space:]]+)?RELAY_SHELL_TRANSPORT=' "$prefix/etc/relay-shell/relay-shell.env"; then
  echo "warning: /etc/relay-shell/relay-shell.env sets RELAY_SHELL_TRANSPORT, overriding the unit's transport (http); remove that line unless you mean it" >&2
fi

# 5. The bearer token file: empty (every token refused) until `relay-shell token new`.
printf '# relay-shell bearer tokens: name:sha256hex[:mode]; manage them with: relay-shell token\n' >"$work/tokens"
create_once "$work/tokens" /var/lib/relay-shell/tokens 0600 "$account:$account"

# 6. Man page and completions, generated by the binary from its own command line.
"$binary" man >"$work/relay-shell.1"
install_file "$work/relay-shell.1" /usr/local/share/man/man1/relay-shell.1 0644 root:root
"$binary" completions bash >"$work/completion.bash"
install_file "$work/completion.bash" /usr/local/share/bash-completion/completions/relay-shell 0644 root:root
"$binary" completions zsh >"$work/completion.zsh"
install_file "$work/completion.zsh" /usr/local/share/zsh/site-functions/_relay-shell 0644 root:root
"$binary" completions fish >"$work/completion.fish"
install_file "$work/completion.fish" /usr/local/share/fish/vendor_completions.d/relay-shell.fish 0644 root:root

# 7. The edge: Caddy with /mcp and /metrics restricted to the given source ranges.
if [ "$edge" -eq 1 ]; then
  caddyfile="$prefix/etc/caddy/Caddyfile"
  if [ -f "$caddyfile" ] && [ "$(head -n 1 "$caddyfile")" != "$marker" ] &&
    [ ! -e "$caddyfile.before-relay-shell" ]; then
    say "keep the previous /etc/caddy/Caddyfile as /etc/caddy/Caddyfile.before-relay-shell"
    if [ "$dry_run" -eq 0 ]; then
      cp -p "$caddyfile" "$caddyfile.before-relay-shell"
    fi
  fi
  { echo "$marker"; cat "$here/Caddyfile"; } >"$work/Caddyfile"
  install_file "$work/Caddyfile" /etc/caddy/Caddyfile 0644 root:root
  {
    echo "# Caddy's settings for the relay-shell edge (deploy/Caddyfile); restart caddy after a change."
    echo "RELAY_SHELL_EDGE_DOMAIN=$edge_domain"
    echo "RELAY_SHELL_EDGE_CLIENT_CIDRS=\"$edge_cidrs\""
  } >"$work/edge.env"
  install_file "$work/edge.env" /etc/relay-shell/edge.env 0644 root:root
  printf '[Service]\nEnvironmentFile=/etc/relay-shell/edge.env\n' >"$work/caddy-dropin.conf"
  install_file "$work/caddy-dropin.conf" /etc/systemd/system/caddy.service.d/relay-shell.conf 0644 root:root
  if ! grep -Eq "^[[:space:]]*RELAY_SHELL_HTTP_ALLOWED_HOSTS=.*$edge_domain" "$prefix/etc/relay-shell/relay-shell.env" 2>/dev/null; then
    echo "note: add RELAY_SHELL_HTTP_ALLOWED_HOSTS=$edge_domain to /etc/relay-shell/relay-shell.env" >&2
  fi
fi

# 8. Start it.
if [ -n "$prefix" ] || [ "$start" -eq 0 ]; then
  echo "skip systemctl (not starting the service)"
elif [ ! -d /run/systemd/system ]; then
  echo "skip systemctl (systemd is not running here)"
else
  # A changed binary, unit or edge takes effect by a restart; otherwise start is a no-op
  # for a running service.
  action=start
  [ "$changed" -eq 1 ] && action=restart
  say "run systemctl daemon-reload, enable and $action relay-shell"
  if [ "$dry_run" -eq 0 ]; then
    systemctl daemon-reload
    systemctl enable relay-shell.service
    systemctl "$action" relay-shell.service
    if [ "$edge" -eq 1 ]; then
      systemctl "$action" caddy.service
    fi
  fi
fi
