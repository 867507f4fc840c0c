#!/usr/bin/env bash
# The whole test suite on a busy machine: runs tests/run.sh N times in a
# row while two CPU-burning processes of this script's own run beside it,
# and stops at the first failing run. A correctness test that depends on
# timing fails here.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    cat <<EOF
usage: tests/stress.sh [ -n N | N ] [ --help ]

Runs tests/run.sh N times (default 3) with two CPU burners of its own
beside it (busy loops at normal priority, stopped on any exit), stops at
the first failing run and says which; every run's output is in
build/stress/run-K.log. Needs what tests/run.sh needs (root, /dev/kvm).
EOF
}

runs=3
while [ $# -gt 0 ]; do
    case "$1" in
    --help | -h)
        usage
        exit 0
        ;;
    -n)
        [ $# -ge 2 ] || { usage >&2; exit 1; }
        runs=$2
        shift 2
        ;;
    *)
        runs=$1
        shift
        ;;
    esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "tests/stress.sh: the number of runs must be a positive integer, not '$runs'" >&2
    exit 1
fi

logs="$repo/build/stress"
mkdir -p "$logs"

burners=()
stop_burners() {
    if [ ${#burners[@]} -gt 0 ]; then
        kill "${burners[@]}" 2>/dev/null || true
        wait "${burners[@]}" 2>/dev/null || true
        burners=()
    fi
}
trap stop_burners EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Each burner also stops by itself once this script is gone, however it ended.
for _ in 1 2; do
    sh -c 'while kill -0 "$1" 2>/dev/null; do :; done' burner $$ &
    burners+=("$!")
done
echo "== tests/stress.sh: $runs runs of tests/run.sh beside CPU burners ${burners[*]}"

suite_start=$SECONDS
for run in $(seq 1 "$runs"); do
    log="$logs/run-$run.log"
    echo "== run $run of $runs (output in $log), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    start=$SECONDS
    if "$repo/tests/run.sh" >"$log" 2>&1; then
        echo "== run $run passed in $((SECONDS - start)) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    else
        status=$?
        echo "== run $run of $runs FAILED (status $status) after $((SECONDS - start)) s; $((run - 1)) passed before it" >&2
        echo "== the failures, from $log:" >&2
        grep -E -A12 "^---- |panicked at|^failures:|^error|FAILED" "$log" | tail -n 80 >&2 || tail -n 40 "$log" >&2
        exit 1
    fi
done
echo "== tests/stress.sh: $runs of $runs runs passed in $((SECONDS - suite_start)) s"
