#!/usr/bin/env bash
# Installs ringtender's hvt, spt and muen bindings for C libOSes into
# DESTDIR (default <repo>/dist): include/solo5.h, include/solo5_ring.h,
# lib/solo5_{hvt,spt,muen}.o, lib/solo5_{hvt,spt,muen}.lds,
# lib/pkgconfig/solo5-bindings-{hvt,spt,muen}.pc,
# bin/x86_64-solo5-none-static-{cc,ld,objcopy} (install-tools.sh, which
# fixes the host tools: CC, LD, OBJCOPY), and the stub target that cc links
# without -z solo5-abi: lib/solo5_stub.{o,lds}. The hvt and spt objects are the same
# bindings; each linker script names its target (see solo5.lds.in). The
# muen object is the same crates built with the muen-only feature, which
# leaves hvt's and spt's instructions out. Both are built for Rust's
# x86_64-unknown-none target (rustup target add x86_64-unknown-none): no
# SSE, MMX or red zone in the bindings or in the `core` they link, as
# upstream builds its bindings (-mno-sse -mno-mmx -mno-red-zone), so they
# also run where the guest starts at CPL 0 (upstream's solo5-hvt, Muen) on
# a host that emulates ring-0 code without SSE (docs/host-notes.md).
set -euo pipefail
case ${1:-} in
    --help|-h) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-dist.sh: unknown option $1 (see build-dist.sh --help)" >&2; exit 1 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
dest=${1:-$repo/dist}
target=${CARGO_TARGET_DIR:-$repo/target}
bindings_target=x86_64-unknown-none
if [ ! -d "$(rustc --print target-libdir --target "$bindings_target" 2>/dev/null)" ]; then
    echo "build-dist.sh: Rust's $bindings_target target is missing (rustup target add $bindings_target)" >&2
    exit 1
fi
exports=(_start __stack_chk_guard __stack_chk_fail
    solo5_exit solo5_abort solo5_tls_size solo5_tls_tp_offset solo5_tls_init solo5_set_tls_base
    solo5_clock_monotonic solo5_clock_wall solo5_yield solo5_console_write
    solo5_net_acquire solo5_net_write solo5_net_read
    solo5_block_acquire solo5_block_write solo5_block_read
    solo5_ring_available solo5_ring_net_send solo5_ring_net_borrow solo5_ring_net_release
    solo5_ring_net_dropped solo5_ring_block_submit solo5_ring_block_reap solo5_ring_block_window)

mkdir -p "$dest/include" "$dest/lib/pkgconfig" "$dest/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# bindings_object OUT [CARGO_ARGS...]: builds the sync shim (with CARGO_ARGS)
# into one relocatable object OUT with what the exported symbols need, then
# makes every other global local so the bindings never clash with a libOS.
bindings_object() {
    local out=$1
    shift
    cargo build --release -p ringtender-sync-shim --manifest-path "$repo/Cargo.toml" \
        --target "$bindings_target" "$@"
    local undefs=() keeps=() sym
    for sym in "${exports[@]}"; do
        undefs+=(-u "$sym")
        keeps+=(--keep-global-symbol="$sym")
    done
    # --gc-sections keeps only what the exports reach (notes are always
    # kept): without it the whole of libcore's formatting and float code
    # came along, ~200 KiB of text loaded into (and resident in) every guest.
    ld -r --gc-sections -o "$work/solo5_all.o" "${undefs[@]}" "$target/$bindings_target/release/libringtender_sync_shim.a"
    objcopy "${keeps[@]}" --remove-section=.llvmbc --remove-section=.llvmcmd "$work/solo5_all.o" "$out"
    # Only the application's entry point and the linker script's symbols may stay undefined.
    local expected=' (solo5_app_main|ringtender_target|ringtender_manifest_note|_stext|_etext|_erodata|_end|_stdata|_ltdata|_ltbss)$'
    local missing
    missing=$(readelf -sW "$out" | awk '$7 == "UND" && $8 != "" {print " " $8}' | grep -Ev "$expected" || true)
    if [ -n "$missing" ]; then
        echo "build-dist.sh: the bindings object has undefined symbols:" >&2
        echo "$missing" >&2
        exit 1
    fi
}
bindings_object "$work/solo5.o"
bindings_object "$work/solo5_muen.o" --features muen-only

# The RNG3 note with RING3_FLAG_RINGS cleared, for `-z solo5-rings=no`.
objcopy -O binary --only-section=.note.ringtender.ring3 "$work/solo5.o" "$work/ring3.note"
flags=$(od -An -tu4 -j24 -N4 "$work/ring3.note" | tr -d ' ')
if [ "$flags" != 3 ]; then
    echo "build-dist.sh: unexpected RNG3 flags '$flags' in the bindings object" >&2
    exit 1
fi
printf '\001' | dd of="$work/ring3.note" bs=1 seek=24 conv=notrunc status=none
install -m 0644 "$work/ring3.note" "$dest/lib/solo5_norings.note"

install -m 0644 "$here/toolchain/solo5.h" "$dest/include/solo5.h"
install -m 0644 "$here/toolchain/solo5_ring.h" "$dest/include/solo5_ring.h"
"$here/toolchain/install-tools.sh" "$dest"

# The stub target's object: every exported symbol, each doing nothing, and
# no ABI note (see solo5_stub.c).
"$dest/bin/x86_64-solo5-none-static-cc" -O2 -c -o "$work/solo5_stub.o" "$here/toolchain/solo5_stub.c"
for sym in "${exports[@]}"; do
    if ! readelf -sW "$work/solo5_stub.o" | awk -v s="$sym" '$7 != "UND" && $5 == "GLOBAL" && $8 == s {f = 1} END {exit !f}'; then
        echo "build-dist.sh: solo5_stub.c does not define $sym" >&2
        exit 1
    fi
done
install -m 0644 "$work/solo5_stub.o" "$dest/lib/solo5_stub.o"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)
# linker_script ABI NUMBER TEXT_START: lib/solo5_ABI.lds from solo5.lds.in.
linker_script() {
    sed -e "s|@TARGET@|$1|g" -e "s|@TARGET_NUMBER@|$2|" -e "s|@TEXT_START@|$3|" \
        "$here/toolchain/solo5.lds.in" > "$dest/lib/solo5_$1.lds"
}
# The stub has no ABI1 number: 0 names no target.
linker_script stub 0 0x100000
# target:ABI1 number:image address:object
for row in hvt:1:0x100000:solo5.o spt:2:0x100000:solo5.o muen:4:0x200000:solo5_muen.o; do
    IFS=: read -r abi number text_start object <<< "$row"
    install -m 0644 "$work/$object" "$dest/lib/solo5_$abi.o"
    linker_script "$abi" "$number" "$text_start"
    sed -e "s|@PREFIX@|$dest|" -e "s|@VERSION@|$version|" -e "s|@TARGET@|$abi|g" \
        -e "s|@CC_INCLUDE@|$(${CC:-cc} -print-file-name=include)|" \
        "$here/toolchain/solo5-bindings.pc.in" > "$dest/lib/pkgconfig/solo5-bindings-$abi.pc"
done
echo "installed ringtender hvt, spt and muen bindings into $dest"
