#!/usr/bin/env bash
# Installs the toolchain wrappers into DEST/bin:
# x86_64-solo5-none-static-{cc,ld,objcopy}, each with the host tool fixed
# now, as an absolute path: CC (default cc), LD (default ld) and OBJCOPY
# (default objcopy) as found on PATH. The wrappers never read CC, LD or
# OBJCOPY again, so a build that exports CC=x86_64-solo5-none-static-cc
# reaches the real compiler. A host tool that is one of these wrappers is
# refused. sync-shim/build-dist.sh runs this.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: install-tools.sh DEST}
triple=x86_64-solo5-none-static

# host_tool NAME: the absolute path of the host tool NAME (a name on PATH
# or a path), refusing one of our wrappers.
host_tool() {
    local path
    if ! path=$(command -v -- "$1"); then
        echo "install-tools.sh: no '$1' on PATH" >&2
        exit 1
    fi
    case $path in
        /*) ;;
        *) path=$(cd "$(dirname "$path")" && pwd)/$(basename "$path") ;;
    esac
    case $(basename "$(realpath -- "$path")") in
        "$triple"-*)
            echo "install-tools.sh: '$1' is a ringtender toolchain wrapper, not a host tool" >&2
            exit 1
            ;;
    esac
    printf '%s\n' "$path"
}
cc=$(host_tool "${CC:-cc}")
ld=$(host_tool "${LD:-ld}")
objcopy=$(host_tool "${OBJCOPY:-objcopy}")
cc_include=$("$cc" -print-file-name=include)

mkdir -p "$dest/bin"
for tool in cc ld objcopy; do
    sed -e "/^@SOLO5_OPTIONS@\$/{r $here/solo5-options.sh" -e 'd;}' "$here/$triple-$tool.in" |
        sed -e "s|@CC@|$cc|g" -e "s|@LD@|$ld|g" -e "s|@OBJCOPY@|$objcopy|g" \
            -e "s|@CC_INCLUDE@|$cc_include|g" > "$dest/bin/$triple-$tool.new"
    chmod 0755 "$dest/bin/$triple-$tool.new"
    mv -f "$dest/bin/$triple-$tool.new" "$dest/bin/$triple-$tool"
done
