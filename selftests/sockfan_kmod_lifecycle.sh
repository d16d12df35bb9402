#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan.ko loads, creates /proc/net/sockfan/ in every network namespace
# (also in one created after the load), says what a tracked connection
# costs, names an accepting process that has exited as gone, rejects
# writes, unloads, removes its files, and the kernel log has no WARN, BUG
# or Oops afterwards.
source "$(dirname "$0")/lib.sh"

PORT=8090

require_scenario_tools
require_sockfan_ko

tap_plan 11
klog_mark

insmod "$SOCKFAN_KO"
check "insmod sockfan.ko" $? 0
check "files in the root namespace" \
	"$(ls /proc/net/sockfan 2>/dev/null | sort | tr '\n' ' ')" \
	"conns hist listeners ports stats "
netns_new NS sflife
check "files in a namespace made after the load" \
	"$(in_ns "$NS" ls /proc/net/sockfan 2>/dev/null | sort | tr '\n' ' ')" \
	"conns hist listeners ports stats "
# at most 148 bytes a connection with the default max_conns: the record
# (128: two cache lines, its peer's links included), and the hashes
# sized at load for max_conns (connections, and a quarter as many
# buckets for their peers)
conn_bytes=$(module_stat conn_bytes)
per_conn=$((conn_bytes + $(module_stat table_bytes) / $(module_stat max_conns)))
if [ -e /proc/lockdep ]; then
	# lock debugging gives each bucket's lock a lockdep map (the debug
	# kernel): the 148 bytes in all are a production kernel's figure
	check "stats: a record of at most 128 bytes (lockdep kernel: bigger bucket locks, total not bounded)" \
		"$([ "${conn_bytes:-999}" -le 128 ] && echo yes || echo "no: $conn_bytes")" yes
else
	check "stats: a record of at most 128 bytes, at most 148 with its share of the hashes" \
		"$([ "${conn_bytes:-999}" -le 128 ] && [ "$per_conn" -le 148 ] && echo yes || echo "no: $conn_bytes, $per_conn")" yes
fi
diag "conn_bytes $conn_bytes, $per_conn in all at max_conns $(module_stat max_conns);" \
	"slab footprint per object $(cat /sys/kernel/slab/sockfan_conn/slab_size 2>/dev/null)"

# a process accepts one connection, hands it to a child and exits: conns
# keeps its pid and names it gone, as the pid may be reused
ip netns exec "$NS" "$PY" -c '
import os, socket, time
s = socket.socket()
s.bind(("127.0.0.1", '$PORT'))
s.listen(8)
print(os.getpid(), flush=True)
c, _ = s.accept()
if os.fork() == 0:
    time.sleep(30)
os._exit(0)' >"$TMP/acceptor" 2>&1 &
PIDS+=($!)
wait_for 10 ss_has_listener "$NS" $PORT
acceptor=$(head -n 1 "$TMP/acceptor")
clients_start "$NS" 127.0.0.1 $PORT 1 "" 30 || exit $KSFT_FAIL
wait_for 10 sh -c "! kill -0 $acceptor 2>/dev/null"
check "conns: an accepting process that exited shows its pid and name -" \
	"$(in_ns "$NS" awk -v p=$PORT '$4 == p { print $8, $9 }' /proc/net/sockfan/conns)" \
	"$acceptor -"
check "ss -p: its child holds the connection now" \
	"$(in_ns "$NS" ss -Htnp state established "sport = :$PORT" | grep -c 'python3')" 1
check "ports starts with its header line" \
	"$(head -n 1 /proc/net/sockfan/ports)" \
	"port listeners established accepted closed peers lifetime_sum_us wait_sum_us wait_max_us refused owner_pid owner_comm"
echo garbage 2>/dev/null >/proc/net/sockfan/ports
check "writing to ports is refused" $? 1
rmmod sockfan
check "rmmod sockfan" $? 0
check "files gone after rmmod" "$(ls -d /proc/net/sockfan 2>/dev/null)" ""
check_klog
tap_exit
