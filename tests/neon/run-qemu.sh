#!/bin/sh
# run-qemu.sh CC QEMU SRCDIR OUTDIR — builds tests/neon/neon_kernels.c with the
# library's NEON and scalar kernel files for AArch64 (CC, a cross compiler) and runs it
# under QEMU (user mode): the NEON kernels checked on an x86-64 machine.
set -eu
cc=$1 qemu=$2 src=$3 out=$4
mkdir -p "$out"
"$cc" -O2 -std=c17 -Wall -Wextra -static -DSM_HAVE_NEON -I"$src/lib/src/kernels" \
    -o "$out/neon_kernels" "$src/tests/neon/neon_kernels.c" \
    "$src/lib/src/kernels/neon.c" "$src/lib/src/kernels/scalar.c" -lm
exec "$qemu" "$out/neon_kernels"
