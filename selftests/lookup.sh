#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lookup.sh bpf|proc: the kernel's demultiplexing of incoming segments.
# nginx listens in a fresh network namespace and 5 clients connect: the
# listener lookups that chose it must be the SYNs the kernel turned into
# passive opens (nstat TcpPassiveOpens), and each connection's
# established hits (segs_in) what ss -ti shows.  Then 3 connects to a
# port nobody listens on must show as 3 refused SYNs, the 3 RSTs nstat
# counts (TcpOutRsts); and 3 bare ACKs to another closed port (segments
# for a connection that is gone) as 3 stray segments, which make no port
# row.  Listener hits per listener need fexit or kretprobe on the BPF
# path; without, an sk_lookup program counts them per port, and a
# kernel with neither says so and that check skips.  sockfan lookup's
# questions to the kernel meanwhile are no traffic and are not counted.
# A sockfan started next to the running server counts the new ones.
source "$(dirname "$0")/lib.sh"

PORT=8080
CLOSED=8081
STRAY_PORT=8082
N=5
MISSES=3

require_scenario_tools
require_nginx
source_setup "${1:?usage: lookup.sh bpf|proc}"

tap_plan 10

# "raddr:rport segs_in" of the established sockets on PORT, per ss -ti
ss_segs_in() {
	in_ns "$1" ss -Htin state established "sport = :$2" | awk '
		/^[0-9]/ { peer = $4; next }
		{ for (i = 1; i <= NF; i++)
			if ($i ~ /^segs_in:/) { sub(/^segs_in:/, "", $i); print peer, $i } }' |
		norm_endpoints | sort
}

# the same from `sockfan ports --port`
sockfan_segs_in() {
	sockfan_json "$1" segs_in | norm_endpoints | sort
}

# the REFUSED count of PORT's row
sockfan_refused() {
	sockfan_col "$1" "$2" REFUSED
}

netns_new NS sflook
nginx_start "$NS" $PORT || exit $KSFT_FAIL

opens=$(netns_mib "$NS" TcpPassiveOpens)
view_begin "$NS" $PORT "$TMP/conns" $VIEW_MAX || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT $N 127.0.0.2 $CLIENT_HOLD || exit $KSFT_FAIL
wait_for 10 accept_queue_empty "$NS" $PORT
# the kernel asked by sockfan lookup meanwhile: no traffic, and not counted
ASKED=3
in_ns "$NS" "$SOCKFAN" lookup 127.0.0.1:$PORT 127.0.0.3:40000 127.0.0.3:40001 \
	127.0.0.3:40002 >"$TMP/asked"
asked=$(grep -c '^  2\. listeners: LISTEN' "$TMP/asked")
view_end "$NS" $PORT "$TMP/conns"
check "sockfan ports --source $SOURCE exits 0" $? 0
[ "$asked" = $ASKED ] || diag "sockfan lookup answered $asked of $ASKED: $(cat "$TMP/asked")"
opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens))

hits=$(sockfan_listener_field "$TMP/conns" all hits)
if grep -q 'lookup=none' "$TMP/conns"; then
	tap_skip "listener hits = passive opens (nstat)" \
		"no hook for listener lookups here: $(grep -o 'lookup=none([^)]*)' "$TMP/conns")"
elif grep -q 'lookup=sk_lookup' "$TMP/conns"; then
	# per port: the program sees the address looked up, not the listener
	check "listener lookups of the port (sk_lookup) = passive opens (nstat), sockfan lookup's $ASKED not among them" \
		"$(sockfan_col "$TMP/conns" $PORT LOOKUP_HITS) $asked" "$opens $ASKED"
else
	check "listener hits = passive opens (nstat), sockfan lookup's $ASKED not among them" \
		"$hits $asked" "$opens $ASKED"
fi
check "established hits (segs_in) of each connection match ss -ti" \
	"$(sockfan_segs_in "$TMP/conns" | md5sum)" "$(ss_segs_in "$NS" $PORT | md5sum)"
sockfan_segs_in "$TMP/conns" | sed 's/^/# sockfan: /'
ss_segs_in "$NS" $PORT | sed 's/^/# ss:      /'
# started after the connections: segs_in is the socket's own count
sockfan_view "$NS" $PORT "$TMP/late"
check "started after: segs_in of each connection as ss -ti" \
	"$(sockfan_segs_in "$TMP/late" | md5sum)" "$(ss_segs_in "$NS" $PORT | md5sum)"

# started next to the server and its open connections: lookups count
# from the start, whatever came before (the module's since it was loaded)
if [ "$SOURCE" = bpf ]; then
	late=$(netns_mib "$NS" TcpPassiveOpens)
	view_begin "$NS" $PORT "$TMP/late2" $VIEW_MAX || exit $KSFT_FAIL
	clients_start "$NS" 127.0.0.1 $PORT 2 127.0.0.4 $CLIENT_HOLD || exit $KSFT_FAIL
	wait_for 10 accept_queue_empty "$NS" $PORT
	view_end "$NS" $PORT "$TMP/late2"
	late=$(($(netns_mib "$NS" TcpPassiveOpens) - late))
	if grep -q 'lookup=none' "$TMP/late2"; then
		tap_skip "started after $N connections: listener lookups = the $late new passive opens" \
			"no hook for listener lookups here"
	elif grep -q 'lookup=sk_lookup' "$TMP/late2"; then
		check "started after $N connections: listener lookups = the $late new passive opens" \
			"$(sockfan_col "$TMP/late2" $PORT LOOKUP_HITS)" "$late"
	else
		check "started after $N connections: listener lookups = the $late new passive opens" \
			"$(sockfan_listener_field "$TMP/late2" all hits | sum_lines)" "$late"
	fi
else
	tap_skip "started after: listener lookups = the new passive opens" \
		"the module counts since it was loaded (before the connections)"
fi

rsts=$(netns_mib "$NS" TcpOutRsts)
# send_acks NS PORT N: N bare ACKs from 127.0.0.1:40000 to PORT (raw
# socket): no socket has them, and they are no SYN: strays
send_acks() {
	in_ns "$1" python3 - "$2" "$3" <<'PY'
import socket, struct, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
src = dst = socket.inet_aton("127.0.0.1")
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for i in range(n):
    tcp = struct.pack("!HHIIBBHHH", 40000, port, 1000 + i, 1, 5 << 4, 0x10, 1024, 0, 0)
    c = csum(src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp)) + tcp)
    s.sendto(tcp[:16] + struct.pack("!H", c) + tcp[18:], ("127.0.0.1", 0))
PY
}

view_begin "$NS" $CLOSED "$TMP/misses" $VIEW_MAX || exit $KSFT_FAIL
refused=0
for i in $(seq $MISSES); do
	# bash's /dev/tcp: one SYN, answered by one RST
	in_ns "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$CLOSED" 2>/dev/null ||
		refused=$((refused + 1))
done
rsts=$(($(netns_mib "$NS" TcpOutRsts) - rsts))
strays=$(netns_mib "$NS" TcpOutRsts)
send_acks "$NS" $STRAY_PORT $MISSES
# then a server opens the closed port for one client and goes: its one
# lookup is a hit, the refused ones before it stay misses, and the hit
# stays counted after the listener is gone
in_ns "$NS" "$PY" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
print("listening", flush=True)
s.accept()[0].close()' $CLOSED >"$TMP/late_server" 2>&1 &
late_server=$!
wait_for 10 grep -q listening "$TMP/late_server"
in_ns "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$CLOSED" 2>/dev/null
wait $late_server
view_end "$NS" $CLOSED "$TMP/misses"
strays=$(($(netns_mib "$NS" TcpOutRsts) - strays))
check "$MISSES connects to a closed port refused, $MISSES RSTs (nstat)" "$refused $rsts" \
	"$MISSES $MISSES"
if grep -q 'miss=none' "$TMP/misses"; then
	tap_skip "refused SYNs on the closed port = RSTs sent" \
		"no hook for misses here: $(grep -o 'miss=none([^)]*)' "$TMP/misses")"
	tap_skip "bare ACKs: strays = RSTs sent, no row for their port" \
		"no hook for misses here"
else
	check "refused SYNs on the closed port = RSTs sent" \
		"$(sockfan_refused "$TMP/misses" $CLOSED)" "$rsts"
	check "bare ACKs: strays = RSTs sent, no row for their port" \
		"$(sockfan_json "$TMP/misses" strays) $(sockfan_refused "$TMP/misses" $STRAY_PORT)" \
		"$strays "
fi
if grep -q 'miss=none' "$TMP/conns"; then
	tap_skip "no refused SYNs on the listening port" "no hook for misses here"
else
	check "no refused SYNs on the listening port" "$(sockfan_refused "$TMP/conns" $PORT)" 0
fi
if grep -q 'lookup=none' "$TMP/misses"; then
	tap_skip "a port that opens for one client and closes: 1 listener lookup, kept" \
		"no hook for listener lookups here"
elif grep -q 'lookup=sk_lookup' "$TMP/misses"; then
	check "a port that opens for one client and closes: 1 listener lookup, kept (sk_lookup)" \
		"$(sockfan_col "$TMP/misses" $CLOSED LOOKUP_HITS)" 1
elif [ "$SOURCE" = proc ]; then
	tap_skip "a port that opens for one client and closes: 1 listener lookup, kept" \
		"the module counts lookups per listener, and the listener is gone"
else
	# its listener is gone: the programs' count for the port
	check "a port that opens for one client and closes: 1 listener lookup, kept" \
		"$(sockfan_json "$TMP/misses" kernel_hits $CLOSED)" 1
fi
tap_exit
