#!/usr/bin/env bash
# Rebuilds the bundled base, models/everlora-base, from nothing but Debian's packages: its corpus
# (base_pretrain corpus), its tokenizer (tools/train_base_tokenizer.py, sentencepiece; also the
# tokenizer's golden ids for the tests), its pretraining (base_pretrain train) and its fingerprint
# (in pretraining.json). Seeded: the same machine kind and thread count give the same files. About
# an hour on 2 cores; the steps' logs go to WORK (default build/base_work). Not part of the tests.
#   scripts/pretrain_base.sh            (environment: WORK, THREADS (2), STEPS (5000))
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${WORK:-$repo_root/build/base_work}"
threads="${THREADS:-2}"
mkdir -p "$work"

missing=()
for pkg in python3-sentencepiece; do
  [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
TARGET=base_pretrain bash "$repo_root/scripts/build.sh" >/dev/null

"$repo_root/build/benchmarks/base_pretrain" corpus --out "$work/corpus"
/usr/bin/python3 "$repo_root/tools/train_base_tokenizer.py" --corpus "$work/corpus/corpus.txt" --out "$work/tokenizer" \
  --vocab-size 8192 --seed 1 --threads "$threads" \
  --golden "$repo_root/tests/fixtures/tokenizers/everlora-base.jsonl" --golden-count 1000 2>"$work/tokenizer.log"
OMP_NUM_THREADS="$threads" "$repo_root/build/benchmarks/base_pretrain" train --corpus "$work/corpus" --tokenizer "$work/tokenizer" \
  --out "$work/model" --steps "${STEPS:-5000}" --eval-every 500 --seed 1 --threads "$threads" 2> >(tee "$work/pretrain.log" >&2)
cp "$work/model"/* "$repo_root/models/everlora-base/"  # the model card, README.md, stays
echo "models/everlora-base rebuilt; its recipe, loss curve and fingerprint are in models/everlora-base/pretraining.json" >&2
