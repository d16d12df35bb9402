#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# views.sh bpf|proc: sockfan top, sockfan explain (text and DOT) and the
# ss-style filters (-4/-6, --src, --dst, --pid) on a real server, against
# ss.  nginx listens on port 8000 twice in a fresh namespace, 0.0.0.0 and
# [::] (ipv6only), and holds 4 IPv4 connections from 127.0.0.2/.3 and 2
# IPv6 ones from ::1.
source "$(dirname "$0")/lib.sh"

PORT=8000

require_scenario_tools
require_nginx
source_setup "${1:?usage: views.sh bpf|proc}"

netns_new NS sfview
require_ipv6 "$NS"

tap_plan 28

# two listen directives through the one nginx_start offers
nginx_start "$NS" $PORT listen="$PORT; listen [::]:$PORT ipv6only=on" || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT 4 127.0.0.2,127.0.0.3 $CLIENT_HOLD || exit $KSFT_FAIL
clients_start "$NS" ::1 $PORT 2 ::1 $CLIENT_HOLD || exit $KSFT_FAIL
wait_for 10 accept_queue_empty "$NS" $PORT
ino=$(netns_inode "$NS")

# sf CMD ARGS...: sockfan in the namespace, on this test's source
sf() {
	local cmd=$1

	shift
	in_ns "$NS" "$SOCKFAN" "$cmd" --source "$SOURCE" --netns "$ino" "$@"
}

# "LISTEN ESTAB PEERS" of the port in the last frame of top's output
top_row() {
	COL_LAST=1 text_col "$1" $PORT LISTEN ESTAB PEERS
}

# ss with a filter: "listeners established peers", as top_row prints them
ss_view() {
	local l e p

	l=$(in_ns "$NS" ss -Hltn "$@" "sport = :$PORT" | wc -l)
	e=$(in_ns "$NS" ss -Htn "$@" state established "sport = :$PORT" | wc -l)
	p=$(in_ns "$NS" ss -Htn "$@" state established "sport = :$PORT" |
		awk '{ a = $4; sub(/:[0-9]+$/, "", a); print a }' | sort -u | wc -l)
	echo "$l $e $p"
}

# --- top, in batch mode (stdout is not a terminal) ----------------------
sf top --interval 0.5 --count 2 >"$TMP/top" 2>"$TMP/top.err"
check "top --count 2 exits 0" $? 0
check "top printed 2 frames" "$(grep -c '^sockfan top - ' "$TMP/top")" 2
sed 's/^/# /' "$TMP/top"
check "top: listeners, connections, peers of port $PORT as ss" "$(top_row "$TMP/top")" \
	"$(ss_view)"
# a burst of refused SYNs between two frames: its row has a rate in the
# first frame it appears in (before, the row had no previous frame, and
# the next frame's rate is 0 once the burst is over).  top runs until
# that row came, however long the burst takes (the debug kernel is slow)
sf top --interval 1 --count 60 >"$TMP/burst" 2>"$TMP/burst.err" &
top_pid=$!
wait_for 20 grep -q '^sockfan top - ' "$TMP/burst"
for i in $(seq 20); do
	# not PORT + 1: the module keeps this port's row, and explain of
	# PORT + 1 below wants a port nobody touched
	in_ns "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$((PORT + 2))" 2>/dev/null
done
wait_for 30 awk -v p=$((PORT + 2)) '$1 ~ /^[0-9]+$/ && $2 == p { f = 1 } END { exit !f }' "$TMP/burst"
interrupt "$top_pid"
wait "$top_pid"
sed 's/^/# burst: /' "$TMP/burst"
if grep -q 'miss=none' "$TMP/burst.err"; then
	tap_skip "top: a burst of refused SYNs shows as a rate when its row appears" \
		"no hook for misses here"
else
	check "top: a burst of refused SYNs shows as a rate when its row appears" \
		"$(text_col "$TMP/burst" $((PORT + 2)) REFUSED/s | awk '{ print ($1 + 0 > 0) ? "rate" : $1 }')" \
		rate
fi

# --no-seed: what the window's records describe, though it never saw
# the listener listen: 3 short connections, accepted and closed
if [ "$SOURCE" = bpf ]; then
	sf ports --json --no-seed --duration 4 >"$TMP/noseed" 2>"$TMP/noseed.err" &
	view_pid=$!
	wait_for 30 grep -q '^# attached' "$TMP/noseed.err"
	for i in 1 2 3; do
		in_ns "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; exec 3>&-"
	done
	wait "$view_pid"
	sed 's/^/# no-seed: /' "$TMP/noseed"
	check "ports --no-seed --duration: the row its records describe (accepted, closed)" \
		"$(sockfan_col "$TMP/noseed" $PORT ACCEPTED CLOSED)" "3 3"
else
	tap_skip "ports --no-seed --duration" "--duration needs the BPF source"
fi

sf top -4 --interval 0.5 --count 1 >"$TMP/top4" 2>&1
check "top -4: as ss -4" "$(top_row "$TMP/top4")" "$(ss_view -4)"
sf top -6 --interval 0.5 --count 1 >"$TMP/top6" 2>&1
check "top -6: as ss -6" "$(top_row "$TMP/top6")" "$(ss_view -6)"

# --- filters on the per-socket listing ----------------------------------
sf ports --json --port $PORT --dst 127.0.0.2 >"$TMP/dst" 2>"$TMP/dst.err"
check "ports --dst 127.0.0.2: four-tuples as ss dst" "$(sockfan_tuples "$TMP/dst" | md5sum)" \
	"$(in_ns "$NS" ss -Htn state established "sport = :$PORT" dst 127.0.0.2 |
	   awk '{ print $3, $4 }' | sort | md5sum)"
sf ports --json --port $PORT --src ::1/128 >"$TMP/src" 2>"$TMP/src.err"
check "ports --src ::1/128: four-tuples as ss src [::1]" "$(sockfan_tuples "$TMP/src" | md5sum)" \
	"$(in_ns "$NS" ss -Htn state established "sport = :$PORT" src '[::1]' |
	   awk '{ print $3, $4 }' | sort | md5sum)"
worker=$(ss_tuple_pids "$NS" $PORT | awk '{ print $3 }' | sort -u | head -n 1)
sf ports --json --port $PORT --pid "$worker" >"$TMP/pid" 2>"$TMP/pid.err"
check "ports --pid WORKER: the connections ss says it holds" \
	"$(sockfan_conns "$TMP/pid" accepted)" "$(ss_pid_established "$NS" $PORT "$worker")"
sf ports --json --pid $$ >"$TMP/nopid" 2>"$TMP/nopid.err"
check "ports --pid of a process without sockets: no row" \
	"$(sockfan_row "$TMP/nopid" $PORT)" ""

# --- the snapshot without a tracer (what auto picks without the module) --
in_ns "$NS" "$SOCKFAN" ports --json --source diag --netns "$ino" --port $PORT \
	>"$TMP/diag" 2>"$TMP/diag.err"
check "ports --source diag: listeners, connections, peers as ss; misses unknown" \
	"$(sockfan_col "$TMP/diag" $PORT LISTEN ESTAB PEERS REFUSED)" \
	"$(ss_view | awk '{ print $1, $2, $3, "-" }')"
# a snapshot saw no accept: who holds each socket is what ss -p says
check "ports --source diag --port: four-tuples and holding pids as ss -p" \
	"$(sockfan_tuple_holders "$TMP/diag" | md5sum)" "$(ss_tuple_pids "$NS" $PORT | md5sum)"
in_ns "$NS" "$SOCKFAN" ports --netns "$ino" >"$TMP/auto" 2>&1
want=diag
[ "$SOURCE" = proc ] && want=proc
check "ports (auto, one look): source $want" "$(awk 'NR == 1 { print $3 }' "$TMP/auto")" "$want:"
in_ns "$NS" "$SOCKFAN" explain $PORT --source diag --netns "$ino" >"$TMP/xdiag" 2>&1
check "explain --source diag: the same answer as ss" \
	"$(grep -c "Each of the $(ss_established "$NS" $PORT) connections has a socket of its own" "$TMP/xdiag")" 1

# a server that closes what it accepts while its clients stay: its
# sockets end as time-wait minisockets that sock_diag lists as FIN-WAIT-2
in_ns "$NS" /usr/bin/python3 - "$SOCKFAN" "$ino" >"$TMP/tw" 2>&1 <<-'PY'
	import socket, subprocess, sys, time
	srv = socket.socket()
	srv.bind(("127.0.0.1", 8002))
	srv.listen(8)
	clients = [socket.create_connection(("127.0.0.1", 8002)) for _ in range(3)]
	for _ in clients:
	    srv.accept()[0].close()
	time.sleep(1)
	ss = subprocess.run(["ss", "-Htno", "sport = :8002"], capture_output=True, text=True).stdout
	out = subprocess.run([sys.argv[1], "ports", "--source", "diag", "--netns", sys.argv[2],
	                      "--port", "8002"], capture_output=True, text=True).stdout
	row = [l.split() for l in out.splitlines() if l.split()[1:2] == ["8002"]]
	print("timewait", ss.count("timewait"), "estab", row[0][3] if row else "?")
PY
check "time-wait minisockets (ss: FIN-WAIT-2, timer:timewait) are no connections" \
	"$(cat "$TMP/tw")" "timewait 3 estab 0"

# --- explain: the picture of one port ----------------------------------
sf explain $PORT >"$TMP/explain" 2>"$TMP/explain.err"
check "explain exits 0" $? 0
sed 's/^/# /' "$TMP/explain"
check "explain: listening and connection sockets as ss" \
	"$(grep -oE '[0-9]+ listening sockets?, [0-9]+ connection sockets?' "$TMP/explain")" \
	"$(ss_listeners "$NS" $PORT) listening sockets, $(ss_established "$NS" $PORT) connection sockets"
check "explain: four-tuples as ss" \
	"$(awk '$2 == "ESTAB" { print $3, $5 }' "$TMP/explain" | norm_endpoints | sort | md5sum)" \
	"$(ss_tuples "$NS" $PORT | md5sum)"
check "explain: holding pid of each connection as ss -p" \
	"$(awk '$2 == "ESTAB" { t = $3 " " $5 }
		/held by/ { for (i = 1; i < NF; i++) if ($i == "held") { p = $(i + 2); sub(/\/.*/, "", p) }
			print t, p }' "$TMP/explain" | norm_endpoints | sort | md5sum)" \
	"$(ss_tuple_pids "$NS" $PORT | md5sum)"
check "explain answers the question with the count" \
	"$(tr '\n' ' ' <"$TMP/explain" | grep -c "No: the listening sockets only accept. Each of the $(ss_established "$NS" $PORT) connections has a socket of its own sharing local port $PORT")" 1
# each connection under the listener that handed it out: IPv6 ones under [::]
check "explain: connections under the [::] listener = ss -6 connections" \
	"$(awk '$1 == "LISTEN" { l = $2 } $2 == "ESTAB" && l == "[::]:'$PORT'"' "$TMP/explain" | wc -l)" \
	"$(in_ns "$NS" ss -6 -Htn state established "sport = :$PORT" | wc -l)"
sf explain 8001 >"$TMP/empty" 2>&1
check "explain of a port with no socket says so" \
	"$(grep -c 'nothing on local port 8001' "$TMP/empty")" 1

# --- explain --dot, read back by Graphviz -------------------------------
if command -v dot >/dev/null; then
	sf explain $PORT --dot >"$TMP/dot" 2>&1 && dot -Tplain "$TMP/dot" >"$TMP/plain" 2>"$TMP/dot.err"
	check "explain --dot: Graphviz reads it" $? 0
	sed 's/^/# /' "$TMP/dot.err"
	# a box per socket, an ellipse per peer address
	check "explain --dot: nodes = listeners + connections + peers (ss)" \
		"$(grep -c '^node' "$TMP/plain")" \
		"$(($(ss_listeners "$NS" $PORT) + $(ss_established "$NS" $PORT) + $(ss_peers "$NS" $PORT)))"
	check "explain --dot: an accept() edge per connection" \
		"$(grep -c '^edge .*accept()' "$TMP/plain")" "$(ss_established "$NS" $PORT)"
	# the [::] listener handed out the IPv6 connections, 0.0.0.0 the IPv4 ones
	# node ids are l<netns>_<port>_<i>, i in the order explain lists them
	l6=$(awk '$1 == "LISTEN" { i++ } $1 == "LISTEN" && $2 == "[::]:'$PORT'" { print i - 1 }' \
		"$TMP/explain")
	check "explain --dot: the [::] listener's accept() edges = ss -6 connections" \
		"$(grep -c "^edge l${ino}_${PORT}_$l6 .*accept()" "$TMP/plain")" \
		"$(in_ns "$NS" ss -6 -Htn state established "sport = :$PORT" | wc -l)"
else
	for t in "Graphviz reads it" "nodes" "accept() edges" "the [::] listener's edges"; do
		tap_skip "explain --dot: $t" "graphviz (dot) not installed (make deps; not in the VM image)"
	done
fi

# --- top on a terminal: redraws in place, q quits ------------------------
if command -v tmux >/dev/null; then
	tmux -L sockfan-test new-session -d -x 132 -y 30 \
		"ip netns exec $NS $SOCKFAN top --source $SOURCE --netns $ino -i 0.5 2>/dev/null; echo \$? >$TMP/top.rc; sleep 30"
	wait_for 20 sh -c "tmux -L sockfan-test capture-pane -p | grep -q 'q quits'"
	tmux -L sockfan-test capture-pane -p >"$TMP/screen"
	tmux -L sockfan-test send-keys q
	wait_for 5 test -s "$TMP/top.rc"
	check "top on a terminal: port row on screen, q quits with 0" \
		"$(top_row "$TMP/screen") rc=$(cat "$TMP/top.rc" 2>/dev/null)" "$(ss_view) rc=0"
	tmux -L sockfan-test kill-server 2>/dev/null
else
	tap_skip "top on a terminal" "tmux not installed (make deps; not in the VM image)"
fi
tap_exit
