#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmlinux-btf.sh KERNEL_DIR OUT: vmlinux.h from the BTF inside a Debian
# kernel image, for building the BPF object on a host whose own kernel
# has no /sys/kernel/btf/vmlinux.  CO-RE relocates at load time, so any
# recent kernel's types will do.
set -euo pipefail

kdir=${1:?usage: vmlinux-btf.sh KERNEL_DIR OUT}
out=${2:?usage: vmlinux-btf.sh KERNEL_DIR OUT}
top=$(cd "$(dirname "$0")/.." && pwd)
src=$("$top/scripts/linux-src.sh" "$top/build/linux-src")
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

"$src/scripts/extract-vmlinux" "$kdir/vmlinuz" >"$tmp" ||
	{ echo "vmlinux-btf: cannot extract vmlinux from $kdir/vmlinuz" >&2; exit 1; }
bpftool btf dump file "$tmp" format c >"$out"
