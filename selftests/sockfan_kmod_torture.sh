#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan.ko under everything at once, for a bounded time: readers of
# every /proc/net/sockfan file (whole reads and small chunks, so that the
# seq_file resumes), network namespaces made and destroyed with their own
# listeners, queued and closing connections and their own readers, a
# connection storm against nginx in the initial namespace, and
# rmmod/insmod cycling through all of it, with max_conns below the live
# connections so the full-table path runs too.  Then, quiet: nothing left
# in the module's tables, every record released at unload (the module
# says so), kmemleak (on the debug kernel) finds nothing, and the kernel
# log has no report of any bug finder (kernel_log.pat).
#
# Like the load/unload cycles, it patches kernel text while other CPUs
# run it, so it runs in a single-threaded TCG VM of its own (make check:
# vm-torture-*, 45 s; make stress: 600 s), selected by sockfan_test.tests=
# on the kernel command line; sockfan_test.torture=SECONDS sets how long.
source "$(dirname "$0")/lib.sh"

PORT=8070		# nginx in the initial namespace, stormed
PORT_NS=8071		# a listener in each short-lived namespace
HELD=96			# connections held open in the initial namespace
MAX_CONNS=64		# the module keeps fewer: drops
READERS=1		# per /proc file, and one more in each short-lived namespace
SECS=$(vm_param torture)
SECS=${SECS:-${SOCKFAN_TORTURE_SECONDS:-45}}

require_scenario_tools
require_nginx
require_sockfan_ko
[ -x "$LISTEN" ] || skip_all "sockfan_listen not built (make -C selftests)"
require_own_vm

tap_plan 8
klog_mark
kmemleak_clear
end=$((SECONDS + SECS))
# a slow kernel may need longer for its 2 loads: twice as long at most
hard_end=$((end + SECS))
touch "$TMP/run"

# running: until the load loop removes the stop file (or the hard end)
running() {
	[ -e "$TMP/run" ] && [ $SECONDS -lt $hard_end ]
}

# "LISTENERS CONNS" the module holds now
module_stats_live() {
	echo "$(module_stat listeners) $(module_stat conns)"
}

# --- the initial namespace: nginx, held connections, a storm -------------
nginx_start "" $PORT workers=2 || exit $KSFT_FAIL
clients_start "" 127.0.0.1 $PORT $HELD 127.0.0.4 $((SECS + CLIENT_HOLD)) ||
	exit $KSFT_FAIL
storm_start "" $PORT 16 127.0.0.2,127.0.0.3 $((SECS + 60))

# --- readers of every file, whole and in 97-byte chunks ------------------
reader() {
	local name=$1 n=0

	while running; do
		if ((n++ % 2)); then
			dd if="/proc/net/sockfan/$name" of=/dev/null bs=97 2>/dev/null
		else
			cat "/proc/net/sockfan/$name" >/dev/null 2>&1
		fi
		# a breath between reads: under single-threaded TCG the
		# readers would otherwise starve insmod of the one core
		sleep 0.1
	done
}
for name in stats ports listeners conns; do
	for ((r = 0; r < READERS; r++)); do
		reader $name &
		PIDS+=($!)
	done
done

# --- namespaces that come and go, with queues full, closing and held -----
# ip netns del while connections live and a reader may be in the files:
# the namespace's exit runs in the kernel's cleanup work, racing the rest
ns_churn() {
	local i=0 ns lpid

	while running; do
		ns=sftort-$$-$i
		i=$((i + 1))
		ip netns add "$ns" || { sleep 0.5; continue; }
		ip -n "$ns" link set lo up
		ip netns exec "$ns" "$LISTEN" -a 127.0.0.1 -p $PORT_NS -b 8 -t 30 \
			>"$TMP/listen.$i" 2>&1 &
		lpid=$!
		wait_for 10 grep -q listening "$TMP/listen.$i"
		# more than the queue holds: overflows; then the clients close
		# theirs, children close in the queue
		ip netns exec "$ns" "$CONNECT" -d 127.0.0.1 -p $PORT_NS -n 12 -t 0 -w 2 \
			>/dev/null 2>&1
		ip netns exec "$ns" "$CONNECT" -d 127.0.0.1 -p $PORT_NS -n 4 -t 30 -w 2 \
			>/dev/null 2>&1 &
		for name in ports listeners conns; do
			ip netns exec "$ns" cat "/proc/net/sockfan/$name" >/dev/null 2>&1
		done
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		wait "$lpid" 2>/dev/null
		ip netns del "$ns"
	done
	echo "$i" >"$TMP/namespaces"
}
# its stderr to a file: bash there reports each client it kills
ns_churn 2>"$TMP/churn.err" &
PIDS+=($!)
churn_pid=$!

# --- load and unload through all of it -----------------------------------
loads=0
fails=0
full=0
while [ $SECONDS -lt $end ] || { [ $loads -lt 2 ] && [ $SECONDS -lt $hard_end ]; }; do
	if ! insmod "$SOCKFAN_KO" max_conns=$MAX_CONNS 2>>"$TMP/insmod.err"; then
		fails=$((fails + 1))
		sleep 0.5
		continue
	fi
	loads=$((loads + 1))
	sleep "0.$((RANDOM % 10))"
	drops=$(module_stat drops)
	[ "${drops:-0}" -gt 0 ] && full=$((full + 1))
	rmmod sockfan 2>>"$TMP/rmmod.err" || fails=$((fails + 1))
done
rm -f "$TMP/run"
wait "$churn_pid"
storm_stop
diag "$SECS s: $loads loads, $(cat "$TMP/namespaces" 2>/dev/null) namespaces, the table full in $full loads"
check "insmod/rmmod under readers, namespace churn and a storm: all succeed" "$fails" 0
[ $fails = 0 ] || sed 's/^/# /' "$TMP/insmod.err" "$TMP/rmmod.err"
# at least one unload and one load again under it all (the debug kernel
# under single-threaded TCG takes about 45 s a load)
check "cycled through the torture (at least 2 loads)" "$((loads >= 2))" 1
check "max_conns=$MAX_CONNS below the $HELD held connections: drops seen" "$((full > 0))" 1

# --- quiet: the tables empty out as the sockets go ------------------------
if insmod "$SOCKFAN_KO" max_conns=$MAX_CONNS; then
	LOADED_KO=1
	# each held connection recorded or dropped; a namespace still
	# being dismantled may hold some of the records for a moment
	conns=$(module_stat conns)
	drops=$(module_stat drops)
	diag "at load: $conns recorded, $drops dropped; nginx holds $(ss -Htn state established "( sport = :$PORT )" | wc -l) established"
	check "at load: at most max_conns ($MAX_CONNS) recorded, the rest of the $HELD held dropped" \
		"$((conns <= MAX_CONNS && conns + drops >= HELD))" 1
	kill "$CLIENTS_PID" 2>/dev/null
	wait "$CLIENTS_PID" 2>/dev/null
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait_for_output 20 "0 0" module_stats_live
	check "quiet again: no listener, no connection left in the module" \
		"$(module_stats_live)" "0 0"
	rmmod sockfan && LOADED_KO=0
else
	check "insmod once quiet" "failed" "loaded"
	tap_skip "quiet again: no listener, no connection left in the module" "insmod failed"
fi
check "rmmod: the module released every record (its own count)" \
	"$(klog_since | grep -c 'sockfan: unloaded, every record released')" \
	"$((loads + 1))"

leaks=$(kmemleak_report)
if [ -w "$KMEMLEAK" ]; then
	check "kmemleak: no unreferenced object" "$(echo "$leaks" | grep -c 'unreferenced object')" 0
	[ -z "$leaks" ] || echo "$leaks" | head -n 60 | sed 's/^/# /'
else
	tap_skip "kmemleak: no unreferenced object" "this kernel has no kmemleak (the 6.1-debug VM has)"
fi
check_klog
tap_exit
