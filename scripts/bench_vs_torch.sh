#!/usr/bin/env bash
# Runs the reference LoRA workload in everlora (build/benchmarks/lora_step) and in PyTorch
# (../shared/bench/torch_lora_ref.py, its best configuration: OpenBLAS's OpenMP build) in the same
# run, alternating the two programs ROUNDS times per mode, and prints the median ratios of
# tokens/s and peak RSS. Installs PyTorch's packages if missing (Debian: python3-torch,
# python3-numpy, libopenblas0-openmp). Not part of the test suite: it takes minutes.
#   scripts/bench_vs_torch.sh [ROUNDS]      (default 3; THREADS=2 by default)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
torch_ref="${TORCH_REF:-$repo_root/../shared/bench/torch_lora_ref.py}"
rounds="${1:-3}"
threads="${THREADS:-2}"
[[ -f "$torch_ref" ]] || { echo "bench_vs_torch: $torch_ref not found (set TORCH_REF)" >&2; exit 2; }

missing=()
for pkg in python3-torch python3-numpy libopenblas0-openmp; do
  [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
bash "$repo_root/scripts/build.sh" >/dev/null

py=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads"
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 "$torch_ref")
ours=(env OMP_NUM_THREADS="$threads" "$repo_root/build/benchmarks/lora_step")
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for mode in train infer mix; do
  for ((i = 1; i <= rounds; ++i)); do
    echo "round $i/$rounds: $mode" >&2
    if [[ $mode == mix ]]; then
      "${py[@]}" mix --k 5 --mix-impl fused | sed 's/^/torch /' >>"$out"
      "${ours[@]}" mix --k 5 2>/dev/null | sed 's/^/everlora /' >>"$out"
    else
      "${py[@]}" "$mode" | sed 's/^/torch /' >>"$out"
      "${ours[@]}" "$mode" 2>/dev/null | sed 's/^/everlora /' >>"$out"
    fi
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    who, _, text = line.partition(" ")
    rec = json.loads(text)
    runs.setdefault((rec["mode"], who), []).append(rec)
print("%-6s %14s %14s %8s %12s %12s %8s" % ("mode", "torch tok/s", "everlora tok/s", "ratio",
                                          "torch RSS", "everlora RSS", "RSS"))
for mode in ("train", "infer", "mix"):
    t, e = runs[(mode, "torch")], runs[(mode, "everlora")]
    tt = statistics.median(r["tokens_per_s"] for r in t)
    et = statistics.median(r["tokens_per_s"] for r in e)
    tr = statistics.median(r["peak_rss_mb"] for r in t)
    er = statistics.median(r["peak_rss_mb"] for r in e)
    print("%-6s %14.0f %14.0f %7.2fx %10.0f MB %10.0f MB %7.2fx" % (mode, tt, et, et / tt, tr, er, er / tr))
    print(json.dumps({"mode": mode, "k": e[0]["k"], "torch_tokens_per_s": tt, "everlora_tokens_per_s": et,
                      "speed_ratio": et / tt, "torch_peak_rss_mb": tr, "everlora_peak_rss_mb": er,
                      "rss_ratio": er / tr, "rounds": len(e)}))
PY
