#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# linux-src.sh OUTDIR
#
# Unpack from Debian's linux-source tarball the parts of the kernel tree
# the project uses as they are: kselftest's headers, lib.mk and runner,
# and scripts/checkpatch.pl with its data files. Prints OUTDIR.
set -euo pipefail

out=$(realpath -m "${1:?usage: linux-src.sh OUTDIR}")
tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
[ -n "$tarball" ] || {
	echo "linux-src: no /usr/src/linux-source-*.tar.xz (run: make deps)" >&2
	exit 1
}

stamp=$out/.from-$(basename "$tarball").2
if [ -f "$stamp" ]; then
	echo "$out"
	exit 0
fi

top=$(basename "$tarball" .tar.xz)
rm -rf "$out"
mkdir -p "$out"
tar -xJf "$tarball" -C "$out" --strip-components=1 \
	"$top/scripts/checkpatch.pl" \
	"$top/scripts/extract-vmlinux" \
	"$top/scripts/spelling.txt" \
	"$top/scripts/const_structs.checkpatch" \
	"$top/tools/testing/selftests/lib.mk" \
	"$top/tools/testing/selftests/kselftest.h" \
	"$top/tools/testing/selftests/kselftest_harness.h" \
	"$top/tools/testing/selftests/kselftest/" \
	"$top/tools/testing/selftests/run_kselftest.sh" \
	"$top/tools/testing/selftests/Makefile" \
	"$top/tools/testing/selftests/gen_kselftest_tar.sh" \
	"$top/tools/scripts/Makefile.include" \
	"$top/tools/scripts/Makefile.arch" \
	"$top/scripts/subarch.include"
touch "$stamp"
echo "$out"
