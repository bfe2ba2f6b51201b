#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ one after another, each for SECONDS (default 300), on
# one core (libFuzzer's default single process: no -jobs/-workers). Not part of CI.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 600 journal_line
#
# Each target's corpus grows in fuzz/corpus/TARGET (git-ignored), seeded from the committed
# fuzz/seeds/TARGET. Crashes land in fuzz/artifacts/TARGET; reproduce one with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…` and shrink it with
# `cargo +nightly fuzz tmin TARGET …`. A summary line per target (executions, coverage,
# features, corpus size, crash or not) goes to stdout; full logs to fuzz/logs/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

mkdir -p logs
status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    log="logs/$target.log"
    if cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="CRASH (see $log and artifacts/$target)"
        status=1
    fi
    # libFuzzer's last status line ("#N DONE cov: C ft: F corp: K/…") and its final stats.
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
    echo "$target: ${seconds}s, ${runs:-?} executions, ${last:-no status line}: $result"
done
exit $status
