#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sockfan lookup: the kernel's own answer to "which socket does a segment
# with this four-tuple reach?".  A server of 4 processes, each with its
# own SO_REUSEPORT listener on one port, in a namespace of the test's.
# sockfan predicts the member for 200 source ports; clients then connect
# from exactly those ports, and the process that accepted each (ss -p)
# must own the listener predicted: 200 of 200.  The four-tuple of each
# live connection must then give that connection's cookie (ss -e), a new
# one a listener, a closed port no socket (RST); a dual-stack listener
# answers for IPv4 and v4-mapped tuples.  Bad arguments change nothing.
source "$(dirname "$0")/lib.sh"

PORT=8090
PORT6=8091
MEMBERS=4
N=200
FIRST=21000		# source ports FIRST..FIRST+N-1 from 127.0.0.2

require_scenario_tools
source_setup bpf

tap_plan 10

netns_new NS sflk
nsarg=(--netns "$(netns_inode "$NS")")

# the servers: MEMBERS processes, one listener each, accepting and holding
cat >"$TMP/server.py" <<'PY'
import os, select, socket, sys, time
port, members, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
for _ in range(members):
    if os.fork() == 0:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", port))
        s.listen(512)
        held, end = [], time.time() + hold
        while time.time() < end:
            if select.select([s], [], [], 0.5)[0]:
                held.append(s.accept()[0])
        os._exit(0)
d = socket.socket(socket.AF_INET6)
d.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
d.bind(("::", port + 1))
d.listen(8)
print("listening", flush=True)
time.sleep(hold)
PY
in_ns "$NS" "$PY" "$TMP/server.py" $PORT $MEMBERS 120 >"$TMP/server.out" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q listening "$TMP/server.out"
wait_for_output 10 "$MEMBERS" ss_listeners "$NS" $PORT

remotes=()
for i in $(seq 0 $((N - 1))); do
	remotes+=("127.0.0.2:$((FIRST + i))")
done
in_ns "$NS" "$SOCKFAN" lookup "${nsarg[@]}" --json 127.0.0.1:$PORT "${remotes[@]}" \
	>"$TMP/predict" 2>"$TMP/predict.err"
check "lookup of $N four-tuples exits 0" $? 0
sed 's/^/# /' "$TMP/predict.err"
head -n 1 "$TMP/predict" | sed 's/^/# /'

# listener cookie -> the pid that owns it (ss -tlnpe), and the prediction
# as "sport pid", from the JSON
in_ns "$NS" ss -Htlnpe "sport = :$PORT" 2>/dev/null |
	sed -nE 's/.*pid=([0-9]+),.* sk:([0-9a-f]+).*/\2 \1/p' |
	while read -r hex pid; do echo "$((16#$hex)) $pid"; done >"$TMP/owners"
"$PY" - "$TMP/predict" "$TMP/owners" >"$TMP/predicted" <<'PY'
import json, sys
owner = dict(l.split() for l in open(sys.argv[2]))
for line in open(sys.argv[1]):
    d = json.loads(line)
    s = d["socket"] or {}
    print(d["segment"]["remote_port"], owner.get(str(s.get("cookie")), "?"),
          d["path"], (d["reuseport"] or {}).get("members", 0))
PY
check "every prediction is a listener of a $MEMBERS-member reuseport group" \
	"$(awk '{ print $3, $4 }' "$TMP/predicted" | sort -u)" "listener $MEMBERS"

# the clients, from exactly those ports, held
cat >"$TMP/client.py" <<'PY'
import socket, sys, time
first, n, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cs = []
for i in range(n):
    c = socket.socket()
    c.bind(("127.0.0.2", first + i))
    c.connect(("127.0.0.1", port))
    cs.append(c)
print("connected", len(cs), flush=True)
time.sleep(60)
PY
in_ns "$NS" "$PY" "$TMP/client.py" $FIRST $N $PORT >"$TMP/client.out" 2>&1 &
PIDS+=($!)
wait_for 30 grep -q "^connected $N" "$TMP/client.out"
wait_for 10 accept_queue_empty "$NS" $PORT
# who accepted each: the process holding the server end of each tuple
in_ns "$NS" ss -Htnp state established "sport = :$PORT" |
	sed -nE 's/.*127\.0\.0\.2:([0-9]+).*pid=([0-9]+),.*/\1 \2/p' | sort -n >"$TMP/accepted"
awk '{ print $1, $2 }' "$TMP/predicted" >"$TMP/predicted.pairs"
check "the member predicted accepted each of the $N connections" \
	"$(awk 'NR == FNR { p[$1] = $2; next } p[$1] == $2' "$TMP/predicted.pairs" "$TMP/accepted" |
	   wc -l)" $N
diag "spread over the members: $(awk '{ print $2 }' "$TMP/accepted" | sort | uniq -c | tr -s ' \n' ' ')"

# now the established hash answers: each tuple's own connection socket
in_ns "$NS" "$SOCKFAN" lookup "${nsarg[@]}" --json 127.0.0.1:$PORT "${remotes[@]}" \
	>"$TMP/live" 2>"$TMP/live.err"
in_ns "$NS" ss -Htne state established "sport = :$PORT" 2>/dev/null |
	sed -nE 's/.*127\.0\.0\.2:([0-9]+).* sk:([0-9a-f]+).*/\1 \2/p' |
	while read -r p hex; do echo "$p $((16#$hex))"; done | sort -n >"$TMP/ss_cookies"
"$PY" - "$TMP/live" <<'PY' | sort -n >"$TMP/live_cookies"
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["path"] == "connection":
        print(d["segment"]["remote_port"], d["socket"]["cookie"])
PY
check "a live four-tuple finds its connection socket: cookie as ss -e, all $N" \
	"$(awk 'NR == FNR { c[$1] = $2; next } c[$1] == $2' "$TMP/live_cookies" "$TMP/ss_cookies" |
	   wc -l)" $N

check "a new four-tuple finds a listener" \
	"$(in_ns "$NS" "$SOCKFAN" lookup "${nsarg[@]}" --json 127.0.0.1:$PORT 127.0.0.9:33333 |
	   "$PY" -c 'import json, sys; print(json.load(sys.stdin)["path"])')" listener
check "a closed port: no socket, RST" \
	"$(in_ns "$NS" "$SOCKFAN" lookup "${nsarg[@]}" 127.0.0.1:9 127.0.0.2:40000 | grep -c '=> no socket')" 1
check "a dual-stack listener answers an IPv4 and a v4-mapped tuple" \
	"$(in_ns "$NS" "$SOCKFAN" lookup "${nsarg[@]}" --json 127.0.0.1:$PORT6 127.0.0.2:40000 |
	   "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(d["path"], d["socket"]["local"])') $(
	   in_ns "$NS" "$SOCKFAN" lookup "${nsarg[@]}" --json '[::ffff:127.0.0.1]':$PORT6 \
		'[::ffff:127.0.0.2]':40000 |
	   "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(d["path"], d["socket"]["local"])')" \
	"listener :: listener ::"
check "--dot draws the path" \
	"$(in_ns "$NS" "$SOCKFAN" lookup "${nsarg[@]}" --dot 127.0.0.1:$PORT 127.0.0.9:33333 |
	   grep -c -e '^digraph' -e 'lhash -> sock')" 2
expect "a malformed endpoint: exit 2" 2 "want ADDR:PORT" \
	"$SOCKFAN" lookup 127.0.0.1 127.0.0.2:40000
expect "mixed families: exit 2" 2 "both ends must be of one family" \
	"$SOCKFAN" lookup 127.0.0.1:80 '[::1]':40000
tap_exit
