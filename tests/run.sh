#!/usr/bin/env bash
# The whole ringtender test suite: builds the tenders, the guest bindings and
# every test unikernel, then runs unit and integration tests on the real
# /dev/kvm, real taps (in network namespaces the tests create) and real files.
#
#   tests/run.sh          # as root, on a machine with /dev/kvm
#   tests/stress.sh [N]   # the same N times (default 3) beside two CPU burners
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

case ${1:-} in
    --help|-h) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "tests/run.sh: takes no arguments (see tests/run.sh --help)" >&2; exit 1 ;;
esac

if [ ! -c /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "tests/run.sh: /dev/kvm is missing or not writable; ringtender's tests need KVM" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "tests/run.sh: must run as root (the network tests create namespaces and taps)" >&2
    exit 1
fi

echo "== building tenders, elftool and Rust unikernels"
cargo build --release --workspace
echo "== installing the guest bindings into dist/"
sync-shim/build-dist.sh "$repo/dist"
echo "== building the test unikernels into build/unikernels/"
tests/unikernels/build.sh "$repo/build/unikernels"
echo "== running the tests"
cargo test --release --workspace
echo "== the unit tests of abi, muen-compat and host again in debug mode (overflow checks and debug assertions on)"
cargo test -p ringtender-abi -p ringtender-muen-compat -p ringtender-host --lib
echo "== the guest and TCP tests again on the portable I/O engine"
RINGTENDER_TEST_ENGINE=portable cargo test --release -p ringtender-host --test guests --test tcp
echo "== the muen runner's and solo5-muen-peer's tests again on the portable I/O engine"
RINGTENDER_TEST_ENGINE=portable cargo test --release -p ringtender-host --test muen --test muen_devices --test muen_peer --test muen_peer_hostile
echo "== the guest, ring, hostile-guest and TCP tests again on solo5-spt, with the unikernels built for spt"
RINGTENDER_TEST_TARGET=spt cargo test --release -p ringtender-host --test guests --test rings --test hostile --test tcp
echo "== the guest tests on solo5-spt on the portable I/O engine"
RINGTENDER_TEST_TARGET=spt RINGTENDER_TEST_ENGINE=portable cargo test --release -p ringtender-host --test guests
echo "== benchmark harness smoke run (every workload and variant once, 50 ms each; figures not judged)"
benchmarks/run.sh --smoke --out "$repo/build/bench-smoke"
benchmarks/run.sh --target spt --smoke --out "$repo/build/bench-smoke-spt"
benchmarks/run.sh --target muen --smoke --out "$repo/build/bench-smoke-muen"
