#!/usr/bin/env bash
# Runs the reference LoRA workload in everlora (build/benchmarks/lora_step) and in PyTorch
# (../shared/bench/torch_lora_ref.py, its best configuration: OpenBLAS's OpenMP build) back to
# back, ROUNDS rounds of train, infer and mix K=5, swapping which program goes first every round,
# and prints per mode the min, median and max of each program's tokens/s and of the per-round
# ratio. Each round also runs build/benchmarks/core_gemm, so train's achieved GFLOP/s is compared
# with the best GEMM rate of the same round. Installs PyTorch's packages if missing (Debian:
# python3-torch, python3-numpy, libopenblas0-openmp). Not part of the test suite: it takes minutes.
#   scripts/bench_vs_torch.sh [ROUNDS]      (default 5; THREADS=2 by default)
# The JSON lines of every run are kept in $OUT (default: a temporary file, removed at exit);
# SVG=FILE also draws the medians of tokens/s, with min-max whiskers, as a bar chart.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
torch_ref="${TORCH_REF:-$repo_root/../shared/bench/torch_lora_ref.py}"
rounds="${1:-5}"
threads="${THREADS:-2}"
[[ -f "$torch_ref" ]] || { echo "bench_vs_torch: $torch_ref not found (set TORCH_REF)" >&2; exit 2; }

source "$repo_root/scripts/torch_packages.sh"
bash "$repo_root/scripts/build.sh" >/dev/null

# PyTorch as shared/bench/README.md runs it: OpenBLAS picks its kernels for this CPU.
py=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads"
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 "$torch_ref")
ours=(env OMP_NUM_THREADS="$threads" "$repo_root/build/benchmarks")
if [[ -n "${OUT:-}" ]]; then out="$OUT"; : >"$out"; else out="$(mktemp)"; trap 'rm -f "$out"' EXIT; fi

run_torch() {
  if [[ $1 == mix ]]; then "${py[@]}" mix --k 5 --mix-impl fused; else "${py[@]}" "$1"; fi |
    sed "s/^/torch $round /" >>"$out"
}
run_ours() {
  if [[ $1 == mix ]]; then "${ours[@]}/lora_step" mix --k 5; else "${ours[@]}/lora_step" "$1"; fi 2>/dev/null |
    sed "s/^/everlora $round /" >>"$out"
}
for ((round = 1; round <= rounds; ++round)); do
  echo "round $round/$rounds" >&2
  "${ours[@]}/core_gemm" 2>/dev/null | sed "s/^/gemm $round /" >>"$out"
  for mode in train infer mix; do
    if ((round % 2)); then run_torch "$mode"; run_ours "$mode"; else run_ours "$mode"; run_torch "$mode"; fi
  done
done

/usr/bin/python3 - "$out" "${SVG:-}" <<'PY'
import json, statistics, sys
runs, best_gemm, bars = {}, {}, []
for line in open(sys.argv[1]):
    who, rnd, text = line.split(" ", 2)
    rec = json.loads(text)
    if who == "gemm":
        if rec["case"] != "fma_peak":
            best_gemm[rnd] = max(best_gemm.get(rnd, 0.0), rec["gflops"])
        continue
    runs.setdefault((rec["mode"], who), {})[rnd] = rec

def spread(values):
    return min(values), statistics.median(values), max(values)

print("%-6s %22s %22s %20s %8s" % ("mode", "torch tokens/s", "everlora tokens/s",
                                   "ratio min/med/max", "RSS"))
for mode in ("train", "infer", "mix"):
    t, e = runs[(mode, "torch")], runs[(mode, "everlora")]
    paired = sorted(set(t) & set(e))
    ratios = [e[r]["tokens_per_s"] / t[r]["tokens_per_s"] for r in paired]
    rss = [e[r]["peak_rss_mb"] / t[r]["peak_rss_mb"] for r in paired]
    tt = spread([t[r]["tokens_per_s"] for r in paired])
    et = spread([e[r]["tokens_per_s"] for r in paired])
    print("%-6s %6.0f/%6.0f/%6.0f   %6.0f/%6.0f/%6.0f   %5.2f/%5.2f/%5.2fx %7.2fx" %
          (mode, *tt, *et, *spread(ratios), statistics.median(rss)))
    record = {"mode": mode, "k": e[paired[0]]["k"], "rounds": len(paired),
              "torch_tokens_per_s": tt, "everlora_tokens_per_s": et, "speed_ratio": spread(ratios),
              "torch_peak_rss_mb": statistics.median(t[r]["peak_rss_mb"] for r in paired),
              "everlora_peak_rss_mb": statistics.median(e[r]["peak_rss_mb"] for r in paired),
              "rss_ratio": statistics.median(rss)}
    if mode == "train":
        of_gemm = [e[r]["gflops_achieved"] / best_gemm[r] for r in paired if r in best_gemm]
        record["train_gflops_of_best_gemm"] = spread(of_gemm)
        print("       train GFLOP/s over the round's best core_gemm rate: %.0f%%/%.0f%%/%.0f%%"
              % tuple(100 * v for v in spread(of_gemm)))
    print(json.dumps(record))
    bars.append((mode, tt, et, spread(ratios)))

if sys.argv[2]:  # grouped bars: PyTorch and everlora per mode, whiskers from min to max
    width, height, left, bottom, top = 560, 300, 60, 40, 30
    peak = max(max(t[2], e[2]) for _, t, e, _ in bars) * 1.1
    y = lambda v: height - bottom - (height - bottom - top) * v / peak
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (width, height),
           '<text x="%d" y="18" font-size="14">Reference LoRA workload, tokens/s (%d rounds, median, '
           'min-max)</text>' % (left, len(paired))]
    for tick in range(0, int(peak) + 1, 2000):
        svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" '
                   'text-anchor="end">%d</text>' % (left, width - 10, y(tick), y(tick), left - 6, y(tick) + 4, tick))
    group = (width - left - 10) / len(bars)
    for g, (mode, t, e, ratio) in enumerate(bars):
        for b, (who, spread_, colour) in enumerate((("PyTorch", t, "#999999"), ("everlora", e, "#1f77b4"))):
            x = left + g * group + 20 + b * 60
            svg.append('<rect x="%.1f" y="%.1f" width="50" height="%.1f" fill="%s"/>' %
                       (x, y(spread_[1]), y(0) - y(spread_[1]), colour))
            svg.append('<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black"/>' %
                       (x + 25, x + 25, y(spread_[0]), y(spread_[2])))
            svg.append('<text x="%.1f" y="%.1f" text-anchor="middle">%.0f</text>' % (x + 25, y(spread_[2]) - 4, spread_[1]))
        svg.append('<text x="%.1f" y="%d" text-anchor="middle">%s (%.2fx)</text>' %
                   (left + g * group + 75, height - bottom + 18, "mix K=5" if mode == "mix" else mode,
                    ratio[1]))
    svg.append('<rect x="%d" y="30" width="12" height="12" fill="#999999"/><text x="%d" y="40">PyTorch</text>'
               '<rect x="%d" y="48" width="12" height="12" fill="#1f77b4"/><text x="%d" y="58">everlora</text>'
               % (width - 110, width - 94, width - 110, width - 94))
    svg.append('</svg>')
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(svg) + "\n")
    import os
    os.replace(tmp, sys.argv[2])
PY
