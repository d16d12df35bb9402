#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A look that shows no socket, only counts (ports without --port, each
# scrape of serve), counts the sockets with a BPF socket iterator instead
# of listing them through sock_diag.  Here both give the same rows, and
# ss the same connections: nginx (2 workers) with clients in a namespace
# of their own over a veth pair and on loopback; a dual-stack
# http.server with IPv4 and IPv6 peers; a listener that never accepts,
# with queued and CLOSE-WAIT connections.  Listeners' owners come out
# the same, and the host's own clients (ephemeral ports) make no row.
source "$(dirname "$0")/lib.sh"

PN=8090 PH=8091 PQ=8092 SPORT=9480
NR=120 NL=30 N4=12 N6=7 NQ=9 NCW=6

require_scenario_tools
require_btf
require_nginx
[ -x "$LISTEN" ] || skip_all "sockfan_listen not built (make -C selftests)"

tap_plan 9

netns_new NS sfiter
netns_new CNS sfiterc
ino=$(netns_inode "$NS")
ip link add sfit0 netns "$NS" type veth peer name sfit1 netns "$CNS" &&
	ip -n "$NS" addr add 10.78.0.1/24 dev sfit0 && ip -n "$NS" link set sfit0 up &&
	ip -n "$CNS" addr add 10.78.0.2/24 dev sfit1 && ip -n "$CNS" link set sfit1 up ||
	{ diag "cannot set up a veth pair between the namespaces"; exit "$KSFT_FAIL"; }
require_ipv6 "$NS"

nginx_start "$NS" $PN workers=2 || exit "$KSFT_FAIL"
ip netns exec "$NS" timeout 300 "$PY" -c 'import http.server, socket, sys
class S(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
S(("::", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()' $PH \
	>"$TMP/httpd.log" 2>&1 &
PIDS+=($!)
ip netns exec "$NS" "$LISTEN" -a 127.0.0.1 -p $PQ -b 64 -t 600 >"$TMP/listen.out" 2>&1 &
PIDS+=($!)
wait_for 20 ss_has_listener "$NS" $PH && wait_for 20 ss_has_listener "$NS" $PQ ||
	{ diag "the servers did not come up: $(cat "$TMP/httpd.log" "$TMP/listen.out")"; exit "$KSFT_FAIL"; }

clients_start "$CNS" 10.78.0.1 $PN $NR "" $CLIENT_HOLD || exit "$KSFT_FAIL"
clients_start "$NS" 127.0.0.1 $PN $NL "127.0.0.2,127.0.0.3" $CLIENT_HOLD || exit "$KSFT_FAIL"
clients_start "$NS" 127.0.0.1 $PH $N4 "" $CLIENT_HOLD || exit "$KSFT_FAIL"
clients_start "$NS" ::1 $PH $N6 "" $CLIENT_HOLD || exit "$KSFT_FAIL"
# connections the listener never accepts: these close (CLOSE-WAIT in
# its queue), the next ones stay
clients_start "$NS" 127.0.0.1 $PQ $NCW "" $CLIENT_HOLD || exit "$KSFT_FAIL"
kill "$CLIENTS_PID"
wait "$CLIENTS_PID" 2>/dev/null
clients_start "$NS" 127.0.0.1 $PQ $NQ "" $CLIENT_HOLD || exit "$KSFT_FAIL"
wait_for 10 accept_queue_empty "$NS" $PN

sf() {
	"$SOCKFAN" "$@" --netns "$ino"
}

SOCKFAN_SNAPSHOT=iter sf ports --json >"$TMP/iter" 2>"$TMP/iter.err"
check "SOCKFAN_SNAPSHOT=iter: the iterator loads here" "$?" 0
sed 's/^/# /' "$TMP/iter.err"
SOCKFAN_SNAPSHOT=diag sf ports --json >"$TMP/diag" 2>"$TMP/diag.err"
sf ports >"$TMP/auto.txt" 2>&1
check "by default, a look at the rows counts with the iterator" \
	"$(grep -c '^# source diag: a snapshot, sockets counted per port by a BPF iterator' "$TMP/auto.txt")" 1

rows() {
	for p in $(sockfan_json "$1" ports); do
		echo "$p $(sockfan_col "$1" "$p" LISTEN ESTAB CLOSE-WAIT OTHER PEERS OWNER)"
	done
}
rows "$TMP/iter" >"$TMP/iter.rows"
rows "$TMP/diag" >"$TMP/diag.rows"
sed 's/^/# iter: /' "$TMP/iter.rows"
check "the iterator's rows are sock_diag's (listeners, states, peers, owners)" \
	"$(diff "$TMP/iter.rows" "$TMP/diag.rows" >/dev/null && echo same)" same
check "no row but the three servers' (clients' ephemeral ports are no service)" \
	"$(sockfan_json "$TMP/iter" ports | xargs)" "$PN $PH $PQ"
check "nginx: ESTAB as ss counts it, peers from both namespaces" \
	"$(sockfan_col "$TMP/iter" $PN ESTAB PEERS)" "$(ss_established "$NS" $PN) 3"
check "dual stack: IPv4 and IPv6 peers on one port, as ss counts" \
	"$(sockfan_col "$TMP/iter" $PH ESTAB PEERS)" "$(ss_established "$NS" $PH) 2"
check "never accepted: queued ESTAB and CLOSE-WAIT, as ss counts" \
	"$(sockfan_col "$TMP/iter" $PQ ESTAB CLOSE-WAIT)" \
	"$NQ $(in_ns "$NS" ss -Htn state close-wait "sport = :$PQ" | wc -l)"

# a scrape of serve counts the same way
if serve_start 127.0.0.1:$SPORT --source bpf --netns "$ino"; then
	http_get "http://127.0.0.1:$SPORT/metrics" >"$TMP/metrics" 2>&1
	check "serve: sockfan_connection_sockets ESTAB per port as the rows" \
		"$(for p in $PN $PH $PQ; do
			sed -n "s/^sockfan_connection_sockets{netns=\"$ino\",port=\"$p\",state=\"ESTAB\"} //p" \
				"$TMP/metrics"
		done | xargs)" \
		"$(for p in $PN $PH $PQ; do sockfan_col "$TMP/iter" $p ESTAB; done | xargs)"
else
	ktap_test_fail "serve: sockfan_connection_sockets ESTAB per port as the rows"
fi
kill "$SERVE_PID" 2>/dev/null
wait "$SERVE_PID" 2>/dev/null

# --port lists them (sock_diag): the same count
sf ports --json --port $PN >"$TMP/port" 2>"$TMP/port.err"
check "--port lists nginx's connections: as many as counted" \
	"$(sockfan_col "$TMP/port" $PN ESTAB)" "$(sockfan_col "$TMP/iter" $PN ESTAB)"

tap_exit
