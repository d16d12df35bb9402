#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lookup.sh bpf|proc: the kernel's demultiplexing of incoming segments.
# nginx listens in a fresh network namespace and 5 clients connect: the
# listener lookups that chose it must be the SYNs the kernel turned into
# passive opens (nstat TcpPassiveOpens), and each connection's
# established hits (segs_in) what ss -ti shows.  Then 3 connects to a
# port nobody listens on must show as 3 misses, the 3 RSTs nstat counts
# (TcpOutRsts).  Listener hits need tracing programs (fexit) on the BPF
# path; a kernel that refuses them says so and that check skips.
source "$(dirname "$0")/lib.sh"

PORT=8080
CLOSED=8081
N=5
MISSES=3

require_scenario_tools
require_nginx
source_setup "${1:?usage: lookup.sh bpf|proc}"

tap_plan 6

# "raddr:rport segs_in" of the established sockets on PORT, per ss -ti
ss_segs_in() {
	in_ns "$1" ss -Htin state established "sport = :$2" | awk '
		/^[0-9]/ { peer = $4; next }
		{ for (i = 1; i <= NF; i++)
			if ($i ~ /^segs_in:/) { sub(/^segs_in:/, "", $i); print peer, $i } }' |
		norm_endpoints | sort
}

# the same from the ESTAB lines of `sockfan ports --port`
sockfan_segs_in() {
	awk '$1 == "ESTAB" { for (i = 4; i < NF; i++) if ($i == "segs_in") print $3, $(i + 1) }' "$1" |
		norm_endpoints | sort
}

# the MISSES column of PORT's row in the table
sockfan_misses() {
	awk -v p="$2" '$1 ~ /^[0-9]+$/ && $2 == p { print $11; exit }' "$1"
}

netns_new NS sflook || { diag "cannot create a network namespace"; exit $KSFT_FAIL; }
nginx_start "$NS" $PORT || exit $KSFT_FAIL

opens=$(netns_mib "$NS" TcpPassiveOpens)
view_begin "$NS" $PORT "$TMP/conns" 6 || exit $KSFT_FAIL
clients_start "$NS" 127.0.0.1 $PORT $N 127.0.0.2 60 || exit $KSFT_FAIL
wait_for 10 accept_queue_empty "$NS" $PORT
view_end "$NS" $PORT "$TMP/conns"
check "sockfan ports --source $SOURCE exits 0" $? 0
opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens))

hits=$(sockfan_listener_field "$TMP/conns" all hits)
if grep -q 'lookup=none' "$TMP/conns"; then
	tap_skip "listener hits = passive opens (nstat)" \
		"no hook for listener lookups here: $(grep -o 'lookup=none([^)]*)' "$TMP/conns")"
else
	check "listener hits = passive opens (nstat)" "$hits" "$opens"
fi
check "established hits (segs_in) of each connection match ss -ti" \
	"$(sockfan_segs_in "$TMP/conns" | md5sum)" "$(ss_segs_in "$NS" $PORT | md5sum)"
sockfan_segs_in "$TMP/conns" | sed 's/^/# sockfan: /'
ss_segs_in "$NS" $PORT | sed 's/^/# ss:      /'

rsts=$(netns_mib "$NS" TcpOutRsts)
view_begin "$NS" $CLOSED "$TMP/misses" 5 || exit $KSFT_FAIL
refused=0
for i in $(seq $MISSES); do
	# bash's /dev/tcp: one SYN, answered by one RST
	in_ns "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$CLOSED" 2>/dev/null ||
		refused=$((refused + 1))
done
view_end "$NS" $CLOSED "$TMP/misses"
rsts=$(($(netns_mib "$NS" TcpOutRsts) - rsts))
check "$MISSES connects to a closed port refused, $MISSES RSTs (nstat)" "$refused $rsts" \
	"$MISSES $MISSES"
if grep -q 'miss=none' "$TMP/misses"; then
	tap_skip "misses on the closed port = RSTs sent" \
		"no hook for misses here: $(grep -o 'miss=none([^)]*)' "$TMP/misses")"
else
	check "misses on the closed port = RSTs sent" "$(sockfan_misses "$TMP/misses" $CLOSED)" "$rsts"
fi
check "no misses on the listening port" "$(sockfan_misses "$TMP/conns" $PORT)" 0
tap_exit
