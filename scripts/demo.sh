#!/usr/bin/env bash
# The main demo: builds the benchmark runner cl_run (scripts/build.sh), then runs the continual-learning benchmark
# textcl at the demo budget on the bundled base (models/everlora-base). On first use it builds textcl
# from Debian's corpora (cached); then it trains four methods (SeqLoRA, IncLoRA, replay, MTL) over
# textcl's first three tasks (40 steps each), prints each accuracy matrix with its chance and ST rows
# and the metric table, and writes results.json, CSV and SVG plots into demo_results/. Under 5
# minutes on 2 cores from a fresh clone (README.md has the measured time).
# Arguments go to cl_run, e.g.
#   scripts/demo.sh --methods seq_lora,inc_lora,replay
#   scripts/demo.sh --tasks 5                      # all five tasks
# Environment: BUILD_DIR, BUILD_TYPE, JOBS as for build.sh.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$repo_root/build}"

TARGET=cl_run bash "$repo_root/scripts/build.sh" >&2
runner="$build_dir/benchmarks/cl_run"
if [[ ! -x "$runner" ]]; then
  echo "demo.sh: $runner was not built" >&2
  exit 1
fi
exec "$runner" --benchmark textcl --demo --out demo_results "$@"
