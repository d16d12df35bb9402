#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every test suite of the project, each writing TAP, then
# one closing line counting the top-level results of all of them:
#   N passed, N failed, N skipped
# Suites: coding style (checkpatch), module builds with W=1 for each
# kernel, the fuzzers for a bounded time (SOCKFAN_FUZZ_SECONDS each, 10
# by default; make fuzz runs them longer), host selftests (BPF path), VM
# selftests (module and BPF paths) on Debian's kernels and on a debug
# kernel built from Debian's linux-source (KASAN, lockdep, kmemleak, ...;
# scripts/kernel-debug.sh, cached machine-wide), and a torture VM per
# kernel.  SOCKFAN_VM_KERNELS picks the VM kernels.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/check
vm_kernels=${SOCKFAN_VM_KERNELS:-6.1 6.12 6.1-rt 6.1-debug}
fuzz_seconds=${SOCKFAN_FUZZ_SECONDS:-10}
mkdir -p "$out"
rm -f "$out"/*.tap

# suite NAME CMD...: run one suite, show its output, keep its TAP
suite() {
	local name=$1 start=$SECONDS
	shift
	echo "### $name"
	"$@" 2>&1 | tee "$out/$name.tap"
	echo "### $name: $((SECONDS - start)) s"
}

# W=1 build of the module against one Debian kernel's headers: any
# compiler or modpost warning fails it
kmod_builds() {
	local n=0 flavour dir log
	echo "TAP version 13"
	echo "1..$#"
	for flavour in "$@"; do
		n=$((n + 1))
		log=$out/kmod-$flavour.log
		if ! dir=$("$top/scripts/kernel-fetch.sh" "$flavour" "$top/build/kernels"); then
			echo "not ok $n sockfan.ko W=1 build for $flavour # cannot fetch the kernel"
			continue
		fi
		if make -C "$top/kmod" KDIR="$dir/build" OUT="$top/build/kmod/$(cat "$dir/abi")" \
			W=1 >"$log" 2>&1 && ! grep -qiE 'warning:|error:' "$log"; then
			echo "ok $n sockfan.ko W=1 build for $flavour ($(cat "$dir/abi")), no warnings"
		else
			grep -iE 'warning:|error:' "$log" | head -20 | sed 's/^/# /'
			echo "not ok $n sockfan.ko W=1 build for $flavour ($(cat "$dir/abi"))"
		fi
	done
}

fuzz_suite() {
	if ! make -s -C "$top" fuzzers >"$out/fuzz-build.log" 2>&1; then
		sed 's/^/# /' "$out/fuzz-build.log" | tail -20
		echo "not ok 1 fuzzers build (make fuzzers)"
		return 1
	fi
	"$top/scripts/fuzz.sh" "$fuzz_seconds" proc events args
}

# The host selftests as kselftest runs them once installed (the same
# layout the VM image gets): run_kselftest.sh finds the collection's
# "settings" (per-test timeout) there, which lib.mk's run_tests does not
# for a directory outside the kernel tree (it falls back to 45 s).
host_suite() {
	local root=$top/build/ksft ksft=$top/build/linux-src/tools/testing/selftests

	rm -rf "$root"
	mkdir -p "$root/sockfan"
	if ! make -s -C "$top/selftests" install INSTALL_PATH="$root/sockfan" >"$out/host-install.log" 2>&1 ||
	   ! make -s -C "$top/selftests" emit_tests COLLECTION=sockfan >"$root/kselftest-list.txt" ||
	   ! cp -r "$ksft/run_kselftest.sh" "$ksft/kselftest" "$root/"; then
		sed 's/^/# /' "$out/host-install.log" | tail -20
		echo "not ok 1 host selftests: install into $root (make -C selftests install)"
		return 1
	fi
	(cd "$root" && SOCKFAN="$top/build/sockfan" SOCKFAN_KO="$top/build/kmod/host/sockfan.ko" \
		SOCKFAN_SRC="$top" ./run_kselftest.sh)
}

vm_suite() {
	if [ ! -x "$top/selftests/vm/run.sh" ]; then
		echo "not ok 1 VM selftests on $1 # selftests/vm/run.sh missing"
		return 1
	fi
	"$top/selftests/vm/run.sh" "$1"
}

# The selftests each VM kernel runs in make check, within its 30 minutes
# (the whole suite everywhere would take over an hour, most of it on the
# debug kernel: make check-debug runs all of it there).  Debian's 6.1 and
# 6.12: all.  6.1-rt: the module's (its locking is what PREEMPT_RT
# changes) and one BPF scenario.  The debug kernel: the module's life
# cycle and faults, and every BPF hook plan through the verifier (the
# seeding test, 6000 queued connections at load, did not end within 300 s
# there: it runs in make check-debug; the torture test seeds at each load).
vm_tests() {
	local t

	case "$1" in
	6.1-rt)
		# not the cycles and torture tests: their own VMs run them
		for t in "$top"/selftests/sockfan_*_proc.sh "$top"/selftests/sockfan_kmod_*.sh; do
			case "${t##*/}" in
			sockfan_kmod_cycles.sh|sockfan_kmod_torture.sh) ;;
			*) printf '%s ' "${t##*/}" ;;
			esac
		done
		echo sockfan_fanout_bpf.sh ;;
	6.1-debug)
		echo sockfan_kmod_lifecycle.sh sockfan_kmod_faults.sh sockfan_plans.sh ;;
	*)	echo "${SOCKFAN_VM_TESTS:-}" ;;
	esac
}

# single_vm NAME KERNEL SLOT TESTS [CMDLINE]: a VM with single-threaded
# TCG (one core), its TAP and time into files, shown once all are done
single_vm() {
	local start=$SECONDS

	SOCKFAN_VM_TCG_THREAD=single SOCKFAN_VM_SLOT=$3 SOCKFAN_VM_TESTS=$4 \
		SOCKFAN_VM_CMDLINE=${5:-} vm_suite "$2" >"$out/$1.tap" 2>&1
	echo "### $1: $((SECONDS - start)) s" >"$out/$1.time"
}

start=$SECONDS
stress=0
[ "${1:-}" = --stress ] && stress=1	# make stress: the torture VMs only
if [ $stress = 0 ]; then
	suite style "$top/scripts/checkpatch.sh"
	# shellcheck disable=SC2086 # a list of kernel flavours
	suite kmod-build kmod_builds $vm_kernels
	suite fuzz fuzz_suite
	suite host host_suite
	for k in $vm_kernels; do
		[ "$k" = 6.1-rt ] && continue	# single-threaded, below
		SOCKFAN_VM_TESTS=$(vm_tests "$k") suite "vm-$k" vm_suite "$k"
	done
fi

# VMs with single-threaded TCG, one core each, in two lanes side by side.
# The torture test (sockfan_kmod_torture.sh) on every kernel: like the
# load/unload cycles of make stress (sockfan_kmod_cycles.sh, added
# there), it patches kernel text while the other vCPU runs it, which
# qemu's multi-threaded TCG does not make coherent.  6.1-rt's selftests
# too: their insmod under a running nginx ended there in a jump to
# address 0 in accept() (the kretprobe's return) under multi-threaded TCG.
names=()
kernels=()
tests=()
cmdlines=()
torture_tests=sockfan_kmod_torture.sh
[ $stress = 1 ] && torture_tests="sockfan_kmod_torture.sh sockfan_kmod_cycles.sh"
if [ $stress = 0 ] && [[ " $vm_kernels " == *" 6.1-rt "* ]]; then
	names+=(vm-6.1-rt)
fi
# the debug kernel's torture first, in the other lane than 6.1-rt's
# suite: it runs longer (one load/unload takes it about 45 s)
for k in $vm_kernels; do
	[ "$k" = 6.1-debug ] || continue
	names+=("vm-torture-$k")
done
for k in $vm_kernels; do
	[ "$k" = 6.1-debug ] && continue
	names+=("vm-torture-$k")
done
for name in "${names[@]}"; do
	k=${name#vm-}
	k=${k#torture-}
	secs=${SOCKFAN_TORTURE_SECONDS:-45}
	[ "$k" = 6.1-debug ] && secs=${SOCKFAN_TORTURE_SECONDS:-120}
	kernels+=("$k")
	if [ "$name" = vm-6.1-rt ]; then
		tests+=("$(vm_tests 6.1-rt)")
		cmdlines+=("")
	else
		tests+=("$torture_tests")
		cmdlines+=("sockfan_test.torture=$secs sockfan_test.cycles=${SOCKFAN_KMOD_CYCLES:-100} sockfan_test.timeout=${SOCKFAN_KMOD_TIMEOUT:-300}")
	fi
done
for lane in 0 1; do
	for ((i = lane; i < ${#names[@]}; i += 2)); do
		single_vm "${names[i]}" "${kernels[i]}" $lane "${tests[i]}" "${cmdlines[i]}"
	done &
done
wait
for name in "${names[@]}"; do
	echo "### $name"
	cat "$out/$name.tap" "$out/$name.time"
done

# top-level TAP results only: nested lines are indented or prefixed "# "
read -r passed failed skipped < <(cat "$out"/*.tap | awk '
	/^ok [0-9]+.*# *SKIP/ { s++; next }
	/^ok [0-9]+/ { p++; next }
	/^not ok [0-9]+/ { f++ }
	END { print p + 0, f + 0, s + 0 }')
echo "### make check took $((SECONDS - start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
