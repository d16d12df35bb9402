#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# closewait.sh bpf|proc: every state shown as itself.  A server that
# accepts and never closes: 4 clients connect and leave, and the kernel
# keeps the server's 4 sockets in CLOSE-WAIT (a leak ss shows as such),
# while 2 more clients stay (ESTAB).  sockfan must count them apart, in
# the table, per socket, in JSON and in --prom, as ss does; once with
# sockfan started before the clients, once started after the leak.
source "$(dirname "$0")/lib.sh"

PORT=8090

require_scenario_tools
source_setup "${1:?usage: closewait.sh bpf|proc}"

tap_plan 8

netns_new NS sfcw

# accepts whatever comes and holds it, never closing; bounded by timeout,
# long enough for the debug kernel: when it ran out there (120 s once),
# its sockets closed and ss counted 0 of the 4 CLOSE-WAIT that sockfan
# had just shown
ip netns exec "$NS" timeout 900 "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
held = []
while True:
    held.append(s.accept()[0])
' $PORT >"$TMP/server.log" 2>&1 &
PIDS+=($!)
SERVER_PID=$!
wait_for 10 ss_has_listener "$NS" $PORT ||
	{ diag "the server did not listen: $(cat "$TMP/server.log")"; exit $KSFT_FAIL; }

ss_state_count() {
	ss_port_state_count "$NS" $PORT "$1"
}

# "ESTAB CLOSE-WAIT" from the table, the --port lines, JSON and --prom
look() {
	local out=$1

	echo "$(sockfan_col "$out" $PORT ESTAB CLOSE-WAIT)" \
		"$(sockfan_conns "$out" accepted ESTAB) $(sockfan_conns "$out" accepted CLOSE-WAIT)"
}

ground_truth() {
	local e c

	e=$(ss_state_count established)
	c=$(ss_state_count close-wait)
	echo "$e $c $e $c"
}

# --- started before the clients -----------------------------------------
view_begin "$NS" $PORT "$TMP/before" $VIEW_MAX || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT 4 127.0.0.2 1 || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT 2 127.0.0.3 $CLIENT_HOLD || exit $KSFT_FAIL
wait_for_output 10 4 ss_state_count close-wait
view_end "$NS" $PORT "$TMP/before"
sed 's/^/# before: /' "$TMP/before"
check "ss: the leak formed (2 ESTAB, 4 CLOSE-WAIT)" \
	"$(ss_state_count established) $(ss_state_count close-wait)" "2 4"
check "started before: ESTAB and CLOSE-WAIT apart, table and sockets, as ss" \
	"$(look "$TMP/before")" "$(ground_truth)"

# --- started after the leak -------------------------------------------------
sockfan_view "$NS" $PORT "$TMP/after"
sed 's/^/# after: /' "$TMP/after"
check "started after: ESTAB and CLOSE-WAIT apart, table and sockets, as ss" \
	"$(look "$TMP/after")" "$(ground_truth)"

sockfan_view "$NS" $PORT "$TMP/json"
check "--json: established, close_wait and the states map as ss" \
	"$("$PY" -c 'import json, sys
p = json.load(open(sys.argv[1]))["ports"][0]
s = [c["state"] for c in p["connection_sockets"]]
print(p["established"], p["close_wait"], p["states"].get("ESTAB", 0),
      p["states"].get("CLOSE-WAIT", 0), s.count("ESTAB"), s.count("CLOSE-WAIT"))' "$TMP/json" 2>&1)" \
	"$(ss_state_count established) $(ss_state_count close-wait) $(ss_state_count established) $(ss_state_count close-wait) $(ss_state_count established) $(ss_state_count close-wait)"

in_ns "$NS" "$SOCKFAN" ports --prom --source "$SOURCE" --port $PORT \
	--netns "$(netns_inode "$NS")" >"$TMP/prom" 2>&1
check "--prom: sockfan_connection_sockets by state as ss" \
	"$(sed -n "s/^sockfan_connection_sockets{.*port=\"$PORT\",state=\"\\(ESTAB\\|CLOSE-WAIT\\)\"} //p" "$TMP/prom" | tr '\n' ' ')" \
	"$(ss_state_count established) $(ss_state_count close-wait) "

# without --port (no per-socket details asked): the states still count
in_ns "$NS" "$SOCKFAN" ports --json --source "$SOURCE" --netns "$(netns_inode "$NS")" >"$TMP/all" 2>"$TMP/all.err"
check "ports without --port: ESTAB and CLOSE-WAIT as ss" \
	"$(sockfan_col "$TMP/all" $PORT ESTAB CLOSE-WAIT)" \
	"$(ss_state_count established) $(ss_state_count close-wait)"

# the clients that stayed leave too: all 6 in CLOSE-WAIT
kill "$CLIENTS_PID"
wait "$CLIENTS_PID" 2>/dev/null
wait_for_output 10 6 ss_state_count close-wait
sockfan_view "$NS" $PORT "$TMP/all6"
check "all clients gone: 0 ESTAB, 6 CLOSE-WAIT, as ss" \
	"$(sockfan_col "$TMP/all6" $PORT ESTAB CLOSE-WAIT)" \
	"$(ss_state_count established) $(ss_state_count close-wait)"
check_no_record_lost "$TMP/before"
kill -0 "$SERVER_PID" 2>/dev/null ||
	diag "the server had exited before the end: the counts above are not the leak's"
tap_exit
