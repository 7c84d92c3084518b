#!/usr/bin/env bash
# Real model shapes end to end, everlora beside PyTorch in one run: build/benchmarks/hf_model_step
# (writes a random model of the shape as a bfloat16 Hugging Face folder once, loads it, trains LoRA
# on every projection, generates greedily over the KV cache) and tools/torch_decoder_bench.py (the
# same shape and measurements in PyTorch, its best configuration: OpenBLAS's OpenMP build), ROUNDS
# rounds alternating which goes first; prints per shape and measure the medians and everlora/PyTorch.
#   scripts/bench_models_vs_torch.sh [ROUNDS] [SHAPE ...]   (default 1; smollm2-135m qwen2.5-0.5b)
# Environment: THREADS (2), SEQ (128), BATCH (1), STEPS (3), OUT (keep the JSON lines there).
# Installs python3-torch, python3-numpy and libopenblas0-openmp if missing. Not part of the tests.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-1}"
shift || true
shapes=("$@")
[[ ${#shapes[@]} -gt 0 ]] || shapes=(smollm2-135m qwen2.5-0.5b)
threads="${THREADS:-2}"
args=(--seq "${SEQ:-128}" --batch "${BATCH:-1}" --steps "${STEPS:-3}")

source "$repo_root/scripts/torch_packages.sh"
TARGET=hf_model_step bash "$repo_root/scripts/build.sh" >/dev/null

py=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads"
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 "$repo_root/tools/torch_decoder_bench.py")
ours=(env OMP_NUM_THREADS="$threads" "$repo_root/build/benchmarks/hf_model_step" --threads "$threads")
if [[ -n "${OUT:-}" ]]; then out="$OUT"; : >"$out"; else out="$(mktemp)"; trap 'rm -f "$out"' EXIT; fi

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $threads threads" >&2
for shape in "${shapes[@]}"; do
  "${ours[@]}" --shape "$shape" --steps 1 --generate 2 >/dev/null  # writes the folder once, outside the timing
  for ((round = 1; round <= rounds; ++round)); do
    echo "$shape round $round/$rounds" >&2
    if ((round % 2)); then
      "${py[@]}" --shape "$shape" "${args[@]}" | sed "s/^/torch /" >>"$out"
      "${ours[@]}" --shape "$shape" "${args[@]}" 2>/dev/null | sed "s/^/everlora /" >>"$out"
    else
      "${ours[@]}" --shape "$shape" "${args[@]}" 2>/dev/null | sed "s/^/everlora /" >>"$out"
      "${py[@]}" --shape "$shape" "${args[@]}" | sed "s/^/torch /" >>"$out"
    fi
  done
done

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    who, text = line.split(" ", 1)
    rec = json.loads(text)
    runs.setdefault((rec["shape"], who), []).append(rec)
keys = [("train_tokens_per_s", "train tokens/s"), ("prefill_tokens_per_s", "prefill tokens/s"),
        ("decode_tokens_per_s", "decode tokens/s"), ("load_s", "load s"), ("rss_after_load_mb", "RSS after load MB"),
        ("peak_rss_mb", "peak RSS MB")]
print("| shape | measure | everlora | PyTorch | everlora / PyTorch |")
print("|---|---|---|---|---|")
for shape in dict.fromkeys(s for s, _ in runs):
    ours, torch = runs.get((shape, "everlora"), []), runs.get((shape, "torch"), [])
    for key, label in keys:
        a = statistics.median(r[key] for r in ours)
        b = statistics.median(r[key] for r in torch)
        print("| %s | %s | %.1f | %.1f | %.2f |" % (shape, label, a, b, a / b if b else float("nan")))
PY
