# Sourced by the PyTorch comparison scripts (bench_vs_torch.sh, bench_models_vs_torch.sh): installs
# Debian's PyTorch and the OpenBLAS OpenMP build it runs best with, when they are missing.
missing=()
for pkg in python3-torch python3-numpy libopenblas0-openmp; do
  [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
