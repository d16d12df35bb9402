#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the sockfan test VM (built by selftests/vm/run.sh).  Runs the
# installed kselftests, adds a kernel-log check, writes the TAP to ttyS1
# (a second serial port, so kernel messages on the console never mix into
# it) and hands the verdict to qemu through isa-debug-exit at port 0xf4.
# busybox sh on purpose: this still reports when bash or a library is
# missing from the image.

export PATH=/usr/bin:/usr/sbin HOME=/root LANG=C
tap=/dev/ttyS1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# udev would make these: the kselftest runner writes to /dev/stdout
ln -s /proc/self/fd /dev/fd
ln -s fd/0 /dev/stdin
ln -s fd/1 /dev/stdout
ln -s fd/2 /dev/stderr
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
# BPF and tracepoint users expect these; sockfan mounts tracefs itself
# only inside `ip netns exec`, which remounts /sys
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up

# a result for the tap port: stdout too, so console.log has everything
say() {
	echo "$*" | tee -a /tmp/tap.txt "$tap"
}

# sock_diag for ss and sockfan's seeding, veth: listed in load order
while read -r ko; do
	insmod "$ko" || say "# insmod $ko failed: ss and seeding may fall back or fail"
done </lib/modules/load.list

# the debug kernel's kmemleak: what boot left unreferenced is not the
# tests' (scan, then forget those); the tests' leaks are scanned for last
kmemleak=/sys/kernel/debug/kmemleak
if [ -w $kmemleak ]; then
	echo scan >$kmemleak && echo clear >$kmemleak
fi

# sockfan_bench=run.sh,3,5 (bench/vm.sh): that benchmark instead of the
# tests, its output as TAP comments, one result for its exit code
bench=$(sed -n 's/.*sockfan_bench=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
if [ -n "$bench" ]; then
	# shellcheck disable=SC2086 # word splitting wanted: script and arguments
	set -- $bench
	# the module and the CLI as the tests find them
	SOCKFAN=/selftests/sockfan/sockfan SOCKFAN_KO=/selftests/sockfan/sockfan.ko \
		BENCH_OUT=/tmp/bench BENCH_TRACERS="none kmod sockfan serve" \
		bash "/bench/$@" >/tmp/bench.out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/bench.out | tee -a /tmp/tap.txt "$tap"
	if [ $rc = 0 ]; then
		say "ok 1 bench $*"
	else
		say "not ok 1 bench $* (exit $rc)"
	fi
else
	cd /selftests || say "# /selftests missing from the image"
	# sockfan_test.timeout=S on the kernel command line: per-test timeout
	t=$(sed -n 's/.*sockfan_test\.timeout=\([0-9]*\).*/\1/p' /proc/cmdline)
	[ -n "$t" ] && echo "timeout=$t" >sockfan/settings
	# sockfan_test.tests=a.sh,b.sh on the kernel command line: only those
	only=
	for t in $(sed -n 's/.*sockfan_test\.tests=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' '); do
		only="$only -t sockfan:$t"
	done
	# shellcheck disable=SC2086 # word splitting wanted: -t NAME pairs
	./run_kselftest.sh $only 2>&1 | tee -a /tmp/tap.txt "$tap"
fi

# what the kernel's bug finders print (selftests/kernel_log.pat: WARN,
# BUG, Oops, KASAN, UBSAN, KFENCE, lockdep, RCU, debug objects, stalls,
# leaks), anywhere during the run, e.g. in a test that passed; the taint
# notice of an unsigned out-of-tree module is not one of these
n=$(($(grep -cE '^(not )?ok ' /tmp/tap.txt) + 1))
# chosen tests of which none ran (a wrong name): a failure, not silence
if [ -n "$only" ] && [ "$n" = 1 ]; then
	say "not ok 1 none of the chosen tests ran:$only"
	n=2
fi
bad=$(dmesg | grep -E -f /selftests/sockfan/kernel_log.pat)
if [ -z "$bad" ]; then
	say "ok $n kernel log clean after the tests (no report matching kernel_log.pat)"
else
	echo "$bad" | head -n 40 | sed 's/^/# /' | tee -a /tmp/tap.txt "$tap"
	say "not ok $n kernel log has reports (WARNING/BUG/KASAN/lockdep/...; see console.log)"
fi
# an object is reported once unreferenced over a scan and 5 s old
if [ -w $kmemleak ]; then
	n=$((n + 1))
	sleep 5
	echo scan >$kmemleak
	echo scan >$kmemleak
	leaks=$(grep -c 'unreferenced object' $kmemleak)
	if [ "$leaks" = 0 ]; then
		say "ok $n kmemleak: no unreferenced object after the tests"
	else
		head -n 80 $kmemleak | sed 's/^/# /' | tee -a /tmp/tap.txt "$tap"
		say "not ok $n kmemleak: $leaks unreferenced objects after the tests"
	fi
fi

rc=0
grep -q '^not ok' /tmp/tap.txt && rc=1
echo "# sockfan-vm: end rc=$rc" >"$tap"
# qemu exits with (rc << 1) | 1; the console drains first
sleep 0.5
if [ $rc = 0 ]; then printf '\000'; else printf '\001'; fi |
	dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
