#!/bin/sh
# run-bench.sh — builds reference libraries of 3k, 8k, 100k and 1M spectra and runs the search benchmark on each.
#
# usage: bench/run-bench.sh [BUILD_DIR] [SIZES...]
#   BUILD_DIR  Meson build folder (default: build)
#   SIZES      3k (SWGDRUG alone), 8k (SWGDRUG + MassBank not-in-library, all real),
#              or a count such as 100k, 1M, 250000: the real spectra of both files
#              followed by synthetic variants from bench/gen_library (default: 3k 8k 100k 1M)
#
# environment:
#   SPECTRA_DIR    the reference spectra (default: ../../shared/spectra from this script)
#   BENCH_WORKDIR  where inputs and libraries are kept (default: ${TMPDIR:-/tmp}/specmatch-bench);
#                  generated inputs are reused while their .done marker matches
#   BENCH_SEED     seed of the synthetic variants (default: 1)
#
# For each size it prints one line
#   LIBRARY {"library": N, "build_s": S, "file_mb": F, "build_rss_mb": R}
# (MiB; build_rss_mb is null without GNU time) and then the output of
# BUILD_DIR/bench/bench_search LIB.h5 massbank-ei-in-library.msp, whose last line is
# BENCH {...}. Messages go to stderr. Exit status 0 when every size went through.

set -u

BUILD=${1:-build}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- 3k 8k 100k 1M

SPECTRA=${SPECTRA_DIR:-$(dirname "$0")/../../shared/spectra}
[ -d "$SPECTRA" ] && SPECTRA=$(cd "$SPECTRA" && pwd)
WORK=${BENCH_WORKDIR:-${TMPDIR:-/tmp}/specmatch-bench}
SEED=${BENCH_SEED:-1}

SWGDRUG=$SPECTRA/swgdrug-3.4.msp
DECOYS=$SPECTRA/massbank-ei-not-in-library.msp
QUERIES=$SPECTRA/massbank-ei-in-library.msp
CLI=$BUILD/cli/specmatch
GEN=$BUILD/bench/gen_library
SEARCH=$BUILD/bench/bench_search

msg() { printf 'run-bench: %s\n' "$*" >&2; }

for f in "$SWGDRUG" "$DECOYS" "$QUERIES"; do
    if [ ! -r "$f" ]; then
        msg "cannot read $f; set SPECTRA_DIR to the folder with the reference spectra"
        exit 2
    fi
done
if [ ! -x "$CLI" ]; then
    msg "$CLI not found; build first: meson compile -C $BUILD"
    exit 2
fi
mkdir -p "$WORK" || exit 4

# GNU time gives the peak memory of the build; BusyBox's has no -v.
TIMEV=
if command -v /usr/bin/time >/dev/null 2>&1 && /usr/bin/time -v true >/dev/null 2>&1; then
    TIMEV=/usr/bin/time
else
    msg "GNU time (/usr/bin/time -v) not found: build_rss_mb will be null (apt-get install time)"
fi

now() {
    t=$(date +%s.%N)
    case $t in
    *N*) date +%s ;;   # date without %N: whole seconds
    *) printf '%s\n' "$t" ;;
    esac
}

count_spectra() { grep -c '^Name:' "$@" | awk -F: '{ n += $NF } END { print n + 0 }'; }

file_bytes() { wc -c <"$1" | tr -d ' '; }

# The input for one size: sets INPUT and N, or returns 1.
make_input() {
    case $1 in
    3k)
        INPUT=$SWGDRUG
        N=$(count_spectra "$SWGDRUG")
        return 0
        ;;
    8k)
        INPUT=$WORK/8k.msp
        want="real $(file_bytes "$SWGDRUG") $(file_bytes "$DECOYS")"
        ;;
    *)
        case $1 in
        *[kK]) n=${1%?}; mult=1000 ;;
        *[mM]) n=${1%?}; mult=1000000 ;;
        *) n=$1; mult=1 ;;
        esac
        case $n in
        '' | *[!0-9]*)
            msg "size '$1' not understood; expected 3k, 8k or a count such as 100k, 1M, 250000"
            return 1
            ;;
        esac
        N=$((n * mult))
        INPUT=$WORK/$1.msp
        want="synthetic $N seed $SEED $(file_bytes "$SWGDRUG") $(file_bytes "$DECOYS")"
        ;;
    esac

    if [ -f "$INPUT" ] && [ -f "$INPUT.done" ] && [ "$(cat "$INPUT.done")" = "$want" ]; then
        N=$(sed -n 's/^spectra //p' "$INPUT.count" 2>/dev/null)
        [ -n "$N" ] || N=$(count_spectra "$INPUT")
        msg "$1: reusing $INPUT ($N spectra)"
        return 0
    fi
    rm -f "$INPUT.done" "$INPUT.count"
    t0=$(now)
    case $want in
    real*)
        cat "$SWGDRUG" "$DECOYS" >"$INPUT.tmp" || return 1
        ;;
    *)
        if [ ! -x "$GEN" ]; then
            msg "$GEN not found; build it first: meson compile -C $BUILD"
            return 1
        fi
        "$GEN" -q -n "$N" --seed "$SEED" -o "$INPUT.tmp" "$SWGDRUG" "$DECOYS" || return 1
        ;;
    esac
    got=$(count_spectra "$INPUT.tmp")
    case $want in real*) N=$got ;; esac
    if [ "$got" != "$N" ]; then
        msg "$1: $INPUT.tmp holds $got spectra, expected $N"
        return 1
    fi
    mv "$INPUT.tmp" "$INPUT" || return 1
    printf 'spectra %s\n' "$N" >"$INPUT.count"
    printf '%s\n' "$want" >"$INPUT.done"
    msg "$1: wrote $INPUT ($N spectra) in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s"
}

status=0
for size in "$@"; do
    if ! make_input "$size"; then
        msg "$size: no input; skipped"
        status=1
        continue
    fi
    LIB=$WORK/lib-$size.h5
    rm -f "$LIB"
    rss=null
    t0=$(now)
    if [ -n "$TIMEV" ]; then
        $TIMEV -v -o "$WORK/time-$size.txt" "$CLI" library build -q -o "$LIB" "$INPUT"
        rc=$?
    else
        "$CLI" library build -q -o "$LIB" "$INPUT"
        rc=$?
    fi
    t1=$(now)
    if [ $rc -ne 0 ] || [ ! -f "$LIB" ]; then
        msg "$size: library build failed (exit $rc): $CLI library build -q -o $LIB $INPUT"
        status=1
        continue
    fi
    if [ -n "$TIMEV" ]; then
        rss=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); printf "%.1f", $2 / 1024 }' \
            "$WORK/time-$size.txt")
        [ -n "$rss" ] || rss=null
    fi
    printf 'LIBRARY {"library": %s, "build_s": %s, "file_mb": %s, "build_rss_mb": %s}\n' \
        "$N" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" \
        "$(awk -v s="$(file_bytes "$LIB")" 'BEGIN { printf "%.1f", s / 1048576 }')" \
        "$rss"

    if [ -x "$SEARCH" ]; then
        "$SEARCH" "$LIB" "$QUERIES" || {
            msg "$size: $SEARCH failed (exit $?)"
            status=1
        }
    else
        msg "$SEARCH not found (not written or not built yet); search benchmark skipped for $size"
    fi
done
exit $status
