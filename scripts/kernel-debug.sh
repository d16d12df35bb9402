#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel-debug.sh [CACHEDIR]
#
# Build the debug kernel the module's tests boot as "6.1-debug": Debian's
# linux-source (the 6.1 the stock VMs boot), `make tinyconfig` plus
# scripts/kernel-debug.config (VM needs, BPF + BTF, KASAN, lockdep,
# kmemleak, UBSAN, KFENCE, debug objects), and print its directory, laid
# out as kernel-fetch.sh lays out Debian's kernels: vmlinuz, build (the
# tree, for building sockfan.ko), modules, abi.
#
# The result is cached machine-wide, outside any clone (CACHEDIR, default
# $SOCKFAN_CACHE or /var/cache/sockfan), under a key made of the source
# package, the config fragment, the recipe and the compiler, so that a
# fresh clone's make check reuses it and any change rebuilds it.  One
# build at a time per key (flock); a build that did not finish is never
# used.  About 7 to 10 minutes on 2 cores.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=$(realpath -m "${1:-${SOCKFAN_CACHE:-/var/cache/sockfan}}")
fragment=$here/kernel-debug.config

die() {
	echo "kernel-debug: $*" >&2
	exit 1
}

tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null) ||
	die "no /usr/src/linux-source-6.1.tar.xz (install linux-source-6.1: make deps)"
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
	die "linux-source-6.1 is not an installed package (make deps)"
# bump when the build steps below change what gets built
recipe=1
key=$( { echo "$srcver recipe $recipe"; cat "$fragment"; gcc --version | head -n 1
	pahole --version; } | sha256sum | cut -c1-16)
dir=$cache/kernel-6.1-debug-$key

# the kernel command line its VMs add (selftests/vm/run.sh): a warning
# is a failure, and the log keeps a whole run's lockdep and KASAN reports
done_dir() {
	echo "panic_on_warn=1 log_buf_len=4M" >"$dir/cmdline"
	echo "$dir"
	exit 0
}

[ -f "$dir/.complete" ] && done_dir

mkdir -p "$cache" || die "cannot create the cache directory $cache (set SOCKFAN_CACHE)"
exec 9>"$cache/.lock-$key"
flock 9
# built by another run while this one waited
[ -f "$dir/.complete" ] && done_dir

start=$SECONDS
# built in place (paths in the tree stay right); .complete marks it done
tmp=$dir
rm -rf "$tmp"
mkdir -p "$tmp/src"
log=$tmp/build.log
echo "kernel-debug: building the 6.1 debug kernel into $dir (log: $log)" >&2
tar -xJf "$tarball" -C "$tmp/src" --strip-components=1 ||
	die "cannot unpack $tarball"
src=$tmp/src

kmake() {
	make -C "$src" ARCH=x86_64 -j"$(nproc)" "$@" >>"$log" 2>&1 ||
		die "make $* failed in $src (see $log, last lines above)" \
			"$(tail -n 20 "$log" >&2)"
}

kmake tinyconfig
{
	echo 'CONFIG_LOCALVERSION="-sockfan-debug"'
	echo '# CONFIG_LOCALVERSION_AUTO is not set'
	grep -v '^#' "$fragment" | grep .
	grep '^# CONFIG_.* is not set' "$fragment"
} >>"$src/.config"
kmake olddefconfig

# every option asked for must have survived olddefconfig
missing=
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*|"# CONFIG_"*" is not set")
		grep -qxF -- "$line" "$src/.config" || missing="$missing
  $line" ;;
	esac
done <"$fragment"
[ -z "$missing" ] ||
	die "options dropped by olddefconfig (a dependency is missing):$missing"

kmake all
rel=$(make -s -C "$src" ARCH=x86_64 kernelrelease)
kmake modules_install INSTALL_MOD_PATH="$tmp/root"

# objects are not needed to build external modules: keep the tree, its
# generated headers, tools, Module.symvers and vmlinux (BTF base and
# symbols for decoding traces), drop the rest
find "$src" \( -path "$src/scripts" -o -path "$src/tools" \) -prune -o \
	\( -name '*.o' -o -name '*.a' \) -type f -print0 | xargs -0 rm -f

ln -sfn src/arch/x86/boot/bzImage "$tmp/vmlinuz"
ln -sfn src "$tmp/build"
ln -sfn "root/lib/modules/$rel" "$tmp/modules"
echo "$rel" >"$tmp/abi"
echo "$((SECONDS - start))" >"$tmp/build-seconds"
touch "$dir/.complete"
# finished builds of other keys (an older source or config) are not used
# again; one still building is another run's
for old in "$cache"/kernel-6.1-debug-*; do
	[ "$old" = "$dir" ] || [ ! -f "$old/.complete" ] || rm -rf "$old"
done
echo "kernel-debug: built $rel in $((SECONDS - start)) s" >&2
done_dir
