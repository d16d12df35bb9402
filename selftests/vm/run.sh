#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh 6.1|6.12|6.1-rt|6.1-debug
#
# Run sockfan's kselftests in a qemu TCG VM booting Debian's own kernel
# of that flavour, with sockfan.ko built for it, and print TAP: one
# top-level result per test ("vm <abi>:" in its name, so the runs on
# several kernels stay apart) plus a kernel-log check.  Exit 0 iff all
# passed.  Everything else goes to build/vm/<abi>/: console.log (the
# whole serial console), tap.log, kmod.log, image.log, the initramfs
# (build/vm/<abi>/slotN/ for single-threaded TCG, SOCKFAN_VM_SLOT=N).
set -uo pipefail

flavour=${1:?usage: selftests/vm/run.sh 6.1|6.12|6.1-rt|6.1-debug}
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/selftests/vm
ksft=$top/build/linux-src/tools/testing/selftests
vm_timeout=${SOCKFAN_VM_TIMEOUT:-900}
# SOCKFAN_VM_TESTS="sockfan_cli.sh ...": only these (default: all)
only_tests=$(printf '%s' "${SOCKFAN_VM_TESTS:-}" | tr ' ' ',')
# SOCKFAN_VM_CMDLINE: more for the kernel command line (sockfan_test.cycles=N,
# sockfan_test.timeout=S); SOCKFAN_VM_TCG_THREAD=single: one host thread for
# all vCPUs (see selftests/sockfan_kmod_cycles.sh)
extra_cmdline=${SOCKFAN_VM_CMDLINE:-}
# SOCKFAN_VM_BENCH="run.sh 3 5": run that bench/ script with its arguments
# instead of the tests (bench/vm.sh); SOCKFAN_VM_MEM: guest memory (1G)
bench=$(printf '%s' "${SOCKFAN_VM_BENCH:-}" | tr ' ' ',')
mem=${SOCKFAN_VM_MEM:-1G}
# modules the tests need from the image package: sock_diag for ss and
# sockfan's seeding; veth for tests wiring namespaces together
modules=(inet_diag tcp_diag veth)

echo "TAP version 13"

# setup failure: one failed result, so `make check` counts it
fail() {
	echo "not ok 1 vm $flavour: $*"
	echo "1..1"
	exit 1
}

dir=$("$top/scripts/kernel-fetch.sh" "$flavour" "$top/build/kernels") ||
	fail "cannot fetch Debian's $flavour kernel (see the message above; run make deps)"
abi=$(cat "$dir/abi")
# what this kernel wants on its command line (the debug kernel's
# panic_on_warn), from its directory
kernel_cmdline=$(cat "$dir/cmdline" 2>/dev/null)
out=$top/build/vm/$abi
# VMs with single-threaded TCG run two side by side (SOCKFAN_VM_SLOT),
# perhaps of one kernel: each slot builds its own image
[ "${SOCKFAN_VM_TCG_THREAD:-multi}" = single ] && out=$out/slot${SOCKFAN_VM_SLOT:-0}
root=$out/root
tests=$root/selftests/sockfan
rm -rf "$root"
mkdir -p "$tests"
log=$out/image.log
: >"$log"

# --- the module, built for this very kernel (vermagic) -----------------
ko=
if [ ! -f "$top/kmod/Makefile" ]; then
	echo "# no kmod/Makefile: the module tests run without sockfan.ko"
elif mkdir -p "$top/build/kmod" &&
     flock "$top/build/kmod/.build.lock" make -C "$top/kmod" KDIR="$dir/build" \
	OUT="$top/build/kmod/$abi" >"$out/kmod.log" 2>&1; then
	ko=$top/build/kmod/$abi/sockfan.ko
else
	echo "# sockfan.ko build for $abi failed (${out#"$top"/}/kmod.log): module tests run without it"
fi

# --- the selftests, installed as kselftest lays them out ---------------
"$top/scripts/linux-src.sh" "$top/build/linux-src" >>"$log" 2>&1 ||
	fail "scripts/linux-src.sh failed (kselftest runner missing; run make deps)"
make -s -C "$top/selftests" install INSTALL_PATH="$tests" >>"$log" 2>&1 ||
	fail "make -C selftests install failed (see ${out#"$top"/}/image.log; lib.mk needs rsync: make deps)"
make -s -C "$top/selftests" emit_tests COLLECTION=sockfan \
	>"$root/selftests/kselftest-list.txt" 2>>"$log" ||
	fail "make -C selftests emit_tests failed (see ${out#"$top"/}/image.log)"
if ! cp "$ksft/run_kselftest.sh" "$ksft/kselftest" -r -t "$root/selftests"; then
	fail "kselftest runner missing in $ksft (run scripts/linux-src.sh build/linux-src)"
fi
# lib.sh looks for the CLI and the module next to the tests
if [ -x "$top/build/sockfan" ]; then
	cp "$top/build/sockfan" "$tests/"
else
	echo "# build/sockfan missing (run make cli): tests needing it skip"
fi
[ -z "$ko" ] || cp "$ko" "$tests/"
if [ -n "$bench" ]; then
	mkdir -p "$root/bench"
	cp "$top"/bench/*.sh "$root/bench/" || fail "cannot copy bench/ into the image"
fi

# --- the root file system ----------------------------------------------
# merged /usr as on Debian, so ldd's paths land where the loader looks
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{dev,proc,sys,tmp,run,root,etc} \
	"$root"/var/{log,lib}/nginx
for d in bin sbin lib lib64; do
	ln -s "usr/$d" "$root/$d"
done

# real tools where busybox's differ: bash for the tests, iproute2 for
# `ip netns` and ss, coreutils timeout (--foreground, used by the
# kselftest runner), util-linux setpriv (--reuid), procps pkill (-P; not
# in Debian's busybox), nginx for the tests
bins=("$tests/sockfan_connect" "$tests/sockfan_listen")
[ -x "$tests/sockfan" ] && bins+=("$tests/sockfan")
extra_bins=()
[ -n "$bench" ] && extra_bins=(wrk date getconf)
for b in bash ip ss nstat timeout setpriv pkill nginx "${extra_bins[@]}"; do
	p=$(command -v "$b") || fail "$b not installed on the host (run make deps)"
	cp -L "$p" "$root/usr/bin/$b"
	bins+=("$p")
done
# Debian's python3 for http.server, with the standard library but not
# its tests, caches and GUI parts (about 13 MB instead of 54)
py=$(readlink -f /usr/bin/python3) || fail "no /usr/bin/python3 (install python3: make deps)"
pylib=/usr/lib/$(basename "$py")
cp "$py" "$root/usr/bin/python3"
mkdir -p "$root$pylib"
rsync -a --exclude test --exclude __pycache__ --exclude idlelib --exclude tkinter \
	--exclude ensurepip --exclude lib2to3 --exclude turtledemo --exclude 'config-*' \
	--exclude site-packages --exclude dist-packages "$pylib/" "$root$pylib/" ||
	fail "cannot copy $pylib into the image (see ${out#"$top"/}/image.log)"
bins+=("$py" "$pylib"/lib-dynload/*.so)
for lib in $(ldd "${bins[@]}" 2>>"$log" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
	$1 ~ /^\// && $2 ~ /^\(/ { print $1 }' | sort -u); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
cp /bin/busybox "$root/usr/bin/busybox" ||
	fail "no /bin/busybox (install busybox-static: make deps)"
for a in $(busybox --list); do
	[ -e "$root/usr/bin/$a" ] || [ -e "$root/usr/sbin/$a" ] ||
		ln -s busybox "$root/usr/bin/$a"
done

# nginx runs as "user root"; the CLI test drops to nobody
cat >"$root/etc/passwd" <<-EOF
	root:x:0:0:root:/root:/bin/bash
	nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' >"$root/etc/hosts"

# kernel modules with their dependencies first, decompressed for
# busybox insmod; /lib/modules/load.list gives /init the order
mkdir -p "$root/lib/modules/$abi"
: >"$root/lib/modules/load.list"
add_module() {
	local name=$1 f dep
	grep -qx "/lib/modules/$abi/$name.ko" "$root/lib/modules/load.list" && return 0
	# built into the kernel (the debug kernel's config)
	grep -qE "/${name}\.ko|/${name//_/-}\.ko" "$dir/modules/modules.builtin" 2>/dev/null &&
		return 0
	f=$(find "$dir/modules/kernel" \( -name "$name.ko*" -o -name "${name//_/-}.ko*" \) | head -n 1)
	[ -n "$f" ] || { echo "# module $name not in $abi's image package"; return 1; }
	for dep in $(modinfo -F depends "$f" | tr , ' '); do
		add_module "$dep" || return 1
	done
	case "$f" in
	*.xz) xz -dc "$f" ;;
	*.zst) zstd -qdc "$f" ;;
	*) cat "$f" ;;
	esac >"$root/lib/modules/$abi/$name.ko" || return 1
	echo "/lib/modules/$abi/$name.ko" >>"$root/lib/modules/load.list"
}
for m in "${modules[@]}"; do
	add_module "$m"
done

install -m 755 "$here/init.sh" "$root/init" || fail "cannot install $here/init.sh as /init"
initrd=$out/initrd.gz
# logs of a run with chosen tests apart from the full run's
# (a long list is named by its checksum: a file name has 255 bytes at most)
run=${only_tests:+-$(printf '%s' "$only_tests" | tr -c 'a-zA-Z0-9_\n' '_')}
[ ${#run} -gt 64 ] && run=-tests-$(printf '%s' "$only_tests" | md5sum | cut -c1-12)
[ -n "$bench" ] && run=-bench-$(printf '%s' "$bench" | tr -c 'a-zA-Z0-9_\n' '_')
console=$out/console$run.log
taplog=$out/tap$run.log
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$initrd" ||
	fail "cannot pack the initramfs $initrd (cpio, gzip; see ${out#"$top"/}/image.log)"

# --- boot ----------------------------------------------------------------
# A VM with multi-threaded TCG takes both cores: it runs alone.  One with
# single-threaded TCG takes one core, so two may run side by side, each
# in a slot of its own (SOCKFAN_VM_SLOT=0|1).  ttyS0 is the console,
# ttyS1 the TAP.
lock=(flock /tmp/sockfan-vm.lock)
if [ "${SOCKFAN_VM_TCG_THREAD:-multi}" = single ]; then
	lock=(flock -s /tmp/sockfan-vm.lock flock "/tmp/sockfan-vm-slot${SOCKFAN_VM_SLOT:-0}.lock")
fi
start=$SECONDS
rm -f "$console" "$taplog"
"${lock[@]}" timeout "$vm_timeout" \
	qemu-system-x86_64 -accel "tcg,thread=${SOCKFAN_VM_TCG_THREAD:-multi}" -m "$mem" -smp 2 -nodefaults -display none -no-reboot \
	-kernel "$dir/vmlinuz" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1 oops=panic${kernel_cmdline:+ $kernel_cmdline}${only_tests:+ sockfan_test.tests=$only_tests}${bench:+ sockfan_bench=$bench}${extra_cmdline:+ $extra_cmdline}" \
	-serial "file:$console" -serial "file:$taplog" \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 >>"$log" 2>&1
qemu_rc=$?

# --- TAP: the guest's results renumbered, its headers replaced ----------
n=0
failed=0
verdict=
while IFS= read -r line; do
	line=${line%$'\r'}
	if [[ $line =~ ^(not\ ok|ok)\ [0-9]+\ ?(.*)$ ]]; then
		n=$((n + 1))
		[ "${BASH_REMATCH[1]}" = ok ] || failed=1
		echo "${BASH_REMATCH[1]} $n vm $abi: ${BASH_REMATCH[2]}"
	elif [[ $line =~ ^#\ sockfan-vm:\ end\ rc=([0-9]+) ]]; then
		verdict=${BASH_REMATCH[1]}
	elif [[ $line =~ ^(TAP\ version|[0-9]+\.\.[0-9]+) ]]; then
		continue
	elif [ -n "$line" ]; then
		# nested output is "# "-prefixed already; anything else is made so
		[[ $line == "#"* ]] && echo "$line" || echo "# $line"
	fi
done < <(cat "$taplog" 2>/dev/null)

# (rc << 1) | 1 from isa-debug-exit: 1 passed, 3 failed; else no verdict
[ "${verdict:-1}" = 0 ] || failed=1
if [ -z "$verdict" ] || { [ "$qemu_rc" != 1 ] && [ "$qemu_rc" != 3 ]; }; then
	why="qemu exit $qemu_rc"
	[ "$qemu_rc" = 124 ] && why="timed out after $vm_timeout s"
	n=$((n + 1))
	failed=1
	echo "not ok $n VM on $abi produced no verdict ($why) # see ${console#"$top"/}"
	# the first kernel error names the culprit; the tail shows the end
	tr -d '\r' <"$console" 2>/dev/null |
		grep -m 1 -A 24 -E 'BUG:|Oops|WARNING:|general protection|Kernel panic' | sed 's/^/# /'
	echo "# ... last console lines:"
	tail -n 20 "$console" 2>/dev/null | tr -d '\r' | sed 's/^/# /'
fi
echo "# vm $abi: $((SECONDS - start)) s for the VM run (TCG)"
echo "1..$n"
[ $failed = 0 ]
