#!/usr/bin/env bash
# Builds solo5-hvt, the guest bindings and the hello unikernel, then boots it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
cargo build --release -p ringtender-host
sync-shim/build-dist.sh "$repo/dist" >/dev/null
tests/unikernels/build.sh "$repo/build/unikernels" >/dev/null
exec target/release/solo5-hvt --mem=8 -- build/unikernels/test_hello.hvt Hello_Solo5
