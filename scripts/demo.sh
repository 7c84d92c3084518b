#!/usr/bin/env bash
# The main demo: builds everlora (scripts/build.sh), then runs the continual-learning benchmark
# rotated-fmnist — trains an MLP backbone on upright Fashion-MNIST on first use (cached), then
# every available method over five rotation tasks — prints each accuracy matrix and the metric
# table, and writes results.json, CSV and SVG plots into demo_results/. About a minute on 2 cores.
# Arguments go to cl_run, e.g.
#   scripts/demo.sh --methods seq_lora,inc_lora
#   scripts/demo.sh --benchmark textcl --demo     # the text benchmark (see docs/concepts/continual.md)
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
exec "$runner" --benchmark rotated-fmnist --out demo_results "$@"
