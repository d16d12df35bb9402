#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lost records are counted exactly.  sockfan trace follows a fresh
# namespace (the programs record that namespace only) with a one-page
# ring buffer (SOCKFAN_RING_KB=4: 32 records) and is stopped (SIGSTOP)
# while 200 clients connect to nginx there: the ring overflows.  Few
# connections, so that even a TCG VM makes them long before nginx drops
# idle ones (client_header_timeout).  After SIGCONT the records received
# plus those counted lost must equal what the kernel did, per connection
# as nstat and ss count it: a completed handshake (TcpPassiveOpens), an
# accept() (ss: all established, none queued) and, where a listener
# lookup hook is attached, the SYN's listener lookup.
source "$(dirname "$0")/lib.sh"

PORT=8000
N=200
WORKERS=2
RING_KB=4

require_scenario_tools
require_nginx
command -v nstat >/dev/null || skip_all "nstat (iproute2) not installed: it counts passive opens"
require_btf

tap_plan 5

netns_new NS sfloss
ino=$(netns_inode "$NS")
in_ns "$NS" sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192
# a listener per worker (reuseport)
nginx_start "$NS" $PORT workers=$WORKERS listen="$PORT reuseport backlog=8192" || exit $KSFT_FAIL

opens0=$(netns_mib "$NS" TcpPassiveOpens)
drops0=$(netns_mib "$NS" TcpExtListenDrops)
retrans0=$(netns_mib "$NS" TcpExtTCPSynRetrans)
# ip netns exec execs: $! is sockfan itself, the process to stop
SOCKFAN_RING_KB=$RING_KB ip netns exec "$NS" "$SOCKFAN" trace --json --netns "$ino" --duration 600 \
	>"$TMP/trace" 2>"$TMP/trace.err" &
tracer=$!
PIDS+=($tracer)
wait_for 30 grep -q '^# attached' "$TMP/trace.err" ||
	{ diag "sockfan trace did not attach: $(cat "$TMP/trace.err")"; exit $KSFT_FAIL; }
kill -STOP "$tracer"

# from two source addresses, in two processes
for src in 127.0.0.2 127.0.0.3; do
	ip netns exec "$NS" "$CONNECT" -d 127.0.0.1 -p $PORT -n $((N / 2)) -s $src -t 300 \
		>"$TMP/clients.$src" 2>&1 &
	PIDS+=($!)
done
# conditions wait_for evaluates anew on each try
clients_up() {
	[ "$(cat "$TMP"/clients.* | grep -c "^connected $((N / 2))\$")" = 2 ]
}
all_accepted() {
	[ "$(ss_established "$NS" $PORT)" = $N ] && [ "$(ss_accept_queue "$NS" $PORT)" = 0 ]
}
wait_for 120 clients_up || diag "clients: $(cat "$TMP"/clients.*)"
wait_for 60 all_accepted ||
	diag "after 60 s: $(ss_established "$NS" $PORT) established, $(ss_accept_queue "$NS" $PORT) queued"
established=$(ss_established "$NS" $PORT)
queued=$(ss_accept_queue "$NS" $PORT)
check "$N connections established and accepted (ss)" "$established $queued" "$N 0"

opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens0))
drops=$(($(netns_mib "$NS" TcpExtListenDrops) - drops0))
retrans=$(($(netns_mib "$NS" TcpExtTCPSynRetrans) - retrans0))
check "nstat: $N passive opens" "$opens" "$N"

kill -CONT "$tracer"
# the reader drains on its own every 100 ms; a second to be sure
sleep 2
interrupt "$tracer"
wait "$tracer"
check "sockfan trace ends 0 on SIGINT" $? 0
sed 's/^/# /' "$TMP/trace.err"

summary() {
	awk -v k="$1" '/^# .* events printed/ {
		for (i = 2; i <= NF; i++) if ($i == k || $i == k ",") print $(i - 1) }' "$TMP/trace.err"
}
records=$(summary records)
lost=$(summary lost)
# one listener lookup per SYN that reached a listener: per connection,
# if no SYN was dropped there or sent again (nstat says how many were)
lookups=0
hooked=
# (sk_lookup counts per port and writes no record)
grep -q '^# attached:.* lookup=\(none\|sk_lookup\)' "$TMP/trace.err" || { hooked=1; lookups=$opens; }
want=$((2 * opens + lookups))
diag "kernel: $opens handshakes + $N accepts + $lookups listener lookups = $want records to write"
diag "sockfan: ${records:-?} received + ${lost:-?} lost; nstat: $drops listen drops, $retrans SYNs sent again"
check "the ring overflowed: records were lost" "$([ "${lost:-0}" -gt 0 ] && echo yes)" yes
if [ -n "$hooked" ] && [ $((drops + retrans)) -gt 0 ]; then
	tap_skip "received + lost = the kernel's count, exactly" \
		"$drops listen drops and $retrans SYN retransmits make the listener lookups uncountable"
else
	check "received + lost = the kernel's count, exactly" "$((${records:-0} + ${lost:-0}))" "$want"
fi
tap_exit
