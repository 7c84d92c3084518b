#!/usr/bin/env bash
# Configures and builds everlora (Release, with tests, examples, benchmarks and everlora::mpi, whose
# Open MPI setup.sh installs) in $BUILD_DIR (default: build/ in the repository). Extra arguments go to the cmake configure step, e.g.
#   scripts/build.sh -DEVERLORA_SANITIZE=ON
# Environment: BUILD_DIR, BUILD_TYPE (default Release), JOBS (default: nproc), TARGET (default:
# everything; e.g. TARGET=cl_run builds only the benchmark runner).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$repo_root/build}"
build_type="${BUILD_TYPE:-Release}"
jobs="${JOBS:-$(nproc)}"

bash "$repo_root/scripts/setup.sh"

cmake -S "$repo_root" -B "$build_dir" \
  -DCMAKE_BUILD_TYPE="$build_type" \
  -DEVERLORA_BUILD_TESTS=ON \
  -DEVERLORA_BUILD_EXAMPLES=ON \
  -DEVERLORA_BUILD_BENCHMARKS=ON \
  -DEVERLORA_MPI=ON \
  "$@"
cmake --build "$build_dir" -j"$jobs" ${TARGET:+--target "$TARGET"}
