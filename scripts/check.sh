#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: every test suite of the project, each writing TAP, then
# one closing line counting the top-level results of all of them:
#   N passed, N failed, N skipped
# Suites: coding style (checkpatch), the command's layers (includes point
# one way, no cycle: check-layers.sh), module builds with W=1 for each
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

# W=1 build of the module against one Debian kernel's headers (number
# N of the plan): any compiler or modpost warning fails it
kmod_build() {
	local n=$1 flavour=$2 dir log=$out/kmod-$2.log

	if ! dir=$("$top/scripts/kernel-fetch.sh" "$flavour" "$top/build/kernels"); then
		echo "not ok $n sockfan.ko W=1 build for $flavour # cannot fetch the kernel"
		return
	fi
	if make -C "$top/kmod" KDIR="$dir/build" OUT="$top/build/kmod/$(cat "$dir/abi")" \
		W=1 >"$log" 2>&1 && ! grep -qiE 'warning:|error:' "$log"; then
		echo "ok $n sockfan.ko W=1 build for $flavour ($(cat "$dir/abi")), no warnings"
	else
		grep -iE 'warning:|error:' "$log" | head -20 | sed 's/^/# /'
		echo "not ok $n sockfan.ko W=1 build for $flavour ($(cat "$dir/abi"))"
	fi
}

# the kernels' module builds, two at a time (a kernel not cached yet is
# fetched, or built, first: scripts/kernel-fetch.sh), TAP in their order
kmod_builds() {
	local n=0 flavour

	echo "TAP version 13"
	echo "1..$#"
	for flavour in "$@"; do
		n=$((n + 1))
		kmod_build $n "$flavour" >"$out/kmod-$flavour.tap" &
		((n % 2)) || wait
	done
	wait
	for flavour in "$@"; do
		cat "$out/kmod-$flavour.tap"
	done
}

fuzz_suite() {
	if ! make -s -C "$top" fuzzers >"$out/fuzz-build.log" 2>&1; then
		sed 's/^/# /' "$out/fuzz-build.log" | tail -20
		echo "not ok 1 fuzzers build (make fuzzers)"
		return 1
	fi
	"$top/scripts/fuzz.sh" "$fuzz_seconds" proc events args cgroup
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

# VM runs, each with single-threaded TCG (one host thread, two vCPUs), in
# two lanes side by side, each lane taking the next run not yet taken,
# the longest first.  A test runs one scenario at a time, so a VM of its
# own uses one host core about as well as multi-threaded TCG uses two:
# two such VMs side by side took 378 and 393 s for 6.1's and 6.12's whole
# suites, against 332 + 355 s one after the other with multi-threaded
# TCG.  And single-threaded TCG keeps kernel text that insmod and rmmod
# patch coherent for the other vCPU, which multi-threaded TCG does not
# (6.1-rt ended in a jump to address 0 through a kretprobe's return).
#
# What each kernel runs, within make check's 30 minutes (the two lanes
# keep both cores busy: what counts is the sum of the VMs' times):
#  - Debian's 6.12: every selftest but cli, formats and cgroup, which
#    test the command alone (the host runs them: cgroups are read from
#    /proc/PID/cgroup, the same on every kernel), and the iterator's,
#    which 6.1 (the oldest verifier) and the host's 6.18 bracket;
#  - Debian's 6.1: the module's, and the BPF ones whose hooks differ
#    from 6.12's (listener lookups by kretprobe: fexit takes at most six
#    arguments there; overflows by fentry), that run every plan, or
#    the socket iterator (its helpers on 6.1's verifier); the
#    rest of the BPF path runs the same programs as on 6.12 and the host;
#  - 6.1-rt: what PREEMPT_RT changes is the module's locking: its life
#    cycle, faults (a full table), seeding, a fanout scenario and the
#    torture, and one BPF scenario; the module's other scenarios take the
#    same locks, and run on 6.1 and 6.12; and the lookup command's
#    reuseport prediction, which must hold on every kernel;
#  - each of these three: the torture test last, for
#    SOCKFAN_TORTURE_SECONDS (45 s): it loads and unloads the module
#    under readers, namespace churn and a storm;
#  - the debug kernel (about ten times slower than 6.1 under TCG): the
#    module's life cycle and faults, the scenarios that drive each of its
#    hooks (fanout over IPv4 and IPv6, accept queue, close-wait, lookup,
#    reuseport) and every BPF hook plan through the verifier, in three
#    VMs, and the torture in a fourth, for 90 s (about 45 s a load
#    there); make check-debug runs every selftest there (the views, the
#    Python server, the seeding of 6000 connections, the BPF scenarios:
#    with them, make check took 1977 s);
#  - make stress: the torture for 600 s and the load/unload cycles, each
#    kernel in a VM of its own.
names=()
kernels=()
tests=()
cmdlines=()

# vm_job NAME KERNEL TESTS [CMDLINE]: one VM run (TESTS empty: all)
vm_job() {
	[[ " $vm_kernels " == *" $2 "* ]] || return 0
	names+=("$1")
	kernels+=("$2")
	tests+=("$3")
	cmdlines+=("${4:-}")
}

# every module selftest but those named
# selftests (GLOB of selftests/) but those named, the torture and the
# load/unload cycles (which run where a VM names them: require_own_vm)
tests_but() {
	local t glob=$1 skip=" $* sockfan_kmod_torture.sh sockfan_kmod_cycles.sh "

	for t in "$top"/selftests/$glob; do
		[[ "$skip" == *" ${t##*/} "* ]] || printf '%s ' "${t##*/}"
	done
}

# every module selftest but those named
module_tests() {
	tests_but "sockfan_*_proc.sh" "$@"
	tests_but "sockfan_kmod_*.sh"
}

# the kernel command line of a VM that runs the torture for SECS
torture_cmdline() {
	echo "sockfan_test.torture=$1 sockfan_test.cycles=${SOCKFAN_KMOD_CYCLES:-100} sockfan_test.timeout=${SOCKFAN_KMOD_TIMEOUT:-300}"
}

# vm_tests NAME KERNEL TESTS: a VM run of TESTS (SOCKFAN_VM_TESTS instead,
# if set), then the torture, for 45 s
vm_tests() {
	vm_job "$1" "$2" "${SOCKFAN_VM_TESTS:-$3 sockfan_kmod_torture.sh}" \
		"$(torture_cmdline "${SOCKFAN_TORTURE_SECONDS:-45}")"
}

# a VM of its own: the torture (make stress: for 600 s, and the cycles)
torture_job() {
	local secs=${SOCKFAN_TORTURE_SECONDS:-45} list=sockfan_kmod_torture.sh

	[ "$1" = 6.1-debug ] && secs=${SOCKFAN_TORTURE_SECONDS:-90}
	[ $stress = 1 ] && list="sockfan_kmod_torture.sh sockfan_kmod_cycles.sh"
	vm_job "vm-torture-$1" "$1" "$list" "$(torture_cmdline "$secs")"
}

start=$SECONDS
stress=0
[ "${1:-}" = --stress ] && stress=1	# make stress: the torture VMs only
if [ $stress = 0 ]; then
	suite style "$top/scripts/checkpatch.sh"
	suite layers "$top/scripts/check-layers.sh"
	# shellcheck disable=SC2086 # a list of kernel flavours
	suite kmod-build kmod_builds $vm_kernels
fi

debug_cmdline="sockfan_test.timeout=${SOCKFAN_KMOD_TIMEOUT:-600} sockfan_test.serve=0"
# the longest first, so that the lanes end together (both lanes busy all
# along: make check's time is about the sum of the VMs' over two)
if [ $stress = 0 ]; then
	vm_tests vm-6.12 6.12 "$(tests_but "sockfan_*.sh" sockfan_cli.sh sockfan_formats.sh \
sockfan_cgroup.sh sockfan_iter.sh)"
	# the debug kernel's share in three VMs of about 7, 6 and 5 minutes;
	# a test may take 10 minutes there before it counts as hung
	vm_job vm-6.1-debug-a 6.1-debug "sockfan_lookup_proc.sh sockfan_reuseport_proc.sh \
sockfan_acceptq_proc.sh" "$debug_cmdline"
	vm_tests vm-6.1 6.1 "$(module_tests) sockfan_plans.sh sockfan_hook_cost.sh \
sockfan_lookup_bpf.sh sockfan_reuseport_bpf.sh sockfan_acceptq_bpf.sh sockfan_fanout_bpf.sh \
sockfan_iter.sh sockfan_balance_bpf.sh sockfan_lookup_cmd.sh sockfan_lookup_sklookup.sh"
	vm_job vm-6.1-debug-b 6.1-debug "sockfan_fanout_proc.sh sockfan_fanout6_proc.sh \
sockfan_kmod_lifecycle.sh sockfan_kmod_faults.sh" "$debug_cmdline"
	vm_job vm-6.1-debug-c 6.1-debug "sockfan_plans.sh sockfan_closewait_proc.sh" \
		"$debug_cmdline"
fi
torture_job 6.1-debug
if [ $stress = 0 ]; then
	# the shortest last, so that neither lane idles long at the end
	vm_tests vm-6.1-rt 6.1-rt "sockfan_fanout_proc.sh sockfan_kmod_lifecycle.sh \
sockfan_kmod_faults.sh sockfan_kmod_seed.sh sockfan_fanout_bpf.sh sockfan_lookup_cmd.sh"
else
	torture_job 6.1
	torture_job 6.12
	torture_job 6.1-rt
fi

# single_vm I LANE: run I, its TAP and time into files, shown at the end
single_vm() {
	local start=$SECONDS

	SOCKFAN_VM_TCG_THREAD=single SOCKFAN_VM_SLOT=$2 SOCKFAN_VM_TESTS=${tests[$1]} \
		SOCKFAN_VM_CMDLINE=${cmdlines[$1]} vm_suite "${kernels[$1]}" \
		>"$out/${names[$1]}.tap" 2>&1
	echo "### ${names[$1]}: $((SECONDS - start)) s (lane $2)" >"$out/${names[$1]}.time"
}

# The VM lanes start now and the fuzzers and host selftests run beside
# them: a VM keeps a core busy, the host tests mostly wait (on servers,
# clients, timeouts), so beside the lanes they cost them less than the
# 4 minutes they take alone.  The selftests' helpers are built first:
# every lane and the host suite install them.
make -s -C "$top/selftests" >"$out/selftests-build.log" 2>&1 ||
	sed 's/^/# selftests build: /' "$out/selftests-build.log"
rm -rf "$out/taken"
mkdir -p "$out/taken"
lanes=()
for lane in 0 1; do
	for i in "${!names[@]}"; do
		# mkdir is atomic: the lane that makes it runs it
		mkdir "$out/taken/$i" 2>/dev/null && single_vm "$i" $lane
	done &
	lanes+=($!)
done
if [ $stress = 0 ]; then
	suite fuzz fuzz_suite
	suite host host_suite
fi
wait "${lanes[@]}"
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
