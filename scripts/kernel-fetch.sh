#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel-fetch.sh FLAVOUR OUTDIR
#
# Download a Debian kernel image and its headers with apt (no install),
# unpack them under OUTDIR/<abi>/ and print that directory.
# FLAVOUR: 6.1 (bookworm), 6.12 (bookworm-backports), 6.1-rt (bookworm),
# 6.1-debug (built by kernel-debug.sh; OUTDIR is then not used).
# The ABI is resolved from the metapackage, never hard-coded, so a new
# Debian point release is picked up by itself.
set -euo pipefail

flavour=${1:?usage: kernel-fetch.sh 6.1|6.12|6.1-rt|6.1-debug OUTDIR}
out=${2:?usage: kernel-fetch.sh 6.1|6.12|6.1-rt|6.1-debug OUTDIR}
out=$(realpath -m "$out")

die() {
	echo "kernel-fetch: $*" >&2
	exit 1
}

case "$flavour" in
# built, not fetched: from Debian's linux-source, cached machine-wide
6.1-debug)	exec "$(dirname "$0")/kernel-debug.sh" ;;
6.1)	meta=linux-image-amd64; suite= ;;
6.12)	meta=linux-image-amd64; suite=bookworm-backports ;;
6.1-rt)	meta=linux-image-rt-amd64; suite= ;;
*)	die "unknown kernel flavour '$flavour' (want 6.1, 6.12, 6.1-rt or 6.1-debug)" ;;
esac

# An empty suite means the default candidate (bookworm + security).
target=()
[ -z "$suite" ] || target=(-t "$suite")

# linux-image-6.1.0-56-amd64 -> 6.1.0-56-amd64
image=$(apt-cache depends "${target[@]}" "$meta" 2>/dev/null |
	awk '/Depends: linux-image-/ { print $2; exit }')
[ -n "$image" ] || die "cannot resolve $meta ${suite:-in bookworm} (run: make deps)"
abi=${image#linux-image-}
abi=${abi%-unsigned}
dir=$out/$abi

if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi

rm -rf "$dir"
mkdir -p "$dir/debs" "$dir/root"
cd "$dir/debs"

common=$(apt-cache depends "${target[@]}" "linux-headers-$abi" |
	awk '/Depends: linux-headers-.*-common/ { print $2; exit }')
kbuild=$(apt-cache depends "${target[@]}" "linux-headers-$abi" |
	awk '/Depends: linux-kbuild-/ { print $2; exit }')
[ -n "$common" ] && [ -n "$kbuild" ] || die "cannot resolve header packages of $abi"

pkgs=("linux-image-$abi-unsigned" "linux-headers-$abi" "$common" "$kbuild")
apt-get download -qq -o APT::Sandbox::User=root "${target[@]}" "${pkgs[@]}" >/dev/null ||
	die "apt-get download ${pkgs[*]} failed (network or apt lists: run make deps)"

for deb in *.deb; do
	dpkg-deb -x "$deb" ../root
done
cd ..

root=$dir/root
hdr=$root/usr/src/linux-headers-$abi
[ -d "$hdr" ] || die "headers missing in unpacked packages of $abi"
# The headers Makefile includes the -common tree by absolute path;
# point it into our unpacked root instead of /usr/src.
sed -i "s|^include /usr/src/|include $root/usr/src/|" "$hdr/Makefile"
# scripts/ and tools are symlinks into /usr/lib/linux-kbuild-*: relink.
for l in "$hdr"/scripts "$hdr"/tools "$hdr"/Makefile.kbuild; do
	[ -L "$l" ] || continue
	t=$(readlink "$l")
	case "$t" in
	/*) ln -sfn "$root$t" "$l" ;;
	esac
done
find "$root/usr/src" -maxdepth 3 -type l | while read -r l; do
	t=$(readlink "$l")
	case "$t" in
	/usr/*) ln -sfn "$root$t" "$l" ;;
	esac
done

ln -sfn "root/boot/vmlinuz-$abi" "$dir/vmlinuz"
ln -sfn "root/usr/src/linux-headers-$abi" "$dir/build"
ln -sfn "root/lib/modules/$abi" "$dir/modules"
[ -e "$dir/vmlinuz" ] || die "no vmlinuz in linux-image-$abi-unsigned"
rm -rf "$dir/debs"
echo "$abi" > "$dir/abi"
touch "$dir/.complete"
echo "$dir"
