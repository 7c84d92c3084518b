#!/usr/bin/env bash
# Builds everlora (scripts/build.sh) and runs every ctest entry: unit tests, header lint,
# consumer projects, examples (--quick) and benchmark smoke runs (--quick). Extra arguments go to
# ctest, e.g. scripts/test.sh -L core   or   scripts/test.sh -LE 'bench-smoke|example'.
# Environment: BUILD_DIR, BUILD_TYPE, JOBS as for build.sh. Exits with ctest's status.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$repo_root/build}"
jobs="${JOBS:-$(nproc)}"

bash "$repo_root/scripts/build.sh"
ctest --test-dir "$build_dir" --output-on-failure -j"$jobs" "$@"
