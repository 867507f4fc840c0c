#!/usr/bin/env bash
# Builds every C test unikernel in tests/unikernels/c/<name>/ into
# OUTDIR/test_<name>.hvt, .spt and .muen (default <repo>/build/unikernels)
# with the installed bindings (<repo>/dist, from sync-shim/build-dist.sh)
# and solo5-elftool, and copies the Rust test unikernels there as
# test_rust_<name>.{hvt,spt}. A test directory may hold an "ldflags" file
# of extra link options and a "targets" file naming the targets it is for
# (default: hvt spt muen; tests of the rings, of spt's seccomp filter or
# with hvt's instructions are not for muen).
set -euo pipefail
case ${1:-} in
    --help|-h) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build.sh: unknown option $1 (see build.sh --help)" >&2; exit 1 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/build/unikernels}
target=${CARGO_TARGET_DIR:-$repo/target}
elftool=${SOLO5_ELFTOOL:-$target/release/solo5-elftool}
cc="$repo/dist/bin/x86_64-solo5-none-static-cc"
for tool in "$elftool" "$cc"; do
    [ -x "$tool" ] || { echo "build.sh: missing $tool (run cargo build --release and sync-shim/build-dist.sh)" >&2; exit 1; }
done
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for dir in "$here"/c/*/; do
    name=$(basename "$dir")
    [ "$name" = include ] && continue
    "$elftool" gen-manifest "$dir/manifest.json" "$work/manifest_$name.c"
    cflags=()
    [ -f "$dir/cflags" ] && read -ra cflags < "$dir/cflags"
    "$cc" -O2 -Wall -Werror -Wno-array-bounds "${cflags[@]}" -I "$here/c/include" -c "$dir/$name.c" -o "$work/$name.o"
    "$cc" -c "$work/manifest_$name.c" -o "$work/manifest_$name.o"
    ldflags=()
    [ -f "$dir/ldflags" ] && read -ra ldflags < "$dir/ldflags"
    targets=(hvt spt muen)
    [ -f "$dir/targets" ] && read -ra targets < "$dir/targets"
    for abi in "${targets[@]}"; do
        "$cc" -z "solo5-abi=$abi" "${ldflags[@]}" -o "$out/test_$name.$abi" "$work/$name.o" "$work/manifest_$name.o"
    done
done
for crate in "$here"/rust/*/; do
    [ -f "$crate/Cargo.toml" ] || continue
    bin=$(sed -n 's/^name = "\(.*\)"/\1/p' "$crate/Cargo.toml" | head -n 1)
    # A crate with a workspace of its own (rust-tcp) builds from its manifest.
    manifest=$repo/Cargo.toml
    grep -q '^\[workspace\]' "$crate/Cargo.toml" && manifest=$crate/Cargo.toml
    # Into $target always: a crate with a workspace of its own would
    # otherwise build into its own target/.
    cargo build --release --quiet --manifest-path "$manifest" --target-dir "$target" -p "$bin"
    cp "$target/release/$bin" "$out/test_${bin//-/_}.hvt"
    cp "$target/release/$bin-spt" "$out/test_${bin//-/_}.spt"
done
echo "built $(ls "$out" | wc -l) test unikernels into $out"
