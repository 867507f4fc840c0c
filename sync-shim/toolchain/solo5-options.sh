# solo5-options.sh: the Solo5 link options the cc and ld wrappers share;
# install-tools.sh puts this text into each wrapper where @SOLO5_OPTIONS@ is.
# solo5_options ARGS...: takes "-z solo5-abi=ABI" into abi and
# "-z solo5-rings=yes|no" into rings, notes "-o FILE" in output, sets
# compile=1 on -c, -S or -E; every other argument goes to args.
solo5_options() {
    compile=0
    rings=yes
    output=a.out
    args=()
    while [ $# -gt 0 ]; do
        if [ "$1" = -z ] && [[ "${2:-}" == solo5-abi=* ]]; then
            abi=${2#solo5-abi=}
            shift 2
            continue
        fi
        if [ "$1" = -z ] && [[ "${2:-}" == solo5-rings=* ]]; then
            rings=${2#solo5-rings=}
            shift 2
            continue
        fi
        case $1 in
            -c | -S | -E) compile=1 ;;
            -o) output=${2:-a.out} ;;
        esac
        args+=("$1")
        shift
    done
}

# check_abi: refuses an abi other than a target's (or none).
check_abi() {
    case $abi in
        '' | hvt | spt | muen | stub) ;;
        *)
            echo "$prog: unsupported solo5-abi '$abi' (hvt, spt, muen or stub)" >&2
            exit 1
            ;;
    esac
}

# link_with_rings LINK...: runs the link command LINK; with
# "-z solo5-rings=no", then clears the ring request in the output's RNG3 note.
link_with_rings() {
    case $rings in
        yes) exec "$@" ;;
        no)
            "$@"
            exec '@OBJCOPY@' --update-section ".note.ringtender.ring3=$prefix/lib/solo5_norings.note" "$output"
            ;;
        *)
            echo "$prog: solo5-rings must be yes or no, not '$rings'" >&2
            exit 1
            ;;
    esac
}
