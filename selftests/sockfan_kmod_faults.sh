#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan.ko under faults and hostile input: a table smaller than the
# live connections, garbage written to every /proc file and to its
# parameter, readers without privileges and from another namespace
# (load/unload cycles under a storm: sockfan_kmod_cycles.sh).  Each must end in a
# defined state: counted drops, refused writes with nothing changed,
# tasks hidden from those who may not see them, a clean kernel log.
source "$(dirname "$0")/lib.sh"

PORT=8080
CAP=8
HELD=30

require_scenario_tools
require_nginx
require_sockfan_ko

tap_plan 11
klog_mark

netns_new NS sffault
nginx_start "$NS" $PORT || exit $KSFT_FAIL

# --- a table smaller than the live connections ----------------------------
insmod "$SOCKFAN_KO" max_conns=$CAP || { diag "insmod max_conns=$CAP failed"; exit $KSFT_FAIL; }
LOADED_KO=1
opens0=$(netns_mib "$NS" TcpPassiveOpens)
clients_start "$NS" 127.0.0.1 $PORT $HELD 127.0.0.2 120 || exit $KSFT_FAIL
all_accepted() {
	[ "$(ss_accept_queue "$NS" $PORT)" = 0 ] && [ "$(ss_established "$NS" $PORT)" = $HELD ]
}
wait_for 10 all_accepted || diag "nginx has not accepted all $HELD: $(ss_accept_queue "$NS" $PORT) queued"
check "table full: $CAP connections kept (max_conns), ss has $HELD" \
	"$(module_stat conns "$NS") $(in_ns "$NS" tail -n +2 /proc/net/sockfan/conns | wc -l) $(ss_established "$NS" $PORT)" \
	"$CAP $CAP $HELD"
# the kernel's count of handshakes, not the clients': once in ~7 runs a
# run showed one more (drops 23 for 30 clients), so say what nstat saw
opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens0))
[ "$opens" = $HELD ] || diag "nstat: $opens passive opens for $HELD clients," \
	"$(netns_mib "$NS" TcpExtTCPSynRetrans) SYNs sent again, $(netns_mib "$NS" TcpExtListenDrops) listen drops"
check "table full: every connection left out is counted once in drops" \
	"$(module_stat drops "$NS")" "$((opens - CAP))"

# --- garbage written to every file and to the parameter ------------------
snapshot() {
	# ages move; everything else must stay
	in_ns "$NS" sh -c 'cat /proc/net/sockfan/ports /proc/net/sockfan/listeners /proc/net/sockfan/stats
		cut -d " " -f 1-9,11 /proc/net/sockfan/conns'
}
snapshot >"$TMP/before"
refused=0 tried=0
for f in ports listeners conns stats; do
	for input in "0" "clear" "max_conns=1" "$(head -c 200 /dev/urandom | tr -d '\0')" \
		"$(printf '%*s' 5000 x)"; do
		tried=$((tried + 1))
		in_ns "$NS" sh -c 'printf "%s\n" "$1" >"/proc/net/sockfan/$2"' _ "$input" "$f" \
			2>/dev/null || refused=$((refused + 1))
	done
done
check "writes to every /proc/net/sockfan file refused ($tried tried)" "$refused" "$tried"
# the error a writer sees is the one sockfan-proc(5) names, root too
write_errno() {
	in_ns "$NS" "$@" python3 -c 'import errno, os
try:
    fd = os.open("/proc/net/sockfan/stats", os.O_WRONLY)
    os.write(fd, b"0")
    print("written")
except OSError as e:
    print(errno.errorcode[e.errno])'
}
check "a write fails with EACCES, for root and others, as documented" \
	"$(write_errno) $(write_errno setpriv --reuid=65534 --regid=65534 --clear-groups)" "EACCES EACCES"
printf 1 2>/dev/null >/sys/module/sockfan/parameters/max_conns
check "max_conns cannot be changed while loaded (0444)" \
	"$? $(cat /sys/module/sockfan/parameters/max_conns)" "1 $CAP"
snapshot >"$TMP/after"
check "nothing changed by the writes" "$(diff "$TMP/before" "$TMP/after" | head -n 4)" ""

# --- readers: unprivileged, and another namespace -----------------------
nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}
if command -v setpriv >/dev/null; then
	check "unprivileged reader: conns readable, accepting tasks shown as 0 ?" \
		"$(in_ns "$NS" setpriv --reuid=65534 --regid=65534 --clear-groups \
			awk 'NR > 1 { print $8, $9 }' /proc/net/sockfan/conns | sort -u)" "0 ?"
	check "root reader: the accepting nginx worker is named" \
		"$(in_ns "$NS" awk 'NR > 1 && $8 > 0 && $9 == "nginx"' /proc/net/sockfan/conns | wc -l)" \
		"$CAP"
	# /proc/PID/net shows PID's namespace to anyone, as /proc/PID/net/tcp
	# does; the tasks there are hidden all the same
	npid=$(ip netns pids "$NS" | head -n 1)
	check "unprivileged reader of another namespace (/proc/PID/net): its connections, no tasks" \
		"$(nobody awk 'NR > 1 { n++; t[$8 " " $9] = 1 } END { for (k in t) print n, k }' \
			"/proc/$npid/net/sockfan/conns")" "$CAP 0 ?"
else
	for t in "unprivileged reader" "root reader" "another namespace"; do
		tap_skip "$t" "setpriv not installed"
	done
fi
check "root reading /proc/PID/net/sockfan of the namespace sees its connections only" \
	"$(tail -n +2 "/proc/$(ip netns pids "$NS" | head -n 1)/net/sockfan/conns" | wc -l) $(tail -n +2 /proc/net/sockfan/conns | awk -v p=$PORT '$4 == p' | wc -l)" \
	"$CAP 0"

kill "$CLIENTS_PID" 2>/dev/null
wait "$CLIENTS_PID" 2>/dev/null
check_klog
tap_exit
