#!/usr/bin/env bash
# Fuzz every target in fuzz/ for a short budget: install cargo-fuzz if missing, build all
# targets once, run each from its committed seeds, fail on any crash, hang or property
# violation. scripts/test.sh calls this (CI); run it alone to fuzz longer:
#   RELAY_SHELL_FUZZ_SECONDS=120 scripts/fuzz.sh           # every target, 120 s each
#   RELAY_SHELL_FUZZ_SECONDS=600 scripts/fuzz.sh classify  # one target
# docs/fuzzing.md: what each target checks, the budgets and the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${RELAY_SHELL_FUZZ_SECONDS:-10}"
if [ "$seconds" = 0 ]; then
  echo "scripts/fuzz.sh: RELAY_SHELL_FUZZ_SECONDS=0, skipped"
  exit 0
fi
# libFuzzer and its instrumentation need nightly flags; stable rustc accepts them with this.
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

cd fuzz
# No sanitizer: the targets are safe Rust, where AddressSanitizer finds little, and it
# doubles build and run time (docs/adr/0025-fuzzing.md).
build=(--sanitizer none --release --debug-assertions)
cargo fuzz build "${build[@]}"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

for t in "${targets[@]}"; do
  # Inputs up to 1 MiB for the text scanners (quadratic behaviour shows there), 256 KiB
  # elsewhere; any single input taking over 10 s is reported as a hang.
  case "$t" in
    classify | redact | words) max_len=1048576 ;;
    *) max_len=262144 ;;
  esac
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "== fuzz $t (${seconds}s)"
  # New inputs go to corpus/$t (ignored by git); seeds/$t is read only.
  cargo fuzz run "${build[@]}" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" 2>"artifacts/$t.log" || {
    tail -n 60 "artifacts/$t.log" >&2
    echo "scripts/fuzz.sh: target $t failed; reproducer in fuzz/artifacts/$t/" >&2
    exit 1
  }
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "artifacts/$t.log" |
    sed "s/^/  $t /"
done
