#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fanout.sh bpf|proc [nginx|python]: the seed question on a real server.
# nginx (event loop, accept4 from epoll) or python's http.server (a
# thread per connection, blocking accept()) listens on one port in a
# fresh network namespace; 20 clients connect from 3 source addresses
# and stay.  sockfan must show 1 listener, 20 established, 20 accepted,
# 3 peers and the very four-tuples the kernel reports through ss; then
# the clients leave and it must show 0 established, 20 closed.
source "$(dirname "$0")/lib.sh"

PORT=8080
N=20
SRCS=127.0.0.2,127.0.0.3,127.0.0.4

require_scenario_tools
SERVER=${2:-nginx}
case "$SERVER" in
nginx)
	require_nginx
	;;
python)
	;;
*)
	echo "# unknown server '$SERVER' (nginx or python)"
	exit $KSFT_FAIL
	;;
esac
source_setup "${1:?usage: fanout.sh bpf|proc}"

tap_plan 15

netns_new NS sfsrv
if [ "$SERVER" = nginx ]; then
	nginx_start "$NS" $PORT || exit $KSFT_FAIL
else
	httpd_start "$NS" $PORT || exit $KSFT_FAIL
fi

view_begin "$NS" $PORT "$TMP/during" $VIEW_MAX || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT $N $SRCS $CLIENT_HOLD || exit $KSFT_FAIL
# the server accepts at once: wait until the accept queue is empty
wait_for 10 accept_queue_empty "$NS" $PORT
view_end "$NS" $PORT "$TMP/during"
check "sockfan ports --source $SOURCE exits 0" $? 0

want="$(ss_listeners "$NS" $PORT) $(ss_established "$NS" $PORT)"
check "ss agrees with the scenario (listeners, established)" "$want" "1 $N"
check_window "$TMP/during" "$NS" $PORT $N

# a fresh sockfan sees the same through its snapshot of existing sockets;
# their accepts happened before it: a window counts none of them (the
# module saw them, and its totals are since insmod)
sockfan_view "$NS" $PORT "$TMP/seeded"
read -r listen estab accepted closed peers <<<"$(sockfan_row "$TMP/seeded" $PORT)"
check "restarted sockfan shows older connections (seed), accepts of its window only" \
	"$listen $estab $accepted $peers" "1 $N $([ "$SOURCE" = proc ] && echo $N || echo 0) 3"
# the module keeps each port's distinct peers as connections come and go
raw_peers() {
	in_ns "$NS" awk -v p=$PORT '$1 == p { print $3, $6 }' /proc/net/sockfan/ports
}
# "ESTABLISHED PEERS" of PORT per ss, from one dump (ss is slow on the
# debug kernel)
ss_estab_peers() {
	in_ns "$NS" ss -Htn state established "sport = :$PORT" |
		awk '{ a = $4; sub(/:[0-9]+$/, "", a); n++; if (!(a in p)) { p[a]; k++ } }
		     END { print n + 0, k + 0 }'
}
# kill_tuples REMOTE...: end those connections of PORT at once (sock_diag
# destroy: the server's socket is gone when ss returns)
kill_tuples() {
	local f= peer

	for peer in "$@"; do
		f="$f${f:+ or }dst $peer"
	done
	in_ns "$NS" ss -K -Htn state established src "127.0.0.1:$PORT" "( $f )" >/dev/null
}
if [ "$SOURCE" = proc ]; then
	# one connection of each address leaves, then all but one of
	# 127.0.0.4's: a peer's first connection (the one its count hangs
	# on) leaves in one of them or both, and the others hold on
	# (the sums say that ss -K ended what it was asked to, or the
	# checks would compare two untouched tables)
	remotes=$(ss_tuples "$NS" $PORT | awk '{ print $2 }')
	# shellcheck disable=SC2046 # one remote end a word
	kill_tuples $(sort -t: -k1,1 -u <<<"$remotes")
fi
if [ "$SOURCE" = proc ] && [ "$(ss_estab_peers)" = "$N 3" ]; then
	# the debug kernel's config has no CONFIG_INET_DIAG_DESTROY (its
	# KASAN run still sees leaders leave first when the clients close)
	tap_skip "raw ports file: established and peers as ss, after one connection of each peer left" \
		"ss -K ended no connection: this kernel cannot destroy sockets (CONFIG_INET_DIAG_DESTROY)"
	tap_skip "raw ports file: a peer with one connection left still counts" \
		"ss -K ended no connection"
elif [ "$SOURCE" = proc ]; then
	check "raw ports file: established and peers as ss, after one connection of each peer left" \
		"$(raw_peers) / $(ss_estab_peers)" "$((N - 3)) 3 / $((N - 3)) 3"
	remotes=$(ss_tuples "$NS" $PORT | awk '{ print $2 }')
	from4=$(grep -c '^127\.0\.0\.4:' <<<"$remotes")
	# shellcheck disable=SC2046 # one remote end a word
	kill_tuples $(grep '^127\.0\.0\.4:' <<<"$remotes" | tail -n +2)
	left=$((N - 3 - (from4 - 1)))
	check "raw ports file: a peer with one connection left still counts" \
		"$(raw_peers) / $(ss_estab_peers)" "$left 3 / $left 3"
else
	tap_skip "raw ports file: established and peers as ss, after one connection of each peer left" \
		"proc source only"
	tap_skip "raw ports file: a peer with one connection left still counts" "proc source only"
fi

# the clients leave: live state must follow
view_begin "$NS" $PORT "$TMP/after" $VIEW_MAX
kill "$CLIENTS_PID"
wait "$CLIENTS_PID" 2>/dev/null
wait_for 10 none_established "$NS" $PORT ||
	diag "clients did not close: ss still shows $(ss_established "$NS" $PORT)"
# ss stops counting a connection when the client's FIN moves it out of
# ESTABLISHED; it is closed only once the server has closed its end, a moment
# later (the bpf window is long enough for that)
[ "$SOURCE" = proc ] && sleep 0.5
view_end "$NS" $PORT "$TMP/after"
read -r listen estab accepted closed peers <<<"$(sockfan_row "$TMP/after" $PORT)"
check "after the clients close: 0 established, as ss" "$estab $(ss_established "$NS" $PORT)" "0 0"
check "after the clients close: $N closed" "$closed" "$N"

# the kernel's histograms: the programs' over the first window (no
# close in it), the module's since it was loaded.  An accept's wait is
# known when its ESTABLISHED came first; the child is in the accept
# queue a moment before it, and on a preemptible (RT) kernel accept()
# can win that race: the accept counts, its wait does not (6.1-rt did,
# once in 20).  So: every handshake, at most every accept, and closes.
hists_ok() {
	local h w l

	read -r h w l <<<"$1"
	[ "$h" = "$N" ] && [ "$w" -gt 0 ] && [ "$w" -le "$N" ] && [ "$l" = "$2" ] && echo ok ||
		echo "no: $1"
}
if [ "$SOURCE" = proc ]; then
	check "the module's histograms: every handshake and close, the accepts' known waits" \
		"$(hists_ok "$(sockfan_json "$TMP/after" hists $PORT)" $N)" ok
else
	check "the programs' histograms: every handshake of the window, the accepts' known waits" \
		"$(hists_ok "$(sockfan_json "$TMP/during" hists $PORT)" 0)" ok
fi
if [ "$SOURCE" = proc ]; then
	check "raw /proc/net/sockfan/ports in the namespace" \
		"$(in_ns "$NS" awk -v p=$PORT '$1 == p { print $2, $3, $4, $5, $6 }' /proc/net/sockfan/ports)" \
		"1 0 $N $N 0"
	check "the root namespace's /proc/net/sockfan/ports does not show it" \
		"$(awk -v p=$PORT '$1 == p' /proc/net/sockfan/ports | wc -l)" 0
else
	check "no record lost" "$(sockfan_lost "$TMP/after")" 0
	tap_skip "root namespace isolation" "proc source only"
fi
tap_exit
