#!/usr/bin/env bash
# Run one libFuzzer target for a while; `make fuzz` calls this per target.
#   usage: fuzz/run.sh TARGET SECONDS BUILD_DIR
# Reads the committed seeds (fuzz/corpus/TARGET) and regression inputs
# (fuzz/regressions/TARGET), with the dictionary fuzz/TARGET.dict if any; writes new corpus entries only to
# BUILD_DIR/corpus/TARGET and crashes to BUILD_DIR/artifacts/.  The full
# log goes to BUILD_DIR/fuzz_TARGET.log; the terminal gets libFuzzer's
# progress lines (executions, cov = edges covered, ft = features, corp =
# corpus entries) and the final statistics.
set -uo pipefail
target=${1:?usage: run.sh TARGET SECONDS BUILD_DIR}
seconds=${2:?usage: run.sh TARGET SECONDS BUILD_DIR}
build=${3:?usage: run.sh TARGET SECONDS BUILD_DIR}
cd "$(dirname "$0")/.."

corpus=$build/corpus/$target
log=$build/fuzz_$target.log
mkdir -p "$corpus" "$build/artifacts"
dict=()
[ -f "fuzz/$target.dict" ] && dict=(-dict="fuzz/$target.dict") # the language's tokens
echo "fuzz: $target for $seconds s (log: $log)"
start=$(date +%s)
# -timeout: an input that takes 10 s is a finding (a hang), not patience.
"$build/fuzz_$target" -max_len=4096 -max_total_time="$seconds" -timeout=10 "${dict[@]}" \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/" \
    "$corpus" "fuzz/corpus/$target" "fuzz/regressions/$target" 2>&1 |
    tee "$log" |
    grep -E --line-buffered '^#[0-9]+.*(INITED|pulse|DONE)|^stat::|ERROR|SUMMARY|Test unit written|check failed|^MS:|^0x|^artifact'
status=${PIPESTATUS[0]}
echo "fuzz: $target ran $(( $(date +%s) - start )) s; $(ls "$corpus" | wc -l) files in $corpus" \
     "(+ $(ls "fuzz/corpus/$target" | wc -l) committed seeds; corp: on the DONE line counts the live ones)"
if [ "$status" -ne 0 ]; then
    echo "fuzz: $target stopped on a finding (exit $status): see $log and $build/artifacts/"
    exit 1
fi
