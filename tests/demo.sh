#!/usr/bin/env bash
# Builds solo5-hvt, the guest bindings and the hello unikernel, then boots it.
set -euo pipefail
case ${1:-} in
    --help|-h) sed -n '2,2p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "tests/demo.sh: unknown option $1 (see tests/demo.sh --help)" >&2; exit 1 ;;
esac
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
cargo build --release -p ringtender-host
sync-shim/build-dist.sh "$repo/dist" >/dev/null
tests/unikernels/build.sh "$repo/build/unikernels" >/dev/null
exec target/release/solo5-hvt --mem=8 -- build/unikernels/test_hello.hvt Hello_Solo5
