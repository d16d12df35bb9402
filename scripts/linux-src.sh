#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# linux-src.sh OUTDIR
#
# Unpack from Debian's linux-source tarball the parts of the kernel tree
# the project uses as they are: kselftest's headers, lib.mk and runner,
# and scripts/checkpatch.pl with its data files; and kselftest's KTAP
# helpers for shell tests (kselftest/ktap_helpers.sh), which 6.1's tree
# predates, from linux-source-6.12 (bookworm-backports), kept in
# $SOCKFAN_CACHE (/var/cache/sockfan) by package version. Prints OUTDIR.
set -euo pipefail

out=$(realpath -m "${1:?usage: linux-src.sh OUTDIR}")
tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
[ -n "$tarball" ] || {
	echo "linux-src: no /usr/src/linux-source-*.tar.xz (run: make deps)" >&2
	exit 1
}

stamp=$out/.from-$(basename "$tarball").3
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
# ktap_helpers.sh: one file out of a 150 MB package, so kept machine-wide
ktap_pkg=linux-source-6.12
ktap_ver=$(apt-cache show --no-all-versions "$ktap_pkg" 2>/dev/null | sed -n 's/^Version: //p')
[ -n "$ktap_ver" ] || {
	echo "linux-src: apt knows no $ktap_pkg (bookworm-backports; run: make deps)" >&2
	exit 1
}
cache=$(realpath -m "${SOCKFAN_CACHE:-/var/cache/sockfan}")
ktap_cached=$cache/ktap_helpers-$ktap_ver.sh
if [ ! -s "$ktap_cached" ]; then
	mkdir -p "$cache"
	dl=$(mktemp -d)
	trap 'rm -rf "$dl"' EXIT
	(cd "$dl" && apt-get download -qq -o APT::Sandbox::User=root "$ktap_pkg") || {
		echo "linux-src: apt-get download $ktap_pkg failed (network or apt lists: make deps)" >&2
		exit 1
	}
	# tar stops at the file: the writers upstream see a broken pipe
	(set +o pipefail
	 dpkg-deb --fsys-tarfile "$dl"/*.deb 2>/dev/null |
		tar -xO "./usr/src/$ktap_pkg.tar.xz" 2>/dev/null |
		tar -xJO --occurrence=1 "$ktap_pkg/tools/testing/selftests/kselftest/ktap_helpers.sh" \
		>"$ktap_cached.tmp")
	grep -q '^ktap_finished()' "$ktap_cached.tmp" || {
		rm -f "$ktap_cached.tmp"
		echo "linux-src: no kselftest/ktap_helpers.sh with ktap_finished() in $ktap_pkg $ktap_ver" >&2
		exit 1
	}
	mv "$ktap_cached.tmp" "$ktap_cached"
fi
cp "$ktap_cached" "$out/tools/testing/selftests/kselftest/ktap_helpers.sh"
touch "$stamp"
echo "$out"
