#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# acceptq.sh bpf|proc: a server that stops accepting.
# sockfan_listen listens with a tiny backlog and never calls accept();
# 8 clients connect.  The kernel completes handshakes until the accept
# queue is full, then drops the SYNs of the rest (ListenOverflows,
# ListenDrops): those clients give up after a while.  sockfan must show
# the listener's backlog, queue depth and drops as ss and the MIB
# counters do, and the queued connections as established but "in
# queue", none accepted.  A client whose handshake ACK met a full queue
# thinks it is connected; the listener keeps its request and sends the
# SYN-ACK again, and each ACK that answers overflows once more and is
# counted twice in sk_drops (tcp_listendrop() and the discard of the
# segment).  So the namespace sends the SYN-ACK again only once
# (tcp_synack_retries=1) and the window closes when no request is left:
# from there every counter stands still, and sk_drops is compared with
# the socket's own count (ss -m), not ListenDrops.  Then a drop is not an
# overflow: a second
# listener sets TCP_DEFER_ACCEPT, and 3 clients connect and send a byte.
# Each handshake's bare ACK is dropped (TCPDeferAcceptDrop) and counted
# in the listener's sk_drops, with no accept-queue overflow: sockfan's
# namespace line must say so as nstat does.  Then SYN cookies: with
# net.ipv4.tcp_syncookies=2 the namespace answers every SYN with a cookie,
# and 3 connections must show as cookies sent and validated, as nstat.
source "$(dirname "$0")/lib.sh"

PORT=8080
N=8
BACKLOG=2
# a full queue drops SYNs at once; the 1 s SYN retry is dropped too
GIVE_UP=2

require_scenario_tools
command -v nstat >/dev/null || skip_all "nstat (iproute2) not installed: it reads ListenDrops"
[ -x "$LISTEN" ] || skip_all "sockfan_listen not built (make -C selftests)"
source_setup "${1:?usage: acceptq.sh bpf|proc}"

tap_plan 17

netns_new NS sfaq
# /proc/sys/net is the namespace's own (no sysctl binary in the VM image)
in_ns "$NS" sh -c 'echo 1 >/proc/sys/net/ipv4/tcp_synack_retries'
# bounded: gone after 600 s even if cleanup never runs (the debug kernel
# under TCG runs this test for 2 minutes: a listener gone before the
# last look makes ss see nothing); ip netns exec execs, so $! is the
# server itself
ip netns exec "$NS" "$LISTEN" -a 127.0.0.1 -p $PORT -b $BACKLOG -t 600 >"$TMP/listen.out" 2>&1 &
LISTEN_PID=$!
PIDS+=($LISTEN_PID)
wait_for 10 ss_has_listener "$NS" $PORT ||
	{ diag "sockfan_listen did not listen on port $PORT: $(cat "$TMP/listen.out")"; exit $KSFT_FAIL; }

view_begin "$NS" $PORT "$TMP/during" $VIEW_MAX || exit $KSFT_FAIL
# the clients that are not up after GIVE_UP seconds close their sockets:
# no SYN retries afterwards, so the drop counters stand still from here
clients_start "$NS" 127.0.0.1 $PORT $N 127.0.0.2 $CLIENT_HOLD $GIVE_UP || exit $KSFT_FAIL
diag "clients: $CLIENTS_UP of $N connected"
# a request answered after the queue filled expires 3 s after its SYN
wait_for_output 20 0 ss_port_state_count "$NS" $PORT syn-recv ||
	diag "requests still waiting on port $PORT: the drop counters may still move"
view_end "$NS" $PORT "$TMP/during"
check "sockfan ports --source $SOURCE exits 0" $? 0

read -r recvq sendq <<<"$(ss_listen_queue "$NS" $PORT)"
drops=$(netns_mib "$NS" TcpExtListenDrops)
diag "kernel: Recv-Q $recvq Send-Q $sendq; TcpExtListenOverflows" \
	"$(netns_mib "$NS" TcpExtListenOverflows) TcpExtListenDrops $drops"
# the kernel's accept queue takes one more than the backlog
check "the kernel filled the queue (Send-Q, Recv-Q) and dropped SYNs" \
	"$sendq $recvq $([ "${drops:-0}" -gt 0 ] && echo dropped)" \
	"$BACKLOG $((BACKLOG + 1)) dropped"

read -r listen estab accepted _ _ <<<"$(sockfan_row "$TMP/during" $PORT)"
check "listening sockets on port $PORT match ss" "$listen" "$(ss_listeners "$NS" $PORT)"
check "listener backlog = ss Send-Q" \
	"$(sockfan_listener_field "$TMP/during" 127.0.0.1:$PORT backlog)" "$sendq"
check "listener qlen = ss Recv-Q" \
	"$(sockfan_listener_field "$TMP/during" 127.0.0.1:$PORT qlen)" "$recvq"
sk_drops=$(ss_listen_drops "$NS" $PORT)
check "listener sk_drops = the socket's own (ss -m)" \
	"$(sockfan_listener_field "$TMP/during" 127.0.0.1:$PORT sk_drops)" "${sk_drops:-no listener in ss}"
# the only listener of the namespace: its overflows are all the kernel counted
check_overflows "listener overflows = TcpExtListenOverflows" "$TMP/during" "$TMP/during" \
	127.0.0.1:$PORT "$(netns_mib "$NS" TcpExtListenOverflows)"
check "established sockets on port $PORT match ss" "$estab" "$(ss_established "$NS" $PORT)"
check "connections \"in queue\" = ss Recv-Q" "$(sockfan_conns "$TMP/during" queued)" "$recvq"
check "no connection \"accepted by\" anyone" "$(sockfan_conns "$TMP/during" accepted)" 0
check "ACCEPTED = 0" "$accepted" 0
check "four-tuples match ss" "$(sockfan_tuples "$TMP/during" | md5sum)" \
	"$(ss_tuples "$NS" $PORT | md5sum)"

check_no_record_lost "$TMP/during"

# started after the queue filled: its depth, the queued connections and
# the drops are states sockfan reads from the sockets, not events
sockfan_view "$NS" $PORT "$TMP/after"
check "started after: qlen, sk_drops, queued connections and four-tuples as ss" \
	"$(sockfan_listener_field "$TMP/after" 127.0.0.1:$PORT qlen) $(sockfan_listener_field "$TMP/after" 127.0.0.1:$PORT sk_drops) $(sockfan_conns "$TMP/after" queued) $(sockfan_tuples "$TMP/after" | md5sum)" \
	"$(ss_listen_queue "$NS" $PORT | awk '{ print $1 }') $(ss_listen_drops "$NS" $PORT | grep . || echo "no listener in ss") $(ss_listen_queue "$NS" $PORT | awk '{ print $1 }') $(ss_tuples "$NS" $PORT | md5sum)"
kill -0 $LISTEN_PID 2>/dev/null ||
	diag "sockfan_listen on port $PORT exited before the last look: $(cat "$TMP/listen.out")"

# --- a drop that is no overflow: TCP_DEFER_ACCEPT -------------------------
DPORT=$((PORT + 1))
ip netns exec "$NS" "$LISTEN" -a 127.0.0.1 -p $DPORT -b 16 -D 5 -t 600 >"$TMP/defer.out" 2>&1 &
PIDS+=($!)
wait_for 10 ss_has_listener "$NS" $DPORT ||
	{ diag "sockfan_listen -D did not listen: $(cat "$TMP/defer.out")"; exit $KSFT_FAIL; }
over0=$(netns_mib "$NS" TcpExtListenOverflows)
defer0=$(netns_mib "$NS" TcpExtTCPDeferAcceptDrop)
for i in 1 2 3; do
	# the byte ends the deferral: the connection joins the queue
	in_ns "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$DPORT; sleep 0.2; echo x >&3; sleep 120" &
	PIDS+=($!)
done
wait_for_output 10 3 ss_established "$NS" $DPORT
sockfan_view "$NS" $DPORT "$TMP/defer"
sed 's/^/# defer: /' "$TMP/defer"
over=$(netns_mib "$NS" TcpExtListenOverflows)
deferred=$(netns_mib "$NS" TcpExtTCPDeferAcceptDrop)
diag "nstat: ListenOverflows $over0 -> $over, TCPDeferAcceptDrop $defer0 -> $deferred"
check "TCP_DEFER_ACCEPT: listener sk_drops = TCPDeferAcceptDrop, no new overflow (nstat)" \
	"$(sockfan_listener_field "$TMP/defer" 127.0.0.1:$DPORT sk_drops) $over" \
	"$((deferred - defer0)) $over0"
check "the namespace's ListenOverflows and TCPDeferAcceptDrop as nstat" \
	"$(sockfan_json "$TMP/defer" netns listen_overflows defer_accept_drops)" \
	"$over $deferred"

# --- SYN cookies --------------------------------------------------------
CPORT=$((PORT + 2))
# /proc/sys/net is the namespace's own (no sysctl binary in the VM image)
in_ns "$NS" sh -c 'echo 2 >/proc/sys/net/ipv4/tcp_syncookies'
ip netns exec "$NS" "$LISTEN" -a 127.0.0.1 -p $CPORT -b 16 -t 600 >"$TMP/cookie.out" 2>&1 &
PIDS+=($!)
wait_for 10 ss_has_listener "$NS" $CPORT ||
	{ diag "sockfan_listen did not listen: $(cat "$TMP/cookie.out")"; exit $KSFT_FAIL; }
sent0=$(netns_mib "$NS" TcpExtSyncookiesSent)
clients_start "$NS" 127.0.0.1 $CPORT 3 "" $CLIENT_HOLD || exit $KSFT_FAIL
sockfan_view "$NS" $CPORT "$TMP/cookie"
sent=$(netns_mib "$NS" TcpExtSyncookiesSent)
diag "nstat: SyncookiesSent $sent0 -> $sent, SyncookiesRecv $(netns_mib "$NS" TcpExtSyncookiesRecv)"
check "SYN cookies sent, validated and failed as nstat (3 connections through cookies)" \
	"$(sockfan_json "$TMP/cookie" netns syncookies_sent syncookies_recv syncookies_failed) $((sent - sent0))" \
	"$sent $(netns_mib "$NS" TcpExtSyncookiesRecv) $(netns_mib "$NS" TcpExtSyncookiesFailed) 3"
tap_exit
