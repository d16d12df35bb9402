#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# balance.sh bpf|proc: how a SO_REUSEPORT group shares its load.
# nginx with 4 workers and "listen PORT reuseport" has 4 listening
# sockets on one port; the kernel hands each new connection to one of
# them by a hash of its four-tuple.  N short connections later, the
# members' shares must lie within what a uniform hash gives (5 standard
# deviations of a binomial), and add up to the N connections made (nstat's
# passive opens can count a few children more: ones cloned and dropped
# when two CPUs finish the same handshake).  Then one worker is stopped (SIGSTOP, Cloudflare's worst
# case): its listener's queue fills while the others go on, and sockfan
# must flag that member, and no other, as stalled, both when its first
# look came before the burst and when sockfan started after it; the member's
# overflows must be the namespace's ListenOverflows rise, where a hook
# counts them.
source "$(dirname "$0")/lib.sh"

PORT=8080
WORKERS=4
N=${SOCKFAN_BALANCE_CONNS:-10000}
BURST=400
BACKLOG=64

require_scenario_tools
require_nginx
source_setup "${1:?usage: balance.sh bpf|proc}"

tap_plan 11

netns_new NS sfbal
nginx_start "$NS" $PORT workers=$WORKERS listen="$PORT reuseport backlog=$BACKLOG" ||
	exit $KSFT_FAIL
# nginx_start returns at the first listener: all of them
wait_for_output 10 "$WORKERS" ss_listeners "$NS" $PORT

# --- N connections, opened and closed at once --------------------------
opens0=$(netns_mib "$NS" TcpPassiveOpens)
view_begin "$NS" $PORT "$TMP/spread" $VIEW_MAX || exit $KSFT_FAIL
start=$SECONDS
# shellcheck disable=SC2016 # the program is Python's
in_ns "$NS" "$PY" -c '
import socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i % 4), 0))
    s.connect(("127.0.0.1", port))
    s.close()
' "$N" $PORT
diag "$N connections in $((SECONDS - start)) s"
wait_for 10 accept_queue_empty "$NS" $PORT
view_end "$NS" $PORT "$TMP/spread" >/dev/null
check "sockfan ports --source $SOURCE exits 0" $? 0
opens=$(($(netns_mib "$NS" TcpPassiveOpens) - opens0))
diag "nstat: TcpPassiveOpens +$opens"

# the reuseport object: members, what it counted by, total, skew, cv
"$PY" - "$TMP/spread" $PORT >"$TMP/spread.txt" 2>"$TMP/spread.diag" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
row = [r for r in doc["ports"] if r["port"] == int(sys.argv[2])][0]
b = row["reuseport"] or {}
shares = [l["handshakes"] if b.get("by") == "handshakes" else l["accepted"]
          for l in row["listening_sockets"]]
print(b.get("members"), b.get("by"), b.get("total"), "%.4f" % b.get("skew", 0),
      "%.4f" % b.get("cv", 0), " ".join(map(str, shares)))
for l in row["listening_sockets"]:
    print("# listener %s: handshakes %s accepted %s qlen %s owner %s" % (
        l["cookie"], l["handshakes"], l["accepted"], l["qlen"], l["owner"]), file=sys.stderr)
print("# lost %s, counts lost %s, hooks %s" % (doc.get("lost"), doc.get("counts_lost"),
      doc.get("hooks")), file=sys.stderr)
PY
read -r members by total skew cv shares <"$TMP/spread.txt"
cat "$TMP/spread.diag"
diag "reuseport: $members members by $by, total $total, skew $skew, cv $cv: $shares"
check "a reuseport group of $WORKERS members" "$members" $WORKERS
check "the members' connections add up to the $N made" "$total" "$N"
# a member's count is binomial (N, 1/4): 5 sigma either way
read -r lo hi <<<"$("$PY" -c 'import math, sys
n, k = int(sys.argv[1]), int(sys.argv[2])
m, s = n / k, math.sqrt(n * (1 / k) * (1 - 1 / k))
print(int(m - 5 * s), int(m + 5 * s))' "$N" $WORKERS)"
check "every member's share is within 5 sigma of an even one ($lo..$hi)" \
	"$(for v in $shares; do [ "$v" -ge "$lo" ] && [ "$v" -le "$hi" ] && echo ok ||
		echo "$v"; done | sort -u | tr '\n' ' ')" "ok "
check "skew = largest share over the even share" \
	"$skew" "$("$PY" -c 'import sys
print("%.4f" % (int(sys.argv[1]) * int(sys.argv[3]) / int(sys.argv[2])))' \
		"$(tr ' ' '\n' <<<"$shares" | sort -n | tail -n 1)" "$total" $WORKERS)"
# --- one worker stopped ---------------------------------------------------
mapfile -t ids < <(ss_listener_ids "$NS" $PORT)
mapfile -t pids < <(ip netns pids "$NS")
read -r cookie ino <<<"${ids[0]}"
victim=$(epoll_watchers "$ino" "${pids[@]}")
diag "stopping worker $victim, which polls listener $cookie"
kill -STOP "$victim"
over0=$(netns_mib "$NS" TcpExtListenOverflows)
# watching from before the burst: the programs follow it (a look when it
# is over); the module's counts run since it was loaded, so a stall shows
# between two looks, one now and one 10 s later
if [ "$SOURCE" = bpf ]; then
	view_begin "$NS" $PORT "$TMP/stall" $VIEW_MAX || exit $KSFT_FAIL
else
	sockfan_view "$NS" $PORT "$TMP/stall" --interval 10 --count 2 &
	viewer=$!
	wait_for 30 grep -q '^{' "$TMP/stall"
fi
# the stopped member's share finds its queue full: SYNs dropped and
# retried, given up after 8 s; the others' are accepted and held
clients_start "$NS" 127.0.0.1 $PORT $BURST 127.0.0.6,127.0.0.7 $CLIENT_HOLD 8
diag "connected $CLIENTS_UP of $BURST"
# no SYN of the burst is left: the rise is final
over=$(($(netns_mib "$NS" TcpExtListenOverflows) - over0))
if [ "$SOURCE" = bpf ]; then
	view_end "$NS" $PORT "$TMP/stall" >/dev/null
	check "sockfan ports, started before the burst, exits 0" $? 0
	cp "$TMP/stall" "$TMP/stall.counts"
else
	wait "$viewer"
	check "sockfan ports --interval 10 --count 2 exits 0" $? 0
	sockfan_view "$NS" $PORT "$TMP/stall.counts"
fi
# started after: two looks 6 s apart at the stopped member's full queue
sockfan_view "$NS" $PORT "$TMP/after" --interval 6 --count 2
diag "nstat: ListenOverflows +$over; the listeners' Recv-Q/Send-Q per ss: $(ss_listen_queue "$NS" $PORT | tr '\n' ' ')"
stalled() {
	"$PY" - "$1" <<-'PY'
	import json, sys
	doc = json.loads(open(sys.argv[1]).read().splitlines()[-1])
	print(" ".join(str(l["cookie"]) for r in doc["ports"]
	               for l in r["listening_sockets"] if l["stalled"]) or "none")
	PY
}
check "all running: no member stalled" "$(stalled "$TMP/spread")" none
check "watched from before the burst: the stopped worker's listener, and only it, is stalled" \
	"$(stalled "$TMP/stall")" "$cookie"
check "started after: the stopped worker's listener, and only it, is stalled" \
	"$(stalled "$TMP/after")" "$cookie"
tail -n 1 "$TMP/stall.counts" >"$TMP/stall.last"
check_overflows "the stalled member's overflows = the ListenOverflows rise" "$TMP/stall" \
	"$TMP/stall.last" "$cookie" "$over"
kill -CONT "$victim"
check "resumed: its queue drains" "$(wait_for 10 accept_queue_empty "$NS" $PORT && echo empty)" empty
tap_exit
