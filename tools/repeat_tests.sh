#!/usr/bin/env bash
# Run the README's test command N times in a row (default 5), stopping at the first failure,
# and print each run's time and pytest's closing line: the proof that the suite passes
# reliably, or the reproduction of a failure that shows only now and then.
#
#   tools/repeat_tests.sh [N] [pytest arguments...]     # e.g. tools/repeat_tests.sh 5
#
# Each run's full output is kept in $LOGS (default: a new temporary folder), named run-K.log.
set -uo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
shift $(($# > 0 ? 1 : 0))
logs=${LOGS:-$(mktemp -d -t repeat-tests-XXXXXX)}
# The README's environment, where command 1 made it.
if [ -f .venv/bin/activate ]; then
    # shellcheck disable=SC1091
    . .venv/bin/activate
fi
mkdir -p "$logs"
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); logs in $logs"
for run in $(seq 1 "$count"); do
    start=$(date +%s)
    python -m pytest "$@" >"$logs/run-$run.log" 2>&1
    status=$?
    echo "run $run of $count: exit $status, $(($(date +%s) - start)) s: $(tail -n 1 "$logs/run-$run.log")"
    if [ "$status" -ne 0 ]; then
        grep -E '^(FAILED|ERROR) ' "$logs/run-$run.log"
        exit "$status"
    fi
done
