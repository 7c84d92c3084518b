#!/usr/bin/env bash
# The main demo: builds everlora (scripts/build.sh), then runs the continual-learning benchmark
# textcl with the demo budget — builds the benchmark from Debian's corpora and pretrains a small
# byte-level GPT on first use (both cached), runs every available method, prints the metric table
# and writes results.json, CSV and SVG plots into demo_results/. Arguments go to cl_run, e.g.
#   scripts/demo.sh --methods seq_lora,inc_lora
# Environment: BUILD_DIR, BUILD_TYPE, JOBS as for build.sh.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$repo_root/build}"

bash "$repo_root/scripts/build.sh" >&2
runner="$build_dir/benchmarks/cl_run"
if [[ ! -x "$runner" ]]; then
  echo "demo.sh: $runner was not built" >&2
  exit 1
fi
exec "$runner" --benchmark textcl --demo --out demo_results "$@"
