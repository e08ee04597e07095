#!/usr/bin/env bash
# Bounded fuzzing of every cargo-fuzz target in fuzz/ (decode_frame, receiver, roundtrip,
# client_session, server_session).
#
# Each target runs for FUZZ_SECONDS (default 20) from a scratch copy of its committed corpus, so
# the committed corpus only grows by findings. A crash (or timeout, or leak) is copied into
# fuzz/corpus/<target>/ as `regression-<kind>-<hash>`, where the stable test
# crates/protocol/tests/fuzz_corpus.rs replays it on every `cargo test`, and the script fails.
#
#   bash .ci/fuzz.sh                    # 20 s per target
#   FUZZ_SECONDS=600 bash .ci/fuzz.sh   # a longer campaign
#   bash .ci/fuzz.sh server_session     # one target
#
# Needs cargo-fuzz (installed from crates.io if missing) and a C++ compiler for libFuzzer; on a
# stable toolchain RUSTC_BOOTSTRAP=1 unlocks the sanitizer flags cargo-fuzz passes.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
seconds="${FUZZ_SECONDS:-20}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi
if ! command -v c++ >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq g++
fi

cd fuzz
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

build_start=$SECONDS
if [ "$#" -gt 0 ]; then
  for target in "${targets[@]}"; do cargo fuzz build "$target"; done
else
  cargo fuzz build
fi
echo "fuzz.sh: built ${#targets[@]} targets in $((SECONDS - build_start)) s"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
summary="$scratch/summary"
printf '%-16s %12s %10s %8s %s\n' target executions exec/s seconds result >"$summary"

for target in "${targets[@]}"; do
  work="$scratch/$target"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "corpus/$target/." "$work/corpus/"
  log="$work/log"
  start=$SECONDS
  status=0
  # -timeout: an input running 10 s is a hang; -rss_limit_mb: memory must stay bounded.
  cargo fuzz run "$target" "$work/corpus" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=1024 \
    -max_len=16384 -artifact_prefix="$work/artifacts/" >"$log" 2>&1 || status=$?
  elapsed=$((SECONDS - start))
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)"
  rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)"
  result=ok
  shopt -s nullglob
  artifacts=("$work"/artifacts/*)
  shopt -u nullglob
  if [ "$status" -ne 0 ] || [ "${#artifacts[@]}" -gt 0 ]; then
    result="FAILED (exit $status)"
    failed+=("$target")
    for artifact in "${artifacts[@]}"; do
      name="regression-$(basename "$artifact")"
      cp "$artifact" "corpus/$target/$name"
      echo "fuzz.sh: $target: finding saved as fuzz/corpus/$target/$name" >&2
    done
    echo "----- $target: last lines of the libFuzzer log -----" >&2
    tail -n 60 "$log" >&2
  fi
  printf '%-16s %12s %10s %8s %s\n' "$target" "${execs:-?}" "${rate:-?}" "$elapsed" "$result" >>"$summary"
done

cat "$summary"
mkdir -p "$root/fuzz/target"
cp "$summary" "$root/fuzz/target/fuzz-summary.txt"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]}; they are now in fuzz/corpus (commit them once fixed)" >&2
  exit 1
fi
