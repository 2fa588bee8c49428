#!/usr/bin/env bash
# Runs every cargo-fuzz target (or those named) for SECONDS each, starting from
# fuzz/seeds/<target>/ and what earlier runs found (fuzz/corpus/<target>/,
# git-ignored). Each target's full log is fuzz/target/run-logs/<target>.log.
# A crash stops the script with libFuzzer's report; the input
# that caused it is left in fuzz/artifacts/<target>/ to reproduce with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
#
#   fuzz/run.sh                      # 25 s per target (what CI runs)
#   fuzz/run.sh 3600                 # an hour per target (nightly-style)
#   fuzz/run.sh 60 http_json_bodies  # one target
#
# Needs cargo-fuzz (installed here if missing) and no nightly toolchain:
# RUSTC_BOOTSTRAP=1 lets the stable compiler take the sanitizer flags. Builds
# are optimised with debug assertions and overflow checks (cargo-fuzz default).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-25}"
[ $# -gt 0 ] && shift
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build
for target in "${targets[@]}"; do
  echo "== fuzz $target (${seconds}s)"
  mkdir -p "corpus/$target"
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  log="target/run-logs/$target.log"
  mkdir -p "$(dirname "$log")"
  if ! cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $target failed; its log: fuzz/$log"
    exit 1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|DONE' "$log" || true
done
echo "fuzzed ${#targets[@]} targets for ${seconds}s each"
