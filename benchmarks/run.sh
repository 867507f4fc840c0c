#!/usr/bin/env bash
# benchmarks/run.sh: ringtender's ring path against the classic hypercall
# path, side by side, on this machine. Builds what it needs, makes its own
# network namespace, tap and block file, runs every workload against every
# variant (interleaved, repeated), and writes benchmarks/results/report.md,
# report.json and chart.svg (benchmarks/results/spt/ with --target spt,
# benchmarks/results/muen/ with --target muen).
#
#   benchmarks/run.sh [--target hvt|spt|muen] [--quick | --smoke] [--runs N]
#                     [--length-ms MS] [--out DIR] [--only TEXT] [--help]
#
# --quick: 5 runs of 200 ms per measurement (about a minute of measuring);
# default: 5 runs of 1500 ms (about ten minutes). --smoke: every workload and
# variant once for 50 ms, to check the harness works; its figures are not
# judged against the goals. --only runs the workloads whose name contains
# TEXT (e.g. "net rx"). Needs root and /dev/kvm.
#
# The TCP workloads boot the smoltcp unikernel (tests/unikernels/rust/rust-tcp)
# and drive it with Debian's iperf (2), curl, wrk and ping (.ci/run installs
# them); the ping workload sends 1,000 pings at 10 ms in a full run, fewer
# in shorter ones.
#
# --target muen: the bench unikernel built for muen in solo5-muen-runner
# (fast mode), classic API over the channels and ring API, beside
# solo5-hvt's rings (same two APIs) as the reference, in the same run;
# the TCP workloads, the classic hypercall path and upstream rows do not
# apply there and are left out, and no goals are judged.
#
# Upstream Solo5 rows: set RINGTENDER_UPSTREAM_HVT to upstream's solo5-hvt
# (default: a solo5-hvt on PATH that is not ours) and
# RINGTENDER_UPSTREAM_BENCH to benchmarks/unikernels/bench/bench.c built
# with upstream's toolchain (see the README); for --target spt,
# RINGTENDER_UPSTREAM_SPT and RINGTENDER_UPSTREAM_BENCH_SPT, and
# RINGTENDER_UPSTREAM_TCP_SPT for the smoltcp unikernel the upstream tender
# runs (default: ours; an older tree's build makes the upstream rows that
# tree's, before and after in one run). This script never downloads or
# builds upstream.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}

usage() {
    sed -n '/^#   benchmarks/,/^# TEXT/p' "$0" | sed 's/^# \{0,1\}//'
}

runs=5
length=1500
abi=hvt
out=
only=()
verdicts=()
while [ $# -gt 0 ]; do
    case $1 in
        --help|-h) usage; exit 0 ;;
        --quick) length=200 ;;
        --smoke) runs=1; length=50; verdicts=(--no-verdicts) ;;
        --target|--runs|--length-ms|--out|--only)
            if [ $# -lt 2 ]; then
                echo "run.sh: $1 needs a value (see run.sh --help)" >&2
                exit 1
            fi
            case $1 in
                --target) abi=$2 ;;
                --runs) runs=$2 ;;
                --length-ms) length=$2 ;;
                --out) out=$2 ;;
                --only) only=(--only "$2") ;;
            esac
            shift ;;
        *) echo "run.sh: unknown option $1 (see run.sh --help)" >&2; exit 1 ;;
    esac
    shift
done

case $abi in
    hvt) out=${out:-$here/results} ;;
    spt) out=${out:-$here/results/spt} ;;
    muen) out=${out:-$here/results/muen} ;;
    *) echo "run.sh: --target must be hvt, spt or muen" >&2; exit 1 ;;
esac
[ -w /dev/kvm ] || { echo "run.sh: /dev/kvm is missing or not writable" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root (network namespaces, taps)" >&2; exit 1; }
for client in iperf curl wrk ping; do
    command -v "$client" >/dev/null || { echo "run.sh: $client is missing (apt-get install iperf curl wrk iputils-ping)" >&2; exit 1; }
done

echo "== building" >&2
cargo build --release --manifest-path "$repo/Cargo.toml" -p ringtender-host -p ringtender-bench >&2
cargo build --release --manifest-path "$repo/tests/unikernels/rust/rust-tcp/Cargo.toml" --target-dir "$target" >&2
# The muen run's reference is hvt: its tender, its unikernels.
tender_abi=$abi
[ "$abi" = muen ] && tender_abi=hvt
case $tender_abi in
    hvt) tcp_kernel=$target/release/rust-tcp ;;
    spt) tcp_kernel=$target/release/rust-tcp-spt ;;
esac
"$repo/sync-shim/build-dist.sh" "$repo/dist" >/dev/null
build="$repo/build/bench"
mkdir -p "$build"
cc="$repo/dist/bin/x86_64-solo5-none-static-cc"
src="$here/unikernels/bench"
"$target/release/solo5-elftool" gen-manifest "$src/manifest.json" "$build/manifest.c"
"$cc" -O2 -Wall -Werror -DRINGTENDER_RING_API -I "$repo/dist/include" -c "$src/bench.c" -o "$build/bench.o"
"$cc" -c "$build/manifest.c" -o "$build/manifest.o"
for link_abi in $tender_abi $([ "$abi" = muen ] && echo muen); do
    "$cc" -z "solo5-abi=$link_abi" -o "$build/bench.$link_abi" "$build/bench.o" "$build/manifest.o"
done

upstream=()
if [ "$abi" = muen ]; then
    upstream=(--muen-runner "$target/release/solo5-muen-runner" --muen-kernel "$build/bench.muen")
    echo "== muen runner rows beside hvt's rings; no upstream rows (upstream has no muen tender)" >&2
else
    if [ "$abi" = hvt ]; then
        up_tender=${RINGTENDER_UPSTREAM_HVT:-}
        up_kernel=${RINGTENDER_UPSTREAM_BENCH:-}
        up_vars="RINGTENDER_UPSTREAM_HVT and RINGTENDER_UPSTREAM_BENCH"
    else
        up_tender=${RINGTENDER_UPSTREAM_SPT:-}
        up_kernel=${RINGTENDER_UPSTREAM_BENCH_SPT:-}
        up_vars="RINGTENDER_UPSTREAM_SPT and RINGTENDER_UPSTREAM_BENCH_SPT"
    fi
    if [ -z "$up_tender" ] && command -v "solo5-$abi" >/dev/null; then
        candidate=$(command -v "solo5-$abi")
        if ! "$candidate" --version 2>&1 | grep -q ringtender; then
            up_tender=$candidate
        fi
    fi
    if [ -n "$up_tender" ] && [ -n "$up_kernel" ]; then
        upstream=(--upstream-tender "$up_tender" --upstream-kernel "$up_kernel")
        # Upstream's solo5-spt runs our spt binaries; its solo5-hvt cannot start ours.
        if [ "$abi" = spt ]; then
            upstream+=(--upstream-runs-tcp)
            if [ -n "${RINGTENDER_UPSTREAM_TCP_SPT:-}" ]; then
                upstream+=(--upstream-tcp-kernel "$RINGTENDER_UPSTREAM_TCP_SPT")
            fi
        fi
        echo "== upstream rows: $up_tender with $up_kernel" >&2
    else
        echo "== no upstream rows (set $up_vars)" >&2
    fi
fi

echo "== measuring: $runs runs, $length ms per measurement" >&2
"$target/release/ringtender-bench" --ours "$target/release/solo5-$tender_abi" --kernel "$build/bench.$tender_abi" \
    --tcp-kernel "$tcp_kernel" \
    "${upstream[@]}" "${only[@]}" "${verdicts[@]}" --runs "$runs" --length-ms "$length" --out "$out"
