#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan.ko sees what existed before insmod.  Servers and connections
# made before the load (some accepted, some left in accept queues, over
# IPv4, IPv6 and v4-mapped, next to outgoing connections that are not
# fan-out): after insmod, /proc/net/sockfan/{listeners,conns,ports} match
# /proc/net/tcp{,6} exactly, queued ones read queued and accepted ones
# accepted, owners are processes holding the sockets, and stats says
# how many were seeded.  An accept() blocked since before the load that
# returns afterwards reads accepted, not queued.  Then rmmod/insmod
# while connections come and go: exact again once quiet.  Last, more
# connections at load than the module keeps records ready for.
source "$(dirname "$0")/lib.sh"

PORT_ACC=8091		# python: accepts ACCEPTED, then blocks in accept()
PORT_Q4=8092		# sockfan_listen on 127.0.0.1: never accepts
PORT_Q6=8093		# sockfan_listen on ::, dual stack: never accepts
PORT_STORM=8094		# nginx, for the storm
PORT_MANY1=8095		# sockfan_listen, MANY queued each
PORT_MANY2=8096
MANY=3000
ACCEPTED=3
COMPARE=$TEST_DIR/seed_compare.py

require_scenario_tools
require_nginx
require_sockfan_ko
[ -x "$LISTEN" ] || skip_all "sockfan_listen not built (make -C selftests)"

tap_plan 13
klog_mark

# compare NS OUT: seed_compare.py in NS; its diff and summary in OUT
compare() {
	in_ns "$1" "$PY" "$COMPARE" >"$2" 2>&1
	local rc=$?
	sed 's/^/# /' "$2"
	return $rc
}

# summary OUT FIELD: a number from compare's summary line
summary() {
	awk -v f="$2" '$1 == "summary" { for (i = 2; i < NF; i++) if ($i == f) print $(i + 1) }' "$1"
}

netns_new NS sfseed

# --- case 1: everything made before insmod --------------------------------
ip netns exec "$NS" timeout 300 "$PY" -c '
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", '$PORT_ACC'))
s.listen(16)
print("listening", flush=True)
held = [s.accept()[0] for _ in range('$ACCEPTED')]
print("blocking", flush=True)
held.append(s.accept()[0])
print("accepted late", flush=True)
time.sleep(300)' >"$TMP/server" 2>&1 &
PIDS+=($!)
ip netns exec "$NS" "$LISTEN" -a 127.0.0.1 -p $PORT_Q4 -b 16 -t 300 >"$TMP/listen4" 2>&1 &
PIDS+=($!)
ip netns exec "$NS" "$LISTEN" -a :: -p $PORT_Q6 -b 16 -t 300 >"$TMP/listen6" 2>&1 &
PIDS+=($!)
if ! wait_for 10 grep -q listening "$TMP/server" ||
	! wait_for 10 ss_has_listener "$NS" $PORT_Q4 || ! wait_for 10 ss_has_listener "$NS" $PORT_Q6; then
	diag "servers did not come up: $(cat "$TMP/server" "$TMP/listen4" "$TMP/listen6")"
	exit $KSFT_FAIL
fi
clients_start "$NS" 127.0.0.1 $PORT_ACC $ACCEPTED 127.0.0.2 300 || exit $KSFT_FAIL
wait_for 10 grep -q blocking "$TMP/server" ||
	{ diag "the python server did not accept $ACCEPTED: $(cat "$TMP/server")"; exit $KSFT_FAIL; }
clients_start "$NS" 127.0.0.1 $PORT_Q4 2 127.0.0.3 300 || exit $KSFT_FAIL
clients_start "$NS" ::1 $PORT_Q6 2 "" 300 || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT_Q6 1 127.0.0.4 300 || exit $KSFT_FAIL
# the blocked accept() started well before the load
sleep 0.5

insmod "$SOCKFAN_KO" || { diag "insmod $SOCKFAN_KO failed"; exit $KSFT_FAIL; }
LOADED_KO=1
compare "$NS" "$TMP/cmp1"
check "loaded on a running server: sockfan's listeners, conns and ports match /proc/net/tcp{,6}" $? 0
check "all of them seen: 3 listeners, $((ACCEPTED + 5)) connections ($ACCEPTED accepted, 5 queued; kernel and sockfan)" \
	"$(summary "$TMP/cmp1" listeners) $(summary "$TMP/cmp1" conns) $(summary "$TMP/cmp1" sockfan_listeners) $(summary "$TMP/cmp1" sockfan_conns) $(summary "$TMP/cmp1" accepted) $(summary "$TMP/cmp1" queued)" \
	"3 $((ACCEPTED + 5)) 3 $((ACCEPTED + 5)) $ACCEPTED 5"
check "connections accepted before the load name the process holding them" \
	"$(summary "$TMP/cmp1" named) $(summary "$TMP/cmp1" unknown)" "$ACCEPTED 0"
check "stats: seeded_listeners and seeded_conns say what was found at load" \
	"$(module_stat seeded_listeners "$NS") $(module_stat seeded_conns "$NS")" "3 $((ACCEPTED + 5))"
diag "dmesg: $(dmesg | grep 'sockfan: found' | tail -n 1)"

# the accept() blocked since before the load takes a new connection
clients_start "$NS" 127.0.0.1 $PORT_ACC 1 127.0.0.5 300 || exit $KSFT_FAIL
wait_for 10 grep -q "accepted late" "$TMP/server" ||
	{ diag "the blocked accept() did not return: $(cat "$TMP/server")"; exit $KSFT_FAIL; }
compare "$NS" "$TMP/cmp2"
check "an accept() that began before the load reads accepted, not queued; all still exact" $? 0
check "... that one is accepted by a process the module did not see (0 ?)" \
	"$(summary "$TMP/cmp2" accepted) $(summary "$TMP/cmp2" unknown)" "$((ACCEPTED + 1)) 1"

# --- case 2: rmmod/insmod while connections come and go -------------------
nginx_start "$NS" $PORT_STORM || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT_STORM 10 127.0.0.6 300 || exit $KSFT_FAIL
storm_start "$NS" $PORT_STORM 10 127.0.0.7 120
fails=0
for i in 1 2 3 4 5; do
	rmmod sockfan || fails=$((fails + 1))
	sleep 0.2
	insmod "$SOCKFAN_KO" || fails=$((fails + 1))
	sleep 0.3
done
opens0=$(netns_mib "$NS" TcpPassiveOpens)
sleep 1
check "5 rmmod/insmod cycles under connections coming and going" \
	"$fails $(($(netns_mib "$NS" TcpPassiveOpens) > opens0))" "0 1"
storm_stop
# quiet: nothing on the server ports between states, nginx's queue empty
quiet() {
	[ "$(in_ns "$NS" ss -Htan "sport = :$PORT_STORM" | grep -cvE '^(LISTEN|ESTAB|TIME-WAIT) ')" = 0 ] &&
		accept_queue_empty "$NS" $PORT_STORM
}
wait_for 30 quiet || diag "not quiet after 30 s: $(in_ns "$NS" ss -Htan "sport = :$PORT_STORM" | head -n 5)"
compare "$NS" "$TMP/cmp3"
check "reloaded while connections came and went: exact again once quiet" $? 0
check "... the held ones all there: $((ACCEPTED + 1 + 5 + 10)) connections on 4 listeners (kernel and sockfan)" \
	"$(summary "$TMP/cmp3" listeners) $(summary "$TMP/cmp3" conns) $(summary "$TMP/cmp3" sockfan_listeners) $(summary "$TMP/cmp3" sockfan_conns)" \
	"4 $((ACCEPTED + 1 + 5 + 10)) 4 $((ACCEPTED + 1 + 5 + 10))"

# --- case 3: more than the module keeps ready (4096 records) at load -------
netns_new NS3 sfseedmany
for p in $PORT_MANY1 $PORT_MANY2; do
	ip netns exec "$NS3" "$LISTEN" -a 127.0.0.1 -p $p -b 4096 -t 300 >"$TMP/listen-$p" 2>&1 &
	PIDS+=($!)
	wait_for 10 ss_has_listener "$NS3" $p || { diag "sockfan_listen on $p: $(cat "$TMP/listen-$p")"; exit $KSFT_FAIL; }
	clients_start "$NS3" 127.0.0.1 $p $MANY 127.0.0.8 300 || exit $KSFT_FAIL
done
rmmod sockfan
start=$EPOCHREALTIME
insmod "$SOCKFAN_KO" || { diag "insmod $SOCKFAN_KO failed"; exit $KSFT_FAIL; }
diag "insmod with $((2 * MANY)) queued connections took" \
	"$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }') ms"
compare "$NS3" "$TMP/cmp4"
check "$((2 * MANY)) queued connections at load (past the module's ready records): exact" $? 0
check "... all seeded, none dropped" \
	"$(module_stat seeded_conns "$NS3") $(summary "$TMP/cmp4" queued) $(module_stat drops)" \
	"$((2 * MANY)) $((2 * MANY)) 0"

rmmod sockfan
check "rmmod sockfan" $? 0
LOADED_KO=0
check_klog
tap_exit
