#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer + UndefinedBehaviorSanitizer (EVERLORA_SANITIZE) and
# runs them; any report fails the run (-fno-sanitize-recover=all, halt_on_error). Optimised at -O1
# with line tables, so the suite runs in minutes, not hours. Extra arguments go to ctest.
# Environment: SAN_BUILD_DIR (default build-san/), JOBS (default: nproc).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${SAN_BUILD_DIR:-$repo_root/build-san}"
jobs="${JOBS:-$(nproc)}"
unit_labels="^(core|io|optim|util|nn|adapters|data|metrics|continual|docs)$"
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

bash "$repo_root/scripts/setup.sh"
cmake -S "$repo_root" -B "$build_dir" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DEVERLORA_SANITIZE=ON -DEVERLORA_BUILD_TESTS=ON -DEVERLORA_BUILD_EXAMPLES=OFF \
  -DEVERLORA_BUILD_BENCHMARKS=OFF >/dev/null
targets=$(sed -n 's/^everlora_add_test_folder(\([a-z]*\)).*/test_\1/p' "$repo_root/tests/CMakeLists.txt")
# shellcheck disable=SC2086  # one target per word
cmake --build "$build_dir" -j"$jobs" --target $targets continual_resume_run

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
ctest --test-dir "$build_dir" --output-on-failure -j"$jobs" -L "$unit_labels" "$@"
