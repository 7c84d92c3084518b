#!/usr/bin/env bash
# Builds everlora (scripts/build.sh) and runs the first example, passing the arguments through:
#   scripts/demo.sh --help
# Environment: BUILD_DIR, BUILD_TYPE, JOBS as for build.sh.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-$repo_root/build}"

bash "$repo_root/scripts/build.sh" >&2
demo="$build_dir/examples/01_autograd"
if [[ ! -x "$demo" ]]; then
  echo "demo.sh: $demo was not built (is examples/01_autograd.cpp there yet?)" >&2
  exit 1
fi
exec "$demo" "$@"
