#!/usr/bin/env bash
# Builds everlora's libFuzzer targets (tests/fuzz, clang++ with ASan + UBSan) and runs each for
# SECONDS_PER_TARGET seconds (default 60), one after the other, on a scratch copy of its committed
# seed corpus (tests/fuzz/corpus/<target>/, never modified) with its dictionary. Prints one line per
# target with the number of inputs it ran; exits non-zero if any target crashed, hung, leaked or
# hit a sanitizer, leaving the failing inputs and the logs in $FUZZ_BUILD_DIR/crashes/.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
# Environment: FUZZ_BUILD_DIR (default build-fuzz in the repository). See docs/fuzzing.md.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
build_dir="${FUZZ_BUILD_DIR:-$repo_root/build-fuzz}"
crash_dir="$build_dir/crashes"
targets=(fuzz_safetensors fuzz_peft_config fuzz_jsonl fuzz_run_manifest fuzz_strategy_state fuzz_tokenizer_json
         fuzz_hf_config fuzz_shard_index)

if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]  (a positive whole number, default 60)" >&2
  exit 2
fi

bash "$repo_root/scripts/setup.sh"

# The readers need neither OpenMP nor the GEMM back ends; leaving them out keeps runs deterministic.
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if ! cmake -S "$repo_root" -B "$build_dir" "${generator[@]}" -DCMAKE_CXX_COMPILER=clang++ \
       -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVERLORA_FUZZ=ON -DEVERLORA_BUILD_TESTS=OFF \
       -DEVERLORA_BUILD_EXAMPLES=OFF -DEVERLORA_BUILD_BENCHMARKS=OFF -DEVERLORA_INSTALL=OFF \
       -DEVERLORA_USE_OPENMP=OFF -DEVERLORA_USE_BLAS=OFF -DEVERLORA_USE_ONEDNN=OFF \
       >"$build_dir.configure.log" 2>&1; then
  cat "$build_dir.configure.log" >&2
  exit 1
fi
rm -f "$build_dir.configure.log"
if ! build_log="$(cmake --build "$build_dir" -j1 --target "${targets[@]}" 2>&1)"; then
  echo "$build_log" >&2
  exit 1
fi

rm -rf "$crash_dir"
mkdir -p "$crash_dir"
failed=0
for target in "${targets[@]}"; do
  corpus="$build_dir/corpus/$target"
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp "$repo_root/tests/fuzz/corpus/$target/"* "$corpus/"
  log="$crash_dir/$target.log"
  status=0
  "$build_dir/tests/fuzz/$target" "$corpus" -dict="$repo_root/tests/fuzz/$target.dict" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$crash_dir/$target-" >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  if [[ $status -eq 0 ]]; then
    echo "$target: ${runs:-?} executions in ${seconds} s, no crash"
    rm -f "$log"
  else
    failed=1
    echo "$target: FAILED after ${runs:-?} executions (exit $status)" >&2
    grep -E 'ERROR:|SUMMARY:|runtime error|terminate called|what\(\)|Test unit written' "$log" >&2 || true
    echo "  log: $log" >&2
  fi
done

if [[ $failed -ne 0 ]]; then
  echo "fuzz.sh: failing inputs are in $crash_dir" >&2
  exit 1
fi
rmdir "$crash_dir" 2>/dev/null || true
